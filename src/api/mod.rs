//! Wire types: the JSON shapes of the HTTP API, the MCP tools to come and the CLI's `--json`
//! output, with their OpenAPI schemas. The engine never sees them: each converts from (or into)
//! an engine type here, so a field can be renamed on the wire without touching the engine, and
//! an on-disk record can change without changing the wire.
//!
//! The shapes are documented for users in `ARCHITECTURE.md` ("The contract").

mod chatbot;
pub mod dify_filter;
mod documents;
mod embeddings;
mod error;
mod passage;
mod search;

pub use chatbot::*;
pub use documents::{
    Backup, Deleted, DocumentList, DocumentParams, DocumentPatch, Facet, FacetValue, LanguageShare,
    NewBackup, NewDocument, Stats,
};
pub use embeddings::{
    EmbeddingInput, EmbeddingItem, EmbeddingsRequest, EmbeddingsResponse, EncodedVector, Usage,
};
pub use error::{plain_serde, ErrorBody, ErrorDetail};
pub use passage::{hits, Answer, Document, Hit, Ingested, Passage};
pub use search::{
    grouping, AroundParams, AskRequest, AskResponse, BatchResult, BatchSearchRequest,
    BatchSearchResponse, Filter, Health, PassageList, RelatedParams, Results, SearchParams,
    SearchRequest, SearchResponse, WriteFailure,
};
