//! Stored passages and their vectors, searchable by vector and by text.
//!
//! - [`store`]: the seam: [`Snapshot`] (a consistent read-only view) and [`Store`] (snapshots
//!   and durable writes). Search code sees only these traits.
//! - [`local`]: the single-machine implementation: immutable [`segment`]s (memory-mapped
//!   passages and vectors, an exact scan for small sets and an HNSW graph above), tombstones,
//!   merges, and a manifest as the commit point; [`v1`] migrates the format before segments.
//! - [`lexical`]: BM25 over jieba terms (tantivy, on disk).
//!
//! The records here ([`Passage`], [`PassageVectors`]) are the stored form; the wire form of a
//! passage is `api::Passage`, so either can change without the other.

pub mod condition;
pub mod conformance;
pub mod copy;
pub mod filter;
pub mod lexical;
pub mod local;
pub mod metadata;
pub mod open;
pub mod passage_id;
pub mod postgres;
pub mod segment;
pub mod store;
pub mod v1;

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

pub use condition::Condition;
pub use copy::{copy, Copied};
pub use filter::DocFilter;
pub use local::LocalStore;
pub use metadata::Metadata;
pub use open::{open, Access, Location};
pub use passage_id::PassageId;
pub use store::{
    Cosines, DocumentWrite, Filter, Key, SectionKeys, Snapshot, Store, StoredSentence, Write,
    WriterGuard,
};

/// A stored passage.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
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
    /// Page (1-based) the passage starts on, for a paginated document (PDF); absent otherwise,
    /// so other records read and hash as they did before pages existed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub page: Option<u32>,
    /// Its document's metadata (absent from records of documents without any, so those read
    /// and hash as they did before metadata existed).
    #[serde(default, skip_serializing_if = "Metadata::is_empty")]
    pub metadata: Metadata,
}

#[cfg(test)]
impl Passage {
    /// A passage of document `doc` with clause `clause` and no text, for unit tests.
    pub(crate) fn of_clause(doc: &str, clause: Option<&str>) -> Passage {
        Passage {
            page: None,
            id: format!("{doc}#1"),
            doc: doc.into(),
            title: String::new(),
            section: None,
            clause: clause.map(str::to_string),
            text: String::new(),
            start: 0,
            end: 0,
            metadata: Metadata::default(),
        }
    }
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

/// A fingerprint of a document's stored passages (ids, metadata, text, offsets): equal
/// fingerprints mean re-ingesting the document would store exactly what is there.
pub fn content_hash(passages: &[Passage]) -> String {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    for p in passages {
        // serde_json of a record is unambiguous (quoted, escaped), so fields cannot run together.
        h.update(serde_json::to_vec(p).unwrap_or_default());
        h.update(b"\n");
    }
    format!("{:x}", h.finalize())[..32].to_string()
}

/// A document summary.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DocumentInfo {
    /// Document id.
    pub doc: String,
    /// Title.
    pub title: String,
    /// Number of passages.
    pub passages: usize,
    /// Metadata.
    #[serde(default, skip_serializing_if = "Metadata::is_empty")]
    pub metadata: Metadata,
}

impl DocumentInfo {
    /// A summary of document `doc`.
    pub fn new(
        doc: impl Into<String>,
        title: impl Into<String>,
        passages: usize,
        metadata: Metadata,
    ) -> Self {
        DocumentInfo {
            doc: doc.into(),
            title: title.into(),
            passages,
            metadata,
        }
    }
}

/// What can go wrong storing or reading passages. None of it is a caller's mistake: a request
/// that reaches the store is valid, so every variant is a service failure.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// No index where one must exist (the store's name: a folder, or a URL without its
    /// password).
    #[error("no index at {0} (run semsearch ingest first)")]
    Missing(String),
    /// An index built with another model.
    #[error("index at {at}: {message}")]
    ModelMismatch {
        /// The store's name.
        at: String,
        /// Both models' identities and what to do.
        message: String,
    },
    /// An index whose files (or schema) are unreadable or inconsistent.
    #[error("index at {at}: {message}")]
    Corrupt {
        /// The index folder or file, or the database.
        at: String,
        /// What is wrong.
        message: String,
    },
    /// File system failure.
    #[error("{path}")]
    Io {
        /// The file or folder.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// The lexical index failed (its engine's error as the source).
    #[error("lexical index")]
    Lexical(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// Serializing stored records failed.
    #[error("serialization")]
    Serialize(#[from] serde_json::Error),
    /// The database cannot be reached or was lost mid-request: retry later (HTTP 503).
    #[error("store unavailable: {0}")]
    Unavailable(String),
    /// The database refused a statement (the driver's error as the source).
    #[error("database")]
    Database(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// A broken internal invariant (passages and vectors out of step): a bug, never input.
    #[error("internal: {0}")]
    Invariant(String),
}

impl StoreError {
    /// A [`StoreError::Io`] with its path.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        StoreError::Io {
            path: path.into(),
            source,
        }
    }

    /// True when the cause is a full disk (or quota): the write failed and left the store as
    /// it was, and writes succeed again once space is freed (HTTP 507).
    pub fn is_disk_full(&self) -> bool {
        fn full(e: &std::io::Error) -> bool {
            e.kind() == std::io::ErrorKind::StorageFull
                || matches!(e.raw_os_error(), Some(libc::ENOSPC) | Some(libc::EDQUOT))
        }
        let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(self);
        while let Some(e) = cause {
            if e.downcast_ref::<std::io::Error>().is_some_and(full)
                || e.downcast_ref::<std::sync::Arc<std::io::Error>>()
                    .is_some_and(|e| full(e))
            {
                return true;
            }
            cause = e.source();
        }
        // tantivy keeps some I/O errors only as text, at any depth of the chain.
        let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(self);
        while let Some(e) = cause {
            let text = e.to_string();
            if text.contains("No space left on device")
                || text.contains("os error 28")
                || text.contains("StorageFull")
                || text.contains("Disk quota exceeded")
            {
                return true;
            }
            cause = e.source();
        }
        false
    }

    /// A [`StoreError::Corrupt`] of a file or folder.
    pub fn corrupt(path: impl AsRef<std::path::Path>, message: impl Into<String>) -> Self {
        StoreError::Corrupt {
            at: path.as_ref().display().to_string(),
            message: message.into(),
        }
    }
}

#[cfg(test)]
mod tests;
