//! semsearch: semantic search and extractive question answering over long articles.
//!
//! Articles are cleaned of page chrome and cut along their own structure into passages
//! ([`ingest`]); passages are embedded by a multilingual sentence model running on CPU with
//! candle ([`embed`], over the numeric [`kernels`]); vectors and text are stored behind the
//! [`index::Store`] traits, searchable by vector and by BM25 ([`index`]); questions are answered
//! by fusing both ([`search`]). The [`engine`] owns the whole: it validates every request, orders
//! every write, and is what the edges call: the HTTP service ([`server`], wire types in
//! [`api`]), the command line, and the evaluations ([`eval`]). `ARCHITECTURE.md` walks through
//! the layers, the life of a query and of a write.
//!
//! From documents to answers, on the tiny test model (any model folder loads the same way with
//! [`embed::TextEmbedder::load`]):
//!
//! ```
//! use std::sync::Arc;
//! use semsearch::engine::{Engine, Options, SearchRequest};
//! use semsearch::ingest::{Format, RawDocument};
//!
//! let embedder = Arc::new(semsearch::embed::tiny::embedder(1, false));
//! let engine = Engine::open(embedder, None, Options::default())?; // in memory
//! let done = engine.ingest(
//!     &[
//!         RawDocument::new("lake", "太湖苏州辖区连续18年安全度夏。", Format::Text),
//!         RawDocument::new("plan", "坚持和发展新时代枫桥经验。", Format::Text),
//!     ],
//!     &|_embedded| {},
//! )?;
//! assert_eq!(done.len(), 2);
//! let hits = engine.search(&SearchRequest::new("枫桥经验").k(1))?;
//! assert_eq!(hits[0].passage.doc, "plan");
//! # Ok::<(), semsearch::Error>(())
//! ```
#![warn(missing_docs)]

pub mod api;
pub mod config;
pub mod embed;
pub mod engine;
pub mod error;
pub mod eval;
pub mod index;
pub mod ingest;
pub mod kernels;
pub mod mcp;
pub mod search;
pub mod server;
pub mod tasks;
pub mod text;

pub use error::{Error, Result};
