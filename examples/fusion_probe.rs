//! Dumps what hybrid fusion sees for every question of parallel SQuAD sets, so that weighting
//! rules can be compared offline (used while choosing the language evidence of the fusion; see
//! ARCHITECTURE.md, "Fusion"). One JSON line per question: the dense and lexical rankings (document
//! ids, scores), the lexical evidence, detected languages and the gold document.
//!
//! `cargo run --release --example fusion_probe -- PASSAGES.json CACHE_DIR QUESTIONS.json...`
//! The index is built once into CACHE_DIR and reused.

use std::path::Path;
use std::sync::Arc;

use semsearch::embed::{TextEmbedder, TextKind};
use semsearch::engine::{draft, Engine, Options};
use semsearch::index::{DocFilter, Filter};
use semsearch::ingest::{Format, RawDocument};
use serde_json::{json, Value};

const DEPTH: usize = 50;

fn paragraphs(file: &str) -> anyhow::Result<Vec<(String, String, Vec<String>)>> {
    let v: Value = serde_json::from_slice(&std::fs::read(file)?)?;
    let mut out = Vec::new();
    for (ai, a) in v["data"].as_array().unwrap_or(&vec![]).iter().enumerate() {
        for (pi, p) in a["paragraphs"]
            .as_array()
            .unwrap_or(&vec![])
            .iter()
            .enumerate()
        {
            let qs = p["qas"]
                .as_array()
                .unwrap_or(&vec![])
                .iter()
                .filter_map(|q| q["question"].as_str().map(String::from))
                .collect();
            out.push((
                format!("a{ai}-p{pi}"),
                p["context"].as_str().unwrap_or("").to_string(),
                qs,
            ));
        }
    }
    Ok(out)
}

fn lang(text: &str) -> Value {
    match whatlang::detect(text) {
        Some(i) => json!([i.lang().code(), i.confidence()]),
        None => Value::Null,
    }
}

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    anyhow::ensure!(
        args.len() >= 3,
        "usage: PASSAGES.json CACHE_DIR QUESTIONS.json..."
    );
    let model = std::env::var("SEMSEARCH_MODEL").unwrap_or("models/multilingual-e5-small".into());
    let embedder = Arc::new(TextEmbedder::load(Path::new(&model))?);
    let dir = Path::new(&args[1]);
    let fresh = !dir.join("manifest.json").exists();
    let engine = Engine::open(embedder, Some(dir), Options::default())?;
    let passages = paragraphs(&args[0])?;
    if fresh {
        let raws: Vec<RawDocument> = passages
            .iter()
            .map(|(d, t, _)| RawDocument::new(d.clone(), t.clone(), Format::Text))
            .collect();
        let drafts = draft(engine.embedder().as_ref(), engine.options(), &raws)?;
        engine.ingest_drafts(drafts, &|_| {})?;
    }
    let snap = engine.snapshot()?;
    for qfile in &args[2..] {
        let asked = paragraphs(qfile)?;
        anyhow::ensure!(asked.len() == passages.len(), "{qfile}: not parallel");
        let all: Vec<(&str, &str)> = asked
            .iter()
            .flat_map(|(d, _, qs)| qs.iter().map(move |q| (d.as_str(), q.as_str())))
            .filter(|(_, q)| !q.trim().is_empty())
            .collect();
        let texts: Vec<&str> = all.iter().map(|q| q.1).collect();
        let vecs = engine.embedder().embed(&texts, TextKind::Query)?;
        for ((gold, q), v) in all.iter().zip(&vecs) {
            let filter = Filter::default();
            let dense = semsearch::search::dense::search(snap.as_ref(), v, DEPTH, filter)?;
            let lex = snap.lexical(q, DEPTH, &DocFilter::All)?;
            let name = |k| snap.passage(k).map(|p| p.id).unwrap_or_default();
            let top: Vec<Value> = dense
                .iter()
                .take(3)
                .filter_map(|(k, _)| snap.passage(*k).ok().map(|p| lang(&p.text)))
                .collect();
            let line = json!({
                "set": qfile, "gold": gold, "q": q, "q_lang": lang(q), "top_langs": top,
                "dense": dense.iter().map(|(k, s)| json!([name(*k), s])).collect::<Vec<_>>(),
                "lexical": lex.hits.iter().map(|(k, s)| json!([name(*k), s])).collect::<Vec<_>>(),
                "language_match": lex.language_match, "coverage": lex.coverage,
                "terms": lex.terms, "known": lex.known,
            });
            println!("{line}");
        }
    }
    Ok(())
}
