//! BERT / XLM-RoBERTa encoder on candle's CPU backend, with mean pooling over real tokens.
//!
//! Written here rather than taken from candle-transformers because three things matter for speed
//! and memory on a 2-core CPU and none is available there: the word-embedding table may stay in
//! 4-bit Q4_0 form (dequantized per looked-up row), Q, K and V are one fused matmul with the
//! attention scale folded into the query weights at load time, and a batch of one skips the mask.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use candle_core::{CpuStorage, CustomOp1, DType, Device, Layout, Module, Shape, Tensor, D};
use candle_nn::LayerNorm;

use super::config::ModelConfig;
use super::{EmbedError, Result};
use crate::kernels::gemm::{Activation, PackedLinear};
use crate::kernels::q4;

/// Name of the Q4_0 word-embedding tensor (U8, `[rows, row_bytes]`) written by the converter.
pub const WORD_Q4_NAME: &str = "embeddings.word_embeddings.q4_0";

/// Word-embedding table: plain (f32) or kept 4-bit.
enum WordEmbeddings {
    Dense(Tensor),
    Q4 { blocks: Bytes, rows: usize },
}

/// Bytes owned, or a range of a memory-mapped model file: a mapped Q4_0 table costs resident
/// memory only for the rows that tokens actually look up.
#[derive(Clone)]
enum Bytes {
    Owned(Arc<Vec<u8>>),
    Mapped(Arc<memmap2::Mmap>, std::ops::Range<usize>),
}

impl Bytes {
    fn as_slice(&self) -> &[u8] {
        match self {
            Bytes::Owned(v) => v,
            Bytes::Mapped(m, r) => &m[r.clone()],
        }
    }
}

/// A dense layer as a candle op over a [`PackedLinear`]: the weight is packed once at load, so
/// short queries do not pay gemm's per-call repacking (see `gemm.rs`).
struct Linear(PackedLinear);

impl Linear {
    fn new(w: Tensor, b: Option<Tensor>, act: Activation) -> Result<Self> {
        let (n, k) = w.dims2()?;
        let w = w.flatten_all()?.to_vec1::<f32>()?;
        let b = match b {
            Some(b) => b.to_vec1::<f32>()?,
            None => Vec::new(),
        };
        Ok(Linear(PackedLinear::new(&w, n, k, &b, act)))
    }

    fn forward(&self, x: &Tensor, parallel: bool) -> Result<Tensor> {
        Ok(x.apply_op1_no_bwd(&LinearOp {
            layer: &self.0,
            parallel,
        })?)
    }
}

/// One call of a [`Linear`]: the layer and whether it may fork onto the rayon pool.
struct LinearOp<'a> {
    layer: &'a PackedLinear,
    parallel: bool,
}

impl CustomOp1 for LinearOp<'_> {
    fn name(&self) -> &'static str {
        "packed-linear"
    }

    fn cpu_fwd(
        &self,
        storage: &CpuStorage,
        layout: &Layout,
    ) -> candle_core::Result<(CpuStorage, Shape)> {
        let x = super::ops::contiguous_f32(self.name(), storage, layout)?;
        let (m, k) = layout.shape().dims2()?;
        if k != self.layer.k() {
            candle_core::bail!(
                "packed-linear: input width {k}, layer expects {}",
                self.layer.k()
            );
        }
        let y = self.layer.forward_with(x, m, self.parallel);
        Ok((CpuStorage::F32(y), Shape::from((m, self.layer.n()))))
    }
}

struct Layer {
    qkv: Linear,
    attn_out: Linear,
    attn_ln: LayerNorm,
    ffn_in: Linear,
    ffn_out: Linear,
    ffn_ln: LayerNorm,
}

/// The encoder: token ids in, mean-pooled hidden states out.
pub struct Encoder {
    cfg: ModelConfig,
    word: WordEmbeddings,
    position: Tensor,
    token_type0: Tensor,
    emb_ln: LayerNorm,
    layers: Vec<Layer>,
    device: Device,
}

/// Tensors by name, with the checkpoint's prefix (`bert.`, `roberta.`) stripped.
pub struct Weights {
    tensors: HashMap<String, Tensor>,
    word_q4: Option<(Bytes, usize)>,
    path: std::path::PathBuf,
}

