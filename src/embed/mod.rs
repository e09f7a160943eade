//! Text to vectors. [`Embedder`] is the seam the rest of semsearch depends on; [`TextEmbedder`]
//! implements it with a Hugging Face tokenizer and the candle [`bert::Encoder`], and
//! [`RemoteEmbedder`] with a server of the same model on another machine. Long passages are never cut silently: a passage whose tokens exceed the model's window is
//! split into consecutive windows (no overlap) of at most `max_tokens - 2` content tokens, each
//! window is encoded as its own sequence, and the passage's vector is the token-count-weighted
//! average of the windows' mean-pooled vectors, L2-normalised. For a text that fits, this is
//! plain mean pooling. A *query* is read over its first window only (512 tokens for e5-small,
//! documented in the README): a question is a few dozen tokens, and a 2,000-character paste
//! would otherwise cost several encoder passes on every search. Windows are batched packed,
//! without padding.

mod batch;
pub mod bert;
pub mod config;
pub mod convert;
mod error;
pub mod ops;
mod remote;
pub mod tiny;
mod tok;
pub mod unigram;

use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};
use tok::Tok;
use tokenizers::Tokenizer;

pub use config::ModelConfig;
pub use error::EmbedError;
pub use remote::{RemoteConfig, RemoteEmbedder};

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
    /// Embeds `texts` and, for each, the pieces `spans[i]` (character ranges of `texts[i]`).
    /// This default embeds each piece as a text of its own; [`TextEmbedder`] pools the
    /// piece's tokens from the text's own forward pass instead ("late chunking"), which costs
    /// nothing beyond the text's pass and gives each piece its context.
    fn embed_spans(
        &self,
        texts: &[&str],
        spans: &[Vec<(usize, usize)>],
        kind: TextKind,
    ) -> Result<Embedded> {
        let mut all: Vec<String> = texts.iter().map(|t| t.to_string()).collect();
        for (t, sp) in texts.iter().zip(spans) {
            let chars: Vec<char> = t.chars().collect();
            // Ranges are clamped to the text: a bad range gives a short piece, never a panic.
            let n = chars.len();
            all.extend(sp.iter().map(|&(a, b)| {
                let (a, b) = (a.min(n), b.min(n));
                chars[a.min(b)..b].iter().collect::<String>()
            }));
        }
        let refs: Vec<&str> = all.iter().map(String::as_str).collect();
        let mut vectors = self.embed(&refs, kind)?.into_iter();
        let texts_v: Vec<Vec<f32>> = vectors.by_ref().take(texts.len()).collect();
        let spans_v = spans
            .iter()
            .map(|sp| vectors.by_ref().take(sp.len()).collect())
            .collect();
        Ok(Embedded {
            texts: texts_v,
            spans: spans_v,
        })
    }
    /// Tokens the model reads for `text` (prefix and special tokens included, before windowing).
    fn count_tokens(&self, text: &str, kind: TextKind) -> Result<usize>;
    /// What the model puts before a text of `kind` (`query: ` for e5); empty if nothing.
    fn prefix(&self, kind: TextKind) -> &str {
        let _ = kind;
        ""
    }
}

/// Vectors of texts and of pieces of them (see [`Embedder::embed_spans`]).
#[derive(Debug, Clone)]
pub struct Embedded {
    /// One normalised vector per text.
    pub texts: Vec<Vec<f32>>,
    /// Per text, one normalised vector per piece.
    pub spans: Vec<Vec<Vec<f32>>>,
}

/// How sentence vectors are made at ingest: each sentence embedded as a text of its own
/// (`separate`, the default), or pooled from its passage's forward pass (`late`: about half the
/// embedding work, but measured to lose retrieval quality, see the README). See
/// [`Embedder::embed_spans`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum SentenceVectors {
    /// Embedded on their own.
    #[default]
    Separate,
    /// Pooled from the passage's forward pass.
    Late,
}

/// Upper bound on tokens per forward pass (sequences are packed, not padded): large enough to keep matmuls efficient, small
/// enough that activations (about 12 KB per token for e5-small's attention+FFN) stay bounded.
const BATCH_TOKENS: usize = 2048;
/// Upper bound on sequences per forward pass.
const BATCH_SEQS: usize = 64;

/// The default embedder: tokenizer.json + a BERT/XLM-R encoder on CPU.
pub struct TextEmbedder {
    id: ModelId,
    cfg: ModelConfig,
    tokenizer: Tok,
    encoder: bert::Encoder,
    cls: u32,
    sep: u32,
    /// Single queries waiting to share a forward pass (see [`batch::Combiner`]).
    queries: batch::Combiner,
}

impl TextEmbedder {
    /// Loads the model folder `dir` (config.json, tokenizer.json, weights), its dense layers in
    /// this process's precision ([`crate::kernels::precision`]).
    pub fn load(dir: &Path) -> Result<Self> {
        Self::load_with(dir, crate::kernels::precision())
    }

