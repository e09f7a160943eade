//! The HTTP contract on the tiny model: shapes, limits, errors and write ordering, none of
//! which depends on what the model ranks first. Every test runs twice: on the root routes
//! (`at_root`) and on a collection's (`in_collection`, under `/collections/c/`).

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use semsearch::engine::{Engine, Options};
use semsearch::ingest::{Format, RawDocument};
use serde_json::json;

use crate::common::tiny;
use crate::http::{assert_error, call, get, post, Mount};

/// An in-memory engine over the tiny model holding two short documents.
pub(crate) fn tiny_engine() -> Arc<Engine> {
    let engine = Engine::open(tiny(), None, Options::default()).unwrap();
    engine
        .ingest(
            &[
                RawDocument::new("lake", "the lake tai safe summer", Format::Text),
                RawDocument::new("plan", "suzhou plan five year", Format::Text),
            ],
            &|_| {},
        )
        .unwrap();
    Arc::new(engine)
}

async fn bad_input_gets_json_4xx(mount: Mount) {
    let engine = tiny_engine();
    let s = mount.state(engine.clone(), None);
    let before = engine.snapshot().unwrap().len();
    let long = "问".repeat(3000);
    let cases: Vec<(Request<Body>, StatusCode)> = vec![
        (post("/search", "{not json"), StatusCode::BAD_REQUEST),
        (post("/search", r#"{"query": 42}"#), StatusCode::BAD_REQUEST),
        (post("/search", r#"{"k": 3}"#), StatusCode::BAD_REQUEST),
        (
            post("/search", r#"{"query": "   "}"#),
            StatusCode::BAD_REQUEST,
        ),
        (
            post("/search", format!(r#"{{"query": "{long}"}}"#)),
            StatusCode::BAD_REQUEST,
        ),
        (
            post("/search", r#"{"query": "x", "k": 0}"#),
            StatusCode::BAD_REQUEST,
        ),
        (
            post("/search", r#"{"query": "x", "k": 101}"#),
            StatusCode::BAD_REQUEST,
        ),
        (
            post("/search", r#"{"query": "x", "k": -1}"#),
            StatusCode::BAD_REQUEST,
        ),
        (
            post("/search", r#"{"query": "x", "mode": "magic"}"#),
            StatusCode::BAD_REQUEST,
        ),
        (
            post("/search", vec![b'{', b'"', b'q', 0xff, 0xfe, b'"', b'}']),
            StatusCode::BAD_REQUEST,
        ),
        (
            post(
                "/search",
                vec![b' '; semsearch::config::MAX_BODY_BYTES + 10],
            ),
            StatusCode::PAYLOAD_TOO_LARGE,
        ),
        (
            Request::post("/search")
                .body(Body::from(r#"{"query":"x"}"#))
                .unwrap(),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
        ),
        (get("/search"), StatusCode::BAD_REQUEST),
        (get("/search?q=x&k=many"), StatusCode::BAD_REQUEST),
        (post("/ask", r#"{"question": ""}"#), StatusCode::BAD_REQUEST),
        (
            post("/documents", r#"{"text": ""}"#),
            StatusCode::BAD_REQUEST,
        ),
        (
            post("/documents", r#"{"text": "abc", "format": "pdf"}"#),
            StatusCode::BAD_REQUEST,
        ),
        (
            post(
                "/documents",
                r#"{"doc": "a#b", "text": "一段足够长的文字，用来测试非法的文档编号是否会被拒绝。"}"#,
            ),
            StatusCode::BAD_REQUEST,
        ),
        (
            post("/v1/embeddings", r#"{"input": []}"#),
            StatusCode::BAD_REQUEST,
        ),
        (
            post("/v1/embeddings", r#"{"input": 7}"#),
            StatusCode::BAD_REQUEST,
        ),
        (
            Request::delete("/documents/nope")
                .body(Body::empty())
                .unwrap(),
            StatusCode::NOT_FOUND,
        ),
        (get("/no/such/route"), StatusCode::NOT_FOUND),
    ];
    for (req, want) in cases {
        let what = format!("{} {}", req.method(), req.uri());
        let (st, body, text) = call(s.clone(), req).await;
        assert_eq!(st, want, "{what}: {text}");
        assert_error(st, &body, want);
    }
    assert_eq!(
        engine.snapshot().unwrap().len(),
        before,
        "bad input changed the index"
    );
}

async fn documents_add_list_delete_with_api_key(mount: Mount) {
    let dir = tempfile::tempdir().unwrap();
    let engine =
        Arc::new(Engine::open(tiny(), Some(&dir.path().join("idx")), Options::default()).unwrap());
    let s = mount.state(engine.clone(), Some("s3cret"));
    let body = json!({"doc": "flood", "title": "Flood plan", "text": "The council approved a flood defence plan on Tuesday.\n\nIt will raise embankments along the river.", "format": "text"}).to_string();
    let (st, b, _) = call(s.clone(), post("/documents", body.clone())).await;
    assert_error(st, &b, StatusCode::UNAUTHORIZED);
    let wrong = Request::post("/documents")
        .header("content-type", "application/json")
        .header("authorization", "Bearer nope")
        .body(Body::from(body.clone()))
        .unwrap();
    assert_eq!(call(s.clone(), wrong).await.0, StatusCode::UNAUTHORIZED);
    let ok = Request::post("/documents")
        .header("content-type", "application/json")
        .header("authorization", "Bearer s3cret")
        .body(Body::from(body))
        .unwrap();
    let (st, b, _) = call(s.clone(), ok).await;
    assert_eq!(st, StatusCode::CREATED, "{b}");
    assert_eq!(b, json!({"doc": "flood", "passages": 2}));
    let (st, b, _) = call(s.clone(), get("/documents")).await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(
        b,
        json!({"documents": [{"doc": "flood", "title": "Flood plan", "passages": 2, "metadata": {}}]})
    );
    // What the index holds, as the page shows it above the search box.
    let (st, b, _) = call(s.clone(), get("/stats")).await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(
        (
            b["documents"].clone(),
            b["passages"].clone(),
            b["sampled"].clone()
        ),
        (json!(1), json!(2), json!(2))
    );
    assert_eq!(b["languages"][0]["code"], "eng", "{b}");
    assert_eq!(b["languages"][0]["name"], "English");
    // Persisted before acknowledged: a second engine on the same folder sees it.
    let reopened = Engine::open(tiny(), Some(&dir.path().join("idx")), Options::default()).unwrap();
    assert_eq!(reopened.documents().unwrap().len(), 1);
    let (st, _, _) = call(
        s.clone(),
        Request::delete("/documents/flood")
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(st, StatusCode::UNAUTHORIZED);
    let del = Request::delete("/documents/flood")
        .header("authorization", "Bearer s3cret")
        .body(Body::empty())
        .unwrap();
    let (st, b, _) = call(s.clone(), del).await;
    assert_eq!(
        (st, b),
        (StatusCode::OK, json!({"doc": "flood", "deleted": 2}))
    );
    let del = Request::delete("/documents/flood")
        .header("authorization", "Bearer s3cret")
        .body(Body::empty())
        .unwrap();
    assert_eq!(call(s.clone(), del).await.0, StatusCode::NOT_FOUND);
    let (_, b, _) = call(s, get("/stats")).await;
    assert_eq!(
        b,
        json!({"documents": 0, "passages": 0, "sampled": 0, "languages": []})
    );
}

async fn concurrent_posts_with_one_title_keep_both_documents(mount: Mount) {
    let engine = tiny_engine();
    let s = mount.state(engine.clone(), None);
    let body = |text: &str| json!({"title": "Same Title", "text": text}).to_string();
    let (a, b) = tokio::join!(
        call(s.clone(), post("/documents", body("the lake tai"))),
        call(s.clone(), post("/documents", body("the river city")))
    );
    assert_eq!((a.0, b.0), (StatusCode::CREATED, StatusCode::CREATED));
    let mut ids = [
        a.1["doc"].as_str().unwrap().to_string(),
        b.1["doc"].as_str().unwrap().to_string(),
    ];
    ids.sort();
    assert_eq!(ids, ["same-title", "same-title-2"]);
    let (_, list, _) = call(s, get("/documents")).await;
    let docs = list["documents"].as_array().unwrap();
    assert_eq!(docs.len(), 4, "{list}");
}

async fn deep_html_is_refused_and_the_server_stays_up(mount: Mount) {
    let engine = tiny_engine();
    let s = mount.state(engine.clone(), None);
    let n = 100_000;
    let html = format!("{}深层的文字。{}", "<div>".repeat(n), "</div>".repeat(n));
    let body = json!({"doc": "deep", "text": html, "format": "html"}).to_string();
    assert!(body.len() < semsearch::config::MAX_BODY_BYTES);
    let (st, b, _) = call(s.clone(), post("/documents", body)).await;
    assert_error(st, &b, StatusCode::BAD_REQUEST);
    assert!(b["error"]["message"]
        .as_str()
        .unwrap()
        .contains("nested deeper"));
    let (st, _, _) = call(s, get("/healthz")).await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(engine.documents().unwrap().len(), 2);
}

async fn one_line_notes_are_kept_and_clean_can_be_off(mount: Mount) {
    let s = mount.state(tiny_engine(), None);
    let cases = [
        ("今天灯塔看守人数了四十二只海鸥。", None, 1),
        ("Today the lighthouse keeper counted 42 gulls.", None, 1),
        // Lines that read as page chrome stay when the sender says the text is clean.
        (
            "版权所有 © 2025\n首页 > 新闻\n真正的内容在这里",
            Some(false),
            3,
        ),
    ];
    for (text, clean, passages) in cases {
        let mut body = json!({ "text": text });
        if let Some(c) = clean {
            body["clean"] = json!(c);
        }
        let (st, b, _) = call(s.clone(), post("/documents", body.to_string())).await;
        assert_eq!(st, StatusCode::CREATED, "{text}: {b}");
        assert_eq!(b["passages"], passages, "{text}: {b}");
    }
}

async fn dify_and_openai_retrieval_shapes_and_errors(mount: Mount) {
    let engine = tiny_engine();
    let s = mount.state_with(engine, Some("k3y"), |s| {
        s.with_public_url("http://example.test/")
    });
    let with_key = |path: &str, body: &str| {
        let mut r = post(path, body.to_string());
        r.headers_mut()
            .insert("authorization", "Bearer k3y".parse().unwrap());
        r
    };
    // Dify's registration probe: a POST with no body.
    let (st, body, _) = call(s.clone(), with_key("/retrieval", "")).await;
    assert_eq!(st, StatusCode::OK, "{body}");
    assert_eq!(body, json!({"records": []}));
    let ask = json!({"knowledge_id": "lake", "query": "lake tai",
                     "retrieval_setting": {"top_k": 5, "score_threshold": 0.0}})
    .to_string();
    let (st, body, _) = call(s.clone(), with_key("/retrieval", &ask)).await;
    assert_eq!(st, StatusCode::OK, "{body}");
    let records = body["records"].as_array().unwrap();
    assert_eq!(
        records.len(),
        1,
        "knowledge_id selects one document: {body}"
    );
    let m = &records[0]["metadata"];
    assert_eq!(m["doc"], "lake");
    assert_eq!(
        m["url"],
        format!("http://example.test{}", s.path("/p/lake%231"))
    );
    let score = records[0]["score"].as_f64().unwrap();
    assert!((0.0..=1.0).contains(&score));
    assert_eq!(score, m["relevance"].as_f64().unwrap());
    for (req, status, code) in [
        (post("/retrieval", ask.clone()), StatusCode::FORBIDDEN, 1001),
        (
            {
                let mut r = post("/retrieval", ask.clone());
                r.headers_mut()
                    .insert("authorization", "Bearer nope".parse().unwrap());
                r
            },
            StatusCode::FORBIDDEN,
            1002,
        ),
        (
            with_key("/retrieval", &ask.replace("\"lake\"", "\"river\"")),
            StatusCode::NOT_FOUND,
            2001,
        ),
    ] {
        let (st, body, _) = call(s.clone(), req).await;
        assert_eq!(
            (st, body["error_code"].as_u64()),
            (status, Some(code)),
            "{body}"
        );
        assert!(body["error_msg"].is_string());
    }
    // OpenAI: the page shape; a document filter; errors in the API's format.
    let (st, body, _) = call(
        s.clone(),
        post(
            "/v1/vector_stores/all/search",
            json!({"query": ["lake", "tai"], "max_num_results": 5,
                   "filters": {"type": "in", "key": "doc", "value": ["plan"]}})
            .to_string(),
        ),
    )
    .await;
    assert_eq!(st, StatusCode::OK, "{body}");
    assert_eq!(body["object"], "vector_store.search_results.page");
    assert_eq!(body["search_query"], json!(["lake", "tai"]));
    assert_eq!(body["has_more"], false);
    let data = body["data"].as_array().unwrap();
    assert_eq!(data.len(), 1);
    assert_eq!(data[0]["file_id"], "plan");
    assert_eq!(data[0]["content"][0]["type"], "text");
    for (path, body, want) in [
        (
            "/v1/vector_stores/nope/search",
            json!({"query": "x"}),
            StatusCode::NOT_FOUND,
        ),
        (
            "/v1/vector_stores/all/search",
            json!({"query": "x", "max_num_results": 51}),
            StatusCode::BAD_REQUEST,
        ),
        (
            "/v1/vector_stores/all/search",
            json!({"query": "x", "filters": {"type": "gt", "key": "year", "value": "soon"}}),
            StatusCode::BAD_REQUEST,
        ),
    ] {
        let (st, b, _) = call(s.clone(), post(path, body.to_string())).await;
        assert_error(st, &b, want);
    }
}

async fn mcp_tool_calls_share_the_in_flight_bound(mount: Mount) {
    let full = || mount.state_with(tiny_engine(), None, |s| s.with_max_in_flight(0));
    let (status, body, _) = call(full(), post("/search", r#"{"query": "lake"}"#)).await;
    assert_error(status, &body, StatusCode::SERVICE_UNAVAILABLE);
    let search = |arguments: serde_json::Value| {
        json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call",
            "params": {"name": "search", "arguments": arguments}})
    };
    let mcp = |s, tool: serde_json::Value| {
        let req = Request::post("/mcp")
            .header("content-type", "application/json")
            .header("accept", "application/json, text/event-stream")
            .header("host", "localhost")
            .body(Body::from(tool.to_string()))
            .unwrap();
        call(s, req)
    };
    let (status, body, text) = mcp(full(), search(json!({"query": "lake"}))).await;
    assert_eq!(status, StatusCode::OK, "{text}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap_or("")
            .contains("overloaded"),
        "{text}"
    );
    let (_, body, text) = mcp(
        mount.state(tiny_engine(), None),
        search(json!({"query": "lake"})),
    )
    .await;
    assert!(
        body["result"]["structuredContent"]["results"].is_array(),
        "{text}"
    );
    // A wrong argument type is the tool's error, not a default.
    let bad = search(json!({"query": "lake", "k": "ten"}));
    let (_, body, text) = mcp(mount.state(tiny_engine(), None), bad).await;
    assert_eq!(body["result"]["isError"], true, "{text}");
    assert!(
        text.contains("invalid arguments") && text.contains("ten"),
        "{text}"
    );
    let missing = search(json!({"k": 3}));
    let (_, body, text) = mcp(mount.state(tiny_engine(), None), missing).await;
    assert_eq!(body["result"]["isError"], true, "{text}");
    assert!(text.contains("query"), "{text}");
}

async fn mcp_tool_schemas_are_the_routes_wire_types(mount: Mount) {
    let req = Request::post("/mcp")
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream")
        .header("host", "localhost")
        .body(Body::from(
            json!({"jsonrpc": "2.0", "id": 1, "method": "tools/list"}).to_string(),
        ))
        .unwrap();
    let (status, body, text) = call(mount.state(tiny_engine(), None), req).await;
    assert_eq!(status, StatusCode::OK, "{text}");
    let tools = body["result"]["tools"].as_array().expect("tools");
    for t in tools {
        assert_eq!(
            t["inputSchema"]["properties"]["collection"]["type"], "string",
            "every tool takes a collection: {t}"
        );
    }
    let tool = |name: &str| {
        tools
            .iter()
            .find(|t| t["name"] == name)
            .unwrap_or_else(|| panic!("no tool {name}: {text}"))["inputSchema"]
            .clone()
    };
    let search = tool("search");
    assert_eq!(search["required"], json!(["query"]), "{search}");
    assert_eq!(
        search["properties"]["k"]["maximum"],
        json!(semsearch::config::MAX_K)
    );
    let ask = tool("ask");
    assert_eq!(ask["properties"]["min_relevance"]["maximum"], json!(1));
    let context = tool("context");
    assert_eq!(
        context["properties"]["max_tokens"]["maximum"],
        json!(*semsearch::config::CONTEXT_TOKENS.end())
    );
    assert_eq!(
        context["properties"]["neighbours"]["maximum"],
        json!(semsearch::config::MAX_NEIGHBOURS)
    );
    assert_eq!(tool("fetch")["required"], json!(["id"]));
    let documents = tool("documents");
    assert!(
        documents["properties"]["filter"].is_object()
            && documents["properties"]["facets"].is_object(),
        "{documents}"
    );
}

/// Each contract test on both mounts.
macro_rules! on_both_mounts {
    ($($name:ident),* $(,)?) => {
        mod at_root {
            $(#[tokio::test]
            async fn $name() {
                super::$name(crate::http::Mount::Root).await
            })*
        }
        mod in_collection {
            $(#[tokio::test]
            async fn $name() {
                super::$name(crate::http::Mount::Collection).await
            })*
        }
    };
}

on_both_mounts!(
    bad_input_gets_json_4xx,
    documents_add_list_delete_with_api_key,
    concurrent_posts_with_one_title_keep_both_documents,
    deep_html_is_refused_and_the_server_stays_up,
    one_line_notes_are_kept_and_clean_can_be_off,
    dify_and_openai_retrieval_shapes_and_errors,
    mcp_tool_calls_share_the_in_flight_bound,
    mcp_tool_schemas_are_the_routes_wire_types
);
