//! The Model Context Protocol server: `semsearch mcp` (stdio) and `/mcp` on `semsearch serve`
//! (streamable HTTP, stateless, JSON responses), on the official Rust SDK (`rmcp`).
//!
//! Tools: `search` and `fetch` in the shapes ChatGPT connectors and deep-research clients
//! require (`{"results": [{"id", "title", "url", "text"}]}` and `{"id", "title", "text", "url",
//! "metadata"}`), `ask` and `context` with the options of `/ask` and `/context`, and
//! `documents` (`GET /documents`: the list, a filter, facets). Each answers
//! one text content item holding the JSON, and the same JSON as structured content.

use std::sync::Arc;

use rmcp::handler::server::common::schema_for_type;
use rmcp::model::{
    CallToolRequestParams, CallToolResult, Implementation, JsonObject, ListToolsResult,
    PaginatedRequestParams, ServerCapabilities, ServerConfig, Tool,
};
use rmcp::service::RequestContext;
use rmcp::{ErrorData, RoleServer, ServerHandler};
use schemars::JsonSchema;
use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::api;
use crate::engine::{Engine, SearchRequest};
use crate::index::Condition;
use crate::server::auth::Access;

/// Finds a collection by name: its engine and the base of its passage URLs.
pub type Resolver = Arc<dyn Fn(&str) -> Option<(Arc<Engine>, String)> + Send + Sync>;

/// The MCP face of an engine.
#[derive(Clone)]
pub struct McpServer {
    engine: Arc<Engine>,
    /// Base of passage URLs (`SEMSEARCH_PUBLIC_URL`, else the server's address).
    public_url: String,
    /// The HTTP server's in-flight bound, shared with its routes (none on stdio).
    permits: Option<Arc<tokio::sync::Semaphore>>,
    /// The collections a tool's `collection` argument may name (none: only this one).
    collections: Option<Resolver>,
}

impl McpServer {
    /// A server over `engine`; passage URLs start with `public_url`.
    pub fn new(engine: Arc<Engine>, public_url: &str) -> Self {
        McpServer {
            engine,
            public_url: public_url.trim_end_matches('/').to_string(),
            permits: None,
            collections: None,
        }
    }

    /// The same server taking an optional `collection` argument in every tool, found by
    /// `resolve` (and checked against the caller's key over HTTP).
    pub fn with_collections(mut self, resolve: Resolver) -> Self {
        self.collections = Some(resolve);
        self
    }

    /// This server, or the one over the collection `args` names (taking the argument out); a
    /// collection that does not exist and one the caller may not address are the same error.
    fn pick(&self, args: &mut JsonObject, access: Option<&Access>) -> crate::Result<McpServer> {
        let Some(named) = args.remove("collection") else {
            return Ok(self.clone());
        };
        let Value::String(name) = named else {
            return Err(crate::Error::invalid(
                "invalid arguments: collection: expected a string",
            ));
        };
        let found = self
            .collections
            .as_ref()
            .filter(|_| access.is_none_or(|a| a.covers(&name)))
            .and_then(|resolve| resolve(&name));
        match found {
            Some((engine, url)) => Ok(McpServer {
                engine,
                public_url: url.trim_end_matches('/').to_string(),
                ..self.clone()
            }),
            None => Err(crate::Error::NotFound(format!("no collection {name:?}"))),
        }
    }

    /// The same server taking a permit from `permits` for every tool call, as HTTP routes do:
    /// past the bound a call is refused at once instead of queueing.
    pub fn with_permits(mut self, permits: Arc<tokio::sync::Semaphore>) -> Self {
        self.permits = Some(permits);
        self
    }

    fn url(&self, id: &str) -> String {
        api::passage_url(&self.public_url, id)
    }

    /// Runs tool `name`, reading only what `scope` passes.
    fn run(&self, name: &str, args: JsonObject, scope: Condition) -> crate::Result<Value> {
        let e = &self.engine;
        match name {
            "search" => {
                let req = SearchRequest::try_from(parse::<api::SearchRequest>(args)?)?;
                let page = e.search_page(&req.within(scope))?;
                Ok(json!({ "results": page.hits.iter().map(|h| json!({
                    "id": h.passage.id, "title": title(&h.passage),
                    "url": self.url(&h.passage.id), "text": h.passage.text,
                })).collect::<Vec<_>>(), "has_more": page.next.is_some() }))
            }
            "fetch" => {
                let p = e.passage(&parse::<FetchRequest>(args)?.id, &scope)?;
                // The document's own metadata first, so the citation fields below win a clash.
                let mut metadata = match p.metadata.to_json() {
                    Value::Object(m) => m,
                    _ => Default::default(),
                };
                let mut built_in = json!({"doc": p.doc, "document_title": p.title,
                    "section": p.section, "clause": p.clause, "start": p.start, "end": p.end});
                if let (Some(page), Some(b)) = (p.page, built_in.as_object_mut()) {
                    b.insert("page".into(), page.into());
                }
                if let Value::Object(b) = built_in {
                    metadata.extend(b);
                }
                Ok(json!({
                    "id": p.id, "title": title(&p), "text": p.text, "url": self.url(&p.id),
                    "metadata": metadata,
                }))
            }
            "ask" => {
                let req = SearchRequest::try_from(parse::<api::AskRequest>(args)?)?;
                let asked = e.ask(&req.within(scope))?;
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
                let call = api::ContextCall::try_from(parse::<api::ContextRequest>(args)?)?;
                let t = std::time::Instant::now();
                let ctx = e.context(
                    &call.messages,
                    &call.template.within(scope),
                    call.max_tokens,
                    call.neighbours,
                )?;
                let took_ms = t.elapsed().as_secs_f64() * 1000.0;
                let wire = api::ContextResponse::new(ctx, &self.public_url, took_ms);
                // A struct of strings and numbers always serializes.
                Ok(serde_json::to_value(wire).unwrap_or_default())
            }
            "documents" => {
                let req = parse::<DocumentsRequest>(args)?;
                let filter = scope.and(api::Filter::condition(req.filter)?);
                let fields = req
                    .facets
                    .as_deref()
                    .map(crate::engine::facets::FacetFields::parse)
                    .transpose()
                    .map_err(crate::Error::invalid)?;
                let (docs, facets) = e.documents_where(&filter, fields.as_ref())?;
                let wire = api::DocumentList {
                    documents: docs.iter().map(api::Document::from).collect(),
                    facets: fields.map(|_| facets.into_iter().map(api::Facet::from).collect()),
                };
                Ok(serde_json::to_value(wire).unwrap_or_default())
            }
            other => Err(crate::Error::invalid(format!("no tool {other:?}"))),
        }
    }
}

