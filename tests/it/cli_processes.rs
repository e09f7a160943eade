//! Processes that share an index or a database: an ingest killed mid-way resumes without
//! embedding again what it committed, and two servers on one database see each other's writes.

use std::path::Path;

use crate::cli_flags::{ok, semsearch};
use crate::process::{http, serve, Server};

#[test]
fn a_killed_ingest_resumes_without_embedding_what_it_committed() {
    let dir = tempfile::tempdir().unwrap();
    let (index, input) = (dir.path().join("idx"), dir.path().join("notices.jsonl"));
    let total = 6000;
    let lines: String = (0..total)
        .map(|i| {
            format!(
                "{{\"doc\": \"n{i}\", \"text\": \"第{i}号通知：关于湖区规划第{i}条的说明。\"}}\n"
            )
        })
        .collect();
    std::fs::write(&input, lines).unwrap();
    let mut child = semsearch()
        .args(["ingest", "--index"])
        .arg(&index)
        .arg(&input)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // SIGKILL right after the first batch is committed (12 batches of 512 in all).
    let committed = |index: &Path| -> Option<u64> {
        let m: serde_json::Value =
            serde_json::from_slice(&std::fs::read(index.join("manifest.json")).ok()?).ok()?;
        m["documents"].as_u64().filter(|&d| d > 0)
    };
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    while committed(&index).is_none() && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(2));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let before = committed(&index).expect("a batch was committed before the kill");
    assert!(before < total, "the ingest ended before the kill");
    // The rerun embeds only what was not committed: committed documents are left as they are.
    let out = ok(semsearch()
        .args(["ingest", "--index"])
        .arg(&index)
        .arg(&input)
        .output()
        .unwrap());
    let again = committed(&index).unwrap();
    assert_eq!(again, total, "{out}");
    // Documents the kill left committed after `before` was read count as unchanged too.
    let unchanged: u64 = out
        .split(" unchanged")
        .next()
        .and_then(|head| head.rsplit(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    assert!(unchanged >= before, "{out}");
    assert!(
        out.starts_with(&format!("ingested {} document(s)", total - unchanged)),
        "{out}"
    );
}

/// Two `semsearch serve` processes over one PostgreSQL database: a write through either is
/// visible through the other within a second, and concurrent writes of one document through
/// both leave exactly one whole version.
#[test]
#[ignore = "needs PostgreSQL: SEMSEARCH_TEST_PG=URL, --run-ignored all (scripts/test.sh)"]
fn two_serve_processes_share_one_database() {
    let db = crate::common::TestDb::create();
    // The task queues live beside the (unused) index path: in a temporary folder, not the
    // checkout.
    let tmp = tempfile::tempdir().unwrap();
    let unused = tmp.path().join("no-local-index");
    let a = serve(&unused, &["--store", &db.url]);
    let b = serve(&unused, &["--store", &db.url]);
    let doc = r#"{"doc": "flood", "text": "The council approved a flood plan.\n\nIt raises embankments."}"#;
    assert_eq!(http(&a.1, "POST", "/documents", doc).0, 201);
    let seen = |server: &Server, want: &str| {
        let started = std::time::Instant::now();
        loop {
            let (status, body) = http(&server.1, "GET", "/documents", "");
            assert_eq!(status, 200, "{body}");
            if body.contains(want) {
                return started.elapsed();
            }
            assert!(
                started.elapsed() < std::time::Duration::from_secs(1),
                "not visible within a second: {body}"
            );
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    };
    seen(&b, "\"flood\"");
    assert_eq!(http(&b.1, "DELETE", "/documents/flood", "").0, 200);
    seen(&a, "\"documents\":[]");

    // Version n has n + 1 passages, each naming n: a mixture would show.
    let servers = [a.1.clone(), b.1.clone()];
    let writers: Vec<_> = (0..8)
        .map(|n| {
            let addr = servers[n % 2].clone();
            std::thread::spawn(move || {
                let text = (0..=n)
                    .map(|i| format!("version {n} part {i}."))
                    .collect::<Vec<_>>()
                    .join("\\n\\n");
                let body = format!(r#"{{"doc": "same", "text": "{text}"}}"#);
                assert_eq!(http(&addr, "POST", "/documents", &body).0, 201);
            })
        })
        .collect();
    for w in writers {
        w.join().unwrap();
    }
    for server in [&a, &b] {
        let (_, body) = http(&server.1, "GET", "/documents", "");
        let v: serde_json::Value = serde_json::from_str(&body).unwrap();
        let docs = v["documents"].as_array().unwrap();
        assert_eq!(docs.len(), 1, "{body}");
        let n = docs[0]["passages"].as_u64().unwrap() - 1;
        for i in 0..=n {
            let (status, p) = http(&server.1, "GET", &format!("/passages/same%23{}", i + 1), "");
            assert_eq!(status, 200, "{p}");
            assert!(p.contains(&format!("version {n} part {i}.")), "{p}");
        }
    }
}
