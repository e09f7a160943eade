use serde_json::json;

use super::*;

fn meta(v: Value) -> Metadata {
    Metadata::from_json(v).unwrap()
}

fn passes(filter: Value, doc: &str, m: &Metadata) -> bool {
    Condition::parse(&filter).unwrap().matches(DocView {
        doc,
        title: "Transport plan 2025",
        metadata: m,
        section: None,
    })
}

fn err(filter: Value) -> String {
    Condition::parse(&filter).unwrap_err()
}

#[test]
fn every_comparison() {
    let m = meta(json!({"year": 2025, "dept": "transport", "public": true,
                        "tags": ["plan", "bus"], "date": "2025-03-01", "empty": ""}));
    let t = |f: Value| passes(f, "d1", &m);
    assert!(t(json!({"type": "eq", "key": "year", "value": 2025.0})));
    assert!(!t(json!({"type": "eq", "key": "year", "value": "2025"})));
    assert!(t(json!({"type": "eq", "key": "public", "value": true})));
    assert!(t(json!({"type": "eq", "key": "tags", "value": "bus"})));
    assert!(t(json!({"type": "ne", "key": "dept", "value": "health"})));
    assert!(t(json!({"type": "ne", "key": "missing", "value": 1})));
    assert!(t(json!({"type": "gt", "key": "year", "value": 2024})));
    assert!(!t(json!({"type": "gt", "key": "year", "value": 2025})));
    assert!(t(json!({"type": "gte", "key": "year", "value": 2025})));
    assert!(t(
        json!({"type": "lt", "key": "date", "value": "2025-03-01T00:00:01Z"})
    ));
    assert!(t(
        json!({"type": "lte", "key": "date", "value": "2025-03-01"})
    ));
    assert!(t(
        json!({"type": "eq", "key": "date", "value": "2025-03-01T08:00:00+08:00"})
    ));
    assert!(!t(
        json!({"type": "gt", "key": "dept", "value": "2020-01-01"})
    ));
    assert!(t(
        json!({"type": "in", "key": "dept", "value": ["health", "transport"]})
    ));
    assert!(t(
        json!({"type": "in", "key": "tags", "value": ["x", "plan"]})
    ));
    assert!(t(
        json!({"type": "nin", "key": "dept", "value": ["health"]})
    ));
    assert!(!t(json!({"type": "nin", "key": "tags", "value": ["bus"]})));
    assert!(t(
        json!({"type": "contains", "key": "tags", "value": "plan"})
    ));
    assert!(t(
        json!({"type": "contains", "key": "dept", "value": "rans"})
    ));
    assert!(t(
        json!({"type": "contains", "key": "title", "value": "plan"})
    ));
    assert!(t(
        json!({"type": "starts_with", "key": "dept", "value": "trans"})
    ));
    assert!(t(json!({"type": "ends_with", "key": "doc", "value": "1"})));
    assert!(t(json!({"type": "exists", "key": "tags"})));
    assert!(!t(json!({"type": "exists", "key": "missing"})));
    assert!(t(json!({"type": "empty", "key": "missing"})));
    assert!(t(json!({"type": "empty", "key": "empty"})));
    assert!(!t(json!({"type": "empty", "key": "tags"})));
}

#[test]
fn compounds_and_the_short_form() {
    let m = meta(json!({"year": 2025, "dept": "transport"}));
    let t = |f: Value| passes(f, "d1", &m);
    assert!(t(json!({"type": "and", "filters": [
        {"type": "eq", "key": "dept", "value": "transport"},
        {"type": "or", "filters": [{"type": "lt", "key": "year", "value": 2000},
                                   {"type": "eq", "key": "doc", "value": "d1"}]}]})));
    assert!(!t(
        json!({"type": "not", "filter": {"type": "eq", "key": "doc", "value": "d1"}})
    ));
    assert!(t(json!({"type": "and", "filters": []})));
    assert!(!t(json!({"type": "or", "filters": []})));
    assert!(t(json!({"doc": "d1"})));
    assert!(!t(json!({"doc": "d2"})));
    assert!(t(json!({"docs": ["d2", "d1"]})));
    assert!(!t(json!({"doc": "d1", "docs": ["d2"]})));
    assert!(t(json!({})));
}

#[test]
fn malformed_filters_say_what_is_wrong() {
    assert_eq!(
        err(json!([1])),
        "filter: a condition is an object, not a list"
    );
    assert!(err(json!({"type": "like", "key": "a", "value": 1}))
        .contains("unknown condition type \"like\""));
    assert!(err(json!({"type": "eq", "value": 1})).contains("needs a \"key\""));
    assert!(err(json!({"type": "eq", "key": "a"})).contains("needs a \"value\""));
    assert!(
        err(json!({"type": "eq", "key": "a", "value": 1, "x": 2})).contains("unknown field `x`")
    );
    assert!(err(json!({"type": "gt", "key": "a", "value": "soon"})).contains("a number or a date"));
    assert!(err(json!({"type": "in", "key": "a", "value": 1})).contains("a list of strings"));
    assert!(err(json!({"type": "and"})).contains("needs a \"filters\" list"));
    assert!(err(json!({"dept": "x"})).contains("unknown field `dept`"));
    assert!(err(json!({"doc": 1})).contains("\"doc\" must be a document id"));
    let mut deep = json!({"type": "eq", "key": "a", "value": 1});
    for _ in 0..=MAX_FILTER_DEPTH {
        deep = json!({"type": "not", "filter": deep});
    }
    assert!(err(deep).contains("nested deeper than 8"));
    let wide: Vec<Value> = (0..MAX_FILTER_CONDITIONS)
        .map(|i| json!({"doc": i.to_string()}))
        .collect();
    assert!(err(json!({"type": "or", "filters": wide})).contains("more than 256 conditions"));
    let docs: Vec<String> = (0..=MAX_FILTER_DOCS).map(|i| i.to_string()).collect();
    assert_eq!(
        err(json!({ "docs": docs })),
        "a filter may name at most 100 documents (101 given)"
    );
}

#[test]
fn resolving_reads_documents_only_when_it_must() {
    let ids = Condition::parse(&json!({"doc": "a", "docs": ["a", "b"]})).unwrap();
    let never = || -> Result<Vec<DocumentInfo>, crate::index::StoreError> {
        panic!("a filter of ids needs no document list")
    };
    assert_eq!(ids.resolve(never).unwrap(), DocFilter::ids(["a"]));
    assert_eq!(Condition::all().resolve(never).unwrap(), DocFilter::All);
    let docs = || {
        Ok(vec![
            DocumentInfo::new("a", "A", 1, meta(json!({"year": 2020}))),
            DocumentInfo::new("b", "B", 2, meta(json!({"year": 2025}))),
        ])
    };
    let recent = Condition::parse(&json!({"type": "gte", "key": "year", "value": 2024})).unwrap();
    assert_eq!(recent.resolve(docs).unwrap(), DocFilter::ids(["b"]));
}
