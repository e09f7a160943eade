//! Document metadata and the filter language through HTTP, on the tiny model: stored, returned
//! with every passage, matched by `/search`, `/ask`, `/context`, Dify's `metadata_condition` and
//! OpenAI's filters, changed without re-embedding; the same session on the local store and on
//! PostgreSQL gives the same answers.

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use semsearch::engine::{Engine, Options};
use serde_json::{json, Value};

use crate::common::tiny;
use crate::http::{assert_error, call, get, post, state};

const DOCS: [(&str, &str, &str); 4] = [
    (
        "bus",
        "the city bus lines and the metro.\n\nbus lanes on the ring road.",
        r#"{"dept": "transport", "year": 2025, "tags": ["bus", "metro"], "date": "2025-03-01", "public": true}"#,
    ),
    (
        "rail",
        "the rail line to the lake and the city.",
        r#"{"dept": "transport", "year": 2021, "tags": ["rail"], "date": "2021-06-30", "public": false}"#,
    ),
    (
        "clinic",
        "the city clinic and the elderly care centre.",
        r#"{"dept": "health", "year": 2025, "date": "2025-01-15T08:00:00+08:00"}"#,
    ),
    ("plain", "the city lake and the old town.", "null"),
];

fn patch(path: &str, body: Value) -> Request<Body> {
    Request::patch(path)
        .header("content-type", "application/json")
        .body(Body::from(body.to_string()))
        .unwrap()
}

/// Docs of a `/search` answer, sorted.
fn docs_of(b: &Value) -> Vec<String> {
    let mut d: Vec<String> = b["results"]
        .as_array()
        .unwrap_or_else(|| panic!("{b}"))
        .iter()
        .map(|r| r["doc"].as_str().unwrap().to_string())
        .collect();
    d.sort();
    d.dedup();
    d
}

