//! Text to vectors. [`Embedder`] is the seam the rest of semsearch depends on; [`TextEmbedder`]
//! implements it with a Hugging Face tokenizer and the candle [`bert::Encoder`].
//!
//! Long texts are never cut silently: a text whose tokens exceed the model's window is split
//! into consecutive windows (no overlap) of at most `max_tokens - 2` content tokens, each window
//! is encoded as its own sequence, and the text's vector is the token-count-weighted average of
//! the windows' mean-pooled vectors, L2-normalised. For a text that fits, this is plain mean
//! pooling. Batches are formed after sorting windows by length so that padding stays small.

pub mod bert;
pub mod config;
pub mod convert;
pub mod ops;
pub mod tiny;

use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};
use tokenizers::Tokenizer;

pub use config::ModelConfig;

/// What can go wrong turning text into vectors.
#[derive(Debug, thiserror::Error)]
pub enum EmbedError {
    /// A model folder that cannot be loaded (missing files, unsupported architecture).
    #[error("model at {path}: {message}")]
    Model {
        /// The model folder or file.
        path: PathBuf,
        /// What is wrong with it.
        message: String,
    },
    /// Reading a model file failed.
    #[error("{path}")]
    Io {
        /// The file or folder.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// The tokenizer failed.
    #[error("tokenizer")]
    Tokenizer(#[source] tokenizers::Error),
    /// Tensor computation failed.
    #[error("tensor computation")]
    Candle(#[from] candle_core::Error),
    /// A broken internal invariant (a sequence longer than the window, a token id outside the
    /// vocabulary): a bug or a model folder whose parts do not match, never the caller's input.
    #[error("internal: {0}")]
    Invariant(String),
}

impl EmbedError {
    /// A [`EmbedError::Model`].
    pub fn model(path: impl Into<PathBuf>, message: impl Into<String>) -> Self {
        EmbedError::Model {
            path: path.into(),
            message: message.into(),
        }
    }

    /// An [`EmbedError::Io`] with its path.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        EmbedError::Io {
            path: path.into(),
            source,
        }
    }
}

/// Result alias for embedding.
pub type Result<T, E = EmbedError> = std::result::Result<T, E>;

/// Whether a text is a question or a passage to be found: e5-style models embed them with
/// different prefixes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TextKind {
    /// A search query.
    Query,
    /// A passage of a document.
    Passage,
}

/// Identity of a model, stored in index manifests so that an index is never searched with
/// vectors from another model.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ModelId {
    /// Folder name, e.g. `multilingual-e5-small`.
    pub name: String,
    /// Vector dimension.
    pub dim: usize,
    /// Hash of config.json and the weight file's size: changes when the model does.
    pub fingerprint: String,
}

/// Something that turns texts into L2-normalised vectors.
pub trait Embedder: Send + Sync {
    /// The model's identity.
    fn id(&self) -> &ModelId;
    /// Vector dimension.
    fn dim(&self) -> usize {
        self.id().dim
    }
    /// Embeds `texts`, one normalised vector each, in order.
    fn embed(&self, texts: &[&str], kind: TextKind) -> Result<Vec<Vec<f32>>>;
    /// Tokens the model reads for `text` (prefix and special tokens included, before windowing).
    fn count_tokens(&self, text: &str, kind: TextKind) -> Result<usize>;
}

/// Upper bound on padded tokens per forward pass: large enough to keep matmuls efficient, small
/// enough that activations (about 12 KB per token for e5-small's attention+FFN) stay bounded.
const BATCH_TOKENS: usize = 2048;
/// Upper bound on sequences per forward pass.
const BATCH_SEQS: usize = 64;

/// The default embedder: tokenizer.json + a BERT/XLM-R encoder on CPU.
pub struct TextEmbedder {
    id: ModelId,
    cfg: ModelConfig,
    tokenizer: Tokenizer,
    encoder: bert::Encoder,
    cls: u32,
    sep: u32,
    /// Query embeddings running now (see [`TextEmbedder::embed`]).
    queries_in_flight: std::sync::atomic::AtomicUsize,
}

/// Decrements the in-flight count when a query embedding ends, however it ends.
struct InFlight<'a>(&'a std::sync::atomic::AtomicUsize);

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
    }
}

impl TextEmbedder {
    /// Loads the model folder `dir` (config.json, tokenizer.json, weights).
    pub fn load(dir: &Path) -> Result<Self> {
        let cfg = ModelConfig::load(dir)?;
        // Weights before the tokenizer: the load's transient copies then do not stack on top of
        // the tokenizer's resident vocabulary trie, which keeps peak memory lower.
        let weights = bert::Weights::load(dir)?;
        let encoder = bert::Encoder::new(&cfg, weights)?;
        let tok_path = dir.join("tokenizer.json");
        let tokenizer = Tokenizer::from_file(&tok_path)
            .map_err(|e| EmbedError::model(&tok_path, format!("cannot load tokenizer: {e}")))?;
        Self::from_parts(dir, cfg, tokenizer, encoder)
    }

