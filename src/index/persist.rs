//! The local index's folder: `manifest.json` names the current generation folder `gen-N/`
//! holding `passages.jsonl`, `vectors.f32` (little-endian, `dim` floats per passage, in passage
//! order) and, when passages have sentence vectors, `sentences.json` (sentences per passage and
//! their character spans) with `sentences.f32` (their vectors, in the same order). Indexes saved
//! before sentence vectors existed have no sentence files and are searched by passage vectors
//! alone.
//!
//! A save writes a new generation completely, fsyncs it, then atomically replaces the manifest
//! (write aside, fsync, rename); only then are older generations removed. A crash at any point
//! leaves a manifest that names a complete generation, so the previous index stays readable.
//! Opening reads the vectors and rebuilds the graphs and the lexical index from them (nothing is
//! re-embedded).

use std::io::Write;
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::local::Index;
use super::{Passage, PassageVectors, SentenceVector, Snapshot, StoreError};
use crate::embed::ModelId;

/// Version of the on-disk layout.
pub const FORMAT_VERSION: u32 = 1;

const MANIFEST: &str = "manifest.json";

/// What the manifest records.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    /// Layout version.
    pub format_version: u32,
    /// The model whose vectors these are.
    pub model: ModelId,
    /// Current generation folder number.
    pub generation: u64,
    /// Live passages.
    pub passages: usize,
    /// Documents.
    pub documents: usize,
}

/// How sentence vectors map to passages (`sentences.json`).
#[derive(Serialize, Deserialize)]
struct SentenceLayout {
    /// Sentences of each passage, in passage order.
    counts: Vec<usize>,
    /// Character span of each sentence in its passage.
    spans: Vec<(u32, u32)>,
}

impl Index {
    /// True when `dir` holds an index (a manifest naming a generation).
    pub fn exists(dir: &Path) -> bool {
        dir.join(MANIFEST).is_file()
    }

    /// Opens the index in `dir`, checking that it was built with `model`.
    pub fn open(dir: &Path, model: &ModelId) -> Result<Self, StoreError> {
        let manifest = read_manifest(dir)?;
        if manifest.format_version != FORMAT_VERSION {
            return Err(StoreError::corrupt(
                dir,
                format!(
                    "format version {} (this build reads {FORMAT_VERSION})",
                    manifest.format_version
                ),
            ));
        }
        if &manifest.model != model {
            let m = &manifest.model;
            return Err(StoreError::ModelMismatch {
                path: dir.to_path_buf(),
                message: format!(
                    "built with model {} (dim {}, fingerprint {}), but the loaded model is {} (dim {}, fingerprint {}); \
                     use the same --model, or re-ingest into a new --index",
                    m.name, m.dim, m.fingerprint, model.name, model.dim, model.fingerprint
                ),
            });
        }
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
            let text = std::fs::read_to_string(&layout_path)
                .map_err(|e| StoreError::io(&layout_path, e))?;
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
        let mut index = Index::from_parts(manifest.model, passages, vectors)?;
        index.generation = manifest.generation;
        Ok(index)
    }

    /// Saves atomically into `dir` (see the module docs).
    pub fn save(&mut self, dir: &Path) -> Result<(), StoreError> {
        self.save_with(dir, &mut |_| Ok(()))
    }

    /// [`Index::save`] with a hook called before each file is written (tests inject failures).
    pub fn save_with(
        &mut self,
        dir: &Path,
        before_write: &mut dyn FnMut(&Path) -> std::io::Result<()>,
    ) -> Result<(), StoreError> {
        std::fs::create_dir_all(dir).map_err(|e| StoreError::io(dir, e))?;
        let current = read_manifest(dir).map(|m| m.generation).unwrap_or(0);
        let generation = current.max(self.generation) + 1;
        let gen = dir.join(format!("gen-{generation}"));
        if gen.exists() {
            std::fs::remove_dir_all(&gen).map_err(|e| StoreError::io(&gen, e))?;
        }
        std::fs::create_dir_all(&gen).map_err(|e| StoreError::io(&gen, e))?;

        let mut jsonl = Vec::new();
        for p in self.passages() {
            serde_json::to_writer(&mut jsonl, p)?;
            jsonl.push(b'\n');
        }
        write_synced(&gen.join("passages.jsonl"), &jsonl, before_write)?;
        let raw = vector_bytes(self.passage_vectors());
        write_synced(&gen.join("vectors.f32"), &raw, before_write)?;
        if self.has_sentences() {
            let (counts, spans) = self.sentence_layout();
            let body = serde_json::to_vec(&SentenceLayout { counts, spans })?;
            write_synced(&gen.join("sentences.json"), &body, before_write)?;
            let raw = vector_bytes(self.sentence_vectors());
            write_synced(&gen.join("sentences.f32"), &raw, before_write)?;
        }
        sync_dir(&gen)?;

        let manifest = Manifest {
            format_version: FORMAT_VERSION,
            model: self.model.clone(),
            generation,
            passages: self.len(),
            documents: self.documents().len(),
        };
        let body = serde_json::to_vec_pretty(&manifest)?;
        let tmp = dir.join("manifest.json.tmp");
        write_synced(&tmp, &body, before_write)?;
        std::fs::rename(&tmp, dir.join(MANIFEST)).map_err(|e| StoreError::io(dir, e))?;
        sync_dir(dir)?;
        self.generation = generation;

        // Older generations are garbage now; failing to remove them loses nothing.
        if let Ok(entries) = std::fs::read_dir(dir) {
            for e in entries.flatten() {
                let name = e.file_name().to_string_lossy().into_owned();
                if let Some(n) = name
                    .strip_prefix("gen-")
                    .and_then(|n| n.parse::<u64>().ok())
                {
                    if n != generation {
                        let _ = std::fs::remove_dir_all(e.path());
                    }
                }
            }
        }
        Ok(())
    }
}

/// Rows of floats as little-endian bytes, the layout [`read_vectors`] reads.
fn vector_bytes(rows: &[Vec<f32>]) -> Vec<u8> {
    rows.iter()
        .flat_map(|v| v.iter().flat_map(|x| x.to_le_bytes()))
        .collect()
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

pub(crate) fn read_manifest(dir: &Path) -> Result<Manifest, StoreError> {
    let path = dir.join(MANIFEST);
    let text = std::fs::read_to_string(&path).map_err(|e| StoreError::io(&path, e))?;
    serde_json::from_str(&text)
        .map_err(|e| StoreError::corrupt(dir, format!("corrupt manifest.json: {e}")))
}

fn write_synced(
    path: &Path,
    bytes: &[u8],
    before_write: &mut dyn FnMut(&Path) -> std::io::Result<()>,
) -> Result<(), StoreError> {
    let io = |e| StoreError::io(path, e);
    before_write(path).map_err(io)?;
    let mut f = std::fs::File::create(path).map_err(io)?;
    f.write_all(bytes).map_err(io)?;
    f.sync_all().map_err(io)
}

fn sync_dir(dir: &Path) -> Result<(), StoreError> {
    std::fs::File::open(dir)
        .and_then(|f| f.sync_all())
        .map_err(|e| StoreError::io(dir, e))
}
