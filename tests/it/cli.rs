//! The command line on the real corpus with the real model: ingest, search --json, embed, errors.

use std::process::Command;

use crate::common::{fixture, model_dir};

fn semsearch() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_semsearch"));
    c.arg("--model").arg(model_dir("multilingual-e5-small"));
    c
}

#[test]
fn ingest_then_search_json() {
    let dir = tempfile::tempdir().unwrap();
    let index = dir.path().join("idx");
    ingest_then_search(&["--index".into(), index.clone().into()]);
    // No passage of the index carries page chrome.
    let all = std::fs::read_dir(&index)
        .unwrap()
        .flatten()
        .find(|e| e.file_name().to_string_lossy().starts_with("seg-"))
        .unwrap();
    let stored = std::fs::read_to_string(all.path().join("passages.jsonl")).unwrap();
    for chrome in [
        "j9",
        "当前位置",
        "更新时间",
        "Copyright",
        "ICP备",
        "热线电话",
        "扫一扫",
        "(图1)",
    ] {
        assert!(!stored.contains(chrome), "{chrome} in the index");
    }
}

/// The same command-line session on the shared store (PostgreSQL), same assertions.
#[test]
#[ignore = "needs PostgreSQL: SEMSEARCH_TEST_PG=URL, --run-ignored all (scripts/test.sh)"]
fn ingest_then_search_json_on_postgres() {
    let db = crate::common::TestDb::create();
    ingest_then_search(&["--store".into(), db.url.clone().into()]);
}

/// Ingest the corpus into `location` (`--index DIR` or `--store URL`), then search it.
fn ingest_then_search(location: &[std::ffi::OsString]) {
    let out = semsearch()
        .arg("ingest")
        .args(location)
        .arg(fixture("corpus/suzhou-15th-five-year-plan-proposal.txt"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("ingested 1 document(s)"));

    let out = semsearch()
        .args(["search", "--json", "-k", "5"])
        .args(location)
        .arg("哪一种经验要坚持和发展？枫桥经验")
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let results = v["results"].as_array().unwrap();
    assert_eq!(results.len(), 5);
    for r in results {
        for key in ["id", "doc", "title", "section", "clause", "text", "score"] {
            assert!(r.get(key).is_some(), "missing {key} in {r}");
        }
        assert_eq!(
            r["title"],
            "中共苏州市委关于制定苏州市国民经济和社会发展第十五个五年规划的建议"
        );
    }
    assert!(results
        .iter()
        .any(|r| r["text"].as_str().unwrap().contains("枫桥经验")));
    let out = semsearch()
        .args(["search", "--json", "--answer", "-k", "3"])
        .args(location)
        .arg("化解基层矛盾要坚持什么经验？")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(
        v["answer"]["text"].as_str().unwrap().contains("枫桥经验"),
        "{}",
        v["answer"]
    );

    let out = semsearch()
        .args(["search", "--mode", "magic"])
        .args(location)
        .arg("q")
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown mode"));

    // Another model on this index is refused with a clear message.
    let out = Command::new(env!("CARGO_BIN_EXE_semsearch"))
        .arg("--model")
        .arg(model_dir("m3e-small"))
        .arg("search")
        .args(location)
        .arg("q")
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("built with model multilingual-e5-small"));
}

