//! The storage seam. Search and the engine reach stored passages only through these two traits,
//! so a second store (PostgreSQL + pgvector) is added by implementing them, without touching
//! search code.
//!
//! A [`Snapshot`] is a consistent, read-only view: everything a search reads comes from one
//! snapshot, so it sees the state before a write or after it, never a mixture. A [`Store`] hands
//! out snapshots and applies writes; writes reach it already ordered by the engine's single
//! writer, and [`Store::apply`] returns only once the write is durable. Every read returns a
//! `Result`: a failure is an error at the call that failed, never an empty answer.

use std::sync::Arc;

use super::lexical::LexicalHits;
use super::{DocFilter, DocumentInfo, Passage, PassageVectors, StoreError};
use crate::embed::ModelId;

/// A passage's key within one snapshot: cheap to compare and hash, meaningless across
/// snapshots (the local store packs a segment slot and a position).
pub type Key = u64;

/// Which passages a search may return. Applied during the search (before the top-k cut), so a
/// filtered search still returns `k` results when there are that many.
#[derive(Debug, Clone, Copy)]
pub struct Filter<'a> {
    /// Only passages of the documents this accepts.
    pub docs: &'a DocFilter,
    /// Never these passages.
    pub exclude: &'a [Key],
}

impl Default for Filter<'_> {
    fn default() -> Self {
        Filter {
            docs: &super::filter::ALL_DOCUMENTS,
            exclude: &[],
        }
    }
}

impl<'a> Filter<'a> {
    /// Passages of the documents `docs` accepts.
    pub fn docs(docs: &'a DocFilter) -> Self {
        Filter { docs, exclude: &[] }
    }
}

/// The passages of one document under one section heading (keys of one snapshot).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SectionKeys {
    /// Document id.
    pub doc: String,
    /// The heading; None for passages outside any section.
    pub section: Option<String>,
    /// Its passages.
    pub keys: Vec<Key>,
}

/// A sentence of a stored passage: span (characters of the passage text) and vector.
#[derive(Debug, Clone, Copy)]
pub struct StoredSentence<'a> {
    /// Start, in characters.
    pub start: u32,
    /// End (exclusive), in characters.
    pub end: u32,
    /// Unit vector.
    pub vector: &'a [f32],
}

