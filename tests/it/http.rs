//! The real router with the real model: every route, and every kind of bad input.

use std::sync::{Arc, OnceLock};

use axum::body::Body;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt;
use semsearch::engine::{Engine, Options};
use semsearch::server::metrics::Metrics;
use semsearch::server::{app, AppState};
use serde_json::{json, Value};
use tower::ServiceExt;

use crate::common::{e5, fixture};

/// An engine over a fresh index holding the corpus (built once; tests that write use their own).
fn corpus_engine() -> Arc<Engine> {
    static ENGINE: OnceLock<(tempfile::TempDir, Arc<Engine>)> = OnceLock::new();
    ENGINE
        .get_or_init(|| {
            let dir = tempfile::tempdir().unwrap();
            let engine =
                Engine::open(e5(), Some(&dir.path().join("idx")), Options::default()).unwrap();
            let raws = semsearch::ingest::read_path(&fixture(
                "corpus/suzhou-15th-five-year-plan-proposal.txt",
            ))
            .unwrap();
            engine.ingest(&raws, &|_| {}).unwrap();
            (dir, Arc::new(engine))
        })
        .1
        .clone()
}

fn state(engine: Arc<Engine>, key: Option<&str>) -> AppState {
    AppState::new(engine, Metrics::new(), key.map(String::from))
}

async fn call(state: AppState, req: Request<Body>) -> (StatusCode, Value, String) {
    let resp = app(state).oneshot(req).await.unwrap();
    let status = resp.status();
    let bytes = resp.into_body().collect().await.unwrap().to_bytes();
    let text = String::from_utf8_lossy(&bytes).into_owned();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::Null),
        text,
    )
}

fn post(path: &str, body: impl Into<Body>) -> Request<Body> {
    Request::post(path)
        .header("content-type", "application/json")
        .body(body.into())
        .unwrap()
}

fn get(path: &str) -> Request<Body> {
    Request::get(path).body(Body::empty()).unwrap()
}

fn assert_error(status: StatusCode, body: &Value, want: StatusCode) {
    assert_eq!(status, want, "{body}");
    assert!(
        body["error"]["code"].is_string() && body["error"]["message"].is_string(),
        "{body}"
    );
}

#[tokio::test]
async fn health_page_openapi_metrics() {
    let s = state(corpus_engine(), None);
    let (st, body, _) = call(s.clone(), get("/healthz")).await;
    assert_eq!((st, body), (StatusCode::OK, json!({"status": "ok"})));
    let (st, _, html) = call(s.clone(), get("/")).await;
    assert_eq!(st, StatusCode::OK);
    assert!(html.contains("<form") && html.contains("semsearch"));
    let (st, doc, _) = call(s.clone(), get("/openapi.json")).await;
    assert_eq!(st, StatusCode::OK);
    for path in [
        "/healthz",
        "/search",
        "/ask",
        "/passages/{id}",
        "/passages/{id}/related",
        "/documents",
        "/documents/{doc}",
        "/v1/embeddings",
        "/metrics",
    ] {
        assert!(
            doc["paths"].get(path).is_some(),
            "{path} missing from OpenAPI"
        );
    }
    call(s.clone(), get("/search?q=%E5%A4%AA%E6%B9%96")).await;
    let (st, _, text) = call(s, get("/metrics")).await;
    assert_eq!(st, StatusCode::OK);
    assert!(
        text.contains(
            "semsearch_http_requests_total{method=\"GET\",route=\"/search\",status=\"200\"}"
        ),
        "{text}"
    );
    assert!(text.contains("semsearch_index_passages"));
    assert!(text.contains("semsearch_http_request_duration_seconds_bucket"));
}

