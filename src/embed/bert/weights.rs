//! A model's tensors as read from its folder: safetensors through a memory map (the Q4_0 word
//! table stays mapped), or a PyTorch checkpoint.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use candle_core::{DType, Device, Tensor};

use super::WORD_Q4_NAME;
use crate::embed::{EmbedError, Result};

/// Bytes owned, or a range of a memory-mapped model file: a mapped Q4_0 table costs resident
/// memory only for the rows that tokens actually look up.
#[derive(Clone)]
pub(super) enum Bytes {
    Owned(Arc<Vec<u8>>),
    Mapped(Arc<memmap2::Mmap>, std::ops::Range<usize>),
}

impl Bytes {
    pub(super) fn as_slice(&self) -> &[u8] {
        match self {
            Bytes::Owned(v) => v,
            Bytes::Mapped(m, r) => &m[r.clone()],
        }
    }
}

/// Tensors by name, with the checkpoint's prefix (`bert.`, `roberta.`) stripped.
pub struct Weights {
    pub(super) tensors: HashMap<String, Tensor>,
    pub(super) word_q4: Option<(Bytes, usize)>,
    pub(super) path: std::path::PathBuf,
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
    pub(super) fn take(&mut self, name: &str) -> Result<Tensor> {
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
