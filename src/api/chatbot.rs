//! Wire shapes of the chatbot stacks semsearch plugs into as they are: Dify's External Knowledge
//! API and OpenAI's vector-store search. Their scores are [`super::Hit::relevance`], so the
//! thresholds those tools expose mean the same as `min_relevance` here.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::config::{
    CONTEXT_TOKENS, DEFAULT_CONTEXT_TOKENS, DEFAULT_K, DEFAULT_NEIGHBOURS, MAX_K, MAX_NEIGHBOURS,
};
use crate::engine::{self, Message, Role};

/// Where passage `id` can be read on a server whose public base is `base`: its page, with the
/// passages around it (`GET /p/{id}`). The id is percent-encoded: ids hold `#`.
pub fn passage_url(base: &str, id: &str) -> String {
    let mut escaped = String::with_capacity(id.len());
    for b in id.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            escaped.push(b as char);
        } else {
            escaped.push_str(&format!("%{b:02X}"));
        }
    }
    format!("{}/p/{escaped}", base.trim_end_matches('/'))
}

/// What a result says about its passage, for citations: never null.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PassageMetadata {
    /// Passage id (`GET /passages/{id}`).
    pub passage_id: String,
    /// Document id.
    pub doc: String,
    /// Document title.
    pub title: String,
    /// Section heading, when known.
    pub section: Option<String>,
    /// Clause number, when known.
    pub clause: Option<String>,
    /// Page (1-based) the passage starts on, for paginated documents (PDF).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub page: Option<u32>,
    /// Start in the document text, in characters.
    pub start: usize,
    /// End (exclusive).
    pub end: usize,
    /// Where the passage can be read on this server.
    pub url: String,
    /// Relevance, 0..1.
    pub relevance: f32,
    /// The collection the passage is in (`default` for the index the server was started on).
    pub collection: String,
    /// The document's metadata, beside the fields above (a key named like one of them is left
    /// out here; `/passages/{id}` has it).
    #[serde(flatten)]
    #[schema(value_type = Object)]
    pub fields: serde_json::Map<String, serde_json::Value>,
}

impl PassageMetadata {
    /// Names of the fields every citation has.
    const BUILT_IN: [&'static str; 11] = [
        "passage_id",
        "doc",
        "title",
        "section",
        "clause",
        "page",
        "start",
        "end",
        "url",
        "relevance",
        "collection",
    ];

    /// The metadata keys that can sit beside the built-in fields.
    pub fn fields_of(m: &crate::index::Metadata) -> serde_json::Map<String, serde_json::Value> {
        m.iter()
            .filter(|(k, _)| !Self::BUILT_IN.contains(&k.as_str()))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    }
}

/// Body of Dify's `POST /retrieval`.
#[derive(Debug, Deserialize, ToSchema)]
pub struct DifyRequest {
    /// A document id, or `all` (also `*` or empty) for the whole index.
    pub knowledge_id: String,
    /// The question.
    pub query: String,
    /// How many records, and the least score (relevance) of each.
    pub retrieval_setting: DifySetting,
    /// Conditions on metadata (Dify 1.x): every operator, over metadata keys and `doc`.
    pub metadata_condition: Option<DifyMetadataCondition>,
}

/// Dify's retrieval setting.
#[derive(Debug, Deserialize, ToSchema)]
pub struct DifySetting {
    /// Records to return.
    pub top_k: usize,
    /// Least relevance of a record (0..1).
    pub score_threshold: f32,
}

/// Dify's metadata filter.
#[derive(Debug, Deserialize, ToSchema)]
pub struct DifyMetadataCondition {
    /// `and` (default) or `or`.
    pub logical_operator: Option<String>,
    /// The conditions.
    pub conditions: Vec<DifyCondition>,
}

/// One metadata condition.
#[derive(Debug, Deserialize, ToSchema)]
pub struct DifyCondition {
    /// Metadata names (Dify sends a list).
    pub name: Vec<String>,
    /// Operator, e.g. `is`.
    pub comparison_operator: String,
    /// Value compared with.
    pub value: Option<serde_json::Value>,
}

/// Answer of `POST /retrieval`.
#[derive(Debug, Serialize, ToSchema)]
pub struct DifyResponse {
    /// Passages, best first.
    pub records: Vec<DifyRecord>,
}

/// One record.
#[derive(Debug, Serialize, ToSchema)]
pub struct DifyRecord {
    /// Passage text.
    pub content: String,
    /// Relevance, 0..1.
    pub score: f32,
    /// Document title.
    pub title: String,
    /// Citation data.
    pub metadata: PassageMetadata,
}

/// Dify's error body.
#[derive(Debug, Serialize, ToSchema)]
pub struct DifyError {
    /// 1001 malformed Authorization header, 1002 wrong key, 2001 unknown knowledge base.
    pub error_code: u32,
    /// What went wrong.
    pub error_msg: String,
}