    /// [`TextEmbedder::load`] with the dense layers in `precision` (to compare the paths).
    pub fn load_with(dir: &Path, precision: crate::kernels::gemm::Precision) -> Result<Self> {
        let cfg = ModelConfig::load(dir)?;
        // Weights before the tokenizer: the load's transient copies then do not stack on top of
        // the tokenizer's resident vocabulary trie, which keeps peak memory lower.
        let weights = bert::Weights::load(dir)?;
        let encoder = bert::Encoder::with_precision(&cfg, weights, precision)?;
        let tok_path = dir.join("tokenizer.json");
        let json = std::fs::read_to_string(&tok_path).map_err(|e| EmbedError::io(&tok_path, e))?;
        let bad = |e: String| EmbedError::model(&tok_path, format!("cannot load tokenizer: {e}"));
        let tokenizer = match unigram::load(&json).map_err(bad)? {
            Some(lean) => Tok::Lean(Box::new(lean)),
            None => Tok::Full(Box::new(
                json.parse::<Tokenizer>().map_err(|e| bad(e.to_string()))?,
            )),
        };
        Self::assemble(dir, cfg, tokenizer, encoder)
    }

    /// Assembles an embedder from loaded parts (tests use a tiny random encoder).
    pub fn from_parts(
        dir: &Path,
        cfg: ModelConfig,
        tokenizer: Tokenizer,
        encoder: bert::Encoder,
    ) -> Result<Self> {
        Self::assemble(dir, cfg, Tok::Full(Box::new(tokenizer)), encoder)
    }

    fn assemble(
        dir: &Path,
        cfg: ModelConfig,
        mut tokenizer: Tok,
        encoder: bert::Encoder,
    ) -> Result<Self> {
        tokenizer.plain()?;
        // The tokenizer's own post-processor knows the special tokens: encoding "" yields them.
        let specials = match &tokenizer {
            Tok::Full(t) => t.encode("", true),
            Tok::Lean(t) => t.encode("", true),
        }
        .map_err(EmbedError::Tokenizer)?;
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
            queries: batch::Combiner::default(),
        })
    }

    /// The precision of the encoder's dense layers.
    pub fn precision(&self) -> crate::kernels::gemm::Precision {
        self.encoder.precision()
    }

    /// The model's configuration.
    pub fn config(&self) -> &ModelConfig {
        &self.cfg
    }

    /// Content token ids (prefix included, no special tokens) of each text.
    fn content_ids(&self, texts: &[&str], kind: TextKind) -> Result<Vec<Vec<u32>>> {
        Ok(self
            .content(texts, kind, false)?
            .into_iter()
            .map(|(ids, _)| ids)
            .collect())
    }

    /// Content token ids of each text and, when `offsets`, each token's character range in
    /// the text (the prefix's tokens get empty ranges at 0).
    #[allow(clippy::type_complexity)]
    fn content(
        &self,
        texts: &[&str],
        kind: TextKind,
        offsets: bool,
    ) -> Result<Vec<(Vec<u32>, Vec<(usize, usize)>)>> {
        let prefix = self.prefix(kind);
        let shift = prefix.chars().count();
        let mut inputs: Vec<String> = texts.iter().map(|t| format!("{prefix}{t}")).collect();
        // One text (a query) skips encode_batch, whose rayon fan-out costs a thread hand-off.
        let encodings = if inputs.len() == 1 {
            vec![self.tokenizer.encode(inputs.remove(0), offsets)]
        } else {
            self.tokenizer
                .encode_batch(inputs, offsets)
                .map_or_else(|e| vec![Err(e)], |v| v.into_iter().map(Ok).collect())
        };
        let rows = self.encoder.vocab_rows() as u32;
        encodings
            .into_iter()
            .map(|e| {
                let e = e.map_err(EmbedError::Tokenizer)?;
                let ids = e.get_ids().to_vec();
                if let Some(bad) = ids.iter().find(|&&i| i >= rows) {
                    return Err(EmbedError::model(
                        "tokenizer.json",
                        format!("token id {bad} outside the model's vocabulary"),
                    ));
                }
                let spans = if offsets {
                    e.get_offsets()
                        .iter()
                        .map(|&(a, b)| (a.saturating_sub(shift), b.saturating_sub(shift)))
                        .collect()
                } else {
                    Vec::new()
                };
                Ok((ids, spans))
            })
            .collect()
    }
}

impl Embedder for TextEmbedder {
    fn id(&self) -> &ModelId {
        &self.id
    }

    fn prefix(&self, kind: TextKind) -> &str {
        match kind {
            TextKind::Query => self.cfg.query_prefix.as_deref().unwrap_or(""),
            TextKind::Passage => self.cfg.passage_prefix.as_deref().unwrap_or(""),
        }
    }

    fn count_tokens(&self, text: &str, kind: TextKind) -> Result<usize> {
        Ok(self.content_ids(&[text], kind)?[0].len() + 2)
    }