/// One session of writes and filtered reads; returns what a second store must answer alike.
async fn session(engine: Arc<Engine>) -> Value {
    let s = state(engine, None);
    let mut out = json!({});
    for (doc, text, meta) in DOCS {
        let meta: Value = serde_json::from_str(meta).unwrap();
        let body = json!({"doc": doc, "text": text, "clean": false, "metadata": meta}).to_string();
        let (st, b, _) = call(s.clone(), post("/documents", body)).await;
        assert_eq!(st, StatusCode::CREATED, "{b}");
    }
    let (_, b, _) = call(s.clone(), get("/documents")).await;
    assert_eq!(b["documents"][0]["doc"], "bus");
    assert_eq!(b["documents"][0]["metadata"]["year"], json!(2025), "{b}");
    assert_eq!(b["documents"][2]["metadata"], json!({}), "{b}");
    out["documents"] = b.clone();
    out["facets"] = crate::facets::facets(&s).await;

    let search = |filter: Value, mode: &str| {
        let s = s.clone();
        let body = json!({"query": "city", "k": 10, "mode": mode, "filter": filter}).to_string();
        async move {
            let (st, b, _) = call(s, post("/search", body)).await;
            assert_eq!(st, StatusCode::OK, "{b}");
            b
        }
    };
    let cases = [
        (
            json!({"type": "eq", "key": "dept", "value": "transport"}),
            vec!["bus", "rail"],
        ),
        (
            json!({"type": "gte", "key": "year", "value": 2025}),
            vec!["bus", "clinic"],
        ),
        (
            json!({"type": "lt", "key": "date", "value": "2025-01-15"}),
            vec!["rail"],
        ),
        (
            json!({"type": "lte", "key": "date", "value": "2025-01-15"}),
            vec!["clinic", "rail"],
        ),
        (
            json!({"type": "contains", "key": "tags", "value": "metro"}),
            vec!["bus"],
        ),
        (
            json!({"type": "in", "key": "dept", "value": ["health", "x"]}),
            vec!["clinic"],
        ),
        (
            json!({"type": "nin", "key": "dept", "value": ["transport"]}),
            vec!["clinic", "plain"],
        ),
        (json!({"type": "empty", "key": "dept"}), vec!["plain"]),
        (
            json!({"type": "eq", "key": "public", "value": false}),
            vec!["rail"],
        ),
        (
            json!({"type": "and", "filters": [
                {"type": "eq", "key": "dept", "value": "transport"},
                {"type": "not", "filter": {"type": "eq", "key": "doc", "value": "rail"}}]}),
            vec!["bus"],
        ),
        (
            json!({"type": "or", "filters": [{"doc": "plain"},
                {"type": "starts_with", "key": "title", "value": "clin"}]}),
            vec!["clinic", "plain"],
        ),
        (json!({"docs": ["rail", "plain"]}), vec!["plain", "rail"]),
        (
            json!({"type": "eq", "key": "no_such_key", "value": 1}),
            vec![],
        ),
    ];
    for mode in ["hybrid", "dense", "lexical"] {
        for (filter, want) in &cases {
            let b = search(filter.clone(), mode).await;
            if mode != "lexical" {
                // Every passage of every document says "city": dense and hybrid return all.
                assert_eq!(docs_of(&b), *want, "{mode} {filter}: {b}");
            } else {
                assert!(
                    docs_of(&b).iter().all(|d| want.contains(&d.as_str())),
                    "{mode} {filter}"
                );
            }
        }
    }
    let b = search(
        json!({"type": "gte", "key": "year", "value": 2025}),
        "hybrid",
    )
    .await;
    assert!(b["results"]
        .as_array()
        .unwrap()
        .iter()
        .all(|r| r["metadata"]["year"] == json!(2025)));
    out["filtered"] = json!(docs_of(&b));

    // Malformed filters and metadata are 400s that say what is wrong.
    for (path, body, says) in [
        (
            "/search",
            json!({"query": "city", "filter": {"type": "gt", "key": "year", "value": "soon"}}),
            "a number or a date",
        ),
        (
            "/search",
            json!({"query": "city", "filter": {"type": "like", "key": "a", "value": 1}}),
            "unknown condition type",
        ),
        (
            "/ask",
            json!({"question": "city", "filter": [1]}),
            "a condition is an object",
        ),
        (
            "/documents",
            json!({"text": "x y z", "metadata": {"a": {"b": 1}}}),
            "not an object",
        ),
        (
            "/documents",
            json!({"text": "x y z", "metadata": {"doc": "x"}}),
            "reserved",
        ),
    ] {
        let (st, b, _) = call(s.clone(), post(path, body.to_string())).await;
        assert_error(st, &b, StatusCode::BAD_REQUEST);
        assert!(
            b["error"]["message"].as_str().unwrap().contains(says),
            "{b}"
        );
    }

    // Every route that returns passages carries their metadata.
    let (_, b, _) = call(s.clone(), get("/passages/bus%231")).await;
    assert_eq!(b["metadata"]["dept"], "transport", "{b}");
    let body = json!({"question": "bus lanes", "filter": {"type": "eq", "key": "dept", "value": "transport"}});
    let (_, b, _) = call(s.clone(), post("/ask", body.to_string())).await;
    assert!(
        b["passages"]
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r["metadata"]["dept"] == "transport"),
        "{b}"
    );
    let body = json!({"query": "care centre", "min_relevance": 0.0,
                      "filter": {"type": "eq", "key": "dept", "value": "health"}});
    let (st, b, _) = call(s.clone(), post("/context", body.to_string())).await;
    assert_eq!(st, StatusCode::OK, "{b}");
    assert!(
        b["citations"]
            .as_array()
            .unwrap()
            .iter()
            .all(|c| c["doc"] == "clinic"),
        "{b}"
    );
    let dify = json!({"knowledge_id": "all", "query": "city", "retrieval_setting": {"top_k": 10, "score_threshold": 0.0},
        "metadata_condition": {"logical_operator": "and", "conditions": [
            {"name": ["dept"], "comparison_operator": "is", "value": "transport"},
            {"name": ["year"], "comparison_operator": "≥", "value": "2024"}]}});
    let (st, b, _) = call(s.clone(), post("/retrieval", dify.to_string())).await;
    assert_eq!(st, StatusCode::OK, "{b}");
    let recs = b["records"].as_array().unwrap();
    assert!(
        !recs.is_empty()
            && recs
                .iter()
                .all(|r| r["metadata"]["doc"] == "bus" && r["metadata"]["dept"] == "transport"),
        "{b}"
    );
    let openai = json!({"query": "city", "max_num_results": 10, "filters": {"type": "or", "filters": [
        {"type": "eq", "key": "dept", "value": "health"}, {"type": "lt", "key": "year", "value": 2022}]}});
    let (st, b, _) = call(
        s.clone(),
        post("/v1/vector_stores/all/search", openai.to_string()),
    )
    .await;
    assert_eq!(st, StatusCode::OK, "{b}");
    let mut files: Vec<&str> = b["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["file_id"].as_str().unwrap())
        .collect();
    files.sort();
    files.dedup();
    assert_eq!(files, ["clinic", "rail"], "{b}");
    assert!(b["data"][0]["attributes"]["dept"].is_string(), "{b}");

    out["pages"] = pages_groups_batches(&s).await;

    // Metadata changes without re-embedding: same vectors, so the same scores.
    let score = |s: semsearch::server::AppState| async move {
        let body = json!({"query": "bus lanes", "k": 1, "mode": "dense", "filter": {"doc": "bus"}});
        let (_, b, _) = call(s, post("/search", body.to_string())).await;
        b["results"][0]["score"].as_f64().unwrap()
    };
    let before = score(s.clone()).await;
    let (st, b, _) = call(
        s.clone(),
        patch(
            "/documents/bus",
            json!({"metadata": {"year": 2019, "tags": null}}),
        ),
    )
    .await;
    assert_eq!(st, StatusCode::OK, "{b}");
    assert_eq!(
        b["metadata"],
        json!({"dept": "transport", "year": 2019, "date": "2025-03-01", "public": true}),
        "{b}"
    );
    assert_eq!(score(s.clone()).await, before);
    let b = search(
        json!({"type": "gte", "key": "year", "value": 2025}),
        "dense",
    )
    .await;
    assert_eq!(docs_of(&b), ["clinic"]);
    let (_, b, _) = call(s.clone(), get("/passages/bus%232")).await;
    assert_eq!(b["metadata"]["year"], json!(2019), "{b}");
    let (st, b, _) = call(s.clone(), patch("/documents/nope", json!({"metadata": {}}))).await;
    assert_error(st, &b, StatusCode::NOT_FOUND);
    let (st, b, _) = call(
        s.clone(),
        patch("/documents/bus", json!({"metadata": {"title": 1}})),
    )
    .await;
    assert_error(st, &b, StatusCode::BAD_REQUEST);
    let (_, b, _) = call(s.clone(), get("/documents")).await;
    out["patched"] = b;
    out
}