/// Body of OpenAI's `POST /v1/vector_stores/{id}/search`.
#[derive(Debug, Deserialize, ToSchema)]
pub struct VectorSearchRequest {
    /// The question (a list is searched as one question, its parts joined).
    pub query: QueryText,
    /// Results, 1..50 (default 10).
    pub max_num_results: Option<usize>,
    /// OpenAI's comparison (`eq`, `ne`, `gt`, `gte`, `lt`, `lte`, `in`, `nin`) and compound
    /// (`and`, `or`) filters over `doc`, `title`, `section` and metadata keys (the `filter` of `/search`).
    pub filters: Option<serde_json::Value>,
    /// `score_threshold` (0..1) is honoured; `ranker` is accepted and ignored.
    pub ranking_options: Option<RankingOptions>,
    /// Accepted and ignored: questions are searched as written.
    pub rewrite_query: Option<bool>,
    /// semsearch's extension: the `next_page` of the previous answer, for the page after it.
    pub page: Option<String>,
    /// semsearch's extension: `doc` to return at most `group_size` passages per document.
    pub group_by: Option<String>,
    /// semsearch's extension: passages per document when grouped, 1..20 (default 1).
    pub group_size: Option<usize>,
}

/// A question, or several.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(untagged)]
pub enum QueryText {
    /// One question.
    One(String),
    /// Several, searched together.
    Many(Vec<String>),
}

/// OpenAI's ranking options.
#[derive(Debug, Deserialize, ToSchema)]
pub struct RankingOptions {
    /// Ignored (one ranker).
    pub ranker: Option<String>,
    /// Least score (relevance) of a result.
    pub score_threshold: Option<f32>,
}

/// Answer of the vector-store search.
#[derive(Debug, Serialize, ToSchema)]
pub struct VectorSearchPage {
    /// Always `vector_store.search_results.page`.
    pub object: &'static str,
    /// The question as searched.
    pub search_query: QueryText,
    /// Results, best first.
    pub data: Vec<VectorSearchResult>,
    /// True when the ranking holds more results above the threshold (judged by the first one
    /// past this page).
    pub has_more: bool,
    /// When `has_more`: the token to send as `page` for the next page.
    pub next_page: Option<String>,
}

/// One result.
#[derive(Debug, Serialize, ToSchema)]
pub struct VectorSearchResult {
    /// Document id.
    pub file_id: String,
    /// Document title.
    pub filename: String,
    /// Relevance, 0..1.
    pub score: f32,
    /// Citation data.
    pub attributes: PassageMetadata,
    /// The passage text, as one text item.
    pub content: Vec<TextContent>,
}

/// A text content item.
#[derive(Debug, Serialize, ToSchema)]
pub struct TextContent {
    /// Always `text`.
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// The text.
    pub text: String,
}

/// A message of a conversation, as chat APIs write them (OpenAI's chat completions, Anthropic's
/// messages): `system`, `developer` and `tool` messages are accepted and kept out of the search
/// (they instruct the model or carry tool output; they do not say what the person asks).
#[derive(Debug, Deserialize, ToSchema, JsonSchema)]
pub struct ChatMessage {
    /// `user`, `assistant`, or one of those kept out of the search.
    #[schemars(extend("enum" = ["user", "assistant", "system", "developer", "tool"]))]
    pub role: String,
    /// The text, or a list of content parts whose `text` parts are joined (images and other
    /// parts are skipped); null for an assistant message that only called tools.
    #[serde(default)]
    pub content: Option<MessageContent>,
}

/// A message's content: a string or a list of parts.
#[derive(Debug, Deserialize, ToSchema, JsonSchema)]
#[serde(untagged)]
pub enum MessageContent {
    /// Plain text.
    Text(String),
    /// Content parts (`{"type": "text", "text": ...}` and others).
    Parts(Vec<ContentPart>),
}

/// One content part; only `text` parts are read.
#[derive(Debug, Deserialize, ToSchema, JsonSchema)]
pub struct ContentPart {
    /// `text`, `image_url`, `input_text`...
    #[serde(rename = "type")]
    pub kind: String,
    /// The text of a text part.
    pub text: Option<String>,
}

impl MessageContent {
    /// The text parts, joined by newlines.
    fn text(self) -> String {
        match self {
            MessageContent::Text(t) => t,
            MessageContent::Parts(parts) => parts
                .into_iter()
                .filter(|p| matches!(p.kind.as_str(), "text" | "input_text" | "output_text"))
                .filter_map(|p| p.text)
                .collect::<Vec<_>>()
                .join("\n"),
        }
    }
}

/// Roles accepted and kept out of the search.
const INSTRUCTION_ROLES: [&str; 3] = ["system", "developer", "tool"];

