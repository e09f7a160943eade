//! The command line's flags on the tiny model, in real processes: every fusion flag changes what
//! `search`, `serve` and `eval` do, commands that would ignore a flag refuse it, and `ingest`
//! checks its inputs before it touches the index.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use crate::common::tiny_model_dir;
use crate::process::{http, serve};

pub(crate) fn semsearch() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_semsearch"));
    c.arg("--model").arg(tiny_model_dir());
    c
}

pub(crate) fn ok(out: Output) -> String {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn failed(out: Output) -> String {
    assert!(
        !out.status.success(),
        "succeeded: {}",
        String::from_utf8_lossy(&out.stdout)
    );
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Thirty one-clause documents, each with a word no other has, so that a question quoting it has
/// one lexical answer while the tiny model's dense ranking is arbitrary.
const TERMS: [&str; 30] = [
    "太湖",
    "园林",
    "评弹",
    "丝绸",
    "运河",
    "古城",
    "昆曲",
    "刺绣",
    "碧螺春",
    "虎丘",
    "拙政园",
    "寒山寺",
    "平江路",
    "金鸡湖",
    "阳澄湖",
    "东山",
    "西山",
    "同里",
    "周庄",
    "甪直",
    "木渎",
    "光福",
    "吴江",
    "常熟",
    "张家港",
    "太仓",
    "昆山",
    "相城",
    "吴中",
    "姑苏",
];

fn corpus(dir: &Path) -> (PathBuf, PathBuf) {
    let docs = dir.join("docs.jsonl");
    let qa = dir.join("qa.jsonl");
    let (mut d, mut q) = (String::new(), String::new());
    for (i, t) in TERMS.iter().enumerate() {
        let text = format!("第{i}条：加快建设{t}项目，推进高质量发展。");
        d.push_str(
            &serde_json::json!({"doc": format!("d{i}"), "text": text, "clean": false}).to_string(),
        );
        d.push('\n');
        q.push_str(&serde_json::json!({"question": t.to_string(), "evidence": text}).to_string());
        q.push('\n');
    }
    std::fs::write(&docs, d).unwrap();
    std::fs::write(&qa, q).unwrap();
    let index = dir.join("idx");
    ok(semsearch()
        .args(["ingest", "--index"])
        .arg(&index)
        .arg(&docs)
        .output()
        .unwrap());
    (index, qa)
}

fn search(index: &Path, extra: &[&str]) -> Vec<(String, f64)> {
    let out = ok(semsearch()
        .args(["search", "--json", "-k", "5", "--index"])
        .arg(index)
        .args(extra)
        .arg("评弹 zebra")
        .output()
        .unwrap());
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    v["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["id"].as_str().unwrap().to_string(),
                r["score"].as_f64().unwrap(),
            )
        })
        .collect()
}

