//! BERT / XLM-RoBERTa encoder on candle's CPU backend, with mean pooling over real tokens.
//!
//! Written here rather than taken from candle-transformers because three things matter for speed
//! and memory on a 2-core CPU and none is available there: the word-embedding table may stay in
//! 4-bit Q4_0 form (dequantized per looked-up row), Q, K and V are one fused matmul with the
//! attention scale folded into the query weights at load time, and a batch of one skips the mask.

use std::sync::Arc;

use candle_core::{CpuStorage, CustomOp1, CustomOp2, Device, Layout, Module, Shape, Tensor};
use candle_nn::LayerNorm;

use super::config::ModelConfig;
use super::{EmbedError, Result};
use crate::kernels::gemm::{Activation, PackedLinear, Precision};
use crate::kernels::{attention, q4};

mod weights;

use weights::Bytes;
pub use weights::Weights;

/// Name of the Q4_0 word-embedding tensor (U8, `[rows, row_bytes]`) written by the converter.
pub const WORD_Q4_NAME: &str = "embeddings.word_embeddings.q4_0";

/// Word-embedding table: plain (f32) or kept 4-bit.
enum WordEmbeddings {
    Dense(Tensor),
    Q4 { blocks: Bytes, rows: usize },
}

/// A dense layer as a candle op over a [`PackedLinear`]: the weight is packed once at load, so
/// short queries do not pay gemm's per-call repacking (see `gemm.rs`).
struct Linear(PackedLinear);

impl Linear {
    fn new(w: Tensor, b: Option<Tensor>, act: Activation, precision: Precision) -> Result<Self> {
        let (n, k) = w.dims2()?;
        let w = w.flatten_all()?.to_vec1::<f32>()?;
        let b = match b {
            Some(b) => b.to_vec1::<f32>()?,
            None => Vec::new(),
        };
        Ok(Linear(PackedLinear::with_precision(
            &w, n, k, &b, act, precision,
        )))
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

/// `LayerNorm(x + residual)` as one candle op over [`attention::add_layer_norm`].
struct Norm {
    gamma: Vec<f32>,
    beta: Vec<f32>,
    eps: f32,
}

impl Norm {
    fn new(gamma: Tensor, beta: Tensor, eps: f64) -> Result<Self> {
        Ok(Norm {
            gamma: gamma.to_vec1()?,
            beta: beta.to_vec1()?,
            eps: eps as f32,
        })
    }

    fn forward(&self, x: &Tensor, residual: &Tensor) -> Result<Tensor> {
        Ok(x.apply_op2_no_bwd(residual, self)?)
    }
}

impl CustomOp2 for Norm {
    fn name(&self) -> &'static str {
        "add-layer-norm"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
    ) -> candle_core::Result<(CpuStorage, Shape)> {
        let mut x = super::ops::contiguous_f32(self.name(), s1, l1)?.to_vec();
        let r = super::ops::contiguous_f32(self.name(), s2, l2)?;
        if x.len() != r.len() || !x.len().is_multiple_of(self.gamma.len()) {
            candle_core::bail!("add-layer-norm: shapes do not match");
        }
        attention::add_layer_norm(
            crate::kernels::isa(),
            &mut x,
            r,
            &self.gamma,
            &self.beta,
            self.eps,
        );
        Ok((CpuStorage::F32(x), l1.shape().clone()))
    }
}

/// Self-attention of a batch as one candle op over [`attention::attend`].
struct Attend<'a> {
    lens: &'a [usize],
    shape: attention::Shape,
    parallel: bool,
}

impl CustomOp1 for Attend<'_> {
    fn name(&self) -> &'static str {
        "attend"
    }

    fn cpu_fwd(
        &self,
        storage: &CpuStorage,
        layout: &Layout,
    ) -> candle_core::Result<(CpuStorage, Shape)> {
        let qkv = super::ops::contiguous_f32(self.name(), storage, layout)?;
        let h = self.shape.h;
        let rows: usize = self.lens.iter().sum();
        if qkv.len() != rows * 3 * h {
            candle_core::bail!("attend: input is not (sum of lens) x 3h");
        }
        let out = attention::attend(
            crate::kernels::isa(),
            qkv,
            self.lens,
            self.shape,
            self.parallel,
        );
        Ok((CpuStorage::F32(out), Shape::from((rows, h))))
    }
}

struct Layer {
    qkv: Linear,
    attn_out: Linear,
    attn_ln: Norm,
    ffn_in: Linear,
    ffn_out: Linear,
    ffn_ln: Norm,
}

/// The last layer's hidden states of a batch: one row of `h` per token, the sequences packed
/// one after another (sequence `s` from row `starts[s]`).
pub struct Hidden {
    starts: Vec<usize>,
    h: usize,
    data: Vec<f32>,
}

impl Hidden {
    /// Token `j` of sequence `s`.
    pub fn token(&self, s: usize, j: usize) -> &[f32] {
        let at = (self.starts[s] + j) * self.h;
        &self.data[at..at + self.h]
    }

    /// Mean of tokens `range` of sequence `s` (zeros for an empty range).
    pub fn mean(&self, s: usize, range: std::ops::Range<usize>) -> Vec<f32> {
        let mut acc = vec![0f32; self.h];
        let n = range.len().max(1) as f32;
        for j in range {
            acc.iter_mut()
                .zip(self.token(s, j))
                .for_each(|(a, v)| *a += v);
        }
        acc.iter_mut().for_each(|a| *a /= n);
        acc
    }
}

