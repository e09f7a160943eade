//! Keys that guard reads, against a served process: every read route, a key bound to a filter
//! gets nothing outside it (and its errors and counts say nothing about what lies outside),
//! a missing key is a 401, a key outside its scope a 403, a key past its rate a 429 with
//! `Retry-After`, and a reloaded key file (SIGHUP) takes effect.

use serde_json::{json, Value};

use crate::process::{request, serve_with, Answer, Server};

const ADMIN: &str = "admin-key";
const ALL: &str = "reader-all";
const PUBLIC: &str = "reader-public";
const WRITER: &str = "writer";
const HR: &str = "reader-hr";
const SLOW: &str = "reader-slow";

fn sha(key: &str) -> String {
    semsearch::server::auth::keys::digest_hex(key)
}

fn key_file(dir: &std::path::Path) -> std::path::PathBuf {
    let file = json!({"keys": [
        {"name": "all", "sha256": sha(ALL), "actions": ["read"]},
        {"name": "public", "sha256": sha(PUBLIC), "actions": ["read"],
         "filter": {"type": "eq", "key": "visibility", "value": "public"}},
        {"name": "writer", "sha256": sha(WRITER), "actions": ["write"]},
        {"name": "hr", "sha256": sha(HR), "actions": ["read"], "collections": ["hr"]},
        {"name": "slow", "sha256": sha(SLOW), "actions": ["read"],
         "rate": {"per_second": 1, "burst": 2}},
    ]});
    let path = dir.join("keys.json");
    std::fs::write(&path, file.to_string()).unwrap();
    path
}

fn send(s: &Server, key: Option<&str>, method: &str, path: &str, body: &str) -> Answer {
    let auth = key.map_or(String::new(), |k| format!("authorization: Bearer {k}\r\n"));
    let extra = if path == "/mcp" {
        format!("{auth}accept: application/json, text/event-stream\r\n")
    } else {
        auth
    };
    request(&s.1, "localhost", method, path, &extra, body)
}

fn mcp(tool: &str, arguments: Value) -> String {
    json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call",
        "params": {"name": tool, "arguments": arguments}})
    .to_string()
}

/// Every read route, as (method, path, body): each would show the private document to a key
/// that may read it.
fn reads() -> Vec<(&'static str, String, String)> {
    let q = json!({"query": "budget plan", "k": 10}).to_string();
    vec![
        ("POST", "/search".into(), q.clone()),
        ("GET", "/search?q=budget%20plan&k=10".into(), String::new()),
        (
            "POST",
            "/search/batch".into(),
            json!({"queries": [{"query": "budget plan", "k": 10}]}).to_string(),
        ),
        (
            "POST",
            "/ask".into(),
            json!({"question": "budget plan", "k": 10, "min_relevance": 0}).to_string(),
        ),
        (
            "POST",
            "/context".into(),
            json!({"query": "budget plan", "k": 10, "min_relevance": 0}).to_string(),
        ),
        ("GET", "/passages/secret%231".into(), String::new()),
        ("GET", "/passages/secret%231/around".into(), String::new()),
        (
            "GET",
            "/passages/open%231/related?k=10&neighbours=true".into(),
            String::new(),
        ),
        ("GET", "/documents?facets=*".into(), String::new()),
        ("GET", "/stats".into(), String::new()),
        (
            "POST",
            "/retrieval".into(),
            json!({"knowledge_id": "all", "query": "budget plan",
                "retrieval_setting": {"top_k": 10, "score_threshold": 0}})
            .to_string(),
        ),
        (
            "POST",
            "/v1/vector_stores/all/search".into(),
            json!({"query": "budget plan", "max_num_results": 10}).to_string(),
        ),
        (
            "POST",
            "/mcp".into(),
            mcp("search", json!({"query": "budget plan", "k": 10})),
        ),
        (
            "POST",
            "/mcp".into(),
            mcp("fetch", json!({"id": "secret#1"})),
        ),
        (
            "POST",
            "/mcp".into(),
            mcp(
                "ask",
                json!({"question": "budget plan", "k": 10, "min_relevance": 0}),
            ),
        ),
        (
            "POST",
            "/mcp".into(),
            mcp(
                "context",
                json!({"query": "budget plan", "k": 10, "min_relevance": 0}),
            ),
        ),
        (
            "POST",
            "/mcp".into(),
            mcp("documents", json!({"facets": "*"})),
        ),
    ]
}

