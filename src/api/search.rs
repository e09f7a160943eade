//! Searching, asking and related passages.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::{Answer, Hit};
use crate::config::{MAX_GROUP_SIZE, MAX_K, MAX_WINDOW};
use crate::engine::{self, Mode};
use crate::index::Condition;

/// Body of `POST /search` (and the arguments of the MCP `search` tool).
#[derive(Deserialize, ToSchema, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SearchRequest {
    /// The question.
    pub query: String,
    /// Passages to return, 1..100 (default 5).
    #[schemars(range(min = 1, max = MAX_K))]
    pub k: Option<usize>,
    /// `hybrid` (default), `dense` or `lexical`.
    pub mode: Option<String>,
    /// Which documents to search (see [`Filter`]).
    pub filter: Option<Filter>,
    /// Results of the ranking skipped before the `k` returned, 0-based (default 0; `offset + k`
    /// at most 500): pages of `k` concatenate to one call with `k` their sum.
    #[schemars(range(max = MAX_WINDOW))]
    pub offset: Option<usize>,
    /// `doc`: at most `group_size` passages per document, so `k` results come from several
    /// documents (the only grouping key).
    #[schemars(extend("enum" = ["doc"]))]
    pub group_by: Option<String>,
    /// Passages per document when grouped, 1..20 (default 1).
    #[schemars(range(min = 1, max = MAX_GROUP_SIZE))]
    pub group_size: Option<usize>,
}

/// The grouping of a wire request: `group_by` must be `doc`; `group_size` alone is refused
/// (it would silently do nothing).
pub fn grouping(
    group_by: Option<&str>,
    group_size: Option<usize>,
) -> Result<Option<usize>, crate::Error> {
    match (group_by, group_size) {
        (None, None) => Ok(None),
        (Some("doc"), g) => Ok(Some(g.unwrap_or(1))),
        (Some(other), _) => Err(crate::Error::invalid(format!(
            "group_by {other:?} is not a grouping key (expected \"doc\")"
        ))),
        (None, Some(_)) => Err(crate::Error::invalid("group_size needs group_by (\"doc\")")),
    }
}

/// Result filter: an expression over documents (see `index::condition`), applied inside the
/// search. Comparisons `{"type": "eq"|"ne"|"gt"|"gte"|"lt"|"lte"|"in"|"nin"|"contains"|
/// "starts_with"|"ends_with", "key", "value"}`, `{"type": "exists"|"empty", "key"}`, compounds
/// `{"type": "and"|"or", "filters": [...]}` and `{"type": "not", "filter"}`, over `doc`,
/// `title` and metadata keys; the short forms `{"doc": id}` and `{"docs": [ids]}` (at most 100).
#[derive(Debug, Default, Deserialize, ToSchema, JsonSchema)]
#[serde(transparent)]
#[schema(value_type = Object)]
pub struct Filter(pub serde_json::Value);

impl Filter {
    /// The engine's form of an optional filter (every document when absent); a malformed
    /// filter is invalid input that says what is wrong.
    pub fn condition(filter: Option<Filter>) -> Result<Condition, crate::Error> {
        match filter {
            None => Ok(Condition::all()),
            Some(Filter(v)) => Condition::parse(&v).map_err(crate::Error::invalid),
        }
    }
}

/// Query of `GET /search`.
#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct SearchParams {
    /// The question.
    pub q: String,
    /// Passages to return, 1..100 (default 5).
    pub k: Option<usize>,
    /// Retrieval mode.
    pub mode: Option<String>,
    /// Restrict to a document.
    pub doc: Option<String>,
    /// Results skipped, 0-based (default 0).
    pub offset: Option<usize>,
}

/// Body of `POST /ask` (and the arguments of the MCP `ask` tool).
#[derive(Deserialize, ToSchema, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AskRequest {
    /// The question.
    pub question: String,
    /// Passages to return, 1..100 (default 5).
    #[schemars(range(min = 1, max = MAX_K))]
    pub k: Option<usize>,
    /// Retrieval mode.
    pub mode: Option<String>,
    /// Which documents to search (see [`Filter`]).
    pub filter: Option<Filter>,
    /// Relevance (0..1) the best passage must reach for `found` (default 0.5).
    #[schemars(range(min = 0, max = 1))]
    pub min_relevance: Option<f32>,
}

