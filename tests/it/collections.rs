//! Collections against a served process: made and deleted by an admin, written and searched
//! under `/collections/{name}/`, kept apart (a key bound to one collection reads nothing of
//! another and is refused there), reopened after a restart, and written concurrently with the
//! default collection without losing a document.

use serde_json::{json, Value};

use crate::process::{request, serve_with, Answer, Server};

const ADMIN: &str = "admin-key";
const HR_READ: &str = "hr-reader";
const HR_WRITE: &str = "hr-writer";
const MAIN_READ: &str = "main-reader";

fn sha(key: &str) -> String {
    semsearch::server::auth::keys::digest_hex(key)
}

fn send(s: &Server, key: Option<&str>, method: &str, path: &str, body: &str) -> Answer {
    let mut extra = key.map_or(String::new(), |k| format!("authorization: Bearer {k}\r\n"));
    if path.ends_with("/mcp") {
        extra.push_str("accept: application/json, text/event-stream\r\n");
    }
    request(&s.1, "localhost", method, path, &extra, body)
}

fn json_of(a: &Answer) -> Value {
    serde_json::from_str(&a.body).unwrap_or(Value::Null)
}

fn start(dir: &std::path::Path) -> Server {
    start_with(dir, &[])
}

fn start_with(dir: &std::path::Path, flags: &[&str]) -> Server {
    let keys = dir.join("keys.json");
    let file = json!({"keys": [
        {"sha256": sha(HR_READ), "actions": ["read"], "collections": ["hr"]},
        {"sha256": sha(HR_WRITE), "actions": ["write"], "collections": ["hr"]},
        {"sha256": sha(MAIN_READ), "actions": ["read"], "collections": ["default"]},
    ]});
    std::fs::write(&keys, file.to_string()).unwrap();
    let mut args = vec!["--keys", keys.to_str().unwrap()];
    args.extend_from_slice(flags);
    serve_with(&dir.join("idx"), &args, &[("SEMSEARCH_API_KEY", ADMIN)])
}

fn search(s: &Server, key: &str, prefix: &str) -> Answer {
    send(
        s,
        Some(key),
        "POST",
        &format!("{prefix}/search"),
        &json!({"query": "leave in summer", "k": 10}).to_string(),
    )
}

