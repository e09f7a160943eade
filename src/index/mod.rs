//! A persisted index: passages, their vectors, and a manifest, in one directory.
//!
//! Layout: `manifest.json` names the current generation folder `gen-N/` holding `passages.jsonl`
//! and `vectors.f32` (little-endian, `dim` floats per passage, in passage order). A save writes
//! a new generation completely, fsyncs it, then atomically replaces the manifest (write aside,
//! fsync, rename); only then are older generations removed. A crash at any point leaves a
//! manifest that names a complete generation, so the previous index stays readable.
//!
//! An [`Index`] value is immutable once built: changes produce a new value (see
//! [`Index::with_document`]), so a server can keep answering from the old one until the new one
//! is saved and swapped in.

pub mod lexical;
pub mod vector;

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::embed::ModelId;
use crate::error::{Error, Result};
use lexical::{LexicalHits, LexicalStore, TantivyStore, Terms};
use vector::{HnswStore, VectorStore};

/// Version of the on-disk layout.
pub const FORMAT_VERSION: u32 = 1;

/// A stored passage.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Passage {
    /// Stable id: `<doc>#<n>`.
    pub id: String,
    /// Document id.
    pub doc: String,
    /// Document title.
    pub title: String,
    /// Section heading.
    pub section: Option<String>,
    /// Clause number.
    pub clause: Option<String>,
    /// Text.
    pub text: String,
    /// Start offset (characters) in the cleaned document.
    pub start: usize,
    /// End offset (characters, exclusive).
    pub end: usize,
}

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

/// A document summary.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct DocumentInfo {
    /// Document id.
    pub doc: String,
    /// Title.
    pub title: String,
    /// Number of passages.
    pub passages: usize,
}

/// Passages with their vectors, searchable.
pub struct Index {
    model: ModelId,
    generation: u64,
    passages: Vec<Passage>,
    vectors: HnswStore,
    lexical: TantivyStore,
}

impl Index {
    /// An empty index for `model`.
    pub fn new(model: ModelId) -> Self {
        Index::from_parts(model, Vec::new(), Vec::new()).expect("an empty index is valid")
    }

    /// Builds an index from passages and their vectors (same order).
    pub fn from_parts(
        model: ModelId,
        passages: Vec<Passage>,
        vectors: Vec<Vec<f32>>,
    ) -> Result<Self> {
        let terms = vec![None; passages.len()];
        Self::from_parts_with(model, passages, vectors, terms)
    }

    /// [`Index::from_parts`] with the lexical terms already known for some passages.
    fn from_parts_with(
        model: ModelId,
        passages: Vec<Passage>,
        vectors: Vec<Vec<f32>>,
        terms: Vec<Option<Terms>>,
    ) -> Result<Self> {
        if passages.len() != vectors.len() {
            return Err(Error::invalid("passages and vectors differ in number"));
        }
        if let Some(v) = vectors.iter().find(|v| v.len() != model.dim) {
            return Err(Error::invalid(format!(
                "vector of dimension {} in a {}-dimensional index",
                v.len(),
                model.dim
            )));
        }
        let lexical = TantivyStore::build_with(
            passages
                .iter()
                .zip(terms)
                .map(|(p, t)| (p.doc.as_str(), p.text.as_str(), t)),
        )?;
        Ok(Index {
            model,
            generation: 0,
            passages,
            vectors: HnswStore::build(vectors),
            lexical,
        })
    }

    /// The model this index was built with.
    pub fn model(&self) -> &ModelId {
        &self.model
    }

    /// All passages.
    pub fn passages(&self) -> &[Passage] {
        &self.passages
    }

    /// Number of passages.
    pub fn len(&self) -> usize {
        self.passages.len()
    }

    /// True when there are no passages.
    pub fn is_empty(&self) -> bool {
        self.passages.is_empty()
    }

    /// Passage by id, with its key.
    pub fn passage(&self, id: &str) -> Option<(u32, &Passage)> {
        self.passages
            .iter()
            .enumerate()
            .find(|(_, p)| p.id == id)
            .map(|(i, p)| (i as u32, p))
    }

    /// Passage by key.
    pub fn by_key(&self, key: u32) -> Option<&Passage> {
        self.passages.get(key as usize)
    }

    /// Stored vector of a passage.
    pub fn vector(&self, key: u32) -> Option<&[f32]> {
        self.vectors.vector(key)
    }

