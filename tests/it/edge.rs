//! The HTTP edge of a real `semsearch serve` (tiny model, real sockets): the hosts it answers
//! to, bounded ids and titles, fixed metric labels, JSON errors for every status, the auth
//! scheme, security headers, header timeouts, many stalled connections, a bounded shutdown.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use crate::process::{raw, request, serve, serve_with};

const NOTE: &str = r#"{"doc": "note", "text": "A note about the lake."}"#;

fn doc_ids(addr: &str) -> Vec<String> {
    let a = request(addr, "localhost", "GET", "/documents", "", "");
    assert_eq!(a.status, 200, "{}", a.body);
    let v: serde_json::Value = serde_json::from_str(&a.body).unwrap();
    v["documents"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["doc"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn foreign_hosts_are_refused_on_every_route() {
    let dir = tempfile::tempdir().unwrap();
    let s = serve_with(
        &dir.path().join("idx"),
        &[],
        &[("SEMSEARCH_PUBLIC_URL", "http://search.example:9000/")],
    );
    let port = s.1.rsplit(':').next().unwrap().to_string();
    for host in [
        "attacker.example",
        &format!("attacker.example:{port}"),
        "127.0.0.1.evil.example",
    ] {
        for (method, path, body) in [
            ("POST", "/documents", NOTE),
            ("DELETE", "/documents/note", ""),
            ("GET", "/documents", ""),
            ("POST", "/search", r#"{"query": "lake"}"#),
            ("GET", "/", ""),
            ("POST", "/mcp", "{}"),
        ] {
            let a = request(&s.1, host, method, path, "", body);
            assert_eq!(
                a.status, 403,
                "{method} {path} with Host {host}: {}",
                a.body
            );
            assert!(a.body.contains("forbidden_host"), "{}", a.body);
        }
    }
    assert!(doc_ids(&s.1).is_empty(), "a refused write was stored");
    for host in [
        format!("localhost:{port}"),
        format!("127.0.0.1:{port}"),
        format!("[::1]:{port}"),
        "search.example".to_string(),
        "SEARCH.example:9000".to_string(),
    ] {
        assert_eq!(
            request(&s.1, &host, "GET", "/healthz", "", "").status,
            200,
            "{host}"
        );
    }
    assert_eq!(
        request(&s.1, "localhost", "POST", "/documents", "", NOTE).status,
        201
    );
    let s2 = serve_with(
        &dir.path().join("idx2"),
        &[],
        &[("SEMSEARCH_ALLOWED_HOSTS", "intranet.example, other.example")],
    );
    assert_eq!(
        request(&s2.1, "intranet.example", "GET", "/healthz", "", "").status,
        200
    );
    assert_eq!(
        request(&s2.1, "attacker.example", "GET", "/healthz", "", "").status,
        403
    );
}

#[test]
fn ids_and_titles_are_bounded_and_never_rewritten() {
    let dir = tempfile::tempdir().unwrap();
    let s = serve(&dir.path().join("idx"), &[]);
    let post = |doc: &str, title: &str| {
        let body =
            serde_json::json!({"doc": doc, "title": title, "text": "Some text about the lake."});
        request(
            &s.1,
            "localhost",
            "POST",
            "/documents",
            "",
            &body.to_string(),
        )
    };
    let longest = "a".repeat(256);
    assert_eq!(post(&longest, "t").status, 201);
    for bad in [
        "a".repeat(257),
        " note".into(),
        "note ".into(),
        "nul\u{0}id".into(),
        "line\nbreak".into(),
        "e\u{301}".into(),
        "a#1".into(),
    ] {
        let a = post(&bad, "t");
        assert_eq!(a.status, 400, "{bad:?}: {}", a.body);
        assert!(a.body.contains("invalid_request"), "{}", a.body);
    }
    let a = post("titled", &"标".repeat(400));
    assert_eq!(a.status, 400, "{}", a.body);
    assert!(
        a.body.contains("title longer than 1024 bytes"),
        "{}",
        a.body
    );
    // A 100 KB id costs nothing: refused before anything is embedded or written.
    let t = Instant::now();
    assert_eq!(post(&"x".repeat(100_000), "t").status, 400);
    assert!(t.elapsed() < Duration::from_secs(5));
    assert_eq!(doc_ids(&s.1), vec![longest.clone()]);
    // Deletes follow the same rule: a malformed id is a 400, not a 404 nor another document.
    let a = request(&s.1, "localhost", "DELETE", "/documents/%20aaa", "", "");
    assert_eq!(a.status, 400, "{}", a.body);
    let a = request(
        &s.1,
        "localhost",
        "DELETE",
        &format!("/documents/{longest}"),
        "",
        "",
    );
    assert_eq!(a.status, 200, "{}", a.body);
}

#[test]
fn invented_methods_do_not_grow_metrics() {
    let dir = tempfile::tempdir().unwrap();
    let s = serve(&dir.path().join("idx"), &[]);
    let metrics = || {
        request(&s.1, "localhost", "GET", "/metrics", "", "")
            .body
            .len()
    };
    let before = metrics();
    for i in 0..2000 {
        let a = raw(
            &s.1,
            &format!("M{i}X /search HTTP/1.1\r\nhost: localhost\r\nconnection: close\r\n\r\n"),
        );
        assert_eq!(a.status, 405, "{}", a.head);
    }
    let after = metrics();
    assert!(
        after < before + 50_000,
        "/metrics grew from {before} to {after} bytes"
    );
}

#[test]
fn every_error_is_json_and_pages_carry_security_headers() {
    let dir = tempfile::tempdir().unwrap();
    let s = serve_with(
        &dir.path().join("idx"),
        &[],
        &[("SEMSEARCH_API_KEY", "k3y")],
    );
    let json_error = |a: &crate::process::Answer, status: u16, code: &str| {
        assert_eq!(a.status, status, "{}\n{}", a.head, a.body);
        assert!(
            a.head.contains("content-type: application/json"),
            "{}",
            a.head
        );
        let v: serde_json::Value = serde_json::from_str(&a.body).unwrap();
        assert_eq!(v["error"]["code"], code, "{}", a.body);
        assert!(!v["error"]["message"].as_str().unwrap().is_empty());
    };
    let a = request(&s.1, "localhost", "PUT", "/search", "", "{}");
    json_error(&a, 405, "method_not_allowed");
    json_error(
        &request(&s.1, "localhost", "GET", "/nowhere", "", ""),
        404,
        "not_found",
    );
    let a = raw(
        &s.1,
        "POST /search HTTP/1.1\r\nhost: localhost\r\ncontent-type: text/plain\r\ncontent-length: 2\r\nconnection: close\r\n\r\nhi",
    );
    json_error(&a, 415, "invalid_request");
    json_error(
        &request(&s.1, "localhost", "POST", "/search", "", "{not json"),
        400,
        "invalid_request",
    );
    let big = format!(r#"{{"query": "{}"}}"#, "x".repeat(5 * 1024 * 1024));
    json_error(
        &request(&s.1, "localhost", "POST", "/search", "", &big),
        413,
        "payload_too_large",
    );
    json_error(
        &request(&s.1, "localhost", "GET", "/passages/%FF%FE", "", ""),
        400,
        "invalid_request",
    );
    // The auth scheme is case-insensitive; the key is not.
    let write = |auth: &str| {
        request(
            &s.1,
            "localhost",
            "POST",
            "/documents",
            &format!("authorization: {auth}\r\n"),
            NOTE,
        )
        .status
    };
    assert_eq!(write("bearer k3y"), 201);
    assert_eq!(write("BEARER  k3y"), 201);
    assert_eq!(write("Bearer K3Y"), 401);
    assert_eq!(write("Basic k3y"), 401);
    let page = request(&s.1, "localhost", "GET", "/", "", "");
    assert_eq!(page.status, 200);
    for h in [
        "content-security-policy: default-src 'none'",
        "x-content-type-options: nosniff",
        "x-frame-options: deny",
    ] {
        assert!(page.head.contains(h), "{h} missing:\n{}", page.head);
    }
}

/// Opens a connection and sends half a request header, then nothing.
fn stall(addr: &str) -> TcpStream {
    let mut c = TcpStream::connect(addr).unwrap();
    c.write_all(b"GET /healthz HTTP/1.1\r\nhost: localh")
        .unwrap();
    c
}

#[test]
fn stalled_connections_are_cut_and_do_not_starve_others() {
    let dir = tempfile::tempdir().unwrap();
    let s = serve(&dir.path().join("idx"), &[]);
    let t = Instant::now();
    let mut stalled: Vec<TcpStream> = (0..300).map(|_| stall(&s.1)).collect();
    let a = request(&s.1, "localhost", "GET", "/healthz", "", "");
    assert_eq!(a.status, 200);
    assert!(
        t.elapsed() < Duration::from_secs(10),
        "healthz took {:?} beside 300 stalled connections",
        t.elapsed()
    );
    // The half-sent header is cut (closed by the server) well within 60 s.
    let c = &mut stalled[0];
    c.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
    let mut buf = [0u8; 512];
    let n = c.read(&mut buf).unwrap_or(0);
    let waited = t.elapsed();
    assert!(
        waited < Duration::from_secs(60),
        "a stalled header was held {waited:?}"
    );
    // hyper answers 408 or just closes: either way nothing is served from half a header.
    let got = String::from_utf8_lossy(&buf[..n]);
    assert!(n == 0 || got.starts_with("HTTP/1.1 408"), "{got}");
}

#[test]
fn a_document_of_700k_sentences_is_refused_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let s = serve(&dir.path().join("idx"), &[]);
    let body = serde_json::json!({"doc": "big", "text": "甲。".repeat(690_000)}).to_string();
    let t = Instant::now();
    let a = request(&s.1, "localhost", "POST", "/documents", "", &body);
    assert_eq!(a.status, 413, "{}", a.body);
    assert!(a.body.contains("document_too_large"), "{}", a.body);
    assert!(t.elapsed() < Duration::from_secs(10), "{:?}", t.elapsed());
    assert_eq!(
        request(&s.1, "localhost", "GET", "/healthz", "", "").status,
        200
    );
    assert!(doc_ids(&s.1).is_empty());
}

#[test]
fn sigterm_ends_the_server_within_ten_seconds() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = serve(&dir.path().join("idx"), &[]);
    let _stalled = stall(&s.1);
    let _idle = TcpStream::connect(&s.1).unwrap();
    assert_eq!(
        request(&s.1, "localhost", "POST", "/documents", "", NOTE).status,
        201
    );
    // A write in flight that takes long (90,000 short sentences to split and embed).
    let addr = s.1.clone();
    let _busy = std::thread::spawn(move || {
        let body = serde_json::json!({"doc": "busy", "text": "甲乙。".repeat(90_000)}).to_string();
        request(&addr, "localhost", "POST", "/documents", "", &body)
    });
    std::thread::sleep(Duration::from_millis(500));
    let t = Instant::now();
    // SAFETY: sending SIGTERM to our own child.
    unsafe { libc::kill(s.0.id() as i32, libc::SIGTERM) };
    loop {
        if s.0.try_wait().unwrap().is_some() {
            break;
        }
        assert!(
            t.elapsed() < Duration::from_secs(10),
            "serve still running 10 s after SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn a_long_filter_list_costs_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let s = serve(&dir.path().join("idx"), &[]);
    assert_eq!(
        request(&s.1, "localhost", "POST", "/documents", "", NOTE).status,
        201
    );
    let search = |ids: Vec<String>| {
        let body = serde_json::json!({"query": "lake", "filters": {"type": "in", "key": "doc", "value": ids}});
        let t = Instant::now();
        let a = request(
            &s.1,
            "localhost",
            "POST",
            "/v1/vector_stores/all/search",
            "",
            &body.to_string(),
        );
        (a, t.elapsed())
    };
    let (a, took) = search((0..2000).map(|i| format!("unknown-{i}")).collect());
    assert_eq!(a.status, 400, "{}", a.body);
    assert!(a.body.contains("more than 256 conditions"), "{}", a.body);
    assert!(took < Duration::from_secs(2), "{took:?}");
    // 99 unknown ids and the one that exists: one search, not a hundred.
    let mut ids: Vec<String> = (0..99).map(|i| format!("unknown-{i}")).collect();
    ids.push("note".into());
    let (a, took) = search(ids);
    assert_eq!(a.status, 200, "{}", a.body);
    assert!(a.body.contains("\"note\""), "{}", a.body);
    assert!(took < Duration::from_secs(2), "{took:?}");
}
