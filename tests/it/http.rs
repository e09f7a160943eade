//! The real router with the real model: every route, answers that depend on ranking.

use std::sync::{Arc, OnceLock};

use axum::body::Body;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt;
use semsearch::engine::{Engine, Options};
use semsearch::index::Condition;
use semsearch::server::metrics::Metrics;
use semsearch::server::{app, AppState};
use serde_json::{json, Value};
use tower::ServiceExt;

use crate::common::{e5, fixture};
use crate::mount::SERVICE_ROUTES;
pub use crate::mount::{At, Mount};

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

pub fn state(engine: Arc<Engine>, key: Option<&str>) -> AppState {
    AppState::new(engine, Metrics::new(), key.map(String::from))
}

pub async fn call(at: impl Into<At>, mut req: Request<Body>) -> (StatusCode, Value, String) {
    let at = at.into();
    if !SERVICE_ROUTES.contains(&req.uri().path()) {
        let moved = at.path(&req.uri().to_string());
        *req.uri_mut() = moved.parse().unwrap();
    }
    let resp = app(at.state).oneshot(req).await.unwrap();
    let status = resp.status();
    let bytes = resp.into_body().collect().await.unwrap().to_bytes();
    let text = String::from_utf8_lossy(&bytes).into_owned();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::Null),
        text,
    )
}

pub fn post(path: &str, body: impl Into<Body>) -> Request<Body> {
    Request::post(path)
        .header("content-type", "application/json")
        .body(body.into())
        .unwrap()
}

pub fn get(path: &str) -> Request<Body> {
    Request::get(path).body(Body::empty()).unwrap()
}