/// Pages, groups and batches over the library of [`DOCS`] (5 passages, every one saying "city"):
/// what they return, for [`both_stores_filter_alike`] to compare.
async fn pages_groups_batches(s: &semsearch::server::AppState) -> Value {
    let search = |body: Value| {
        let s = s.clone();
        async move {
            let (st, b, _) = call(s, post("/search", body.to_string())).await;
            assert_eq!(st, StatusCode::OK, "{b}");
            b
        }
    };
    let ids = |b: &Value| -> Vec<String> {
        b["results"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["id"].as_str().unwrap().to_string())
            .collect()
    };
    let mut out = json!({});
    for mode in ["hybrid", "dense", "lexical"] {
        let whole = search(json!({"query": "city", "k": 5, "mode": mode})).await;
        assert_eq!(whole["has_more"], false, "{whole}");
        let mut paged = Vec::new();
        for offset in [0, 2, 4] {
            let b = search(json!({"query": "city", "k": 2, "offset": offset, "mode": mode})).await;
            assert_eq!(
                b["has_more"],
                offset + 2 < ids(&whole).len(),
                "{mode} {offset}: {b}"
            );
            paged.extend(ids(&b));
        }
        assert_eq!(paged, ids(&whole), "{mode}");
        let grouped =
            search(json!({"query": "city", "k": 5, "mode": mode, "group_by": "doc"})).await;
        let docs = docs_of(&grouped);
        assert_eq!(
            docs.len(),
            ids(&grouped).len(),
            "one passage per document: {grouped}"
        );
        out[mode] = json!({"whole": ids(&whole), "grouped": ids(&grouped)});
    }
    for (body, says) in [
        (
            json!({"query": "city", "group_by": "title"}),
            "not a grouping key",
        ),
        (
            json!({"query": "city", "group_size": 2}),
            "group_size needs group_by",
        ),
        (
            json!({"query": "city", "group_by": "doc", "group_size": 21}),
            "between 1 and 20",
        ),
        (
            json!({"query": "city", "k": 100, "offset": 401}),
            "offset + k must be at most 500",
        ),
    ] {
        let (st, b, _) = call(s.clone(), post("/search", body.to_string())).await;
        assert_error(st, &b, StatusCode::BAD_REQUEST);
        assert!(
            b["error"]["message"].as_str().unwrap().contains(says),
            "{b}"
        );
    }

    // A batch answers as its searches one by one.
    let queries = [
        json!({"query": "bus lanes", "k": 2}),
        json!({"query": "city", "k": 3, "group_by": "doc",
               "filter": {"type": "eq", "key": "dept", "value": "transport"}}),
    ];
    let (st, b, _) = call(
        s.clone(),
        post("/search/batch", json!({"queries": queries}).to_string()),
    )
    .await;
    assert_eq!(st, StatusCode::OK, "{b}");
    for (i, q) in queries.iter().enumerate() {
        let one = search(q.clone()).await;
        assert_eq!(b["results"][i]["results"], one["results"], "{i}");
        assert_eq!(b["results"][i]["has_more"], one["has_more"], "{i}");
    }
    out["batch"] = json!(b["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(ids)
        .collect::<Vec<_>>());
    for (body, says) in [
        (json!({"queries": []}), "1 to 32 queries (0 given)"),
        (
            json!({"queries": vec![json!({"query": "x"}); 33]}),
            "(33 given)",
        ),
        (
            json!({"queries": [{"query": "x"}, {"query": "x", "k": 0}]}),
            "queries[1]: k must be",
        ),
    ] {
        let (st, b, _) = call(s.clone(), post("/search/batch", body.to_string())).await;
        assert_error(st, &b, StatusCode::BAD_REQUEST);
        assert!(
            b["error"]["message"].as_str().unwrap().contains(says),
            "{b}"
        );
    }

    // Vector-store search pages with has_more and next_page.
    let mut seen = Vec::new();
    let mut page: Option<String> = None;
    loop {
        let mut body = json!({"query": "city", "max_num_results": 2});
        if let Some(p) = &page {
            body["page"] = json!(p);
        }
        let (st, b, _) = call(
            s.clone(),
            post("/v1/vector_stores/all/search", body.to_string()),
        )
        .await;
        assert_eq!(st, StatusCode::OK, "{b}");
        for r in b["data"].as_array().unwrap() {
            seen.push(r["content"][0]["text"].as_str().unwrap().to_string());
        }
        if b["has_more"] == false {
            assert!(b["next_page"].is_null(), "{b}");
            break;
        }
        page = Some(b["next_page"].as_str().unwrap().to_string());
    }
    assert_eq!(seen.len(), 5, "every passage once: {seen:?}");
    let (st, b, _) = call(
        s.clone(),
        post(
            "/v1/vector_stores/all/search",
            json!({"query": "city", "page": "x"}).to_string(),
        ),
    )
    .await;
    assert_error(st, &b, StatusCode::BAD_REQUEST);
    out
}

#[tokio::test]
async fn metadata_is_stored_returned_filtered_and_patched() {
    let engine = Arc::new(Engine::open(tiny(), None, Options::default()).unwrap());
    session(engine).await;
}

#[test]
#[ignore = "needs PostgreSQL: SEMSEARCH_TEST_PG=URL, --run-ignored all (scripts/test.sh)"]
fn both_stores_filter_alike() {
    crate::common::on_both_stores(session);
}