#[test]
fn search_honours_every_fusion_flag() {
    let dir = tempfile::tempdir().unwrap();
    let (index, _) = corpus(dir.path());
    let default = search(&index, &[]);
    assert_eq!(default[0].0, "d2#1", "the lexical match leads by default");
    // No lexical list, no dense spread weighting: plain RRF over the dense list.
    let dense_only = search(
        &index,
        &[
            "--lexical-weight",
            "0",
            "--dense-spread",
            "0",
            "--rrf-k",
            "10",
        ],
    );
    assert!(
        (dense_only[0].1 - 1.0 / 11.0).abs() < 1e-6,
        "{dense_only:?}"
    );
    let dense: Vec<String> = search(&index, &["--mode", "dense"])
        .into_iter()
        .map(|h| h.0)
        .collect();
    assert_eq!(
        dense_only.iter().map(|h| h.0.clone()).collect::<Vec<_>>(),
        dense
    );
    // --rrf-k moves every score.
    let k30 = search(
        &index,
        &[
            "--lexical-weight",
            "0",
            "--dense-spread",
            "0",
            "--rrf-k",
            "30",
        ],
    );
    assert!((k30[0].1 - 1.0 / 31.0).abs() < 1e-6, "{k30:?}");
    // A huge spread threshold floors the dense weight at 0.2.
    let floored = search(
        &index,
        &[
            "--lexical-weight",
            "0",
            "--dense-spread",
            "100",
            "--rrf-k",
            "10",
        ],
    );
    assert!((floored[0].1 - 0.2 / 11.0).abs() < 1e-6, "{floored:?}");
    // "zebra" is not in the index: the language match is below 1, so its exponent matters.
    let p0 = search(&index, &["--language-power", "0"]);
    let p8 = search(&index, &["--language-power", "8"]);
    let score = |hits: &[(String, f64)], id: &str| hits.iter().find(|h| h.0 == id).map(|h| h.1);
    assert!(score(&p0, "d2#1").unwrap() > score(&p8, "d2#1").unwrap_or(0.0));
    // Bad values are refused.
    let err = failed(
        semsearch()
            .args(["search", "--rrf-k=-1", "--index"])
            .arg(&index)
            .arg("q")
            .output()
            .unwrap(),
    );
    assert!(err.contains("--rrf-k"), "{err}");
}

#[test]
fn eval_honours_fusion_flags() {
    let dir = tempfile::tempdir().unwrap();
    let (index, qa) = corpus(dir.path());
    let eval = |extra: &[&str]| -> serde_json::Value {
        let out = ok(semsearch()
            .args(["eval", "--qa"])
            .arg(&qa)
            .arg("--index")
            .arg(&index)
            .args(extra)
            .output()
            .unwrap());
        let mut v: serde_json::Value = serde_json::from_str(out.lines().next().unwrap()).unwrap();
        v.as_object_mut().unwrap().remove("seconds");
        v.as_object_mut().unwrap().remove("mode");
        v
    };
    let hybrid = eval(&[]);
    assert_eq!(hybrid["recall@1"], 1.0, "{hybrid}");
    let dense = eval(&["--mode", "dense"]);
    assert_ne!(hybrid, dense);
    assert_eq!(
        eval(&["--lexical-weight", "0", "--dense-spread", "0"]),
        dense
    );
    // Passage flags shape the index --squad builds; with --qa they would do nothing.
    let err = failed(
        semsearch()
            .args(["eval", "--max-passage-tokens", "64", "--qa"])
            .arg(&qa)
            .arg("--index")
            .arg(&index)
            .output()
            .unwrap(),
    );
    assert!(err.contains("--squad"), "{err}");
}

#[test]
fn commands_refuse_flags_they_would_ignore() {
    let dir = tempfile::tempdir().unwrap();
    for flag in [
        "--rrf-k",
        "--lexical-weight",
        "--language-power",
        "--dense-spread",
    ] {
        let err = failed(
            semsearch()
                .args(["ingest", flag, "5", "--index"])
                .arg(dir.path().join("i"))
                .arg("x.txt")
                .output()
                .unwrap(),
        );
        assert!(err.contains("unexpected argument"), "{flag}: {err}");
        let err = failed(
            semsearch()
                .args(["related", flag, "5", "d#1"])
                .output()
                .unwrap(),
        );
        assert!(err.contains("unexpected argument"), "{flag}: {err}");
    }
    let err = failed(
        semsearch()
            .args(["search", "--max-passage-tokens", "64", "q"])
            .output()
            .unwrap(),
    );
    assert!(err.contains("unexpected argument"), "{err}");
}

