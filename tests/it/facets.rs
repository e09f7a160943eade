//! Facets through HTTP: `GET /documents?facets=` counts over the documents a filter passes
//! (run inside the metadata session, so both stores answer alike).

use axum::http::StatusCode;
use serde_json::{json, Value};

use crate::http::{assert_error, call, get};

/// Facets over the library of `metadata::DOCS`, narrowed by a filter; returns them for the comparison.
pub(crate) async fn facets(s: &semsearch::server::AppState) -> Value {
    let (st, b, _) = call(s.clone(), get("/documents?facets=dept,tags")).await;
    assert_eq!(st, StatusCode::OK, "{b}");
    assert_eq!(b["documents"].as_array().unwrap().len(), 4, "{b}");
    let dept = &b["facets"][0];
    assert_eq!(dept["field"], "dept");
    assert_eq!(
        dept["values"],
        json!([{"value": "transport", "documents": 2, "passages": 3},
               {"value": "health", "documents": 1, "passages": 1}]),
        "{b}"
    );
    assert_eq!(
        (dept["distinct"].as_u64(), dept["missing"].as_u64()),
        (Some(2), Some(1))
    );
    assert_eq!(b["facets"][1]["values"].as_array().unwrap().len(), 3, "{b}");
    // Narrowed: the facets and the list are those of the passing documents only.
    let filter = r#"{"type":"gte","key":"year","value":2025}"#;
    let url = format!("/documents?facets=*&filter={}", urlencode(filter));
    let (st, narrowed, _) = call(s.clone(), get(&url)).await;
    assert_eq!(st, StatusCode::OK, "{narrowed}");
    let docs: Vec<&str> = narrowed["documents"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["doc"].as_str().unwrap())
        .collect();
    assert_eq!(docs, ["bus", "clinic"]);
    let fields: Vec<&str> = narrowed["facets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["field"].as_str().unwrap())
        .collect();
    assert_eq!(
        fields,
        ["date", "dept", "year", "public", "tags"],
        "{narrowed}"
    );
    let (st, plain, _) = call(s.clone(), get("/documents")).await;
    assert_eq!(st, StatusCode::OK);
    assert!(plain.get("facets").is_none(), "{plain}");
    for bad in [
        "/documents?filter=%7Bnope",
        "/documents?facets=a,,b",
        "/documents?filter=%7B%22type%22%3A%22zz%22%7D",
        "/documents?sort=x",
    ] {
        let (st, b, _) = call(s.clone(), get(bad)).await;
        assert_error(st, &b, StatusCode::BAD_REQUEST);
    }
    json!([b, narrowed])
}

pub(crate) fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|c| match c {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (c as char).to_string(),
            _ => format!("%{c:02X}"),
        })
        .collect()
}