#[test]
fn embed_follows_the_contract() {
    use std::io::Write;
    let mut child = semsearch()
        .args(["embed", "--query"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all("苏州\nSuzhou\n\n".as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    let lines: Vec<Vec<f32>> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 3);
    for v in &lines {
        assert_eq!(v.len(), 384);
        assert!((v.iter().map(|x| x * x).sum::<f32>() - 1.0).abs() < 1e-3);
    }
}

#[test]
fn missing_model_is_a_clear_error() {
    let out = Command::new(env!("CARGO_BIN_EXE_semsearch"))
        .args(["--model", "/nonexistent/model", "embed"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("scripts/fetch-model.sh"), "{err}");
}

/// `eval --squad` end to end on a small SQuAD file, blank question included (the public CMRC
/// trial set has two): every mode reports, the blank one counts as a miss, answers are checked.
#[test]
fn eval_squad_counts_blank_questions_as_misses() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("mini.json");
    let squad = serde_json::json!({"data": [{"paragraphs": [
        {"context": "太湖苏州辖区连续18年安全度夏。苏州园林闻名天下。",
         "qas": [{"id": "1", "question": "太湖苏州辖区连续多少年安全度夏？", "answers": [{"text": "18年", "answer_start": 8}]},
                 {"id": "2", "question": "  ", "answers": [{"text": "苏州", "answer_start": 0}]}]},
        {"context": "The Rhine flows through Basel and Strasbourg before reaching Rotterdam.",
         "qas": [{"id": "3", "question": "Which city does the Rhine reach last?", "answers": [{"text": "Rotterdam", "answer_start": 60}]}]}
    ]}]});
    std::fs::write(&file, serde_json::to_vec(&squad).unwrap()).unwrap();
    let out = semsearch()
        .args(["eval", "--compare", "--answers", "--squad"])
        .arg(&file)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines: Vec<serde_json::Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let modes: Vec<&str> = lines.iter().map(|l| l["mode"].as_str().unwrap()).collect();
    assert_eq!(modes, ["hybrid", "dense", "lexical"]);
    let hybrid = &lines[0];
    assert_eq!(hybrid["questions"], 3);
    assert_eq!(hybrid["passages"], 2);
    // Two answerable questions out of three, each with a single obvious paragraph.
    assert!(
        (hybrid["recall@1"].as_f64().unwrap() - 2.0 / 3.0).abs() < 1e-9,
        "{hybrid}"
    );
    assert!(
        (hybrid["answer@1"].as_f64().unwrap() - 2.0 / 3.0).abs() < 1e-9,
        "{hybrid}"
    );
}

/// Hybrid fusion never falls below the better of its halves, whatever the question's language:
/// English, Romanian and Turkish questions over English passages (the first three XQuAD
/// articles, 105 questions per language). Romanian and Turkish are Latin script like English, so
/// only the language, not the script, tells the fusion that BM25 matches mere names there.
#[test]
fn hybrid_holds_for_questions_in_other_latin_languages() {
    let dir = tempfile::tempdir().unwrap();
    let slice = |lang: &str| {
        let mut set: serde_json::Value = serde_json::from_slice(
            &std::fs::read(fixture(&format!("eval/xquad.{lang}.json"))).unwrap(),
        )
        .unwrap();
        set["data"].as_array_mut().unwrap().truncate(3);
        let path = dir.path().join(format!("{lang}.json"));
        std::fs::write(&path, serde_json::to_vec(&set).unwrap()).unwrap();
        path
    };
    let (en, ro, tr) = (slice("en"), slice("ro"), slice("tr"));
    let out = semsearch()
        .args(["eval", "--compare", "--squad"])
        .arg(&en)
        .arg("--questions")
        .arg(&en)
        .arg("--questions")
        .arg(&ro)
        .arg("--questions")
        .arg(&tr)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines: Vec<serde_json::Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 9, "three modes for each of three sets");
    for set in lines.chunks(3) {
        let (hybrid, dense, lexical) = (&set[0], &set[1], &set[2]);
        assert_eq!(hybrid["asked"], dense["asked"]);
        assert!(hybrid["questions"].as_u64().unwrap() > 100, "{hybrid}");
        for key in ["recall@1", "recall@5", "mrr@10"] {
            let best = dense[key]
                .as_f64()
                .unwrap()
                .max(lexical[key].as_f64().unwrap());
            let got = hybrid[key].as_f64().unwrap();
            assert!(
                got >= best - 0.01,
                "{}: hybrid {key} {got} below the better half {best}",
                hybrid["asked"]
            );
        }
    }
}