/// A consistent read-only view of stored passages.
///
/// Every read can fail (a database can be lost mid-request) and says so where it fails; reads
/// of passages, vectors and sentences take a batch of keys, so a store behind a network answers
/// a candidate list in one round trip. Keys are those this snapshot handed out (from
/// [`Snapshot::find`], a search or [`Snapshot::sample`]); any other key is an error.
pub trait Snapshot: Send + Sync {
    /// The model whose vectors these are.
    fn model(&self) -> &ModelId;
    /// Number of passages.
    fn len(&self) -> usize;
    /// True when there are no passages.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// Documents with their passage counts, in id order.
    fn documents(&self) -> Result<Vec<DocumentInfo>, StoreError>;
    /// The passages `condition` passes, as searches filter (see
    /// [`super::Condition::resolve`]); a store that holds its documents in memory answers
    /// without copying them.
    fn resolve(&self, condition: &super::Condition) -> Result<super::DocFilter, StoreError> {
        if condition.reads_section() {
            let docs = self.documents()?;
            let sections = self.sections()?;
            return Ok(condition.resolve_sections(docs.iter().map(Into::into), &sections));
        }
        condition.resolve(|| self.documents())
    }
    /// The live passages grouped by document and section, for filters on `section`.
    fn sections(&self) -> Result<Vec<SectionKeys>, StoreError>;
    /// True when a document with this id exists.
    fn has_document(&self, doc: &str) -> Result<bool, StoreError> {
        Ok(self.document_hash(doc)?.is_some())
    }
    /// [`super::content_hash`] of a stored document's passages.
    fn document_hash(&self, doc: &str) -> Result<Option<String>, StoreError>;
    /// Passages by key, in the order of `keys` (owned: a store may read them from a file or a
    /// database).
    fn passages(&self, keys: &[Key]) -> Result<Vec<Passage>, StoreError>;
    /// One passage by key.
    fn passage(&self, key: Key) -> Result<Passage, StoreError> {
        one(self.passages(&[key])?)
    }
    /// Key of the passage with this id.
    fn find(&self, id: &str) -> Result<Option<Key>, StoreError>;
    /// Key of the passage `delta` places from passage `key` in the same document, if any.
    fn neighbour(&self, key: Key, delta: isize) -> Result<Option<Key>, StoreError> {
        let id: super::PassageId = match self.passage(key)?.id.parse() {
            Ok(id) => id,
            Err(_) => return Ok(None),
        };
        match id.offset(delta) {
            Some(n) => self.find(&n.to_string()),
            None => Ok(None),
        }
    }
    /// Whole-text vectors of passages, in the order of `keys`.
    fn vectors(&self, keys: &[Key]) -> Result<Vec<&[f32]>, StoreError>;
    /// Sentences of passages with their vectors, in text order (empty for a passage stored
    /// without), in the order of `keys`.
    fn sentences(&self, keys: &[Key]) -> Result<Vec<Vec<StoredSentence<'_>>>, StoreError>;
    /// True when any passage has sentence vectors.
    fn has_sentences(&self) -> bool;
    /// The cosines of passages to `vector`, in the order of `keys`: their whole-text vector's,
    /// and their nearest sentence's with its span. The default reads the vectors; a store
    /// behind a network computes them where the vectors are, so only the numbers travel.
    fn cosines(&self, vector: &[f32], keys: &[Key]) -> Result<Vec<Cosines>, StoreError> {
        let vectors = self.vectors(keys)?;
        let sentences = self.sentences(keys)?;
        Ok(vectors
            .into_iter()
            .zip(sentences)
            .map(|(v, ss)| Cosines::of(vector, v, &ss))
            .collect())
    }
    /// Up to `k` passages nearest to `vector` by their whole-text vectors: `(key, cosine)`, best
    /// first.
    fn nearest(
        &self,
        vector: &[f32],
        k: usize,
        filter: Filter<'_>,
    ) -> Result<Vec<(Key, f32)>, StoreError>;
    /// Up to `k` sentences nearest to `vector`, as `(key of their passage, cosine)`, best first
    /// (a passage appears once per sentence found).
    fn nearest_sentences(
        &self,
        vector: &[f32],
        k: usize,
        filter: Filter<'_>,
    ) -> Result<Vec<(Key, f32)>, StoreError>;
    /// A dense search's candidates with their cosines, in key order: the union of the `k`
    /// passages nearest to `vector` and the passages of its `sentence_k` nearest sentences.
    /// The default composes [`Self::nearest`], [`Self::nearest_sentences`] and
    /// [`Self::cosines`]; a store behind a network answers it in one round trip.
    fn dense_candidates(
        &self,
        vector: &[f32],
        k: usize,
        sentence_k: usize,
        filter: Filter<'_>,
    ) -> Result<Vec<(Key, Cosines)>, StoreError> {
        let mut keys: Vec<Key> = self
            .nearest(vector, k, filter)?
            .into_iter()
            .map(|h| h.0)
            .collect();
        if sentence_k > 0 {
            keys.extend(
                self.nearest_sentences(vector, sentence_k, filter)?
                    .into_iter()
                    .map(|h| h.0),
            );
        }
        keys.sort_unstable();
        keys.dedup();
        let cosines = self.cosines(vector, &keys)?;
        Ok(keys.into_iter().zip(cosines).collect())
    }
    /// Up to `n` live passages spread evenly over the store (all of them when there are fewer),
    /// the same ones for the same state: a background against which a question's best scores
    /// are judged (see `search::relevance`).
    fn sample(&self, n: usize) -> Result<Vec<Key>, StoreError>;
    /// [`Snapshot::sample`] with each passage's share of CJK characters: what relevance needs
    /// of the sample besides its scores (the script of its background). Reading the texts costs
    /// more than scoring them, so a store may keep this with its sample.
    fn sample_cjk(&self, n: usize) -> Result<Vec<(Key, f32)>, StoreError> {
        cjk_shares(self, self.sample(n)?)
    }
    /// Up to `k` passages by BM25 for `query` among the documents `docs` accepts, with what the
    /// lexical side knows of the query.
    fn lexical(&self, query: &str, k: usize, docs: &DocFilter) -> Result<LexicalHits, StoreError>;
}