    /// Documents with their passage counts, in id order.
    pub fn documents(&self) -> Vec<DocumentInfo> {
        let mut docs: BTreeMap<&str, DocumentInfo> = BTreeMap::new();
        for p in &self.passages {
            docs.entry(&p.doc)
                .or_insert_with(|| DocumentInfo {
                    doc: p.doc.clone(),
                    title: p.title.clone(),
                    passages: 0,
                })
                .passages += 1;
        }
        docs.into_values().collect()
    }

    /// True when a document with this id exists.
    pub fn has_document(&self, doc: &str) -> bool {
        self.passages.iter().any(|p| p.doc == doc)
    }

    /// Dense search: `(key, cosine)` best first, among passages `keep` accepts.
    pub fn search(
        &self,
        query: &[f32],
        k: usize,
        keep: &dyn Fn(&Passage) -> bool,
    ) -> Vec<(u32, f32)> {
        let accept = |key: u32| self.passages.get(key as usize).is_some_and(keep);
        self.vectors.search(query, k, &accept)
    }

    /// Lexical (BM25) search, optionally within one document.
    pub fn lexical_search(&self, query: &str, k: usize, doc: Option<&str>) -> Result<LexicalHits> {
        self.lexical.search(query, k, doc)
    }

    /// A new index where each given document's passages replace any it had (vectors in the same
    /// order as passages).
    pub fn with_documents(&self, docs: Vec<(Vec<Passage>, Vec<Vec<f32>>)>) -> Result<Index> {
        let replaced: std::collections::HashSet<&str> = docs
            .iter()
            .flat_map(|(ps, _)| ps.iter().map(|p| p.doc.as_str()))
            .collect();
        let (mut ps, mut vs, mut ts) = self.kept(|p| !replaced.contains(p.doc.as_str()));
        for (p, v) in docs {
            if p.len() != v.len() {
                return Err(Error::invalid("passages and vectors differ in number"));
            }
            ts.extend(p.iter().map(|_| None));
            ps.extend(p);
            vs.extend(v);
        }
        let mut next = Index::from_parts_with(self.model.clone(), ps, vs, ts)?;
        next.generation = self.generation;
        Ok(next)
    }

    /// A new index without `doc`, and how many passages went.
    pub fn without_document(&self, doc: &str) -> Result<(Index, usize)> {
        let (ps, vs, ts) = self.kept(|p| p.doc != doc);
        let removed = self.passages.len() - ps.len();
        let mut next = Index::from_parts_with(self.model.clone(), ps, vs, ts)?;
        next.generation = self.generation;
        Ok((next, removed))
    }

    /// The passages that `keep`, with their vectors and lexical terms.
    #[allow(clippy::type_complexity)]
    fn kept(
        &self,
        keep: impl Fn(&Passage) -> bool,
    ) -> (Vec<Passage>, Vec<Vec<f32>>, Vec<Option<Terms>>) {
        let mut out = (Vec::new(), Vec::new(), Vec::new());
        for (i, (p, v)) in self.passages.iter().zip(self.vectors.vectors()).enumerate() {
            if keep(p) {
                out.0.push(p.clone());
                out.1.push(v.clone());
                out.2.push(self.lexical.terms(i));
            }
        }
        out
    }

    /// Opens the index in `dir`, checking that it was built with `model`.
    pub fn open(dir: &Path, model: &ModelId) -> Result<Self> {
        let manifest = read_manifest(dir)?;
        if manifest.format_version != FORMAT_VERSION {
            return Err(Error::index(
                dir,
                format!(
                    "format version {} (this build reads {FORMAT_VERSION})",
                    manifest.format_version
                ),
            ));
        }
        if &manifest.model != model {
            return Err(Error::index(
                dir,
                format!(
                    "built with model {} (dim {}, fingerprint {}), but the loaded model is {} (dim {}, fingerprint {}); \
                     use the same --model, or re-ingest into a new --index",
                    manifest.model.name, manifest.model.dim, manifest.model.fingerprint, model.name, model.dim, model.fingerprint
                ),
            ));
        }
        let gen = dir.join(format!("gen-{}", manifest.generation));
        let text = std::fs::read_to_string(gen.join("passages.jsonl"))
            .map_err(|e| Error::io(gen.join("passages.jsonl"), e))?;
        let passages: Vec<Passage> = text
            .lines()
            .map(|l| {
                serde_json::from_str(l)
                    .map_err(|e| Error::index(dir, format!("corrupt passages.jsonl: {e}")))
            })
            .collect::<Result<_>>()?;
        let raw = std::fs::read(gen.join("vectors.f32"))
            .map_err(|e| Error::io(gen.join("vectors.f32"), e))?;
        let dim = manifest.model.dim;
        if raw.len() != passages.len() * dim * 4 {
            return Err(Error::index(
                dir,
                "vectors.f32 does not match passages.jsonl",
            ));
        }
        let vectors = raw
            .chunks_exact(dim * 4)
            .map(|row| {
                row.chunks_exact(4)
                    .map(|b| f32::from_le_bytes(b.try_into().expect("4 bytes")))
                    .collect()
            })
            .collect();
        let mut index = Index::from_parts(manifest.model, passages, vectors)?;
        index.generation = manifest.generation;
        Ok(index)
    }

