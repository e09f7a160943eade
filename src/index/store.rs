//! The storage seam. Search and the engine reach stored passages only through these two traits,
//! so a second store (PostgreSQL + pgvector) is added by implementing them, without touching
//! search code.
//!
//! A [`Snapshot`] is a consistent, read-only view: everything a search reads comes from one
//! snapshot, so it sees the state before a write or after it, never a mixture. A [`Store`] hands
//! out snapshots and applies writes; writes reach it already ordered by the engine's single
//! writer, and [`Store::apply`] returns only once the write is durable.

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
    fn documents(&self) -> Vec<DocumentInfo>;
    /// True when a document with this id exists.
    fn has_document(&self, doc: &str) -> bool;
    /// [`super::content_hash`] of a stored document's passages.
    fn document_hash(&self, doc: &str) -> Option<String>;
    /// Passage by key (owned: a store may read it from a file or a database).
    fn passage(&self, key: Key) -> Option<Passage>;
    /// Key of the passage with this id.
    fn find(&self, id: &str) -> Option<Key>;
    /// Key of the passage `delta` places from passage `key` in the same document, if any.
    fn neighbour(&self, key: Key, delta: isize) -> Option<Key> {
        let id: super::PassageId = self.passage(key)?.id.parse().ok()?;
        self.find(&id.offset(delta)?.to_string())
    }
    /// Whole-text vector of a passage.
    fn passage_vector(&self, key: Key) -> Option<&[f32]>;
    /// Sentences of a passage with their vectors, in text order (empty when stored without).
    fn sentences(&self, key: Key) -> Vec<StoredSentence<'_>>;
    /// True when any passage has sentence vectors.
    fn has_sentences(&self) -> bool;
    /// Up to `k` passages nearest to `vector` by their whole-text vectors: `(key, cosine)`, best
    /// first.
    fn nearest(&self, vector: &[f32], k: usize, filter: Filter<'_>) -> Vec<(Key, f32)>;
    /// Up to `k` sentences nearest to `vector`, as `(key of their passage, cosine)`, best first
    /// (a passage appears once per sentence found).
    fn nearest_sentences(&self, vector: &[f32], k: usize, filter: Filter<'_>) -> Vec<(Key, f32)>;
    /// Up to `n` live passages spread evenly over the store (all of them when there are fewer),
    /// the same ones for the same state: a background against which a question's best scores
    /// are judged (see `search::relevance`).
    fn sample(&self, n: usize) -> Vec<Key>;
    /// Up to `k` passages by BM25 for `query` among the documents `docs` accepts, with what the
    /// lexical side knows of the query.
    fn lexical(&self, query: &str, k: usize, docs: &DocFilter) -> Result<LexicalHits, StoreError>;
    /// Why this snapshot's reads were cut short, if they were. The reads above cannot fail (a
    /// local snapshot is memory); a database's can, and then answer as if empty, so whoever
    /// answers from a snapshot checks this first.
    fn failure(&self) -> Option<StoreError> {
        None
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
    /// The current state.
    fn snapshot(&self) -> Arc<dyn Snapshot>;
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
