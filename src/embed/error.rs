//! The embedding errors.

use std::path::PathBuf;

/// What can go wrong turning text into vectors.
#[derive(Debug, thiserror::Error)]
pub enum EmbedError {
    /// A model folder that cannot be loaded (missing files, unsupported architecture).
    #[error("model at {path}: {message}")]
    Model {
        /// The model folder or file.
        path: PathBuf,
        /// What is wrong with it.
        message: String,
    },
    /// Reading a model file failed.
    #[error("{path}")]
    Io {
        /// The file or folder.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// The tokenizer failed.
    #[error("tokenizer")]
    Tokenizer(#[source] tokenizers::Error),
    /// Tensor computation failed.
    #[error("tensor computation")]
    Candle(#[from] candle_core::Error),
    /// The remote embedder failed or was refused (unreachable past the retries, an error
    /// answer, vectors of another model).
    #[error("remote embedder {0}")]
    Remote(String),
    /// A broken internal invariant (a sequence longer than the window, a token id outside the
    /// vocabulary): a bug or a model folder whose parts do not match, never the caller's input.
    #[error("internal: {0}")]
    Invariant(String),
}

impl EmbedError {
    /// A [`EmbedError::Model`].
    pub fn model(path: impl Into<PathBuf>, message: impl Into<String>) -> Self {
        EmbedError::Model {
            path: path.into(),
            message: message.into(),
        }
    }

    /// An [`EmbedError::Io`] with its path.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        EmbedError::Io {
            path: path.into(),
            source,
        }
    }
}