/// Body of `POST /context` (and the arguments of the MCP `context` tool): a conversation
/// (`messages`) or one `query`.
#[derive(Debug, Deserialize, ToSchema, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ContextRequest {
    /// The conversation so far; its last user message is the question.
    pub messages: Option<Vec<ChatMessage>>,
    /// A question, instead of `messages`.
    pub query: Option<String>,
    /// Passages searched for, 1..100 (default 5).
    #[schemars(range(min = 1, max = MAX_K))]
    pub k: Option<usize>,
    /// Most tokens of context, counted with the model's tokenizer (default 1500).
    #[schemars(range(min = *CONTEXT_TOKENS.start(), max = *CONTEXT_TOKENS.end()))]
    pub max_tokens: Option<usize>,
    /// Passages added on each side of a hit (default 1, at most 3).
    #[schemars(range(max = MAX_NEIGHBOURS))]
    pub neighbours: Option<usize>,
    /// Which documents to search (see [`super::search::Filter`]).
    pub filter: Option<super::search::Filter>,
    /// Relevance a passage needs (default 0.5).
    #[schemars(range(min = 0, max = 1))]
    pub min_relevance: Option<f32>,
}

/// A [`ContextRequest`] as the engine takes it (`Engine::context`'s arguments).
pub struct ContextCall {
    /// The conversation, its question last.
    pub messages: Vec<Message>,
    /// `k`, filter and threshold of the search.
    pub template: engine::SearchRequest,
    /// Token budget.
    pub max_tokens: usize,
    /// Neighbours on each side of a hit.
    pub neighbours: usize,
}

impl TryFrom<ContextRequest> for ContextCall {
    type Error = crate::Error;
    fn try_from(req: ContextRequest) -> Result<Self, crate::Error> {
        let messages = match (req.messages, req.query) {
            (Some(m), None) => m
                .into_iter()
                .filter(|m| !INSTRUCTION_ROLES.contains(&m.role.as_str()))
                .map(|m| {
                    Ok(Message {
                        role: Role::parse(&m.role)?,
                        content: m.content.map(MessageContent::text).unwrap_or_default(),
                    })
                })
                .collect::<Result<_, crate::Error>>()?,
            (None, Some(q)) => vec![Message {
                role: Role::User,
                content: q,
            }],
            _ => {
                return Err(crate::Error::invalid(
                    "give either messages or query (exactly one)",
                ))
            }
        };
        Ok(ContextCall {
            messages,
            template: engine::SearchRequest::new("")
                .k(req.k.unwrap_or(DEFAULT_K))
                .filter(super::search::Filter::condition(req.filter)?)
                .min_relevance(req.min_relevance),
            max_tokens: req.max_tokens.unwrap_or(DEFAULT_CONTEXT_TOKENS),
            neighbours: req.neighbours.unwrap_or(DEFAULT_NEIGHBOURS),
        })
    }
}

/// A numbered source of a context.
#[derive(Debug, Serialize, ToSchema)]
pub struct ContextCitation {
    /// `[n]` in the context.
    pub n: usize,
    /// The passage found (its block may include its neighbours).
    pub passage_id: String,
    /// Document id.
    pub doc: String,
    /// Document title.
    pub title: String,
    /// Clause number, when known.
    pub clause: Option<String>,
    /// Page (1-based) the cited passage starts on, for paginated documents (PDF).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub page: Option<u32>,
    /// Start of the cited text in the document, in characters.
    pub start: usize,
    /// End (exclusive).
    pub end: usize,
    /// Where the passage can be read.
    pub url: String,
    /// Relevance, 0..1.
    pub relevance: f32,
}

impl ContextResponse {
    /// The wire form of `ctx`, with passage URLs under `base`.
    pub fn new(ctx: engine::Context, base: &str, took_ms: f64) -> Self {
        ContextResponse {
            found: ctx.found,
            query_used: ctx.query_used,
            context: ctx.text,
            citations: ctx
                .citations
                .into_iter()
                .map(|c| ContextCitation {
                    n: c.n,
                    url: passage_url(base, &c.passage.id),
                    passage_id: c.passage.id,
                    doc: c.passage.doc,
                    title: c.passage.title,
                    clause: c.passage.clause,
                    page: c.passage.page,
                    start: c.start,
                    end: c.end,
                    relevance: c.relevance,
                })
                .collect(),
            took_ms,
        }
    }
}

/// Answer of `POST /context`.
#[derive(Debug, Serialize, ToSchema)]
pub struct ContextResponse {
    /// False when nothing reaches `min_relevance`: the documents do not answer (context empty).
    pub found: bool,
    /// The question searched, with the conversation's recent messages when there were any.
    pub query_used: String,
    /// Prompt-ready text: blocks headed `[n] title (clause c)`.
    pub context: String,
    /// The sources.
    pub citations: Vec<ContextCitation>,
    /// Server-side time.
    pub took_ms: f64,
}
