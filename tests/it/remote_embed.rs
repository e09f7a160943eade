//! `--embedder URL`: ingest and search with vectors from another `semsearch serve` (its
//! `/v1/embeddings`), as real processes: the same index as a local ingest, an ingest that
//! survives the remote's `kill -9` and restart, and refusals (another model, a wrong key, a
//! remote that never comes back).

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::cli_flags::{ok, semsearch};
use crate::process::{free_addr, serve_at, serve_with};

/// `total` one-line notices as JSONL.
fn notices(path: &Path, total: usize) {
    let lines: String = (0..total)
        .map(|i| {
            format!(
                "{{\"doc\": \"n{i}\", \"text\": \"第{i}号通知：关于湖区规划第{i}条的说明。\"}}\n"
            )
        })
        .collect();
    std::fs::write(path, lines).unwrap();
}

/// Documents in a local index, from its manifest (None before the first commit).
fn committed(index: &Path) -> Option<u64> {
    let m: serde_json::Value =
        serde_json::from_slice(&std::fs::read(index.join("manifest.json")).ok()?).ok()?;
    m["documents"].as_u64().filter(|&d| d > 0)
}

/// Every notice's stored passage vector, by document (the tiny model ranks these near-identical
/// notices in ties, so the vectors are compared rather than rankings).
fn vectors(index: &Path, total: usize) -> Vec<Vec<f32>> {
    use semsearch::embed::Embedder;
    let model = semsearch::embed::TextEmbedder::load(&crate::common::tiny_model_dir()).unwrap();
    let store = semsearch::index::open(
        &semsearch::index::Location::Folder(index.to_path_buf()),
        model.id(),
        semsearch::index::Access::Existing,
    )
    .unwrap();
    let snap = store.snapshot().unwrap();
    (0..total)
        .map(|i| {
            let key = snap.find(&format!("n{i}#1")).unwrap().expect("stored");
            snap.vectors(&[key]).unwrap()[0].to_vec()
        })
        .collect()
}

/// The top scores of a few searches (k = 1, dense): ties among the tiny model's near-identical
/// notices make the passage ids an unstable thing to compare, the scores are not.
fn answers(index: &Path, extra: &[&str]) -> Vec<String> {
    ["第12号通知", "说明"]
        .iter()
        .map(|q| {
            ok(semsearch()
                .args(["search", "-k", "1", "--mode", "dense", "--index"])
                .arg(index)
                .args(extra)
                .arg(q)
                .output()
                .unwrap())
            .split("score ")
            .nth(1)
            .and_then(|rest| rest.split(']').next())
            .expect("a result")
            .to_string()
        })
        .collect()
}

/// A remote whose reads (embeddings among them) need the key `k1`, its key entry extended by
/// `extra` (`, "rate": {...}`).
fn remote_needing_key(dir: &Path, extra: &str) -> crate::process::Server {
    let keys = dir.join("keys.json");
    let sha = semsearch::server::auth::keys::digest_hex("k1");
    let file =
        format!(r#"{{"keys": [{{"name": "r", "sha256": "{sha}", "actions": ["read"]{extra}}}]}}"#);
    std::fs::write(&keys, file).unwrap();
    serve_with(
        &dir.join("remote"),
        &["--keys", keys.to_str().unwrap()],
        &[],
    )
}

#[test]
fn an_ingest_through_a_remote_that_is_killed_and_restarted_loses_and_repeats_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("notices.jsonl");
    let total = 3000;
    notices(&input, total);
    let (remote_index, index, local) = (
        dir.path().join("remote"),
        dir.path().join("idx"),
        dir.path().join("local"),
    );
    let addr = free_addr();
    let remote = serve_at(&addr, &remote_index, &[], &[]);
    let url = format!("http://{addr}");
    let child = semsearch()
        .args(["ingest", "--embedder", &url, "--index"])
        .arg(&index)
        .arg(&input)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // kill -9 the remote once the first batch is committed, and bring it back 1.5 s later on
    // the same address: the ingest waits and retries meanwhile.
    let deadline = Instant::now() + Duration::from_secs(120);
    while committed(&index).is_none() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(2));
    }
    drop(remote);
    let before = committed(&index).expect("a batch was committed before the kill");
    assert!(before < total as u64, "the ingest ended before the kill");
    std::thread::sleep(Duration::from_millis(1500));
    let back = serve_at(&addr, &remote_index, &[], &[]);
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains("retrying"),
        "the remote was never missed: {stderr}"
    );
    assert_eq!(committed(&index), Some(total as u64));

    // The same index as one embedded here: every document once, the same passages, the same
    // rankings and scores.
    ok(semsearch()
        .args(["ingest", "--index"])
        .arg(&local)
        .arg(&input)
        .output()
        .unwrap());
    let passages = |i: &Path| -> serde_json::Value {
        serde_json::from_slice::<serde_json::Value>(
            &std::fs::read(i.join("manifest.json")).unwrap(),
        )
        .unwrap()["passages"]
            .clone()
    };
    assert_eq!(passages(&index), passages(&local));
    for (i, (a, b)) in vectors(&index, total)
        .iter()
        .zip(vectors(&local, total))
        .enumerate()
    {
        let cos: f32 = a.iter().zip(&b).map(|(x, y)| x * y).sum();
        assert!(cos > 0.9999, "n{i}: cosine {cos} between remote and local");
    }
    // Questions embedded remotely find the same, with the same scores.
    assert_eq!(answers(&local, &["--embedder", &url]), answers(&local, &[]));
    drop(back);
}