/// `keys` with the share of CJK characters of each one's text.
pub(crate) fn cjk_shares<S: Snapshot + ?Sized>(
    snap: &S,
    keys: Vec<Key>,
) -> Result<Vec<(Key, f32)>, StoreError> {
    let passages = snap.passages(&keys)?;
    let shares = passages.iter().map(|p| crate::text::cjk_share(&p.text));
    Ok(keys.into_iter().zip(shares).collect())
}

/// The one element of a batch of one.
fn one<T>(mut v: Vec<T>) -> Result<T, StoreError> {
    match (v.pop(), v.is_empty()) {
        (Some(x), true) => Ok(x),
        _ => Err(StoreError::Invariant(
            "a store answered a read of one key with another count".into(),
        )),
    }
}

/// The error of a read of a key the snapshot never handed out.
pub fn unknown_key(key: Key) -> StoreError {
    StoreError::Invariant(format!("no passage with key {key} in this snapshot"))
}

/// A passage's cosines to a question (see [`Snapshot::cosines`]).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Cosines {
    /// Of its whole-text vector.
    pub whole: f32,
    /// Of its nearest sentence, with that sentence's span (characters of the passage text);
    /// None when it has no sentence vectors.
    pub best: Option<(f32, u32, u32)>,
}

impl Cosines {
    /// The cosines of a passage with vector `v` and sentences `ss` to `q`.
    pub fn of(q: &[f32], v: &[f32], ss: &[StoredSentence<'_>]) -> Self {
        Cosines {
            whole: crate::kernels::dot(q, v),
            best: ss
                .iter()
                .map(|s| (crate::kernels::dot(q, s.vector), s.start, s.end))
                .max_by(|a, b| a.0.total_cmp(&b.0)),
        }
    }
}

/// One document as a store writes it: its passages and their vectors, in the same order.
pub type DocumentWrite = (Vec<Passage>, Vec<PassageVectors>);

/// A change to the stored passages.
#[derive(Debug, Clone)]
pub enum Write {
    /// Documents to add, each replacing a stored document with the same id: its passages and
    /// their vectors, in the same order.
    Upsert(Vec<DocumentWrite>),
    /// A document to remove.
    Delete(String),
}

/// Held by a writer for [`Store::exclusive`]; released on drop.
pub type WriterGuard = Box<dyn Send>;

/// Where passages live: hands out snapshots, applies writes durably.
pub trait Store: Send + Sync {
    /// The current state (a database's can fail to begin).
    fn snapshot(&self) -> Result<Arc<dyn Snapshot>, StoreError>;
    /// Applies `write` and returns the number of passages it stored (upsert) or removed
    /// (delete), once it is durable. Callers order writes; readers see the old or new state.
    fn apply(&self, write: Write) -> Result<usize, StoreError>;
    /// Exclusion between writers in *other processes* sharing this store, held while the
    /// engine decides ids against a fresh snapshot and applies its write (the engine's own mutex
    /// orders writers within a process). None for a store only one process writes.
    fn exclusive(&self) -> Result<Option<WriterGuard>, StoreError> {
        Ok(None)
    }
    /// A bulk load into this store starts (`true`) or ends (`false`): a store may put off index
    /// maintenance in between, as long as searches stay correct. The default does nothing.
    fn bulk(&self, _loading: bool) -> Result<(), StoreError> {
        Ok(())
    }
    /// The folder of a store kept in one (a local index), which `semsearch backup` copies;
    /// None for a database or a temporary store.
    fn folder(&self) -> Option<&std::path::Path> {
        None
    }
}
