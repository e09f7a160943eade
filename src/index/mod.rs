//! A persisted index: passages, their vectors, and a manifest, in one directory.
//!
//! Layout: `manifest.json` names the current generation folder `gen-N/` holding `passages.jsonl`,
//! `vectors.f32` (little-endian, `dim` floats per passage, in passage order) and, when passages
//! have sentence vectors, `sentences.json` (sentences per passage and their character spans)
//! with `sentences.f32` (their vectors, in the same order). Indexes saved before sentence vectors
//! existed have no sentence files and are searched by passage vectors alone. A save writes
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

/// A sentence of a passage with its own vector. Dense search scores a passage by its whole text
/// and by its best sentence, so that one specific fact inside a long clause is found too.
#[derive(Debug, Clone, PartialEq)]
pub struct SentenceVector {
    /// Start (characters) in the passage text.
    pub start: u32,
    /// End (characters, exclusive).
    pub end: u32,
    /// Unit vector of the sentence.
    pub vector: Vec<f32>,
}

/// The vectors of one passage: the whole text, and each of its sentences (may be empty).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct PassageVectors {
    /// Unit vector of the whole passage.
    pub passage: Vec<f32>,
    /// Its sentences, in text order.
    pub sentences: Vec<SentenceVector>,
}

impl From<Vec<f32>> for PassageVectors {
    /// A passage vector without sentence vectors.
    fn from(passage: Vec<f32>) -> Self {
        PassageVectors {
            passage,
            sentences: Vec::new(),
        }
    }
}

/// Sentence vectors of all passages, searchable, each knowing its passage.
struct SentenceStore {
    vectors: HnswStore,
    /// Passage key of each sentence.
    owner: Vec<u32>,
    /// Character span of each sentence in its passage.
    spans: Vec<(u32, u32)>,
    /// Each passage's sentences: a range of sentence positions.
    ranges: Vec<std::ops::Range<usize>>,
}