fn docs_of(a: &Answer) -> Vec<String> {
    let v = json_of(a);
    v["results"]
        .as_array()
        .unwrap_or_else(|| panic!("no results: {}", a.body))
        .iter()
        .map(|r| r["doc"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn collections_are_made_kept_apart_reopened_and_deleted() {
    let dir = tempfile::tempdir().unwrap();
    let s = start(dir.path());
    let make = |key: Option<&str>, name: &str| {
        send(
            &s,
            key,
            "POST",
            "/collections",
            &json!({"name": name}).to_string(),
        )
    };
    assert_eq!(make(None, "hr").status, 401);
    assert_eq!(make(Some(HR_WRITE), "hr").status, 403);
    let bad = make(Some(ADMIN), "Human Resources");
    assert_eq!(bad.status, 400, "{}", bad.body);
    assert!(bad.body.contains("a-z"), "{}", bad.body);
    assert_eq!(make(Some(ADMIN), "hr").status, 201);
    let again = make(Some(ADMIN), "hr");
    assert_eq!(
        (again.status, json_of(&again)["error"]["code"].clone()),
        (409, json!("conflict"))
    );
    assert_eq!(make(Some(ADMIN), "default").status, 409);

    let add = |key: &str, prefix: &str, doc: &str, text: &str| {
        let body = json!({"doc": doc, "title": doc, "text": text}).to_string();
        let a = send(&s, Some(key), "POST", &format!("{prefix}/documents"), &body);
        assert_eq!(a.status, 201, "{prefix} {doc}: {}", a.body);
    };
    add(
        HR_WRITE,
        "/collections/hr",
        "handbook",
        "Vacation policy: staff take leave in summer.",
    );
    add(
        ADMIN,
        "",
        "plan",
        "The city plan for parks and leave in summer.",
    );
    // The hr writer may not write elsewhere.
    let elsewhere = json!({"doc": "x", "text": "Leave."}).to_string();
    assert_eq!(
        send(&s, Some(HR_WRITE), "POST", "/documents", &elsewhere).status,
        403
    );

    assert_eq!(
        docs_of(&search(&s, HR_READ, "/collections/hr")),
        ["handbook"]
    );
    assert_eq!(docs_of(&search(&s, MAIN_READ, "")), ["plan"]);
    assert_eq!(
        docs_of(&search(&s, MAIN_READ, "/collections/default")),
        ["plan"]
    );
    assert_eq!(search(&s, HR_READ, "").status, 403);
    assert_eq!(search(&s, HR_READ, "/collections/default").status, 403);
    assert_eq!(search(&s, MAIN_READ, "/collections/hr").status, 403);
    assert_eq!(search(&s, ADMIN, "/collections/nope").status, 404);
    // A key bound elsewhere learns nothing of which names exist: a missing collection answers
    // it exactly as one that exists but is not its own.
    let (there, absent) = (
        search(&s, MAIN_READ, "/collections/hr"),
        search(&s, MAIN_READ, "/collections/nope"),
    );
    assert_eq!((absent.status, &absent.body), (there.status, &there.body));
    let (there, absent) = (
        send(&s, None, "GET", "/collections/hr/documents", ""),
        send(&s, None, "GET", "/collections/nope/documents", ""),
    );
    assert_eq!((absent.status, &absent.body), (401, &there.body));

    // Every route of a collection, MCP and the page included.
    let mcp = json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call",
        "params": {"name": "search", "arguments": {"query": "leave", "k": 10}}});
    let out = send(
        &s,
        Some(HR_READ),
        "POST",
        "/collections/hr/mcp",
        &mcp.to_string(),
    );
    assert_eq!(out.status, 200, "{}", out.body);
    let found = json_of(&out)["result"]["structuredContent"]["results"].clone();
    assert_eq!(found.as_array().map(Vec::len), Some(1), "{}", out.body);
    assert_eq!(found[0]["id"], "handbook#1");
    // Its citation links to the collection's page of the passage.
    let url = found[0]["url"].as_str().unwrap();
    assert!(url.ends_with("/collections/hr/p/handbook%231"), "{url}");
    let page = send(&s, None, "GET", "/collections/hr/", "");
    assert!(
        page.status == 200 && page.body.contains("<form"),
        "{}",
        page.status
    );
    let passage = send(
        &s,
        Some(HR_READ),
        "GET",
        "/collections/hr/passages/handbook%231",
        "",
    );
    assert_eq!(passage.status, 200);
    let hidden = send(&s, Some(MAIN_READ), "GET", "/passages/handbook%231", "");
    assert_eq!(hidden.status, 404);

    // At the root, a knowledge base or vector store id may name a collection the key covers.
    let store = |key: &str, id: &str| {
        let body = json!({"query": "leave in summer", "max_num_results": 5}).to_string();
        send(
            &s,
            Some(key),
            "POST",
            &format!("/v1/vector_stores/{id}/search"),
            &body,
        )
    };
    let whole = json_of(&store(ADMIN, "hr"));
    assert_eq!(whole["data"][0]["file_id"], "handbook", "{whole}");
    let url = whole["data"][0]["attributes"]["url"].as_str().unwrap();
    assert!(url.ends_with("/collections/hr/p/handbook%231"), "{url}");
    let (hidden, absent) = (store(MAIN_READ, "hr"), store(MAIN_READ, "nope"));
    assert_eq!(hidden.status, 404);
    assert_eq!(hidden.body.replace("hr", "nope"), absent.body);
    let kb = json!({"knowledge_id": "hr", "query": "leave in summer",
        "retrieval_setting": {"top_k": 3, "score_threshold": 0}});
    let dify = json_of(&send(
        &s,
        Some(ADMIN),
        "POST",
        "/retrieval",
        &kb.to_string(),
    ));
    assert_eq!(dify["records"][0]["metadata"]["doc"], "handbook", "{dify}");
    assert_eq!(dify["records"][0]["metadata"]["collection"], "hr", "{dify}");

    // `all` at the root: every collection the key may read, in one list, each result with its
    // collection and its collection's URL.
    let every = |key: &str| -> Vec<(String, String)> {
        let a = store(key, "all");
        assert_eq!(a.status, 200, "{}", a.body);
        json_of(&a)["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| {
                let at = &r["attributes"];
                let url = at["url"].as_str().unwrap();
                let c = at["collection"].as_str().unwrap().to_string();
                let prefix = if c == "default" {
                    String::new()
                } else {
                    format!("/collections/{c}")
                };
                assert!(url.contains(&format!("{prefix}/p/")), "{url}");
                (c, r["file_id"].as_str().unwrap().to_string())
            })
            .collect()
    };
    let mut both = every(ADMIN);
    both.sort();
    assert_eq!(
        both,
        [
            ("default".into(), "plan".into()),
            ("hr".into(), "handbook".into())
        ]
    );
    assert_eq!(every(MAIN_READ), [("default".into(), "plan".into())]);
    // Under a collection, `all` is that collection.
    let inside = send(
        &s,
        Some(HR_READ),
        "POST",
        "/collections/hr/v1/vector_stores/all/search",
        &json!({"query": "leave in summer"}).to_string(),
    );
    assert_eq!(
        json_of(&inside)["data"][0]["file_id"],
        "handbook",
        "{}",
        inside.body
    );
    assert_eq!(json_of(&inside)["data"].as_array().map(Vec::len), Some(1));
    let kb_all = json!({"knowledge_id": "all", "query": "leave in summer",
        "retrieval_setting": {"top_k": 5, "score_threshold": 0}});
    let dify = json_of(&send(
        &s,
        Some(ADMIN),
        "POST",
        "/retrieval",
        &kb_all.to_string(),
    ));
    assert_eq!(dify["records"].as_array().map(Vec::len), Some(2), "{dify}");

    // MCP tools take a `collection`; one the key may not address is a missing one.
    let tool = |key: &str, collection: &str| {
        let call = json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call",
            "params": {"name": "search", "arguments":
                {"query": "leave", "k": 10, "collection": collection}}});
        json_of(&send(&s, Some(key), "POST", "/mcp", &call.to_string()))["result"].clone()
    };
    let hr = tool(ADMIN, "hr");
    assert_eq!(
        hr["structuredContent"]["results"][0]["id"], "handbook#1",
        "{hr}"
    );
    let url = hr["structuredContent"]["results"][0]["url"]
        .as_str()
        .unwrap();
    assert!(url.ends_with("/collections/hr/p/handbook%231"), "{url}");
    let (hidden, absent) = (tool(MAIN_READ, "hr"), tool(MAIN_READ, "nope"));
    assert_eq!(hidden["isError"], true, "{hidden}");
    assert_eq!(hidden.to_string().replace("hr", "nope"), absent.to_string());
    assert_eq!(
        tool(MAIN_READ, "default")["structuredContent"]["results"][0]["id"],
        "plan#1"
    );
    // /metrics is a read route unless the operator opens it.
    assert_eq!(send(&s, None, "GET", "/metrics", "").status, 401);

    // Listing: what the key may address, with sizes.
    let names = |key: &str| -> Vec<(String, u64)> {
        let a = send(&s, Some(key), "GET", "/collections", "");
        assert_eq!(a.status, 200, "{}", a.body);
        json_of(&a)["collections"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| {
                (
                    c["name"].as_str().unwrap().into(),
                    c["documents"].as_u64().unwrap(),
                )
            })
            .collect()
    };
    assert_eq!(names(ADMIN), [("default".into(), 1), ("hr".into(), 1)]);
    assert_eq!(names(HR_READ), [("hr".to_string(), 1)]);
    assert_eq!(names(MAIN_READ), [("default".to_string(), 1)]);

    // A restart opens the collection again (this time with /metrics open).
    drop(s);
    let s = start_with(dir.path(), &["--open-metrics"]);
    assert_eq!(send(&s, None, "GET", "/metrics", "").status, 200);
    assert_eq!(send(&s, None, "GET", "/search?q=leave", "").status, 401);
    let again = send(
        &s,
        Some(HR_READ),
        "POST",
        "/collections/hr/search",
        &json!({"query": "leave in summer"}).to_string(),
    );
    assert_eq!(docs_of(&again), ["handbook"]);

    // Deleting: admin only, never `default`, and the folder goes.
    assert_eq!(
        send(&s, Some(HR_WRITE), "DELETE", "/collections/hr", "").status,
        403
    );
    assert_eq!(
        send(&s, Some(ADMIN), "DELETE", "/collections/default", "").status,
        400
    );
    assert_eq!(
        send(&s, Some(ADMIN), "DELETE", "/collections/nope", "").status,
        404
    );
    assert_eq!(
        send(&s, Some(ADMIN), "DELETE", "/collections/hr", "").status,
        200
    );
    assert_eq!(
        send(
            &s,
            Some(HR_READ),
            "POST",
            "/collections/hr/search",
            r#"{"query": "x"}"#
        )
        .status,
        404
    );
    let folder = dir.path().join("idx.collections");
    let left: Vec<_> = std::fs::read_dir(&folder).unwrap().flatten().collect();
    assert!(left.is_empty(), "{left:?}");
    assert_eq!(docs_of(&search(&s, MAIN_READ, "")), ["plan"]);
}

