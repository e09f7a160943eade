//! semsearch: semantic search and extractive question answering over long articles.
//!
//! Articles are cleaned of page chrome and cut along their own structure into passages
//! ([`ingest`]); passages are embedded by a multilingual sentence model running on CPU with
//! candle ([`embed`]); vectors go to an HNSW index and text to a lexical index, persisted together
//! ([`index`]); questions are answered by fusing both ([`search`]), over the command line or HTTP
//! ([`server`]).
#![warn(missing_docs)]

pub mod embed;
pub mod error;
pub mod index;
pub mod ingest;
pub mod search;
pub mod server;

pub use error::{Error, Result};
