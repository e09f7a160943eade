//! `section` in filters: a condition on a passage's own heading passes passages, not whole
//! documents, inside the search (so `k` passing passages come back when `k` exist), in every
//! mode, combined with document conditions, on the local store and on PostgreSQL alike.

use std::sync::Arc;

use axum::http::StatusCode;
use semsearch::engine::{Engine, Options};
use serde_json::{json, Value};

use crate::common::tiny;
use crate::http::{assert_error, call, get, post, state};

const DOCS: [(&str, &str, &str); 3] = [
    (
        "handbook",
        "markdown",
        "# Leave\n\nAnnual leave in the city is twenty days.\n\n# Travel\n\nA city bus ticket is \
         paid back.\n\n# Pay\n\nPay day in the city is the last Friday.",
    ),
    (
        "memo",
        "markdown",
        "# Travel\n\nThe city travel memo for the lake office.",
    ),
    ("notes", "text", "city notes without any heading."),
];

/// `(doc, section)` of every result, in order.
fn placed(b: &Value) -> Vec<(String, Value)> {
    b["results"]
        .as_array()
        .unwrap_or_else(|| panic!("{b}"))
        .iter()
        .map(|r| (r["doc"].as_str().unwrap().to_string(), r["section"].clone()))
        .collect()
}

/// Writes [`DOCS`], searches with section filters; returns what the other store must answer.
async fn session(engine: Arc<Engine>) -> Value {
    let s = state(engine, None);
    for (doc, format, text) in DOCS {
        let body = json!({"doc": doc, "text": text, "format": format, "clean": false});
        let (st, b, _) = call(s.clone(), post("/documents", body.to_string())).await;
        assert_eq!(st, StatusCode::CREATED, "{b}");
    }
    let search = |filter: Value, mode: &str, k: usize| {
        let s = s.clone();
        let body = json!({"query": "city", "k": k, "mode": mode, "filter": filter});
        async move {
            let (st, b, _) = call(s, post("/search", body.to_string())).await;
            assert_eq!(st, StatusCode::OK, "{b}");
            b
        }
    };
    let travel = json!({"type": "eq", "key": "section", "value": "Travel"});
    let cases: [(Value, Vec<(&str, Value)>); 5] = [
        (
            travel.clone(),
            vec![("handbook", json!("Travel")), ("memo", json!("Travel"))],
        ),
        (
            json!({"type": "or", "filters": [
                {"type": "eq", "key": "section", "value": "Leave"}, {"doc": "notes"}]}),
            vec![("handbook", json!("Leave")), ("notes", Value::Null)],
        ),
        (
            json!({"type": "empty", "key": "section"}),
            vec![("notes", Value::Null)],
        ),
        (
            json!({"type": "and", "filters": [{"doc": "handbook"},
                {"type": "ne", "key": "section", "value": "Leave"}]}),
            vec![("handbook", json!("Pay")), ("handbook", json!("Travel"))],
        ),
        (
            json!({"type": "in", "key": "section", "value": ["Pay", "Nowhere"]}),
            vec![("handbook", json!("Pay"))],
        ),
    ];
    let mut out = json!({});
    for mode in ["hybrid", "dense", "lexical"] {
        for (i, (filter, want)) in cases.iter().enumerate() {
            let b = search(filter.clone(), mode, 10).await;
            let mut got = placed(&b);
            got.sort_by(|a, b| (&a.0, a.1.to_string()).cmp(&(&b.0, b.1.to_string())));
            let want: Vec<(String, Value)> = want
                .iter()
                .map(|(d, s)| (d.to_string(), s.clone()))
                .collect();
            // Every passage says "city": each mode returns every passing passage.
            assert_eq!(got, want, "{mode} {filter}: {b}");
            out[format!("{mode}-{i}")] = json!(b["results"]
                .as_array()
                .unwrap()
                .iter()
                .map(|r| r["id"].clone())
                .collect::<Vec<_>>());
        }
        // Filtered inside the search: k = 1 still finds a passing passage.
        let b = search(travel.clone(), mode, 1).await;
        assert_eq!(placed(&b).len(), 1, "{mode}: {b}");
        assert_eq!(placed(&b)[0].1, "Travel", "{mode}: {b}");
    }

    // Dify's metadata_condition reaches `section` too.
    let dify = json!({"knowledge_id": "all", "query": "city",
        "retrieval_setting": {"top_k": 10, "score_threshold": 0.0},
        "metadata_condition": {"conditions": [
            {"name": ["section"], "comparison_operator": "is", "value": "Pay"}]}});
    let (st, b, _) = call(s.clone(), post("/retrieval", dify.to_string())).await;
    assert_eq!(st, StatusCode::OK, "{b}");
    let records = b["records"].as_array().unwrap();
    assert_eq!(records.len(), 1, "{b}");
    out["dify"] = records[0]["metadata"]["passage_id"].clone();
    assert_eq!(records[0]["metadata"]["section"], "Pay", "{b}");

    // The document list is not a list of passages: a section filter there is refused.
    let url = format!(
        "/documents?filter={}",
        crate::facets::urlencode(&travel.to_string())
    );
    let (st, b, _) = call(s.clone(), get(&url)).await;
    assert_error(st, &b, StatusCode::BAD_REQUEST);
    assert!(
        b["error"]["message"]
            .as_str()
            .unwrap()
            .contains("`section`"),
        "{b}"
    );
    out
}

#[tokio::test]
async fn a_section_filter_passes_passages() {
    let engine = Arc::new(Engine::open(tiny(), None, Options::default()).unwrap());
    session(engine).await;
}

#[test]
#[ignore = "needs PostgreSQL: SEMSEARCH_TEST_PG=URL, --run-ignored all (scripts/test.sh)"]
fn both_stores_filter_sections_alike() {
    crate::common::on_both_stores(session);
}