impl Weights {
    /// Loads `model.safetensors` or, failing that, `pytorch_model.bin` from `dir`.
    pub fn load(dir: &Path) -> Result<Self> {
        let st = dir.join("model.safetensors");
        let bin = dir.join("pytorch_model.bin");
        let mut word_q4 = None;
        let (path, list): (_, Vec<(String, Tensor)>) = if st.exists() {
            let (list, q4) = load_safetensors(&st)?;
            word_q4 = q4;
            (st, list)
        } else if bin.exists() {
            let list = candle_core::pickle::read_all(&bin)
                .map_err(|e| EmbedError::model(&bin, e.to_string()))?;
            (bin, list)
        } else {
            return Err(EmbedError::model(
                dir,
                "no model.safetensors or pytorch_model.bin; run scripts/fetch-model.sh",
            ));
        };
        let tensors = list
            .into_iter()
            .map(|(name, t)| {
                let mut n = name.as_str();
                for prefix in ["bert.", "roberta.", "model."] {
                    n = n.strip_prefix(prefix).unwrap_or(n);
                }
                let n = n
                    .replace("LayerNorm.gamma", "LayerNorm.weight")
                    .replace("LayerNorm.beta", "LayerNorm.bias");
                (n, t)
            })
            .collect();
        Ok(Weights {
            tensors,
            word_q4,
            path,
        })
    }

    /// Builds weights from in-memory tensors (tests, tools).
    pub fn from_tensors(tensors: HashMap<String, Tensor>) -> Self {
        Weights {
            tensors,
            word_q4: None,
            path: "<memory>".into(),
        }
    }

    /// Removes tensor `name` (as f32): the encoder takes each tensor as it packs it, so the
    /// checkpoint's copy is freed as the packed copy is made and peak memory holds one of them.
    fn take(&mut self, name: &str) -> Result<Tensor> {
        let t = self
            .tensors
            .remove(name)
            .ok_or_else(|| EmbedError::model(&self.path, format!("missing tensor {name}")))?;
        Ok(t.to_dtype(DType::F32)?)
    }
}

/// Reads a safetensors file through a memory map: dense tensors are copied out (and their pages
/// released), the Q4_0 word table stays mapped.
#[allow(clippy::type_complexity)]
fn load_safetensors(path: &Path) -> Result<(Vec<(String, Tensor)>, Option<(Bytes, usize)>)> {
    let file = std::fs::File::open(path).map_err(|e| EmbedError::io(path, e))?;
    // SAFETY: the model file is not modified while semsearch runs (fetch-model.sh writes a new
    // file and renames it over the old one, which leaves this mapping intact).
    let map = Arc::new(unsafe { memmap2::Mmap::map(&file) }.map_err(|e| EmbedError::io(path, e))?);
    let st = safetensors::SafeTensors::deserialize(&map)
        .map_err(|e| EmbedError::model(path, e.to_string()))?;
    let base = map.as_ptr() as usize;
    let mut list = Vec::new();
    let mut q4 = None;
    for (name, view) in st.tensors() {
        if name == WORD_Q4_NAME {
            let start = view.data().as_ptr() as usize - base;
            let range = start..start + view.data().len();
            q4 = Some((Bytes::Mapped(map.clone(), range), view.shape()[0]));
            continue;
        }
        let dtype = match view.dtype() {
            safetensors::Dtype::F32 => DType::F32,
            safetensors::Dtype::F16 => DType::F16,
            safetensors::Dtype::BF16 => DType::BF16,
            d => {
                return Err(EmbedError::model(
                    path,
                    format!("tensor {name}: unsupported dtype {d:?}"),
                ))
            }
        };
        let t = Tensor::from_raw_buffer(view.data(), dtype, view.shape(), &Device::Cpu)?;
        list.push((name, t));
    }
    // The dense tensors were copied; dropping their file pages keeps resident memory to one copy.
    // SAFETY: those pages are never read through the map again (only the Q4_0 range is).
    let _ = unsafe { map.unchecked_advise(memmap2::UncheckedAdvice::DontNeed) };
    Ok((list, q4))
}