#[test]
fn a_remote_of_another_model_a_wrong_key_or_none_at_all_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("n.jsonl");
    notices(&input, 3);
    let remote = remote_needing_key(dir.path(), "");
    let url = format!("http://{}", remote.1);
    let ingest = |model: Option<&Path>, extra: &[&str]| {
        let mut c = match model {
            Some(m) => {
                let mut c = Command::new(env!("CARGO_BIN_EXE_semsearch"));
                c.arg("--model").arg(m);
                c
            }
            None => semsearch(),
        };
        let t = Instant::now();
        let out = c
            .args(["ingest", "--index"])
            .arg(dir.path().join("idx"))
            .args(extra)
            .arg(&input)
            .env_remove("SEMSEARCH_EMBEDDER_KEY")
            .output()
            .unwrap();
        assert!(!out.status.success(), "ingested through {extra:?}");
        (
            String::from_utf8_lossy(&out.stderr).into_owned(),
            t.elapsed(),
        )
    };
    // A key the remote refuses: said at once, not retried.
    let (err, took) = ingest(None, &["--embedder", &url, "--embedder-key", "wrong"]);
    assert!(err.contains("401"), "{err}");
    assert!(took < Duration::from_secs(20), "{took:?}");
    // The right key, but this side's model differs (same shape, other weights).
    let other = dir.path().join("other-model");
    semsearch::embed::tiny::write_model_dir_seeded(&other, 99).unwrap();
    let (err, _) = ingest(Some(&other), &["--embedder", &url, "--embedder-key", "k1"]);
    assert!(err.contains("unknown model"), "{err}");
    // ... and under the remote's model name, its vectors give it away.
    let name = crate::common::tiny_model_dir();
    let name = name.file_name().unwrap().to_str().unwrap();
    let (err, _) = ingest(
        Some(&other),
        &[
            "--embedder",
            &url,
            "--embedder-key",
            "k1",
            "--embedder-model",
            name,
        ],
    );
    assert!(err.contains("does not embed like"), "{err}");
    // Nothing listening: retried for the time given, then a clear failure.
    let gone = format!("http://{}", free_addr());
    let (err, took) = ingest(None, &["--embedder", &gone, "--embedder-retry", "2"]);
    assert!(err.contains("gave up after"), "{err}");
    assert!(took < Duration::from_secs(30), "{took:?}");
    assert!(!dir.path().join("idx").join("manifest.json").exists());
}

/// A remote that answers 429 (a key over its rate, with `Retry-After`) is waited for, not
/// given up on: the ingest completes.
#[test]
fn a_rate_limited_remote_is_waited_for() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("n.jsonl");
    notices(&input, 100);
    let remote = remote_needing_key(dir.path(), r#", "rate": {"per_second": 2, "burst": 2}"#);
    let index = dir.path().join("idx");
    let out = semsearch()
        .args(["ingest", "--embedder-key", "k1", "--embedder"])
        .arg(format!("http://{}", remote.1))
        .arg("--index")
        .arg(&index)
        .arg(&input)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("HTTP 429"), "never rate-limited: {stderr}");
    assert_eq!(committed(&index), Some(100));
}