pub fn assert_error(status: StatusCode, body: &Value, want: StatusCode) {
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
        "/passages/{id}/around",
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
        s.clone(),
        post("/search", r#"{"query": "太湖", "filter": {"doc": "nope"}}"#),
    )
    .await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(body["results"].as_array().unwrap().len(), 0);
    // A list of documents is one filter; an unknown one among them matches nothing.
    let (st, body, _) = call(
        s.clone(),
        post(
            "/search",
            r#"{"query": "太湖", "k": 3, "filter": {"docs": ["nope", "suzhou-15th-five-year-plan-proposal"]}}"#,
        ),
    )
    .await;
    assert_eq!(st, StatusCode::OK, "{body}");
    let results = body["results"].as_array().unwrap();
    assert_eq!(results.len(), 3);
    assert!(
        results
            .iter()
            .all(|r| r["doc"] == "suzhou-15th-five-year-plan-proposal"),
        "{body}"
    );
    let many: Vec<String> = (0..101).map(|i| format!("d{i}")).collect();
    let body = serde_json::json!({"query": "太湖", "filter": {"docs": many}});
    let (st, body, _) = call(s, post("/search", body.to_string())).await;
    assert_eq!(st, StatusCode::BAD_REQUEST, "{body}");
    assert!(body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("at most 100 documents"));
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
    assert_eq!(body["found"], true, "{body}");
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
async fn questions_the_plan_does_not_answer_are_not_found() {
    // Off-topic, and on-topic but asking for a figure the plan does not give.
    for q in [
        "红烧肉怎么做才又香又不腻？",
        "Who won the 2022 FIFA World Cup final?",
        "苏州普惠托育每个月收费多少钱？",
    ] {
        let (st, body, _) = call(
            state(corpus_engine(), None),
            post("/ask", json!({ "question": q }).to_string()),
        )
        .await;
        assert_eq!(st, StatusCode::OK, "{body}");
        assert_eq!(body["found"], false, "{q}: {body}");
        assert!(body["answer"].is_null(), "{q}: {body}");
        let passages = body["passages"].as_array().unwrap();
        assert!(!passages.is_empty());
        assert!(passages
            .iter()
            .all(|p| p["relevance"].as_f64().unwrap() < 0.5));
    }
    // The question a new user tried, once answered with a sentence on birth support (from a
    // passage ranked high by words): the answer now comes from a passage that reaches the
    // threshold, the one on public transport.
    let (_, body, _) = call(
        state(corpus_engine(), None),
        post("/ask", r#"{"question": "哪些措施可以减少交通拥堵"}"#),
    )
    .await;
    if body["found"] == true {
        let pid = body["answer"]["passage_id"].as_str().unwrap();
        let from = body["passages"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["id"] == pid)
            .unwrap();
        assert!(from["relevance"].as_f64().unwrap() >= 0.5, "{body}");
        assert!(
            !body["answer"]["text"].as_str().unwrap().contains("生育"),
            "{body}"
        );
    }
    // The same threshold in every mode: the answering clause has one relevance, whatever rank
    // each mode gives it.
    let mut seen = Vec::new();
    for mode in ["hybrid", "dense", "lexical"] {
        let (_, body, _) = call(
            state(corpus_engine(), None),
            post(
                "/search",
                json!({ "query": "化解基层矛盾要坚持什么经验？", "mode": mode }).to_string(),
            ),
        )
        .await;
        let clause = body["results"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["text"].as_str().unwrap().contains("枫桥经验"))
            .unwrap_or_else(|| panic!("{mode}: {body}"));
        let r = clause["relevance"].as_f64().unwrap();
        assert!(r > 0.5 && r <= 1.0, "{mode}: {r}");
        seen.push(r);
    }
    assert!(
        seen.windows(2).all(|w| (w[0] - w[1]).abs() < 1e-6),
        "{seen:?}"
    );
    // A stricter threshold asked for turns the same answer into "not found".
    let (_, body, _) = call(
        state(corpus_engine(), None),
        post(
            "/ask",
            r#"{"question": "化解基层矛盾要坚持什么经验？", "min_relevance": 0.9999}"#,
        ),
    )
    .await;
    assert_eq!(body["found"], false, "{body}");
}

#[tokio::test]
async fn context_for_a_conversation_fits_its_budget_and_cites_its_sources() {
    let engine = corpus_engine();
    let conversation = json!({
        "messages": [
            {"role": "user", "content": "化解基层矛盾要坚持什么经验？"},
            {"role": "assistant", "content": "坚持和发展新时代“枫桥经验”"},
            {"role": "user", "content": "社区治理方面呢？"}
        ],
        "max_tokens": 400,
        "neighbours": 1
    });
    let (st, body, _) = call(
        state(engine.clone(), None),
        post("/context", conversation.to_string()),
    )
    .await;
    assert_eq!(st, StatusCode::OK, "{body}");
    assert_eq!(body["found"], true, "{body}");
    assert!(body["query_used"].as_str().unwrap().contains("枫桥经验"));
    let context = body["context"].as_str().unwrap();
    let tokens = engine
        .embedder()
        .count_tokens(context, semsearch::embed::TextKind::Passage)
        .unwrap();
    assert!(tokens <= 400, "{tokens} tokens");
    assert!(context.contains("完善社区治理"), "{context}");
    let citations = body["citations"].as_array().unwrap();
    assert!(!citations.is_empty());
    for (i, c) in citations.iter().enumerate() {
        assert_eq!(c["n"], i + 1);
        assert!(context.contains(&format!("[{}]", i + 1)));
        // The cited range covers the passage found, whose text is in the context.
        let p = engine
            .passage(c["passage_id"].as_str().unwrap(), &Condition::all())
            .unwrap();
        let (start, end) = (c["start"].as_u64().unwrap(), c["end"].as_u64().unwrap());
        assert!(start <= p.start as u64 && p.end as u64 <= end, "{c}");
        assert!(context.contains(&p.text));
    }
    // One question, off-topic: not found, nothing to put in a prompt.
    let (st, body, _) = call(
        state(engine.clone(), None),
        post("/context", r#"{"query": "红烧肉怎么做才又香又不腻？"}"#),
    )
    .await;
    assert_eq!(st, StatusCode::OK, "{body}");
    assert_eq!(body["found"], false);
    assert_eq!(body["context"], "");
    assert_eq!(body["citations"], json!([]));
    for bad in [
        r#"{"query": "x", "messages": [{"role": "user", "content": "x"}]}"#,
        r#"{}"#,
        r#"{"messages": [{"role": "system", "content": "x"}]}"#,
        r#"{"messages": [{"role": "assistant", "content": "x"}]}"#,
        r#"{"query": "x", "max_tokens": 10}"#,
        r#"{"query": "x", "neighbours": 9}"#,
    ] {
        let (st, body, _) = call(state(engine.clone(), None), post("/context", bad)).await;
        assert_error(st, &body, StatusCode::BAD_REQUEST);
    }
}

#[tokio::test]
async fn passages_and_related() {
    let s = state(corpus_engine(), None);
    let id = corpus_engine()
        .snapshot()
        .unwrap()
        .passage(10)
        .unwrap()
        .id
        .clone();
    let enc = id.replace('#', "%23");
    let (st, body, _) = call(s.clone(), get(&format!("/passages/{enc}"))).await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(body["id"], id.as_str());
    let (st, body, _) = call(s.clone(), get(&format!("/passages/{enc}/related?k=4"))).await;
    assert_eq!(st, StatusCode::OK);
    let rel = body["results"].as_array().unwrap();
    assert_eq!(rel.len(), 4);
    let n: usize = id.rsplit_once('#').unwrap().1.parse().unwrap();
    // Key 10 is a fragment of a clause split into three passages: related lists other clauses,
    // each once, never a fragment of its own.
    let own = corpus_engine()
        .snapshot()
        .unwrap()
        .passage(10)
        .unwrap()
        .clause;
    assert!(own.is_some());
    let clauses: Vec<&str> = rel.iter().filter_map(|r| r["clause"].as_str()).collect();
    assert!(
        !clauses.contains(&own.as_deref().unwrap()),
        "{clauses:?} holds its own clause"
    );
    let mut distinct = clauses.clone();
    distinct.sort_unstable();
    distinct.dedup();
    assert_eq!(
        distinct.len(),
        clauses.len(),
        "a clause listed twice: {clauses:?}"
    );
    assert!(rel.iter().all(|r| r["id"] != id.as_str()));
    // Neighbours named by the server, in document order, clipped at the document's start.
    let (st, body, _) = call(s.clone(), get(&format!("/passages/{enc}/around?n=2"))).await;
    assert_eq!(st, StatusCode::OK);
    let ids: Vec<String> = body["passages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["id"].as_str().unwrap().to_string())
        .collect();
    let doc = id.rsplit_once('#').unwrap().0;
    let want: Vec<String> = (n - 2..=n + 2).map(|m| format!("{doc}#{m}")).collect();
    assert_eq!(ids, want);
    let first = format!("{doc}%231");
    let (_, body, _) = call(s.clone(), get(&format!("/passages/{first}/around"))).await;
    let ids: Vec<&str> = body["passages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [format!("{doc}#1"), format!("{doc}#2")]);
    let (st, body, _) = call(s.clone(), get(&format!("/passages/{enc}/around?n=4"))).await;
    assert_error(st, &body, StatusCode::BAD_REQUEST);
    let (st, body, _) = call(s.clone(), get("/passages/nope%231/around")).await;
    assert_error(st, &body, StatusCode::NOT_FOUND);
    let (st, body, _) = call(s.clone(), get("/passages/nope%231")).await;
    assert_error(st, &body, StatusCode::NOT_FOUND);
    let (st, body, _) = call(s.clone(), get("/passages/nope%231/related")).await;
    assert_error(st, &body, StatusCode::NOT_FOUND);
    let (st, body, _) = call(s, get(&format!("/passages/{enc}/related?k=abc"))).await;
    assert_error(st, &body, StatusCode::BAD_REQUEST);
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
            r#"{"input": ["太湖", "Lake Tai"], "model": "intfloat/multilingual-e5-small"}"#,
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
