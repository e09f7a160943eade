//! The Model Context Protocol server: `semsearch mcp` (stdio) and `/mcp` on `semsearch serve`
//! (streamable HTTP, stateless, JSON responses), on the official Rust SDK (`rmcp`).
//!
//! Tools: `search` and `fetch` in the shapes ChatGPT connectors and deep-research clients
//! require (`{"results": [{"id", "title", "url", "text"}]}` and `{"id", "title", "text", "url",
//! "metadata"}`), and `ask` and `context` with the options of `/ask` and `/context`. Each answers
//! one text content item holding the JSON, and the same JSON as structured content.

use std::sync::Arc;

use rmcp::model::{
    CallToolRequestParams, CallToolResult, Implementation, JsonObject, ListToolsResult,
    PaginatedRequestParams, ServerCapabilities, ServerConfig, Tool,
};
use rmcp::service::RequestContext;
use rmcp::{ErrorData, RoleServer, ServerHandler};
use serde_json::{json, Value};

use crate::config::{
    CONTEXT_TOKENS, DEFAULT_CONTEXT_TOKENS, DEFAULT_K, DEFAULT_MIN_RELEVANCE, DEFAULT_NEIGHBOURS,
    MAX_K, MAX_NEIGHBOURS,
};
use crate::engine::{Engine, Message, Role, SearchRequest};

/// The MCP face of an engine.
#[derive(Clone)]
pub struct McpServer {
    engine: Arc<Engine>,
    /// Base of passage URLs (`SEMSEARCH_PUBLIC_URL`, else the server's address).
    public_url: String,
    /// The HTTP server's in-flight bound, shared with its routes (none on stdio).
    permits: Option<Arc<tokio::sync::Semaphore>>,
}

impl McpServer {
    /// A server over `engine`; passage URLs start with `public_url`.
    pub fn new(engine: Arc<Engine>, public_url: &str) -> Self {
        McpServer {
            engine,
            public_url: public_url.trim_end_matches('/').to_string(),
            permits: None,
        }
    }

    /// The same server taking a permit from `permits` for every tool call, as HTTP routes do:
    /// past the bound a call is refused at once instead of queueing.
    pub fn with_permits(mut self, permits: Arc<tokio::sync::Semaphore>) -> Self {
        self.permits = Some(permits);
        self
    }

    fn url(&self, id: &str) -> String {
        crate::api::passage_url(&self.public_url, id)
    }

    fn run(&self, name: &str, args: &JsonObject) -> crate::Result<Value> {
        let text = |key: &str| -> crate::Result<String> {
            args.get(key)
                .and_then(Value::as_str)
                .map(String::from)
                .ok_or_else(|| {
                    crate::Error::invalid(format!("argument {key:?} (a string) is required"))
                })
        };
        // An argument of the wrong type is the caller's error, never a silent default.
        let number = |key: &str| -> crate::Result<Option<usize>> {
            match args.get(key) {
                None | Some(Value::Null) => Ok(None),
                Some(v) => v.as_u64().map(|v| Some(v as usize)).ok_or_else(|| {
                    crate::Error::invalid(format!(
                        "argument {key:?} must be a non-negative integer, not {v}"
                    ))
                }),
            }
        };
        let min = match args.get("min_relevance") {
            None | Some(Value::Null) => None,
            Some(v) => Some(v.as_f64().ok_or_else(|| {
                crate::Error::invalid(format!(
                    "argument \"min_relevance\" must be a number, not {v}"
                ))
            })? as f32),
        };
        let e = &self.engine;
        match name {
            "search" => {
                let req = SearchRequest::new(text("query")?).k(number("k")?.unwrap_or(DEFAULT_K));
                let hits = e.search(&req)?;
                Ok(json!({ "results": hits.iter().map(|h| json!({
                    "id": h.passage.id, "title": title(&h.passage),
                    "url": self.url(&h.passage.id), "text": h.passage.text,
                })).collect::<Vec<_>>() }))
            }
            "fetch" => {
                let p = e.passage(&text("id")?)?;
                Ok(json!({
                    "id": p.id, "title": title(&p), "text": p.text, "url": self.url(&p.id),
                    "metadata": {"doc": p.doc, "document_title": p.title, "section": p.section,
                                 "clause": p.clause, "start": p.start, "end": p.end},
                }))
            }
            "ask" => {
                let req = SearchRequest::new(text("question")?)
                    .k(number("k")?.unwrap_or(DEFAULT_K))
                    .min_relevance(min);
                let asked = e.ask(&req)?;
                Ok(json!({
                    "found": asked.found,
                    "answer": asked.answer.as_ref().map(|a| json!({
                        "text": a.text, "passage_id": a.passage_id, "url": self.url(&a.passage_id),
                    })),
                    "passages": asked.hits.iter().map(|h| json!({
                        "id": h.passage.id, "title": title(&h.passage), "text": h.passage.text,
                        "relevance": h.relevance, "url": self.url(&h.passage.id),
                    })).collect::<Vec<_>>(),
                }))
            }
            "context" => {
                let messages = match (args.get("messages"), args.get("query")) {
                    (Some(Value::Array(m)), None) => m
                        .iter()
                        .map(|m| {
                            Ok(Message {
                                role: Role::parse(m["role"].as_str().unwrap_or_default())?,
                                content: m["content"].as_str().unwrap_or_default().to_string(),
                            })
                        })
                        .collect::<crate::Result<Vec<_>>>()?,
                    (None, Some(Value::String(q))) => vec![Message {
                        role: Role::User,
                        content: q.clone(),
                    }],
                    _ => {
                        return Err(crate::Error::invalid(
                            "give either messages or query (exactly one)",
                        ))
                    }
                };
                let template = SearchRequest::new("")
                    .k(number("k")?.unwrap_or(DEFAULT_K))
                    .min_relevance(min);
                let t = std::time::Instant::now();
                let ctx = e.context(
                    &messages,
                    &template,
                    number("max_tokens")?.unwrap_or(DEFAULT_CONTEXT_TOKENS),
                    number("neighbours")?.unwrap_or(DEFAULT_NEIGHBOURS),
                )?;
                let took_ms = t.elapsed().as_secs_f64() * 1000.0;
                let wire = crate::api::ContextResponse::new(ctx, &self.public_url, took_ms);
                // A struct of strings and numbers always serializes.
                Ok(serde_json::to_value(wire).unwrap_or_default())
            }
            other => Err(crate::Error::invalid(format!("no tool {other:?}"))),
        }
    }
}

