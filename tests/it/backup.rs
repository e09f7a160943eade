//! Backups of a serving index: `POST /backups` on a real `semsearch serve` (tiny model) and
//! `semsearch backup` from another process; each backup opens to what was acknowledged.

use std::process::Command;

use crate::common::tiny_model_dir;
use crate::process::{http, request, serve_with};

fn add(addr: &str, doc: &str, key: &str) {
    let body = format!(
        r#"{{"doc": "{doc}", "text": "The {doc} note about the lake.\n\nA second paragraph of {doc}."}}"#
    );
    let a = request(
        addr,
        addr,
        "POST",
        "/documents",
        &format!("authorization: Bearer {key}\r\n"),
        &body,
    );
    assert_eq!(a.status, 201, "{}", a.body);
}

fn docs(addr: &str) -> String {
    let (status, body) = http(addr, "GET", "/documents", "");
    assert_eq!(status, 200, "{body}");
    body
}

#[test]
fn a_backup_over_http_holds_what_was_acknowledged_and_needs_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let backups = dir.path().join("saved");
    let s = serve_with(
        &dir.path().join("idx"),
        &["--backup-dir", backups.to_str().unwrap()],
        &[("SEMSEARCH_API_KEY", "k1")],
    );
    for d in ["a", "b", "c"] {
        add(&s.1, d, "k1");
    }
    let before = docs(&s.1);
    let (status, body) = http(&s.1, "POST", "/backups", "{}");
    assert_eq!(status, 401, "{body}");
    let key = "authorization: Bearer k1\r\n";
    let bad = request(&s.1, &s.1, "POST", "/backups", key, r#"{"name": "../up"}"#);
    assert_eq!(bad.status, 400, "{}", bad.body);
    let a = request(&s.1, &s.1, "POST", "/backups", key, r#"{"name": "first"}"#);
    assert_eq!(a.status, 201, "{}", a.body);
    let v: serde_json::Value = serde_json::from_str(&a.body).unwrap();
    assert_eq!(v["documents"], 3, "{v}");
    let again = request(&s.1, &s.1, "POST", "/backups", key, r#"{"name": "first"}"#);
    assert_eq!(again.status, 409, "{}", again.body);
    // Later writes do not reach the backup.
    add(&s.1, "d", "k1");
    let copy = serve_with(&backups.join("first"), &[], &[]);
    assert_eq!(docs(&copy.1), before);
    let (status, body) = http(
        &copy.1,
        "POST",
        "/search",
        r#"{"query": "lake", "mode": "lexical", "k": 10}"#,
    );
    assert_eq!(status, 200, "{body}");
    let hits: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(hits["results"].as_array().unwrap().len(), 3, "{hits}");
}

#[test]
fn the_backup_command_copies_a_serving_index_and_refuses_an_existing_folder() {
    let dir = tempfile::tempdir().unwrap();
    let idx = dir.path().join("idx");
    let s = serve_with(&idx, &[], &[]);
    add(&s.1, "a", "");
    let out = dir.path().join("copy");
    let run = || {
        Command::new(env!("CARGO_BIN_EXE_semsearch"))
            .arg("--model")
            .arg(tiny_model_dir())
            .args(["backup", "--index"])
            .arg(&idx)
            .arg(&out)
            .output()
            .unwrap()
    };
    let done = run();
    assert!(
        done.status.success(),
        "{}",
        String::from_utf8_lossy(&done.stderr)
    );
    let info: serde_json::Value = serde_json::from_slice(&done.stdout).unwrap();
    assert_eq!(
        (info["documents"].clone(), info["passages"].clone()),
        (1.into(), 2.into()),
        "{info}"
    );
    let refused = run();
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("already exists"));
    let copy = serve_with(&out, &[], &[]);
    assert_eq!(docs(&copy.1), docs(&s.1));
}
