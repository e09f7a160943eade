//! Writes as durable tasks, against a served process on the tiny model: `?wait=false` and
//! batches answer 202 with a task that runs to `succeeded` in order, bad input is refused
//! before it is queued, a queued task can be cancelled (and only then), and a task acknowledged
//! with 202 survives a `kill -9` of the server and runs after the restart.

use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::process::{request, serve, Answer, Server};

fn send(s: &Server, method: &str, path: &str, content_type: &str, body: &str) -> Answer {
    // `request` always sends JSON; a batch of JSON Lines says so itself.
    if content_type == "application/json" {
        return request(&s.1, "localhost", method, path, "", body);
    }
    crate::process::raw(
        &s.1,
        &format!(
            "{method} {path} HTTP/1.1\r\nhost: localhost\r\ncontent-type: {content_type}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
            body.len()
        ),
    )
}

fn json_of(a: &Answer) -> Value {
    serde_json::from_str(&a.body).unwrap_or_else(|_| panic!("not JSON: {} {}", a.status, a.body))
}

/// JSON Lines of `n` documents `<prefix>0..`.
fn batch(prefix: &str, n: usize) -> String {
    (0..n)
        .map(|i| {
            json!({"doc": format!("{prefix}{i}"), "text": format!("Paragraph {i} about the lake and the plan.")})
                .to_string()
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Task `id` once it has ended (or the test fails after `limit`).
fn ended(s: &Server, id: &str, limit: Duration) -> Value {
    let t0 = Instant::now();
    loop {
        let t = json_of(&send(
            s,
            "GET",
            &format!("/tasks/{id}"),
            "application/json",
            "",
        ));
        let status = t["status"].as_str().unwrap_or_default().to_string();
        if ["succeeded", "failed", "canceled"].contains(&status.as_str()) {
            return t;
        }
        assert!(t0.elapsed() < limit, "task {id} still {status}: {t}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn documents(s: &Server) -> Vec<String> {
    let list = json_of(&send(s, "GET", "/documents", "application/json", ""));
    list["documents"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["doc"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn writes_queued_as_tasks_run_in_order_and_report_their_end() {
    let dir = tempfile::tempdir().unwrap();
    let s = serve(&dir.path().join("idx"), &[]);
    // A JSON document stays synchronous unless the client asks for a task.
    let one = json!({"doc": "now", "text": "Written at once."}).to_string();
    assert_eq!(
        send(&s, "POST", "/documents", "application/json", &one).status,
        201
    );
    let later = json!({"doc": "later", "text": "Written by a task."}).to_string();
    let a = send(
        &s,
        "POST",
        "/documents?wait=false",
        "application/json",
        &later,
    );
    assert_eq!(a.status, 202, "{}", a.body);
    let task = json_of(&a);
    let id = task["task_id"].as_str().unwrap().to_string();
    assert_eq!(task["status"], "queued");
    assert!(
        a.head.contains(&format!("location: /tasks/{id}")),
        "{}",
        a.head
    );
    let done = ended(&s, &id, Duration::from_secs(60));
    assert_eq!(done["status"], "succeeded", "{done}");
    assert_eq!(done["results"][0]["doc"], "later");
    assert!(done["duration_ms"].is_u64() && done["finished_at"].is_string());

    // A batch is one task; its documents are written in order.
    let a = send(
        &s,
        "POST",
        "/documents/batch",
        "application/x-ndjson",
        &batch("b", 5),
    );
    assert_eq!(a.status, 202, "{}", a.body);
    let id = json_of(&a)["task_id"].as_str().unwrap().to_string();
    let done = ended(&s, &id, Duration::from_secs(60));
    assert_eq!(done["status"], "succeeded", "{done}");
    assert_eq!(done["documents"], 5);
    assert_eq!(done["progress"]["documents_done"], 5);
    let written: Vec<&str> = done["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["doc"].as_str().unwrap())
        .collect();
    assert_eq!(written, ["b0", "b1", "b2", "b3", "b4"]);
    let mut docs = documents(&s);
    docs.sort();
    assert_eq!(docs, ["b0", "b1", "b2", "b3", "b4", "later", "now"]);
    // A JSON array, written at once when asked.
    let array = json!([{"doc": "x1", "text": "One."}, {"doc": "x2", "text": "Two."}]).to_string();
    let a = send(
        &s,
        "POST",
        "/documents/batch?wait=true",
        "application/json",
        &array,
    );
    assert_eq!(a.status, 201, "{}", a.body);
    assert_eq!(json_of(&a)["results"].as_array().map(Vec::len), Some(2));

    // Refused before anything is queued, each naming what is wrong.
    let before = json_of(&send(&s, "GET", "/tasks", "application/json", ""))["tasks"]
        .as_array()
        .unwrap()
        .len();
    for (path, ct, body, want) in [
        (
            "/documents/batch",
            "application/x-ndjson",
            "{\"doc\": \"a\", \"text\": \"ok\"}\n{\"doc\": 5}".to_string(),
            "document 2",
        ),
        (
            "/documents/batch",
            "application/x-ndjson",
            "{\"doc\": \"d\", \"text\": \"a\"}\n{\"doc\": \"d\", \"text\": \"b\"}".to_string(),
            "d",
        ),
        (
            "/documents/batch",
            "application/x-ndjson",
            "{\"doc\": \"e\", \"text\": \"  \"}".to_string(),
            "empty",
        ),
        (
            "/documents/batch",
            "application/x-ndjson",
            "\n\n".to_string(),
            "at least one",
        ),
        (
            "/documents/batch",
            "text/plain",
            batch("t", 1),
            "JSON Lines",
        ),
        (
            "/documents/batch?wait=maybe",
            "application/x-ndjson",
            batch("t", 1),
            "wait",
        ),
        (
            "/documents/batch?mode=fast",
            "application/x-ndjson",
            batch("t", 1),
            "query",
        ),
        (
            "/documents?wait=false&x=1",
            "application/json",
            one.clone(),
            "query",
        ),
        (
            "/tasks?status=bogus",
            "application/json",
            String::new(),
            "status",
        ),
    ] {
        let method = if path.starts_with("/tasks") {
            "GET"
        } else {
            "POST"
        };
        let a = send(&s, method, path, ct, &body);
        assert!(
            a.status == 400 || a.status == 415,
            "{path}: {} {}",
            a.status,
            a.body
        );
        assert!(a.body.contains(want), "{path}: {}", a.body);
    }
    let after = json_of(&send(&s, "GET", "/tasks", "application/json", ""));
    assert_eq!(after["tasks"].as_array().unwrap().len(), before, "{after}");
    assert_eq!(
        send(&s, "GET", "/tasks/999999", "application/json", "").status,
        404
    );
    // Newest first; filtered by status.
    let listed = json_of(&send(
        &s,
        "GET",
        "/tasks?status=succeeded&limit=1",
        "application/json",
        "",
    ));
    assert_eq!(listed["tasks"][0]["task_id"].as_str(), Some(id.as_str()));
    assert_eq!(listed["tasks"].as_array().unwrap().len(), 1);
    // An ended task cannot be cancelled.
    let a = send(
        &s,
        "DELETE",
        &format!("/tasks/{id}"),
        "application/json",
        "",
    );
    assert_eq!(a.status, 409, "{}", a.body);

    // A task queued behind a long one is cancelled, and nothing of it is written.
    let long = send(
        &s,
        "POST",
        "/documents/batch",
        "application/x-ndjson",
        &batch("long", 300),
    );
    assert_eq!(long.status, 202);
    let behind = send(
        &s,
        "POST",
        "/documents/batch",
        "application/x-ndjson",
        &batch("gone", 3),
    );
    let behind_id = json_of(&behind)["task_id"].as_str().unwrap().to_string();
    let c = send(
        &s,
        "DELETE",
        &format!("/tasks/{behind_id}"),
        "application/json",
        "",
    );
    assert_eq!(c.status, 200, "{}", c.body);
    assert_eq!(json_of(&c)["status"], "canceled");
    let long_id = json_of(&long)["task_id"].as_str().unwrap().to_string();
    assert_eq!(
        ended(&s, &long_id, Duration::from_secs(240))["status"],
        "succeeded"
    );
    assert_eq!(
        ended(&s, &behind_id, Duration::from_secs(1))["status"],
        "canceled"
    );
    assert!(!documents(&s).iter().any(|d| d.starts_with("gone")));
}

#[test]
fn a_task_acknowledged_with_202_survives_kill_9() {
    let dir = tempfile::tempdir().unwrap();
    let index = dir.path().join("idx");
    let s = serve(&index, &[]);
    let first = send(
        &s,
        "POST",
        "/documents/batch",
        "application/x-ndjson",
        &batch("k", 1000),
    );
    assert_eq!(first.status, 202, "{}", first.body);
    let second = send(
        &s,
        "POST",
        "/documents/batch",
        "application/x-ndjson",
        &batch("q", 20),
    );
    assert_eq!(second.status, 202, "{}", second.body);
    let progress = json_of(&send(&s, "GET", "/tasks?limit=2", "application/json", ""));
    // 1,000 documents are dozens of fsynced writes: the kill lands before the first task ends
    // (so this test sees a task resumed, not one already done).
    assert_ne!(progress["tasks"][1]["status"], "succeeded", "{progress}");
    // SIGKILL, with the first task queued or part-way through.
    drop(s);
    let s = serve(&index, &[]);
    for (a, n, prefix) in [(&first, 1000, "k"), (&second, 20, "q")] {
        let id = json_of(a)["task_id"].as_str().unwrap().to_string();
        let done = ended(&s, &id, Duration::from_secs(240));
        assert_eq!(
            done["status"], "succeeded",
            "{done} (before the kill: {progress})"
        );
        assert_eq!(done["progress"]["documents_done"], n);
        let docs = documents(&s);
        let have = docs.iter().filter(|d| d.starts_with(prefix)).count();
        assert_eq!(
            have, n,
            "task {id}: {have} of {n} documents after the restart"
        );
    }
}
