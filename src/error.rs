//! The library's error: what a caller of the engine can get back. Each layer below has its own
//! error type ([`EmbedError`], [`IngestError`], [`StoreError`]) that this one wraps with its
//! source chain intact; the engine adds what only it can tell (a bad request, an unknown id).
//! The HTTP layer maps every variant to a status in one exhaustive `match`
//! (`server::error`), so a new variant cannot reach a client unmapped. A broken invariant is
//! never reported as the client's fault: only [`Error::InvalidInput`], [`Error::NotFound`] and
//! [`IngestError`]s about the input become 4xx.

pub use crate::embed::EmbedError;
pub use crate::index::StoreError;
pub use crate::ingest::IngestError;

/// Everything the engine can report.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The request is unusable (empty query, bad `k`, unknown mode...).
    #[error("{0}")]
    InvalidInput(String),
    /// A passage or document id that does not exist.
    #[error("{0}")]
    NotFound(String),
    /// What the request would make exists already (a collection of that name).
    #[error("{0}")]
    Conflict(String),
    /// The service holds as much of this kind of work as it takes (a full task queue): retry
    /// later.
    #[error("{0}")]
    Busy(String),
    /// A document could not be read, cleaned or split.
    #[error(transparent)]
    Ingest(#[from] IngestError),
    /// The model failed (missing files, tokenizer, tensor computation).
    #[error(transparent)]
    Embed(#[from] EmbedError),
    /// The store failed (files, corruption, another model's index, lexical index).
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The work passed its deadline and was stopped; nothing was written.
    #[error("stopped at the request deadline ({0}); nothing was written")]
    Deadline(String),
}

/// Result alias for the library.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// Shorthand for [`Error::InvalidInput`].
    pub fn invalid(msg: impl Into<String>) -> Self {
        Error::InvalidInput(msg.into())
    }

    /// True when the caller's input is at fault (a 4xx over HTTP), not the service.
    pub fn is_client_error(&self) -> bool {
        match self {
            Error::InvalidInput(_) | Error::NotFound(_) | Error::Conflict(_) => true,
            Error::Ingest(e) => e.is_input(),
            Error::Embed(_) | Error::Store(_) | Error::Deadline(_) | Error::Busy(_) => false,
        }
    }
}

/// An error with its whole source chain on one line (`a: b: c`), for logs and for failures that
/// travel as text.
pub fn chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        s.push_str(": ");
        s.push_str(&c.to_string());
        cause = c.source();
    }
    s
}