    /// Opens `dir` if it holds an index, else returns an empty one for `model`.
    pub fn open_or_new(dir: &Path, model: &ModelId) -> Result<Self> {
        if dir.join("manifest.json").exists() {
            Index::open(dir, model)
        } else {
            Ok(Index::new(model.clone()))
        }
    }

    /// Saves atomically into `dir` (see the module docs).
    pub fn save(&mut self, dir: &Path) -> Result<()> {
        self.save_with(dir, &mut |_| Ok(()))
    }

    /// [`Index::save`] with a hook called before each file is written (tests inject failures).
    pub fn save_with(
        &mut self,
        dir: &Path,
        before_write: &mut dyn FnMut(&Path) -> std::io::Result<()>,
    ) -> Result<()> {
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
        let current = read_manifest(dir).map(|m| m.generation).unwrap_or(0);
        let generation = current.max(self.generation) + 1;
        let gen = dir.join(format!("gen-{generation}"));
        if gen.exists() {
            std::fs::remove_dir_all(&gen).map_err(|e| Error::io(&gen, e))?;
        }
        std::fs::create_dir_all(&gen).map_err(|e| Error::io(&gen, e))?;

        let mut jsonl = Vec::new();
        for p in &self.passages {
            serde_json::to_writer(&mut jsonl, p).map_err(|e| Error::Serde(e.to_string()))?;
            jsonl.push(b'\n');
        }
        write_synced(&gen.join("passages.jsonl"), &jsonl, before_write)?;
        let mut raw = Vec::with_capacity(self.passages.len() * self.model.dim * 4);
        for v in self.vectors.vectors() {
            for x in v {
                raw.extend_from_slice(&x.to_le_bytes());
            }
        }
        write_synced(&gen.join("vectors.f32"), &raw, before_write)?;
        sync_dir(&gen)?;

        let manifest = Manifest {
            format_version: FORMAT_VERSION,
            model: self.model.clone(),
            generation,
            passages: self.passages.len(),
            documents: self.documents().len(),
        };
        let body = serde_json::to_vec_pretty(&manifest).map_err(|e| Error::Serde(e.to_string()))?;
        let tmp = dir.join("manifest.json.tmp");
        write_synced(&tmp, &body, before_write)?;
        std::fs::rename(&tmp, dir.join("manifest.json")).map_err(|e| Error::io(dir, e))?;
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

fn read_manifest(dir: &Path) -> Result<Manifest> {
    let path = dir.join("manifest.json");
    let text = std::fs::read_to_string(&path).map_err(|e| Error::io(&path, e))?;
    serde_json::from_str(&text)
        .map_err(|e| Error::index(dir, format!("corrupt manifest.json: {e}")))
}

fn write_synced(
    path: &Path,
    bytes: &[u8],
    before_write: &mut dyn FnMut(&Path) -> std::io::Result<()>,
) -> Result<()> {
    let io = |e| Error::io(path, e);
    before_write(path).map_err(io)?;
    let mut f = std::fs::File::create(path).map_err(io)?;
    f.write_all(bytes).map_err(io)?;
    f.sync_all().map_err(io)
}

fn sync_dir(dir: &Path) -> Result<()> {
    std::fs::File::open(dir)
        .and_then(|f| f.sync_all())
        .map_err(|e| Error::io(dir, e))
}

/// Default index folder.
pub fn default_dir() -> PathBuf {
    PathBuf::from("index/default")
}

#[cfg(test)]
mod tests;