/// The encoder: token ids in, hidden states (or their means) out.
pub struct Encoder {
    cfg: ModelConfig,
    word: WordEmbeddings,
    position: Tensor,
    token_type0: Tensor,
    emb_ln: LayerNorm,
    layers: Vec<Layer>,
    device: Device,
}

impl Encoder {
    /// Builds the encoder from `weights` shaped as `cfg` says, its dense layers in this
    /// process's precision ([`crate::kernels::precision`]).
    pub fn new(cfg: &ModelConfig, weights: Weights) -> Result<Self> {
        Self::with_precision(cfg, weights, crate::kernels::precision())
    }

    /// [`Encoder::new`] with the dense layers in `precision`.
    pub fn with_precision(
        cfg: &ModelConfig,
        mut weights: Weights,
        precision: Precision,
    ) -> Result<Self> {
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
                precision,
            )
        };
        let norm = |w: &mut Weights, prefix: &str| -> Result<Norm> {
            Norm::new(
                w.take(&format!("{prefix}.weight"))?,
                w.take(&format!("{prefix}.bias"))?,
                eps,
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
                qkv: Linear::new(qkv_w, Some(qkv_b), Activation::None, precision)?,
                attn_out: linear(w, &format!("{p}.attention.output.dense"), Activation::None)?,
                attn_ln: norm(w, &format!("{p}.attention.output.LayerNorm"))?,
                ffn_in: linear(w, &format!("{p}.intermediate.dense"), Activation::Gelu)?,
                ffn_out: linear(w, &format!("{p}.output.dense"), Activation::None)?,
                ffn_ln: norm(w, &format!("{p}.output.LayerNorm"))?,
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

    /// The precision of the dense layers.
    pub fn precision(&self) -> Precision {
        self.layers
            .first()
            .map(|l| l.qkv.0.precision())
            .unwrap_or(Precision::F32)
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
        let hidden = self.forward_hidden(seqs)?;
        Ok(seqs
            .iter()
            .enumerate()
            .map(|(i, s)| hidden.mean(i, 0..s.len().max(1)))
            .collect())
    }

    /// Runs the encoder and returns the last layer's hidden state of every token, the
    /// sequences' work spread over the rayon pool.
    pub fn forward_hidden(&self, seqs: &[&[u32]]) -> Result<Hidden> {
        // The kernels fork work with rayon ~100 times per pass. Called from a thread outside the
        // pool, each fork would park this thread on a futex and wake a worker (a quarter of a
        // query's time, measured); run inside the pool, a fork is a cheap work-stealing push.
        rayon::scope(|_| self.forward_hidden_on(seqs, true))
    }

    fn forward_hidden_on(&self, seqs: &[&[u32]], parallel: bool) -> Result<Hidden> {
        if seqs.is_empty() {
            return Ok(Hidden {
                starts: Vec::new(),
                h: self.cfg.hidden_size,
                data: Vec::new(),
            });
        }
        let longest = seqs.iter().map(|s| s.len()).max().unwrap_or(0);
        if longest > self.cfg.max_tokens() {
            return Err(EmbedError::Invariant(format!(
                "sequence of {longest} tokens exceeds the model's {}",
                self.cfg.max_tokens()
            )));
        }
        let h = self.cfg.hidden_size;
        let nh = self.cfg.num_attention_heads;
        let off = self.cfg.position_offset();

        // No padding: every dense layer works on the real tokens of all sequences, packed; an
        // empty sequence still gets one (pad) row so that its mean is defined.
        let lens: Vec<usize> = seqs.iter().map(|s| s.len().max(1)).collect();
        let rows: usize = lens.iter().sum();
        let mut ids = Vec::with_capacity(rows);
        let mut pos = Vec::with_capacity(rows);
        for s in seqs {
            if s.is_empty() {
                ids.push(self.cfg.pad_token_id as u32);
                pos.push(off as u32);
            }
            for (i, &id) in s.iter().enumerate() {
                ids.push(id);
                pos.push((off + i) as u32);
            }
        }
        let pos = Tensor::new(pos.as_slice(), &self.device)?;
        let x = (self.lookup(&ids)? + self.position.index_select(&pos, 0)?)?
            .broadcast_add(&self.token_type0)?;
        let mut x = self.emb_ln.forward(&x)?; // [rows, h]

        let shape = attention::Shape { h, heads: nh };
        for layer in &self.layers {
            let qkv = layer.qkv.forward(&x, parallel)?; // [rows, 3h]
            let ctx = qkv.apply_op1_no_bwd(&Attend {
                lens: &lens,
                shape,
                parallel,
            })?;
            let attn = layer.attn_out.forward(&ctx, parallel)?;
            x = layer.attn_ln.forward(&attn, &x)?;
            let mid = layer.ffn_in.forward(&x, parallel)?; // GELU applied by the kernel
            let out = layer.ffn_out.forward(&mid, parallel)?;
            x = layer.ffn_ln.forward(&out, &x)?;
        }

        let starts = lens
            .iter()
            .scan(0, |at, &n| {
                let s = *at;
                *at += n;
                Some(s)
            })
            .collect();
        Ok(Hidden {
            starts,
            h,
            data: x.flatten_all()?.to_vec1::<f32>()?,
        })
    }
}