/// The engine request of a wire request; the engine validates it.
fn request(
    query: String,
    k: Option<usize>,
    mode: Option<&str>,
    filter: Condition,
) -> Result<engine::SearchRequest, crate::Error> {
    let mut r = engine::SearchRequest::new(query).filter(filter);
    if let Some(k) = k {
        r = r.k(k);
    }
    if let Some(m) = mode {
        r = r.mode(Mode::parse(m)?);
    }
    Ok(r)
}

impl TryFrom<SearchRequest> for engine::SearchRequest {
    type Error = crate::Error;
    fn try_from(r: SearchRequest) -> Result<Self, crate::Error> {
        Ok(request(
            r.query,
            r.k,
            r.mode.as_deref(),
            Filter::condition(r.filter)?,
        )?
        .offset(r.offset.unwrap_or(0))
        .group_size(grouping(r.group_by.as_deref(), r.group_size)?))
    }
}

impl TryFrom<SearchParams> for engine::SearchRequest {
    type Error = crate::Error;
    fn try_from(p: SearchParams) -> Result<Self, crate::Error> {
        Ok(request(
            p.q,
            p.k,
            p.mode.as_deref(),
            p.doc.map_or_else(Condition::all, Condition::doc),
        )?
        .offset(p.offset.unwrap_or(0)))
    }
}

impl TryFrom<AskRequest> for engine::SearchRequest {
    type Error = crate::Error;
    fn try_from(r: AskRequest) -> Result<Self, crate::Error> {
        Ok(request(
            r.question,
            r.k,
            r.mode.as_deref(),
            Filter::condition(r.filter)?,
        )?
        .min_relevance(r.min_relevance))
    }
}

/// Answer of the search routes.
#[derive(Serialize, ToSchema)]
pub struct SearchResponse {
    /// Passages, best first.
    pub results: Vec<Hit>,
    /// True when the ranking goes on past this page (ask again with `offset` + `k`).
    pub has_more: bool,
    /// Server-side time.
    pub took_ms: f64,
}

/// Body of `POST /search/batch`.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BatchSearchRequest {
    /// 1..32 searches, each a `POST /search` body.
    pub queries: Vec<SearchRequest>,
}

/// One search's page in a batch answer.
#[derive(Serialize, ToSchema)]
pub struct BatchResult {
    /// Passages, best first.
    pub results: Vec<Hit>,
    /// True when the ranking goes on past this page.
    pub has_more: bool,
}

/// Answer of `POST /search/batch`: one page per query, in the order of the queries.
#[derive(Serialize, ToSchema)]
pub struct BatchSearchResponse {
    /// The pages.
    pub results: Vec<BatchResult>,
    /// Server-side time, for the whole batch.
    pub took_ms: f64,
}

/// Answer of `POST /ask`.
#[derive(Serialize, ToSchema)]
pub struct AskResponse {
    /// False when no passage reaches `min_relevance`: the documents do not answer the question
    /// (`answer` is then null; the passages are still listed, for a person to judge).
    pub found: bool,
    /// The sentence that best answers, if any.
    pub answer: Option<Answer>,
    /// Passages, best first.
    pub passages: Vec<Hit>,
    /// Server-side time.
    pub took_ms: f64,
}

/// Query of the related route.
#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct RelatedParams {
    /// Clauses to return (default 5).
    pub k: Option<usize>,
    /// Also list the other passages of the passage's own clause (outside any clause: the
    /// passages right before and after it), each as its own result (default false).
    pub neighbours: Option<bool>,
}

/// Query of `GET /passages/{id}/around`.
#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct AroundParams {
    /// Passages on each side, 0..3 (default 1).
    pub n: Option<usize>,
}

/// Passages without scores, in document order.
#[derive(Serialize, ToSchema)]
pub struct PassageList {
    /// The passages.
    pub passages: Vec<super::Passage>,
}

/// Answer listing passages.
#[derive(Serialize, ToSchema)]
pub struct Results {
    /// Passages, best first.
    pub results: Vec<Hit>,
}

/// `GET /healthz` answer.
#[derive(Serialize, ToSchema)]
pub struct Health {
    /// `ok`, or `degraded` when the last write failed for a reason not the client's (a full
    /// disk, a lost database): searches still work, writes may not.
    pub status: &'static str,
    /// The failure of the last write, while no write has succeeded since.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_write_error: Option<WriteFailure>,
}

/// Why the last write failed.
#[derive(Serialize, Clone, Debug, ToSchema)]
pub struct WriteFailure {
    /// The error code its client got (`disk_full`, `store_unavailable`, `internal`...).
    pub code: String,
    /// Its message.
    pub message: String,
    /// When, in seconds since the Unix epoch.
    pub at: u64,
}