/// What a tool call may read. Over HTTP the authorisation step has put the key's [`Access`]
/// into the request (a request without one is refused: the guard did not run); on stdio the
/// process reads its own index folder, so everything.
fn access_of(context: &RequestContext<RoleServer>) -> Result<Option<Access>, ErrorData> {
    match context.extensions.get::<axum::http::request::Parts>() {
        None => Ok(None),
        Some(parts) => match parts.extensions.get::<Access>() {
            Some(a) => Ok(Some(a.clone())),
            None => Err(ErrorData::internal_error(
                "no authorisation for this call",
                None,
            )),
        },
    }
}

/// Arguments of the `fetch` tool.
#[derive(Deserialize, JsonSchema)]
struct FetchRequest {
    /// Passage id from search.
    id: String,
}

/// Arguments of the `documents` tool: those of `GET /documents`, the filter as JSON.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct DocumentsRequest {
    /// Only documents this filter passes (the filter of `search`).
    filter: Option<api::Filter>,
    /// Metadata fields to count the values of, comma-separated (at most 16), or `*` for every
    /// field the passing documents carry.
    facets: Option<String>,
}

/// A tool's arguments as the wire type of the matching HTTP route: one parser, one set of
/// rules, and a wrong type (`"k": "ten"`) or a missing field is the caller's error, never a
/// silent default.
fn parse<T: DeserializeOwned>(args: JsonObject) -> crate::Result<T> {
    serde_json::from_value(Value::Object(args)).map_err(|e| {
        crate::Error::invalid(format!(
            "invalid arguments: {}",
            crate::api::plain_serde(&e.to_string())
        ))
    })
}

/// A passage's title for a citation list: the document's, with the clause when known.
fn title(p: &crate::index::Passage) -> String {
    match &p.clause {
        Some(c) => format!("{} · {c}", p.title),
        None => p.title.clone(),
    }
}

/// The tools, their argument schemas generated from the wire types they parse into (bounds
/// from `config`, the ones the engine enforces; descriptions from the types' doc comments),
/// each with the optional `collection` every tool takes.
fn tools() -> Vec<Tool> {
    let mut tools = wire_tools();
    for t in &mut tools {
        let mut schema = (*t.input_schema).clone();
        if let Some(Value::Object(props)) = schema.get_mut("properties") {
            props.insert(
                "collection".into(),
                json!({"type": "string", "description": "The collection to read (default: the \
                    one this server serves; `default` is the index the server was started on)."}),
            );
        }
        t.input_schema = Arc::new(schema);
    }
    tools
}

fn wire_tools() -> Vec<Tool> {
    vec![
        Tool::new(
            "search",
            "Search the indexed documents for passages relevant to a query (any language). \
             Returns results with id, title, url and text; pass an id to fetch for the full passage.",
            schema_for_type::<api::SearchRequest>(),
        ),
        Tool::new(
            "fetch",
            "Fetch one passage by the id a search returned: its full text, url and metadata \
             (document, section, clause, offsets).",
            schema_for_type::<FetchRequest>(),
        ),
        Tool::new(
            "ask",
            "Answer a question from the documents: found=false when they do not answer it; \
             otherwise the answer sentence and the passages, each with its relevance (0..1).",
            schema_for_type::<api::AskRequest>(),
        ),
        Tool::new(
            "context",
            "Prompt-ready context for a conversation: the passages that answer its last user \
             message (resolved against the earlier turns), with neighbours, cut to a token \
             budget, numbered [1], [2]... with citations.",
            schema_for_type::<api::ContextRequest>(),
        ),
        Tool::new(
            "documents",
            "List the indexed documents (id, title, passages, metadata), optionally only those a \
             filter passes, with counts of chosen metadata fields' values (facets): what a \
             library holds and which values a filter can use.",
            schema_for_type::<DocumentsRequest>(),
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
        context: RequestContext<RoleServer>,
    ) -> Result<rmcp::model::CallToolResponse, ErrorData> {
        let access = access_of(&context)?;
        let scope = access.as_ref().map_or_else(Condition::all, Access::scope);
        let name = request.name.to_string();
        let mut args = request.arguments.unwrap_or_default();
        let this = match self.pick(&mut args, access.as_ref()) {
            Ok(server) => server,
            Err(e) => {
                return Ok(
                    CallToolResult::structured_error(json!({ "error": e.to_string() })).into(),
                )
            }
        };
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
            let out = this.run(&name, args, scope);
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