impl Encoder {
    /// Builds the encoder from `weights` shaped as `cfg` says.
    pub fn new(cfg: &ModelConfig, mut weights: Weights) -> Result<Self> {
        let h = cfg.hidden_size;
        let device = Device::Cpu;
        let q4_table = match (&weights.word_q4, weights.tensors.get(WORD_Q4_NAME)) {
            (Some((bytes, rows)), _) => Some((bytes.clone(), *rows)),
            (None, Some(t)) => {
                let rows = t.dim(0)?;
                Some((
                    Bytes::Owned(Arc::new(t.flatten_all()?.to_vec1::<u8>()?)),
                    rows,
                ))
            }
            (None, None) => None,
        };
        let word = if let Some((blocks, rows)) = q4_table {
            if blocks.as_slice().len() != rows * q4::row_bytes(h) {
                return Err(EmbedError::model(
                    &weights.path,
                    "Q4_0 word-embedding rows do not match hidden_size",
                ));
            }
            WordEmbeddings::Q4 { blocks, rows }
        } else {
            WordEmbeddings::Dense(weights.take("embeddings.word_embeddings.weight")?)
        };
        let eps = cfg.layer_norm_eps;
        let ln = |w: &mut Weights, prefix: &str| -> Result<LayerNorm> {
            Ok(LayerNorm::new(
                w.take(&format!("{prefix}.weight"))?,
                w.take(&format!("{prefix}.bias"))?,
                eps,
            ))
        };
        let linear = |w: &mut Weights, prefix: &str, act: Activation| -> Result<Linear> {
            Linear::new(
                w.take(&format!("{prefix}.weight"))?,
                Some(w.take(&format!("{prefix}.bias"))?),
                act,
            )
        };
        let scale = 1.0 / ((h / cfg.num_attention_heads) as f64).sqrt();
        let mut layers = Vec::with_capacity(cfg.num_hidden_layers);
        for i in 0..cfg.num_hidden_layers {
            let p = format!("encoder.layer.{i}");
            let mut part = |n: &str| weights.take(&format!("{p}.attention.self.{n}"));
            // Folding 1/sqrt(d) into the query projection saves one pass over the scores.
            let qkv_w = Tensor::cat(
                &[
                    (part("query.weight")? * scale)?,
                    part("key.weight")?,
                    part("value.weight")?,
                ],
                0,
            )?;
            let qkv_b = Tensor::cat(
                &[
                    (part("query.bias")? * scale)?,
                    part("key.bias")?,
                    part("value.bias")?,
                ],
                0,
            )?;
            let w = &mut weights;
            layers.push(Layer {
                qkv: Linear::new(qkv_w, Some(qkv_b), Activation::None)?,
                attn_out: linear(w, &format!("{p}.attention.output.dense"), Activation::None)?,
                attn_ln: ln(w, &format!("{p}.attention.output.LayerNorm"))?,
                ffn_in: linear(w, &format!("{p}.intermediate.dense"), Activation::Gelu)?,
                ffn_out: linear(w, &format!("{p}.output.dense"), Activation::None)?,
                ffn_ln: ln(w, &format!("{p}.output.LayerNorm"))?,
            });
        }
        let emb_ln = ln(&mut weights, "embeddings.LayerNorm")?;
        Ok(Encoder {
            cfg: cfg.clone(),
            word,
            position: weights.take("embeddings.position_embeddings.weight")?,
            token_type0: weights
                .take("embeddings.token_type_embeddings.weight")?
                .get(0)?,
            emb_ln,
            layers,
            device,
        })
    }

    /// Rows of the word-embedding table.
    pub fn vocab_rows(&self) -> usize {
        match &self.word {
            WordEmbeddings::Dense(t) => t.dim(0).unwrap_or(0),
            WordEmbeddings::Q4 { rows, .. } => *rows,
        }
    }

    fn lookup(&self, ids: &[u32]) -> Result<Tensor> {
        let h = self.cfg.hidden_size;
        match &self.word {
            WordEmbeddings::Dense(table) => {
                let ids = Tensor::new(ids, &self.device)?;
                Ok(table.index_select(&ids, 0)?)
            }
            WordEmbeddings::Q4 { blocks, rows } => {
                let rb = q4::row_bytes(h);
                let mut out = vec![0f32; ids.len() * h];
                for (&id, o) in ids.iter().zip(out.chunks_exact_mut(h)) {
                    let id = id as usize;
                    if id >= *rows {
                        return Err(EmbedError::Invariant(format!(
                            "token id {id} outside the vocabulary"
                        )));
                    }
                    q4::dequantize(&blocks.as_slice()[id * rb..(id + 1) * rb], o);
                }
                Ok(Tensor::from_vec(out, (ids.len(), h), &self.device)?)
            }
        }
    }

    /// Runs the encoder on sequences of token ids (special tokens included, each at most
    /// [`ModelConfig::max_tokens`] long) and returns each sequence's mean hidden state over its
    /// real tokens, not normalised.
    pub fn forward_mean(&self, seqs: &[&[u32]]) -> Result<Vec<Vec<f32>>> {
        // The kernels fork work with rayon ~100 times per pass. Called from a thread outside the
        // pool, each fork would park this thread on a futex and wake a worker (a quarter of a
        // query's time, measured); run inside the pool, a fork is a cheap work-stealing push.
        rayon::scope(|_| self.forward_mean_on(seqs, true))
    }