#[test]
fn ingest_checks_inputs_before_the_index() {
    let dir = tempfile::tempdir().unwrap();
    // An index folder whose manifest is garbage: any attempt to open it fails.
    let index = dir.path().join("idx");
    std::fs::create_dir_all(&index).unwrap();
    std::fs::write(index.join("manifest.json"), "garbage").unwrap();
    let bad_id = dir.path().join("bad.jsonl");
    std::fs::write(&bad_id, "{\"doc\": \"a#b\", \"text\": \"the lake\"}\n").unwrap();
    for (input, want) in [
        (dir.path().join("missing.txt"), "missing.txt"),
        (bad_id, "must not contain"),
    ] {
        let err = failed(
            semsearch()
                .args(["ingest", "--index"])
                .arg(&index)
                .arg(&input)
                .output()
                .unwrap(),
        );
        assert!(err.contains(want) && !err.contains("manifest"), "{err}");
    }
    assert_eq!(
        std::fs::read_to_string(index.join("manifest.json")).unwrap(),
        "garbage"
    );
}

#[test]
fn no_clean_keeps_every_line() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("note.txt");
    std::fs::write(&file, "首页 > 新闻\n版权所有 © 2025\n真正的内容在这里\n").unwrap();
    let count = |extra: &[&str]| -> String {
        let index = dir.path().join(format!("idx{}", extra.len()));
        ok(semsearch()
            .args(["ingest", "--index"])
            .arg(&index)
            .args(extra)
            .arg(&file)
            .output()
            .unwrap())
    };
    assert!(count(&[]).contains("1 passage(s)"));
    assert!(count(&["--no-clean"]).contains("3 passage(s)"));
    // Again into the same index: the same passages are left alone (nothing embedded), and with
    // --skip-existing the document is not even compared.
    let again = count(&["--no-clean"]);
    assert!(
        again.contains("0 passage(s)") && again.contains("1 unchanged"),
        "{again}"
    );
    let again = count(&["--skip-existing"]);
    assert!(
        again.contains("0 passage(s)") && again.contains("skipped 1"),
        "{again}"
    );
}

#[test]
fn folders_are_read_recursively_with_path_ids() {
    let dir = tempfile::tempdir().unwrap();
    let lib = dir.path().join("lib");
    std::fs::create_dir_all(lib.join("laws")).unwrap();
    std::fs::write(
        lib.join("laws/tax.md"),
        "# Tax\n\nThe lake tax is five a year.\n",
    )
    .unwrap();
    std::fs::write(lib.join("notes.txt"), "The river plan is safe.\n").unwrap();
    std::fs::write(lib.join("image.png"), [0u8, 1, 2]).unwrap();
    let index = dir.path().join("idx");
    let out = ok(semsearch()
        .args(["ingest", "--index"])
        .arg(&index)
        .arg(&lib)
        .output()
        .unwrap());
    assert!(out.contains("ingested 2 document(s)"), "{out}");
    let out = ok(semsearch()
        .args(["search", "--json", "--mode", "lexical", "--index"])
        .arg(&index)
        .arg("tax")
        .output()
        .unwrap());
    assert!(out.contains("\"doc\":\"laws.tax\""), "{out}");
}

#[test]
fn serve_honours_fusion_flags_and_survives_hostile_posts() {
    let dir = tempfile::tempdir().unwrap();
    let (index, _) = corpus(dir.path());
    let server = serve(
        &index,
        &[
            "--lexical-weight",
            "0",
            "--dense-spread",
            "0",
            "--rrf-k",
            "10",
        ],
    );
    let (st, body) = http(&server.1, "POST", "/search", r#"{"query": "评弹", "k": 3}"#);
    assert_eq!(st, 200, "{body}");
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert!(
        (v["results"][0]["score"].as_f64().unwrap() - 1.0 / 11.0).abs() < 1e-6,
        "{v}"
    );
    // 100,000 nested divs, 1.1 MB: refused with a 400; the process is still serving after.
    let n = 100_000;
    let html = format!("{}深层的文字。{}", "<div>".repeat(n), "</div>".repeat(n));
    let doc = serde_json::json!({"doc": "deep", "text": html, "format": "html"}).to_string();
    let (st, body) = http(&server.1, "POST", "/documents", &doc);
    assert_eq!(st, 400, "{body}");
    assert_eq!(http(&server.1, "GET", "/healthz", "").0, 200);
}