/// A passage's title for a citation list: the document's, with the clause when known.
fn title(p: &crate::index::Passage) -> String {
    match &p.clause {
        Some(c) => format!("{} · {c}", p.title),
        None => p.title.clone(),
    }
}

fn schema(v: Value) -> Arc<JsonObject> {
    match v {
        Value::Object(o) => Arc::new(o),
        _ => Arc::new(JsonObject::new()),
    }
}

fn tools() -> Vec<Tool> {
    // Bounds and defaults from `config`, the ones the engine enforces.
    let k = json!({"type": "integer", "minimum": 1, "maximum": MAX_K,
                   "description": format!("passages to return (default {DEFAULT_K})")});
    let min = json!({"type": "number", "minimum": 0, "maximum": 1,
                     "description": format!("relevance a passage needs to count as an answer (default {DEFAULT_MIN_RELEVANCE})")});
    vec![
        Tool::new(
            "search",
            "Search the indexed documents for passages relevant to a query (any language). \
             Returns results with id, title, url and text; pass an id to fetch for the full passage.",
            schema(json!({"type": "object", "properties": {
                "query": {"type": "string", "description": "what to look for"}, "k": k},
                "required": ["query"]})),
        ),
        Tool::new(
            "fetch",
            "Fetch one passage by the id a search returned: its full text, url and metadata \
             (document, section, clause, offsets).",
            schema(json!({"type": "object", "properties": {
                "id": {"type": "string", "description": "passage id from search"}},
                "required": ["id"]})),
        ),
        Tool::new(
            "ask",
            "Answer a question from the documents: found=false when they do not answer it; \
             otherwise the answer sentence and the passages, each with its relevance (0..1).",
            schema(json!({"type": "object", "properties": {
                "question": {"type": "string"}, "k": k, "min_relevance": min},
                "required": ["question"]})),
        ),
        Tool::new(
            "context",
            "Prompt-ready context for a conversation: the passages that answer its last user \
             message (resolved against the earlier turns), with neighbours, cut to a token \
             budget, numbered [1], [2]... with citations.",
            schema(json!({"type": "object", "properties": {
                "messages": {"type": "array", "items": {"type": "object", "properties": {
                    "role": {"type": "string", "enum": ["user", "assistant"]},
                    "content": {"type": "string"}}, "required": ["role", "content"]}},
                "query": {"type": "string", "description": "a question, instead of messages"},
                "k": k, "min_relevance": min,
                "max_tokens": {"type": "integer", "minimum": CONTEXT_TOKENS.start(),
                               "maximum": CONTEXT_TOKENS.end(),
                               "description": format!("default {DEFAULT_CONTEXT_TOKENS}")},
                "neighbours": {"type": "integer", "minimum": 0, "maximum": MAX_NEIGHBOURS,
                               "description": format!("default {DEFAULT_NEIGHBOURS}")}}})),
        ),
    ]
}

impl ServerHandler for McpServer {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
            .with_server_info(Implementation::new("semsearch", env!("CARGO_PKG_VERSION")))
            .with_instructions(
                "Semantic search over the indexed documents (multilingual). Use search then \
                 fetch for citations, ask for a direct answer, context for a chatbot prompt.",
            )
    }

    async fn list_tools(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, ErrorData> {
        Ok(ListToolsResult::with_all_items(tools()))
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<rmcp::model::CallToolResponse, ErrorData> {
        let this = self.clone();
        let name = request.name.to_string();
        let args = request.arguments.unwrap_or_default();
        let permit = match &self.permits {
            Some(p) => Some(p.clone().try_acquire_owned().map_err(|_| {
                ErrorData::internal_error(
                    "overloaded: too many requests in progress; retry shortly",
                    None,
                )
            })?),
            None => None,
        };
        // The engine's work is CPU-bound: off the async threads.
        let out = tokio::task::spawn_blocking(move || {
            let out = this.run(&name, &args);
            drop(permit);
            out
        })
        .await
        .map_err(|e| ErrorData::internal_error(e.to_string(), None))?;
        Ok(match out {
            Ok(v) => CallToolResult::structured(v),
            // Bad arguments and unknown ids are the tool's answer, for the model to read.
            Err(e @ (crate::Error::InvalidInput(_) | crate::Error::NotFound(_))) => {
                CallToolResult::structured_error(json!({ "error": e.to_string() }))
            }
            // Everything else as the HTTP routes map it: a code and a message, the detail of a
            // service failure in the log only.
            Err(e) => {
                let api = crate::server::ApiError::from(e);
                return Err(ErrorData::internal_error(
                    format!("{}: {}", api.code, api.message),
                    None,
                ));
            }
        }
        .into())
    }
}
