//! Dumps what relevance and ranking could be built from, for every question of seed-qa-style
//! (`{question, evidence}`) and unanswerable (`{question}`) JSONL files asked of an existing
//! index, so that scoring rules can be compared offline (used while calibrating relevance for
//! libraries; see README, "A library eval"). One JSON line per question: the background
//! sample's scores with each sampled passage's Chinese share, and the union of the dense and
//! lexical top lists with every candidate's cosines, ranks, language and gold flag.
//!
//! `cargo run --release --example relevance_probe -- INDEX FILE.jsonl...`

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use semsearch::embed::{TextEmbedder, TextKind};
use semsearch::engine::{Engine, Options};
use semsearch::eval::normalize;
use semsearch::index::{DocFilter, Filter, Key};
use semsearch::search::relevance::{asks_for_number, has_number, BACKGROUND_PASSAGES};
use semsearch::text::cjk_share;
use serde_json::{json, Value};

const DEPTH: usize = 50;

/// A candidate's dense rank and lexical (rank, BM25), where it was found.
type Ranks = (Option<usize>, Option<(usize, f32)>);

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    anyhow::ensure!(args.len() >= 2, "usage: INDEX FILE.jsonl...");
    let model = std::env::var("SEMSEARCH_MODEL").unwrap_or("models/multilingual-e5-small".into());
    let embedder = Arc::new(TextEmbedder::load(Path::new(&model))?);
    let engine = Engine::open_existing(embedder, Path::new(&args[0]), Options::default())?;
    let snap = engine.snapshot()?;
    let sample = snap.sample(BACKGROUND_PASSAGES)?;
    let sample_info: Vec<(f32, String)> = snap
        .passages(&sample)?
        .iter()
        .map(|p| (cjk_share(&p.text), p.doc.clone()))
        .collect();
    for file in &args[1..] {
        let lines: Vec<Value> = std::fs::read_to_string(file)?
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(serde_json::from_str)
            .collect::<Result<_, _>>()?;
        let questions: Vec<&str> = lines
            .iter()
            .map(|l| l["question"].as_str().unwrap_or(""))
            .collect();
        let vecs = engine.embedder().embed(&questions, TextKind::Query)?;
        for ((line, q), v) in lines.iter().zip(&questions).zip(&vecs) {
            let evidence = line["evidence"].as_str().map(normalize);
            let dense =
                semsearch::search::dense::search(snap.as_ref(), v, DEPTH, Filter::default())?;
            let lex = snap.lexical(q, DEPTH, &DocFilter::All)?;
            let mut cands: BTreeMap<Key, Ranks> = BTreeMap::new();
            for (r, (k, _)) in dense.iter().enumerate() {
                cands.entry(*k).or_default().0 = Some(r);
            }
            for (r, (k, s)) in lex.hits.iter().enumerate() {
                cands.entry(*k).or_default().1 = Some((r, *s));
            }
            let keys: Vec<Key> = cands.keys().copied().collect();
            let passages = snap.passages(&keys)?;
            let cosines = snap.cosines(v, &keys)?;
            let rows: Vec<Value> = keys
                .iter()
                .zip(&passages)
                .zip(&cosines)
                .map(|((k, p), c)| {
                    let (dr, lr) = cands[k];
                    let best: String = match c.best {
                        Some((_, s, e)) => p
                            .text
                            .chars()
                            .skip(s as usize)
                            .take((e - s) as usize)
                            .collect(),
                        None => p.text.clone(),
                    };
                    json!({
                        "id": p.id, "doc": p.doc, "whole": c.whole, "best": c.best.map(|b| b.0),
                        "dense_rank": dr, "lex_rank": lr.map(|l| l.0), "bm25": lr.map(|l| l.1),
                        "cjk": cjk_share(&p.text), "number": has_number(&best),
                        "chars": p.text.chars().count(), "text": p.text,
                        "gold": evidence.as_ref().map(|e| normalize(&p.text).contains(e.as_str())),
                    })
                })
                .collect();
            let background = snap.cosines(v, &sample)?;
            println!(
                "{}",
                json!({
                    "file": file, "question": q, "evidence": evidence, "q_cjk": cjk_share(q),
                    "wants_number": asks_for_number(q),
                    "language_match": lex.language_match, "coverage": lex.coverage, "known": lex.known,
                    "sample": background.iter().zip(&sample_info)
                        .map(|(c, (z, d))| json!([(c.whole + c.best.map_or(c.whole, |b| b.0)) / 2.0, z, d]))
                        .collect::<Vec<_>>(),
                    "candidates": rows,
                })
            );
        }
    }
    Ok(())
}