/// The private document leaves a trace in an answer: its words, its id as a document, or a
/// count of two documents (an id the request itself named may be echoed in an error).
fn shows_private(body: &str) -> bool {
    body.contains("classified")
        || body.contains("\"doc\":\"secret\"")
        || body.contains("\"documents\":2")
}

#[test]
fn read_keys_see_only_their_documents_on_every_route() {
    let dir = tempfile::tempdir().unwrap();
    let keys = key_file(dir.path());
    let keys_arg = keys.to_str().unwrap();
    let s = serve_with(
        &dir.path().join("idx"),
        &["--keys", keys_arg],
        &[("SEMSEARCH_API_KEY", ADMIN)],
    );
    for (doc, vis, text) in [
        ("open", "public", "The budget plan for parks and schools."),
        (
            "secret",
            "private",
            "The classified budget plan for the reserve.",
        ),
    ] {
        let body = json!({"doc": doc, "title": doc, "text": text,
            "metadata": {"visibility": vis}})
        .to_string();
        let a = send(&s, Some(WRITER), "POST", "/documents", &body);
        assert_eq!(a.status, 201, "{}", a.body);
    }
    for (method, path, body) in reads() {
        let all = send(&s, Some(ALL), method, &path, &body);
        assert_eq!(all.status, 200, "{method} {path}: {}", all.body);
        assert!(
            shows_private(&all.body),
            "{method} {path}: a key reading everything sees the private document: {}",
            all.body
        );
        let public = send(&s, Some(PUBLIC), method, &path, &body);
        assert!(
            !shows_private(&public.body),
            "{method} {path}: the public key sees the private document: {}",
            public.body
        );
        assert!(
            public.status == 200 || public.status == 404,
            "{method} {path}: {} {}",
            public.status,
            public.body
        );
        let none = send(&s, None, method, &path, &body);
        let unknown = send(&s, Some("no-such-key"), method, &path, &body);
        let hr = send(&s, Some(HR), method, &path, &body);
        let writer = send(&s, Some(WRITER), method, &path, &body);
        if path == "/retrieval" {
            // Dify's own codes.
            assert_eq!((none.status, code(&none, "error_code")), (403, json!(1001)));
            assert_eq!(
                (unknown.status, code(&unknown, "error_code")),
                (403, json!(1002))
            );
            assert_eq!((hr.status, code(&hr, "error_code")), (403, json!(1002)));
        } else {
            for a in [&none, &unknown] {
                assert_eq!(a.status, 401, "{method} {path}: {}", a.body);
                assert_eq!(code(a, "error")["code"], "unauthorized");
                assert!(a.head.contains("www-authenticate: bearer"), "{}", a.head);
            }
            for a in [&hr, &writer] {
                assert_eq!(a.status, 403, "{method} {path}: {}", a.body);
                assert_eq!(code(a, "error")["code"], "forbidden");
            }
        }
    }
    // What lies outside the filter answers exactly as what does not exist.
    let like_missing = |path: &str, missing: &str| {
        let hidden = send(&s, Some(PUBLIC), "GET", path, "");
        let absent = send(
            &s,
            Some(PUBLIC),
            "GET",
            &path.replace("secret", missing),
            "",
        );
        assert_eq!(hidden.status, 404, "{path}: {}", hidden.body);
        assert_eq!(
            hidden.body.replace("secret", missing),
            absent.body,
            "{path}"
        );
    };
    like_missing("/passages/secret%231", "nothing");
    like_missing("/passages/secret%231/around", "nothing");
    like_missing("/passages/secret%231/related", "nothing");
    let store = |id: &str| {
        send(
            &s,
            Some(PUBLIC),
            "POST",
            &format!("/v1/vector_stores/{id}/search"),
            &json!({"query": "budget plan"}).to_string(),
        )
    };
    let (hidden, absent) = (store("secret"), store("nothing"));
    assert_eq!(hidden.status, 404);
    assert_eq!(hidden.body.replace("secret", "nothing"), absent.body);
    let kb = |id: &str| {
        let body = json!({"knowledge_id": id, "query": "budget plan",
            "retrieval_setting": {"top_k": 3, "score_threshold": 0}});
        send(&s, Some(PUBLIC), "POST", "/retrieval", &body.to_string())
    };
    let (hidden, absent) = (kb("secret"), kb("nothing"));
    assert_eq!(hidden.status, 404);
    assert_eq!(hidden.body.replace("secret", "nothing"), absent.body);
    let stats = send(&s, Some(PUBLIC), "GET", "/stats", "");
    assert_eq!(
        serde_json::from_str::<Value>(&stats.body).unwrap()["documents"],
        1
    );
    // The page's shell is open (it asks for the key); it holds no passage.
    for path in ["/", "/p/secret%231"] {
        let page = send(&s, None, "GET", path, "");
        assert_eq!(page.status, 200);
        assert!(!page.body.contains("classified"));
    }
    let health = send(&s, None, "GET", "/healthz", "");
    assert_eq!(health.status, 200);
    // Writes: a read key may not, no key is a 401.
    let doc = json!({"doc": "x", "text": "Some text."}).to_string();
    assert_eq!(send(&s, Some(ALL), "POST", "/documents", &doc).status, 403);
    assert_eq!(send(&s, None, "POST", "/documents", &doc).status, 401);
    assert_eq!(
        send(&s, Some(WRITER), "DELETE", "/documents/x", "").status,
        404
    );
    assert_eq!(send(&s, Some(WRITER), "POST", "/backups", "{}").status, 403);
}

