//! One error type for the library. Callers need to tell a user's mistake (bad input, unknown id)
//! from a broken installation (missing model) and from an internal failure, because the HTTP layer
//! maps them to 4xx, 503 and 500 respectively; the variants are shaped by that need.

use std::path::PathBuf;

/// Everything that can go wrong inside semsearch.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The caller sent something unusable (empty query, bad `k`, unknown mode...).
    #[error("{0}")]
    InvalidInput(String),
    /// A passage or document id that does not exist.
    #[error("{0}")]
    NotFound(String),
    /// A model folder that cannot be loaded (missing files, unsupported architecture).
    #[error("model at {path}: {message}")]
    Model {
        /// The model folder or file.
        path: PathBuf,
        /// What is wrong with it.
        message: String,
    },
    /// An index that cannot be opened or does not match the model.
    #[error("index at {path}: {message}")]
    Index {
        /// The index folder.
        path: PathBuf,
        /// What is wrong with it.
        message: String,
    },
    /// Tensor computation failed.
    #[error("tensor computation: {0}")]
    Candle(#[from] candle_core::Error),
    /// Tokenizer failure.
    #[error("tokenizer: {0}")]
    Tokenizer(String),
    /// File system failure, with the path involved.
    #[error("{path}: {source}")]
    Io {
        /// The file or folder.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// Lexical index failure.
    #[error("lexical index: {0}")]
    Lexical(String),
    /// Serialization failure of stored data.
    #[error("serialization: {0}")]
    Serde(String),
}

/// Result alias for the library.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// Shorthand for [`Error::InvalidInput`].
    pub fn invalid(msg: impl Into<String>) -> Self {
        Error::InvalidInput(msg.into())
    }

    /// Shorthand for an [`Error::Io`] with its path.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            source,
        }
    }

    /// Shorthand for an [`Error::Model`].
    pub fn model(path: impl Into<PathBuf>, message: impl Into<String>) -> Self {
        Error::Model {
            path: path.into(),
            message: message.into(),
        }
    }

    /// Shorthand for an [`Error::Index`].
    pub fn index(path: impl Into<PathBuf>, message: impl Into<String>) -> Self {
        Error::Index {
            path: path.into(),
            message: message.into(),
        }
    }
}