    /// [`Encoder::forward_mean`] entirely on the calling thread: for a server already running
    /// one request per core, where forking each matmul only interleaves requests and stretches
    /// every one of them.
    pub fn forward_mean_serial(&self, seqs: &[&[u32]]) -> Result<Vec<Vec<f32>>> {
        self.forward_mean_on(seqs, false)
    }

    fn forward_mean_on(&self, seqs: &[&[u32]], parallel: bool) -> Result<Vec<Vec<f32>>> {
        let b = seqs.len();
        if b == 0 {
            return Ok(Vec::new());
        }
        let t = seqs.iter().map(|s| s.len()).max().unwrap_or(0).max(1);
        if t > self.cfg.max_tokens() {
            return Err(EmbedError::Invariant(format!(
                "sequence of {t} tokens exceeds the model's {}",
                self.cfg.max_tokens()
            )));
        }
        let h = self.cfg.hidden_size;
        let nh = self.cfg.num_attention_heads;
        let hd = h / nh;
        let off = self.cfg.position_offset();

        let mut ids = Vec::with_capacity(b * t);
        let mut pos = Vec::with_capacity(b * t);
        let mut mask = Vec::with_capacity(b * t);
        for s in seqs {
            for i in 0..t {
                let real = i < s.len();
                ids.push(if real {
                    s[i]
                } else {
                    self.cfg.pad_token_id as u32
                });
                pos.push((off + if real { i } else { 0 }) as u32);
                mask.push(if real { 1f32 } else { 0f32 });
            }
        }
        let pos = Tensor::new(pos.as_slice(), &self.device)?;
        let x = (self.lookup(&ids)? + self.position.index_select(&pos, 0)?)?
            .broadcast_add(&self.token_type0)?;
        let mut x = self.emb_ln.forward(&x)?; // [b*t, h]

        let mask_t = Tensor::from_vec(mask, (b, t), &self.device)?;
        let lens: Vec<usize> = seqs.iter().map(|s| s.len().clamp(1, t)).collect();

        for layer in &self.layers {
            let qkv = layer.qkv.forward(&x, parallel)?; // [b*t, 3h]
            let heads = |i: usize| -> Result<Tensor> {
                Ok(qkv
                    .narrow(1, i * h, h)?
                    .reshape((b, t, nh, hd))?
                    .transpose(1, 2)?
                    .contiguous()?)
            };
            let (q, k, v) = (heads(0)?, heads(1)?, heads(2)?);
            // One sequence at a time, over its real tokens only: no padding mask is needed, and
            // the score matrices ([heads, t, t], 12 MB at 512 tokens) exist for one sequence at
            // a time instead of for the whole batch. Padding rows get a zero context; they
            // never reach a real token (keys are cut to the real length) or the mean.
            let mut parts = Vec::with_capacity(2 * b);
            for (j, &n) in lens.iter().enumerate() {
                let part = |m: &Tensor| m.narrow(0, j, 1)?.narrow(2, 0, n)?.contiguous();
                let (qj, kj, vj) = (part(&q)?, part(&k)?, part(&v)?);
                let probs = super::ops::softmax_last_dim(&qj.matmul(&kj.t()?)?)?;
                parts.push(probs.matmul(&vj)?.transpose(1, 2)?.reshape((n, h))?);
                if n < t {
                    parts.push(Tensor::zeros((t - n, h), DType::F32, &self.device)?);
                }
            }
            let ctx = if parts.len() == 1 {
                parts.pop().expect("one part")
            } else {
                Tensor::cat(&parts, 0)?
            };
            let attn = layer.attn_out.forward(&ctx, parallel)?;
            x = layer.attn_ln.forward(&(attn + &x)?)?;
            let mid = layer.ffn_in.forward(&x, parallel)?; // GELU applied by the kernel
            let out = layer.ffn_out.forward(&mid, parallel)?;
            x = layer.ffn_ln.forward(&(out + &x)?)?;
        }

        let x = x.reshape((b, t, h))?;
        let summed = x.broadcast_mul(&mask_t.unsqueeze(2)?)?.sum(1)?; // [b, h]
        let counts = mask_t.sum_keepdim(D::Minus1)?; // [b, 1]
        Ok(summed.broadcast_div(&counts)?.to_vec2::<f32>()?)
    }
}