    /// Assembles an embedder from loaded parts (tests use a tiny random encoder).
    pub fn from_parts(
        dir: &Path,
        cfg: ModelConfig,
        mut tokenizer: Tokenizer,
        encoder: bert::Encoder,
    ) -> Result<Self> {
        tokenizer
            .with_truncation(None)
            .map_err(EmbedError::Tokenizer)?;
        tokenizer.with_padding(None);
        // The tokenizer's own post-processor knows the special tokens: encoding "" yields them.
        let specials = tokenizer.encode("", true).map_err(EmbedError::Tokenizer)?;
        let (cls, sep) = match specials.get_ids() {
            [c, s] => (*c, *s),
            other => {
                return Err(EmbedError::model(
                    dir,
                    format!("tokenizer adds {} special tokens, expected 2", other.len()),
                ))
            }
        };
        let mut hasher = Sha256::new();
        hasher.update(serde_json::to_vec(&cfg).unwrap_or_default());
        for f in ["model.safetensors", "pytorch_model.bin"] {
            if let Ok(m) = std::fs::metadata(dir.join(f)) {
                hasher.update(m.len().to_le_bytes());
            }
        }
        let fingerprint = format!("{:x}", hasher.finalize())[..16].to_string();
        let name = dir
            .canonicalize()
            .unwrap_or_else(|_| PathBuf::from(dir))
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "model".into());
        Ok(TextEmbedder {
            id: ModelId {
                name,
                dim: cfg.hidden_size,
                fingerprint,
            },
            cfg,
            tokenizer,
            encoder,
            cls,
            sep,
            queries_in_flight: Default::default(),
        })
    }

    /// The model's configuration.
    pub fn config(&self) -> &ModelConfig {
        &self.cfg
    }

    fn prefix(&self, kind: TextKind) -> &str {
        match kind {
            TextKind::Query => self.cfg.query_prefix.as_deref().unwrap_or(""),
            TextKind::Passage => self.cfg.passage_prefix.as_deref().unwrap_or(""),
        }
    }

    /// Content token ids (prefix included, no special tokens) of each text.
    fn content_ids(&self, texts: &[&str], kind: TextKind) -> Result<Vec<Vec<u32>>> {
        let prefix = self.prefix(kind);
        let mut inputs: Vec<String> = texts.iter().map(|t| format!("{prefix}{t}")).collect();
        // One text (a query) skips encode_batch, whose rayon fan-out costs a thread hand-off.
        let encodings = if inputs.len() == 1 {
            vec![self
                .tokenizer
                .encode(inputs.remove(0), false)
                .map_err(EmbedError::Tokenizer)?]
        } else {
            self.tokenizer
                .encode_batch(inputs, false)
                .map_err(EmbedError::Tokenizer)?
        };
        let rows = self.encoder.vocab_rows() as u32;
        encodings
            .into_iter()
            .map(|e| {
                let ids = e.get_ids().to_vec();
                match ids.iter().find(|&&i| i >= rows) {
                    Some(bad) => Err(EmbedError::model(
                        "tokenizer.json",
                        format!("token id {bad} outside the model's vocabulary"),
                    )),
                    None => Ok(ids),
                }
            })
            .collect()
    }
}

impl Embedder for TextEmbedder {
    fn id(&self) -> &ModelId {
        &self.id
    }

    fn count_tokens(&self, text: &str, kind: TextKind) -> Result<usize> {
        Ok(self.content_ids(&[text], kind)?[0].len() + 2)
    }

    fn embed(&self, texts: &[&str], kind: TextKind) -> Result<Vec<Vec<f32>>> {
        // A query alone spreads its matmuls over every core (~10 ms instead of ~14 here). When
        // other queries are running too, each runs on its own thread instead: forking them all
        // onto one pool interleaves their pieces and stretches every one (concurrency 4 on 2
        // cores: p99 300+ ms). Passage batches are throughput work and always fork.
        let _in_flight;
        let parallel = match kind {
            TextKind::Query => {
                let n = self
                    .queries_in_flight
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                _in_flight = InFlight(&self.queries_in_flight);
                n == 0
            }
            TextKind::Passage => true,
        };
        let content = self.content_ids(texts, kind)?;
        let window = self.cfg.max_tokens() - 2;
        // (text index, window of its content wrapped in special tokens)
        let mut windows: Vec<(usize, Vec<u32>)> = Vec::new();
        for (i, ids) in content.iter().enumerate() {
            let chunks: Vec<&[u32]> = if ids.is_empty() {
                vec![&[][..]]
            } else {
                ids.chunks(window).collect()
            };
            for c in chunks {
                let mut seq = Vec::with_capacity(c.len() + 2);
                seq.push(self.cls);
                seq.extend_from_slice(c);
                seq.push(self.sep);
                windows.push((i, seq));
            }
        }
        windows.sort_by_key(|(_, s)| std::cmp::Reverse(s.len()));

        let dim = self.cfg.hidden_size;
        let mut sums = vec![vec![0f64; dim]; texts.len()];
        let mut start = 0;
        while start < windows.len() {
            // Longest first, so the first window of a batch fixes its padded length.
            let longest = windows[start].1.len();
            let n = (BATCH_TOKENS / longest)
                .clamp(1, BATCH_SEQS)
                .min(windows.len() - start);
            let batch: Vec<&[u32]> = windows[start..start + n]
                .iter()
                .map(|(_, s)| s.as_slice())
                .collect();
            let means = if parallel {
                self.encoder.forward_mean(&batch)?
            } else {
                self.encoder.forward_mean_serial(&batch)?
            };
            for ((text, seq), mean) in windows[start..start + n].iter().zip(means) {
                let weight = (seq.len() - 2).max(1) as f64;
                for (acc, v) in sums[*text].iter_mut().zip(mean) {
                    *acc += weight * v as f64;
                }
            }
            start += n;
        }
        Ok(sums.into_iter().map(|s| normalize(&s)).collect())
    }
}

/// L2-normalises a vector (a zero vector stays zero).
pub fn normalize(v: &[f64]) -> Vec<f32> {
    let norm = v.iter().map(|x| x * x).sum::<f64>().sqrt().max(1e-12);
    v.iter().map(|x| (x / norm) as f32).collect()
}

#[cfg(test)]
pub(crate) mod tests;