#[test]
fn two_collections_written_at_once_lose_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let s = start(dir.path());
    assert_eq!(
        send(&s, Some(ADMIN), "POST", "/collections", r#"{"name": "hr"}"#).status,
        201
    );
    const EACH: usize = 12;
    std::thread::scope(|scope| {
        for (key, prefix) in [(ADMIN, ""), (HR_WRITE, "/collections/hr")] {
            let s = &s;
            scope.spawn(move || {
                for i in 0..EACH {
                    let body =
                        json!({"doc": format!("d{i}"), "text": format!("Document number {i}.")});
                    let a = send(
                        s,
                        Some(key),
                        "POST",
                        &format!("{prefix}/documents"),
                        &body.to_string(),
                    );
                    assert_eq!(a.status, 201, "{prefix} d{i}: {}", a.body);
                }
            });
        }
    });
    for prefix in ["", "/collections/hr"] {
        let a = send(&s, Some(ADMIN), "GET", &format!("{prefix}/documents"), "");
        let n = json_of(&a)["documents"].as_array().map_or(0, Vec::len);
        assert_eq!(n, EACH, "{prefix}: {}", a.body);
    }
}

#[test]
#[ignore = "needs PostgreSQL: SEMSEARCH_TEST_PG=URL, --run-ignored all (scripts/test.sh)"]
fn collections_on_postgres_are_schemas_of_one_database() {
    let db = crate::common::TestDb::create();
    let dir = tempfile::tempdir().unwrap();
    let up = || {
        serve_with(
            &dir.path().join("idx"),
            &["--store", &db.url],
            &[("SEMSEARCH_API_KEY", ADMIN)],
        )
    };
    let s = up();
    let make = send(
        &s,
        Some(ADMIN),
        "POST",
        "/collections",
        r#"{"name": "hr-1"}"#,
    );
    assert_eq!(make.status, 201, "{}", make.body);
    let long = json!({"name": "a".repeat(60)}).to_string();
    let refused = send(&s, Some(ADMIN), "POST", "/collections", &long);
    assert_eq!(refused.status, 400, "{}", refused.body);
    assert!(refused.body.contains("PostgreSQL"), "{}", refused.body);
    for (prefix, doc, text) in [
        (
            "/collections/hr-1",
            "handbook",
            "Vacation policy: staff take leave in summer.",
        ),
        ("", "plan", "The city plan for parks and leave in summer."),
    ] {
        let body = json!({"doc": doc, "title": doc, "text": text}).to_string();
        let a = send(
            &s,
            Some(ADMIN),
            "POST",
            &format!("{prefix}/documents"),
            &body,
        );
        assert_eq!(a.status, 201, "{prefix}: {}", a.body);
    }
    assert_eq!(
        docs_of(&search(&s, ADMIN, "/collections/hr-1")),
        ["handbook"]
    );
    assert_eq!(docs_of(&search(&s, ADMIN, "")), ["plan"]);
    // The schema holds the collection's tables; the default tables hold only `default`.
    let mut c = postgres::Client::connect(&db.url, postgres::NoTls).unwrap();
    let count = |c: &mut postgres::Client, table: &str| -> i64 {
        c.query_one(&format!("SELECT count(*) FROM {table}"), &[])
            .unwrap()
            .get(0)
    };
    assert_eq!(count(&mut c, "\"semsearch_c_hr-1\".semsearch_documents"), 1);
    assert_eq!(count(&mut c, "public.semsearch_documents"), 1);
    // A restart (a second server alike) finds it in the database.
    drop(s);
    let s = up();
    assert_eq!(
        docs_of(&search(&s, ADMIN, "/collections/hr-1")),
        ["handbook"]
    );
    let all = send(
        &s,
        Some(ADMIN),
        "POST",
        "/v1/vector_stores/all/search",
        &json!({"query": "leave in summer"}).to_string(),
    );
    assert_eq!(
        json_of(&all)["data"].as_array().map(Vec::len),
        Some(2),
        "{}",
        all.body
    );
    assert_eq!(
        send(&s, Some(ADMIN), "DELETE", "/collections/hr-1", "").status,
        200
    );
    let left: i64 = c
        .query_one(
            "SELECT count(*) FROM pg_namespace WHERE nspname LIKE 'semsearch_c_%'",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(left, 0);
    assert_eq!(docs_of(&search(&s, ADMIN, "")), ["plan"]);
}