#[tokio::test]
async fn search_post_and_get() {
    let s = state(corpus_engine(), None);
    let (st, body, _) = call(
        s.clone(),
        post(
            "/search",
            r#"{"query": "坚持和发展新时代枫桥经验", "k": 3, "mode": "dense"}"#,
        ),
    )
    .await;
    assert_eq!(st, StatusCode::OK, "{body}");
    let results = body["results"].as_array().unwrap();
    assert_eq!(results.len(), 3);
    assert!(body["took_ms"].as_f64().unwrap() > 0.0);
    assert!(results
        .iter()
        .any(|r| r["text"].as_str().unwrap().contains("枫桥经验")));
    for key in ["id", "doc", "title", "section", "clause", "text", "score"] {
        assert!(results[0].get(key).is_some(), "{key}");
    }
    let (st, body, _) = call(s.clone(), get("/search?q=Lake%20Tai%20summer%20safety&k=2")).await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(body["results"].as_array().unwrap().len(), 2);
    let (st, body, _) = call(
        s,
        post("/search", r#"{"query": "太湖", "filter": {"doc": "nope"}}"#),
    )
    .await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(body["results"].as_array().unwrap().len(), 0);
}

#[tokio::test]
async fn ask_returns_an_answer_sentence_inside_its_passage() {
    let s = state(corpus_engine(), None);
    let (st, body, _) = call(
        s,
        post(
            "/ask",
            r#"{"question": "太湖苏州辖区已经连续多少年安全度夏？", "k": 3}"#,
        ),
    )
    .await;
    assert_eq!(st, StatusCode::OK, "{body}");
    let answer = &body["answer"];
    assert!(
        answer["text"]
            .as_str()
            .unwrap()
            .contains("连续18年安全度夏"),
        "{answer}"
    );
    let pid = answer["passage_id"].as_str().unwrap();
    let passage = body["passages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["id"] == pid)
        .expect("answer's passage listed");
    let chars: Vec<char> = passage["text"].as_str().unwrap().chars().collect();
    let (a, b) = (
        answer["start"].as_u64().unwrap() as usize,
        answer["end"].as_u64().unwrap() as usize,
    );
    assert_eq!(
        chars[a..b].iter().collect::<String>(),
        answer["text"].as_str().unwrap()
    );
}

#[tokio::test]
async fn passages_and_related() {
    let s = state(corpus_engine(), None);
    let id = corpus_engine().snapshot().passage(10).unwrap().id.clone();
    let enc = id.replace('#', "%23");
    let (st, body, _) = call(s.clone(), get(&format!("/passages/{enc}"))).await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(body["id"], id.as_str());
    let (st, body, _) = call(s.clone(), get(&format!("/passages/{enc}/related?k=4"))).await;
    assert_eq!(st, StatusCode::OK);
    let rel = body["results"].as_array().unwrap();
    assert_eq!(rel.len(), 4);
    let n: usize = id.rsplit_once('#').unwrap().1.parse().unwrap();
    for r in rel {
        let m: usize = r["id"]
            .as_str()
            .unwrap()
            .rsplit_once('#')
            .unwrap()
            .1
            .parse()
            .unwrap();
        assert!(
            m.abs_diff(n) > 1,
            "related {m} is {n} itself or its neighbour"
        );
    }
    let (st, body, _) = call(s.clone(), get("/passages/nope%231")).await;
    assert_error(st, &body, StatusCode::NOT_FOUND);
    let (st, body, _) = call(s.clone(), get("/passages/nope%231/related")).await;
    assert_error(st, &body, StatusCode::NOT_FOUND);
    let (st, body, _) = call(s, get(&format!("/passages/{enc}/related?k=abc"))).await;
    assert_error(st, &body, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn bad_input_gets_json_4xx() {
    let s = state(corpus_engine(), None);
    let before = corpus_engine().snapshot().len();
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
        corpus_engine().snapshot().len(),
        before,
        "bad input changed the index"
    );
}

#[tokio::test]
async fn documents_add_list_delete_with_api_key() {
    let dir = tempfile::tempdir().unwrap();
    let engine =
        Arc::new(Engine::open(e5(), Some(&dir.path().join("idx")), Options::default()).unwrap());
    let s = state(engine.clone(), Some("s3cret"));
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
        json!({"documents": [{"doc": "flood", "title": "Flood plan", "passages": 2}]})
    );
    // Persisted before acknowledged: a second engine on the same folder sees it.
    let reopened = Engine::open(e5(), Some(&dir.path().join("idx")), Options::default()).unwrap();
    assert_eq!(reopened.documents().len(), 1);
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
    assert_eq!(call(s, del).await.0, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn hybrid_puts_the_fengqiao_clause_first() {
    let s = state(corpus_engine(), None);
    let (st, body, _) = call(
        s,
        post(
            "/search",
            r#"{"query": "化解基层矛盾要坚持什么经验？", "k": 5, "mode": "hybrid"}"#,
        ),
    )
    .await;
    assert_eq!(st, StatusCode::OK, "{body}");
    let first = body["results"][0]["text"].as_str().unwrap();
    assert!(first.contains("枫桥经验"), "first result: {first}");
}

#[tokio::test]
async fn openai_embeddings() {
    let s = state(corpus_engine(), None);
    let (st, b, _) = call(
        s.clone(),
        post(
            "/v1/embeddings",
            r#"{"input": ["太湖", "Lake Tai"], "model": "any"}"#,
        ),
    )
    .await;
    assert_eq!(st, StatusCode::OK, "{b}");
    assert_eq!(b["object"], "list");
    let data = b["data"].as_array().unwrap();
    assert_eq!(data.len(), 2);
    assert_eq!(data[1]["index"], 1);
    assert_eq!(data[0]["embedding"].as_array().unwrap().len(), 384);
    assert!(b["usage"]["prompt_tokens"].as_u64().unwrap() > 2);
    let (st, b, _) = call(
        s,
        post(
            "/v1/embeddings",
            r#"{"input": "one text", "input_type": "query"}"#,
        ),
    )
    .await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(b["data"].as_array().unwrap().len(), 1);
}