    fn embed(&self, texts: &[&str], kind: TextKind) -> Result<Vec<Vec<f32>>> {
        if let ([text], TextKind::Query) = (texts, kind) {
            // A query alone shares its forward pass with the queries that arrive while one is
            // running (concurrent requests): one packed pass, fewer per-pass overheads.
            let ids = self.content_ids(&[text], kind)?.remove(0);
            if ids.len() <= self.cfg.max_tokens() - 2 {
                let mut seq = Vec::with_capacity(ids.len() + 2);
                seq.push(self.cls);
                seq.extend_from_slice(&ids);
                seq.push(self.sep);
                let mean = self
                    .queries
                    .run(seq, |batch| self.encoder.forward_mean(batch))?;
                let mean: Vec<f64> = mean.into_iter().map(f64::from).collect();
                return Ok(vec![normalize(&mean)]);
            }
        }
        let none = vec![Vec::new(); texts.len()];
        Ok(self.embed_spans(texts, &none, kind)?.texts)
    }

    fn embed_spans(
        &self,
        texts: &[&str],
        spans: &[Vec<(usize, usize)>],
        kind: TextKind,
    ) -> Result<Embedded> {
        let want_spans = spans.iter().any(|s| !s.is_empty());
        let content = self.content(texts, kind, want_spans)?;
        let window = self.cfg.max_tokens() - 2;
        // For each text, the piece each content token belongs to (the first piece its
        // characters overlap).
        let piece_of: Vec<Vec<Option<usize>>> = content
            .iter()
            .enumerate()
            .map(|(i, (ids, offsets))| {
                let pieces = spans.get(i).map(Vec::as_slice).unwrap_or(&[]);
                if pieces.is_empty() {
                    return vec![None; ids.len()];
                }
                offsets
                    .iter()
                    .map(|&(a, b)| pieces.iter().position(|&(s, e)| a < e && b > s && b > a))
                    .collect()
            })
            .collect();
        // (text index, first content token, window of its content wrapped in special tokens)
        let mut windows: Vec<(usize, usize, Vec<u32>)> = Vec::new();
        for (i, (ids, _)) in content.iter().enumerate() {
            let chunks: Vec<&[u32]> = if ids.is_empty() {
                vec![&[][..]]
            } else if kind == TextKind::Query {
                vec![&ids[..ids.len().min(window)]]
            } else {
                ids.chunks(window).collect()
            };
            for (w, c) in chunks.into_iter().enumerate() {
                let mut seq = Vec::with_capacity(c.len() + 2);
                seq.push(self.cls);
                seq.extend_from_slice(c);
                seq.push(self.sep);
                windows.push((i, w * window, seq));
            }
        }
        windows.sort_by_key(|(_, _, s)| std::cmp::Reverse(s.len()));

        let dim = self.cfg.hidden_size;
        let mut sums = vec![vec![0f64; dim]; texts.len()];
        let mut piece_sums: Vec<Vec<(Vec<f64>, usize)>> = (0..texts.len())
            .map(|i| vec![(vec![0f64; dim], 0); spans.get(i).map_or(0, Vec::len)])
            .collect();
        let mut start = 0;
        while start < windows.len() {
            // Windows are packed without padding, so a pass takes windows until their tokens
            // reach the budget (at least one). Longest first keeps passes of similar size.
            let mut n = 1;
            let mut tokens = windows[start].2.len();
            while start + n < windows.len() && n < BATCH_SEQS {
                let next = windows[start + n].2.len();
                if tokens + next > BATCH_TOKENS {
                    break;
                }
                tokens += next;
                n += 1;
            }
            let batch: Vec<&[u32]> = windows[start..start + n]
                .iter()
                .map(|(_, _, s)| s.as_slice())
                .collect();
            let hidden = self.encoder.forward_hidden(&batch)?;
            for (b, (text, first, seq)) in windows[start..start + n].iter().enumerate() {
                let mean = hidden.mean(b, 0..seq.len());
                let weight = (seq.len() - 2).max(1) as f64;
                for (acc, v) in sums[*text].iter_mut().zip(mean) {
                    *acc += weight * v as f64;
                }
                // Content token `first + j` sits at position `1 + j` of this window.
                for j in 0..seq.len() - 2 {
                    if let Some(p) = piece_of[*text][first + j] {
                        let (acc, count) = &mut piece_sums[*text][p];
                        for (a, v) in acc.iter_mut().zip(hidden.token(b, 1 + j)) {
                            *a += *v as f64;
                        }
                        *count += 1;
                    }
                }
            }
            start += n;
        }
        let texts_v: Vec<Vec<f32>> = sums.iter().map(|s| normalize(s)).collect();
        let spans_v = piece_sums
            .into_iter()
            .zip(&texts_v)
            .map(|(pieces, whole)| {
                pieces
                    .into_iter()
                    // A piece no token falls in (empty, or whitespace only) takes its text's
                    // vector.
                    .map(|(acc, count)| {
                        if count == 0 {
                            whole.clone()
                        } else {
                            normalize(&acc)
                        }
                    })
                    .collect()
            })
            .collect();
        Ok(Embedded {
            texts: texts_v,
            spans: spans_v,
        })
    }
}

/// L2-normalises a vector (a zero vector stays zero).
pub fn normalize(v: &[f64]) -> Vec<f32> {
    let norm = v.iter().map(|x| x * x).sum::<f64>().sqrt().max(1e-12);
    v.iter().map(|x| (x / norm) as f32).collect()
}

#[cfg(test)]
pub(crate) mod tests;
