//! Format 1, the layout before segments, read once to migrate: `manifest.json` (format 1)
//! names a generation folder `gen-N/` holding `passages.jsonl`, `vectors.f32` (one vector per
//! passage) and, when passages have sentence vectors, `sentences.json` (sentences per passage
//! and their spans) with `sentences.f32`. Migration writes the same passages and vectors as one
//! segment of format 2 (nothing is re-embedded), commits the new manifest atomically, then
//! removes the generation folders: a crash before the commit leaves the format-1 index, which
//! the next open migrates again.

use std::path::Path;

use serde::{Deserialize, Serialize};

use super::segment::files::replace_atomically;
use super::{segment, Passage, PassageVectors, SentenceVector, StoreError};
use crate::embed::ModelId;

/// What a format-1 manifest records.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Manifest {
    format_version: u32,
    model: ModelId,
    generation: u64,
}

/// How sentence vectors map to passages (`sentences.json`).
#[derive(Serialize, Deserialize)]
struct SentenceLayout {
    counts: Vec<usize>,
    spans: Vec<(u32, u32)>,
}

/// Migrates the format-1 index in `dir` (built with `model`) to format 2.
pub fn migrate(dir: &Path, model: &ModelId) -> Result<(), StoreError> {
    let path = dir.join("manifest.json");
    let text = std::fs::read(&path).map_err(|e| StoreError::io(&path, e))?;
    let manifest: Manifest = serde_json::from_slice(&text)
        .map_err(|e| StoreError::corrupt(dir, format!("corrupt manifest.json: {e}")))?;
    super::local::check_model(&dir.display().to_string(), &manifest.model, model)?;
    tracing::info!("migrating the index at {} to format 2", dir.display());
    let gen = dir.join(format!("gen-{}", manifest.generation));
    let path = gen.join("passages.jsonl");
    let text = std::fs::read_to_string(&path).map_err(|e| StoreError::io(&path, e))?;
    let passages: Vec<Passage> = text
        .lines()
        .map(|l| {
            serde_json::from_str(l)
                .map_err(|e| StoreError::corrupt(dir, format!("corrupt passages.jsonl: {e}")))
        })
        .collect::<Result<_, _>>()?;
    let dim = manifest.model.dim;
    let passage_vectors = read_vectors(&gen.join("vectors.f32"), dim)?;
    if passage_vectors.len() != passages.len() {
        return Err(StoreError::corrupt(
            dir,
            "vectors.f32 does not match passages.jsonl",
        ));
    }
    let mut vectors: Vec<PassageVectors> = passage_vectors
        .into_iter()
        .map(PassageVectors::from)
        .collect();
    let layout_path = gen.join("sentences.json");
    if layout_path.exists() {
        let text =
            std::fs::read_to_string(&layout_path).map_err(|e| StoreError::io(&layout_path, e))?;
        let layout: SentenceLayout = serde_json::from_str(&text)
            .map_err(|e| StoreError::corrupt(dir, format!("corrupt sentences.json: {e}")))?;
        let sentence_vectors = read_vectors(&gen.join("sentences.f32"), dim)?;
        if layout.counts.len() != vectors.len()
            || layout.spans.len() != sentence_vectors.len()
            || layout.counts.iter().sum::<usize>() != layout.spans.len()
        {
            return Err(StoreError::corrupt(
                dir,
                "sentences.json does not match passages.jsonl and sentences.f32",
            ));
        }
        let mut it = layout.spans.into_iter().zip(sentence_vectors);
        for (v, n) in vectors.iter_mut().zip(layout.counts) {
            v.sentences = it
                .by_ref()
                .take(n)
                .map(|((start, end), vector)| SentenceVector { start, end, vector })
                .collect();
        }
    }
    // One document's passages are contiguous in format 1 (a write appended whole documents).
    let mut docs: Vec<(Vec<Passage>, Vec<PassageVectors>)> = Vec::new();
    for (p, v) in passages.into_iter().zip(vectors) {
        match docs.last_mut() {
            Some((ps, vs)) if ps[0].doc == p.doc => {
                ps.push(p);
                vs.push(v);
            }
            _ => docs.push((vec![p], vec![v])),
        }
    }
    let count: usize = docs.iter().map(|d| d.0.len()).sum();
    let documents = docs.len();
    if !docs.is_empty() {
        segment::write(dir, 1, dim, &docs)?;
    }
    let segments: Vec<serde_json::Value> = if docs.is_empty() {
        Vec::new()
    } else {
        vec![serde_json::json!({"id": 1, "deleted": []})]
    };
    // Generation 0 with no lexical commit of that generation: the first open rebuilds the
    // lexical index from the migrated passages.
    let next = serde_json::json!({
        "format_version": super::local::FORMAT_VERSION,
        "model": manifest.model,
        "generation": 0,
        "next_segment": 2,
        "segments": segments,
        "passages": count,
        "documents": documents,
    });
    replace_atomically(
        &dir.join("manifest.json"),
        &serde_json::to_vec_pretty(&next)?,
    )?;
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            if e.file_name().to_string_lossy().starts_with("gen-") {
                let _ = std::fs::remove_dir_all(e.path());
            }
        }
    }
    Ok(())
}

/// Reads little-endian `dim`-float rows.
fn read_vectors(path: &Path, dim: usize) -> Result<Vec<Vec<f32>>, StoreError> {
    let raw = std::fs::read(path).map_err(|e| StoreError::io(path, e))?;
    if dim == 0 || raw.len() % (dim * 4) != 0 {
        return Err(StoreError::corrupt(
            path,
            format!("not a whole number of {dim}-float vectors"),
        ));
    }
    Ok(raw
        .chunks_exact(dim * 4)
        .map(|row| {
            row.chunks_exact(4)
                .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                .collect()
        })
        .collect())
}
