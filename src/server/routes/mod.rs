//! Route handlers, one file per resource. A handler converts the wire request (`api`) into an
//! engine call, runs it off the async threads (`AppState::blocking`), and converts the result
//! back; validation and ordering live in the engine, not here.

pub mod backups;
pub mod batch;
pub mod chatbot;
pub mod collections;
pub mod documents;
pub mod embeddings;
pub mod meta;
pub mod passages;
pub mod search;
pub mod tasks;
pub mod upload;