fn code(a: &Answer, field: &str) -> Value {
    serde_json::from_str::<Value>(&a.body).unwrap_or(Value::Null)[field].clone()
}

#[test]
fn a_key_past_its_rate_waits_and_a_reloaded_key_file_takes_effect() {
    let dir = tempfile::tempdir().unwrap();
    let keys = key_file(dir.path());
    let s = serve_with(
        &dir.path().join("idx"),
        &["--keys", keys.to_str().unwrap()],
        &[],
    );
    let statuses: Vec<Answer> = (0..4)
        .map(|_| send(&s, Some(SLOW), "GET", "/stats", ""))
        .collect();
    assert_eq!(statuses[0].status, 200, "{}", statuses[0].body);
    assert_eq!(statuses[1].status, 200);
    let limited = statuses.iter().find(|a| a.status == 429).expect("a 429");
    assert!(limited.head.contains("retry-after: "), "{}", limited.head);
    assert_eq!(code(limited, "error")["code"], "rate_limited");
    // Another key is not slowed by it.
    assert_eq!(send(&s, Some(ALL), "GET", "/stats", "").status, 200);
    // The key file without `all`, reloaded: that key stops working, the others go on.
    let text = std::fs::read_to_string(&keys).unwrap();
    let mut file: Value = serde_json::from_str(&text).unwrap();
    file["keys"].as_array_mut().unwrap().remove(0);
    std::fs::write(&keys, file.to_string()).unwrap();
    let pid = s.0.id() as i32;
    // SAFETY: kill sends a signal to the child this test started.
    assert_eq!(unsafe { libc::kill(pid, libc::SIGHUP) }, 0);
    let mut refused = false;
    for _ in 0..100 {
        if send(&s, Some(ALL), "GET", "/stats", "").status == 401 {
            refused = true;
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    assert!(
        refused,
        "the reloaded key file still accepts the removed key"
    );
    assert_eq!(send(&s, Some(PUBLIC), "GET", "/stats", "").status, 200);
    // A broken file keeps the keys as they were.
    std::fs::write(&keys, "{not json").unwrap();
    assert_eq!(unsafe { libc::kill(pid, libc::SIGHUP) }, 0);
    std::thread::sleep(std::time::Duration::from_millis(300));
    assert_eq!(send(&s, Some(PUBLIC), "GET", "/stats", "").status, 200);
    assert!(s.0.id() > 0);
}