/// Sentence candidates fetched per requested hit: a passage enters the rescoring when its
/// passage vector or one of its sentences is near the question.
const SENTENCE_DEPTH: usize = 4;

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
    sentences: SentenceStore,
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
        vectors: Vec<PassageVectors>,
    ) -> Result<Self> {
        let terms = vec![None; passages.len()];
        Self::from_parts_with(model, passages, vectors, terms)
    }

    /// [`Index::from_parts`] with the lexical terms already known for some passages.
    fn from_parts_with(
        model: ModelId,
        passages: Vec<Passage>,
        vectors: Vec<PassageVectors>,
        terms: Vec<Option<Terms>>,
    ) -> Result<Self> {
        if passages.len() != vectors.len() {
            return Err(Error::invalid("passages and vectors differ in number"));
        }
        let all = vectors
            .iter()
            .flat_map(|v| std::iter::once(&v.passage).chain(v.sentences.iter().map(|s| &s.vector)));
        if let Some(v) = all.into_iter().find(|v| v.len() != model.dim) {
            return Err(Error::invalid(format!(
                "vector of dimension {} in a {}-dimensional index",
                v.len(),
                model.dim
            )));
        }
        let mut passage_vectors = Vec::with_capacity(vectors.len());
        let mut sentence_vectors = Vec::new();
        let (mut owner, mut spans, mut ranges) = (Vec::new(), Vec::new(), Vec::new());
        for (key, v) in vectors.into_iter().enumerate() {
            let first = owner.len();
            for s in v.sentences {
                if s.start >= s.end {
                    return Err(Error::invalid("empty sentence span"));
                }
                owner.push(key as u32);
                spans.push((s.start, s.end));
                sentence_vectors.push(s.vector);
            }
            ranges.push(first..owner.len());
            passage_vectors.push(v.passage);
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
            vectors: HnswStore::build(passage_vectors),
            sentences: SentenceStore {
                vectors: HnswStore::build(sentence_vectors),
                owner,
                spans,
                ranges,
            },
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

    /// Sentences of a passage: `(start, end, vector)`, spans in characters of its text. Empty
    /// for passages stored without sentence vectors.
    pub fn sentences(&self, key: u32) -> impl Iterator<Item = (u32, u32, &[f32])> {
        let range = self
            .sentences
            .ranges
            .get(key as usize)
            .cloned()
            .unwrap_or(0..0);
        range.map(|i| {
            let (a, b) = self.sentences.spans[i];
            let v = self
                .sentences
                .vectors
                .vector(i as u32)
                .expect("stored sentence");
            (a, b, v)
        })
    }

    /// Dense search: `(key, score)` best first, among passages `keep` accepts. A passage scores
    /// the mean of two cosines to the query: its whole text's and its best sentence's (its own
    /// again when it has no sentence vectors). The whole text says what a clause is about; the
    /// best sentence finds the one line in it that a question is after, which a 256-token
    /// passage vector blurs (seed-qa recall@5 0.83 -> 0.92 dense, see the hybrid issue).
    pub fn search(
        &self,
        query: &[f32],
        k: usize,
        keep: &dyn Fn(&Passage) -> bool,
    ) -> Vec<(u32, f32)> {
        if self.sentences.owner.is_empty() {
            return self.nearest(query, k, keep);
        }
        let accept = |key: u32| self.passages.get(key as usize).is_some_and(keep);
        let mut keys: Vec<u32> = self
            .nearest(query, k, keep)
            .into_iter()
            .map(|h| h.0)
            .collect();
        let owner = &self.sentences.owner;
        let accept_sentence = |s: u32| accept(owner[s as usize]);
        keys.extend(
            self.sentences
                .vectors
                .search(query, k * SENTENCE_DEPTH, &accept_sentence)
                .into_iter()
                .map(|h| owner[h.0 as usize]),
        );
        keys.sort_unstable();
        keys.dedup();
        let mut scored: Vec<(u32, f32)> = keys
            .into_iter()
            .map(|key| (key, self.dense_score(query, key)))
            .collect();
        scored.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        scored.truncate(k);
        scored
    }

    fn dense_score(&self, query: &[f32], key: u32) -> f32 {
        let dot = crate::embed::dot;
        let whole = self.vectors.vector(key).map_or(0.0, |v| dot(query, v));
        let best = self
            .sentences(key)
            .map(|(_, _, v)| dot(query, v))
            .reduce(f32::max)
            .unwrap_or(whole);
        // Equal weights, measured against 0.8 on the best sentence: 0.8 is a wash within one
        // language (CMRC, XQuAD) but loses 0.12-0.18 recall@1 across languages (XQuAD en/zh).
        (whole + best) / 2.0
    }

    /// Nearest passages by their whole-text vectors alone: `(key, cosine)` best first.
    pub fn nearest(
        &self,
        vector: &[f32],
        k: usize,
        keep: &dyn Fn(&Passage) -> bool,
    ) -> Vec<(u32, f32)> {
        let accept = |key: u32| self.passages.get(key as usize).is_some_and(keep);
        self.vectors.search(vector, k, &accept)
    }

    /// Lexical (BM25) search, optionally within one document.
    pub fn lexical_search(&self, query: &str, k: usize, doc: Option<&str>) -> Result<LexicalHits> {
        self.lexical.search(query, k, doc)
    }

    /// A new index where each given document's passages replace any it had (vectors in the same
    /// order as passages).
    pub fn with_documents(&self, docs: Vec<(Vec<Passage>, Vec<PassageVectors>)>) -> Result<Index> {
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
    ) -> (Vec<Passage>, Vec<PassageVectors>, Vec<Option<Terms>>) {
        let mut out = (Vec::new(), Vec::new(), Vec::new());
        for (i, (p, v)) in self.passages.iter().zip(self.vectors.vectors()).enumerate() {
            if keep(p) {
                out.0.push(p.clone());
                out.1.push(PassageVectors {
                    passage: v.clone(),
                    sentences: self
                        .sentences(i as u32)
                        .map(|(start, end, v)| SentenceVector {
                            start,
                            end,
                            vector: v.to_vec(),
                        })
                        .collect(),
                });
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
        let dim = manifest.model.dim;
        let passage_vectors = read_vectors(&gen.join("vectors.f32"), dim)?;
        if passage_vectors.len() != passages.len() {
            return Err(Error::index(
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
                std::fs::read_to_string(&layout_path).map_err(|e| Error::io(&layout_path, e))?;
            let layout: SentenceLayout = serde_json::from_str(&text)
                .map_err(|e| Error::index(dir, format!("corrupt sentences.json: {e}")))?;
            let sentence_vectors = read_vectors(&gen.join("sentences.f32"), dim)?;
            if layout.counts.len() != vectors.len()
                || layout.spans.len() != sentence_vectors.len()
                || layout.counts.iter().sum::<usize>() != layout.spans.len()
            {
                return Err(Error::index(
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
        let raw = vector_bytes(self.vectors.vectors());
        write_synced(&gen.join("vectors.f32"), &raw, before_write)?;
        if !self.sentences.owner.is_empty() {
            let layout = SentenceLayout {
                counts: self.sentences.ranges.iter().map(|r| r.len()).collect(),
                spans: self.sentences.spans.clone(),
            };
            let body = serde_json::to_vec(&layout).map_err(|e| Error::Serde(e.to_string()))?;
            write_synced(&gen.join("sentences.json"), &body, before_write)?;
            let raw = vector_bytes(self.sentences.vectors.vectors());
            write_synced(&gen.join("sentences.f32"), &raw, before_write)?;
        }
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

/// How sentence vectors map to passages (`sentences.json`).
#[derive(Serialize, Deserialize)]
struct SentenceLayout {
    /// Sentences of each passage, in passage order.
    counts: Vec<usize>,
    /// Character span of each sentence in its passage.
    spans: Vec<(u32, u32)>,
}

/// Rows of floats as little-endian bytes, the layout [`read_vectors`] reads.
fn vector_bytes(rows: &[Vec<f32>]) -> Vec<u8> {
    rows.iter()
        .flat_map(|v| v.iter().flat_map(|x| x.to_le_bytes()))
        .collect()
}

/// Reads little-endian `dim`-float rows.
fn read_vectors(path: &Path, dim: usize) -> Result<Vec<Vec<f32>>> {
    let raw = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    if dim == 0 || raw.len() % (dim * 4) != 0 {
        return Err(Error::index(
            path,
            format!("not a whole number of {dim}-float vectors"),
        ));
    }
    Ok(raw
        .chunks_exact(dim * 4)
        .map(|row| {
            row.chunks_exact(4)
                .map(|b| f32::from_le_bytes(b.try_into().expect("4 bytes")))
                .collect()
        })
        .collect())
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
