//! Grouped and batched search against their anchors, in the same run (used by
//! `scripts/bench-pages.sh`): each question of `seed-qa.jsonl` searched (hybrid, k = 10)
//! ungrouped and grouped by document with `group_size` 1, alternating which goes first, so
//! machine noise hits both alike (`grouped_over_ungrouped_p50`, and how many distinct documents
//! each returned); then the questions in batches of 32 (`Engine::search_batch`) against the same
//! questions one at a time, rounds alternated (`batch_over_single_throughput`). Prints JSON.

use std::collections::HashSet;
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use semsearch::embed::TextEmbedder;
use semsearch::engine::{Engine, Options, SearchRequest};
use semsearch::index::Access;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn p50(mut t: Vec<f64>) -> f64 {
    t.sort_by(f64::total_cmp);
    t[t.len() / 2]
}

fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let model = args
        .next()
        .unwrap_or_else(|| "models/multilingual-e5-small".into());
    let index = args.next().unwrap_or_else(|| "index/default".into());
    let rounds: usize = args.next().and_then(|r| r.parse().ok()).unwrap_or(4);
    let embedder = Arc::new(TextEmbedder::load(Path::new(&model))?);
    let at = semsearch::index::Location::parse(&index);
    let engine = Engine::open_at(embedder, &at, Access::Existing, Options::default())?;
    let questions: Vec<String> = std::fs::read_to_string("tests/fixtures/eval/seed-qa.jsonl")?
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter_map(|v| v["question"].as_str().map(String::from))
        .collect();
    let documents = engine.documents()?.len();
    engine.search(&SearchRequest::new("warm up"))?;

    let (mut plain, mut grouped) = (Vec::new(), Vec::new());
    let (mut plain_docs, mut grouped_docs) = (0usize, 0usize);
    let mut turn = 0usize;
    for _ in 0..rounds {
        for q in &questions {
            let one = SearchRequest::new(q.as_str()).k(10);
            let by_doc = one.clone().group_size(Some(1));
            let distinct = |hits: &[semsearch::engine::Hit]| {
                hits.iter()
                    .map(|h| h.passage.doc.as_str())
                    .collect::<HashSet<_>>()
                    .len()
            };
            turn += 1;
            for which in [turn % 2, 1 - turn % 2] {
                let req = if which == 0 { &one } else { &by_doc };
                let t = Instant::now();
                let hits = engine.search(req)?;
                let ms = t.elapsed().as_secs_f64() * 1000.0;
                if which == 0 {
                    plain.push(ms);
                    plain_docs += distinct(&hits);
                } else {
                    grouped.push(ms);
                    grouped_docs += distinct(&hits);
                    anyhow::ensure!(
                        distinct(&hits) == hits.len(),
                        "a grouped list repeats a document"
                    );
                }
            }
        }
    }

    // Throughput: the same 32 questions, batched or one by one, rounds alternated.
    let batch: Vec<SearchRequest> = questions
        .iter()
        .cycle()
        .take(semsearch::config::MAX_BATCH_QUERIES)
        .map(|q| SearchRequest::new(q.as_str()))
        .collect();
    let (mut batched, mut single) = (0.0f64, 0.0f64);
    for round in 0..rounds {
        for which in [round % 2, 1 - round % 2] {
            let t = Instant::now();
            if which == 0 {
                engine.search_batch(&batch)?;
            } else {
                for r in &batch {
                    engine.search(r)?;
                }
            }
            let s = t.elapsed().as_secs_f64();
            if which == 0 {
                batched += s;
            } else {
                single += s;
            }
        }
    }
    // Where a batch's time goes: its questions embedded together against one at a time.
    let texts: Vec<&str> = batch.iter().map(|r| r.query()).collect();
    let (mut embed_batched, mut embed_single) = (0.0f64, 0.0f64);
    for _ in 0..rounds {
        let t = Instant::now();
        engine
            .embedder()
            .embed(&texts, semsearch::embed::TextKind::Query)?;
        embed_batched += t.elapsed().as_secs_f64();
        let t = Instant::now();
        for q in &texts {
            engine.embed_query(q)?;
        }
        embed_single += t.elapsed().as_secs_f64();
    }
    let n = (rounds * batch.len()) as f64;
    let searches = plain.len() as f64;
    let (plain_p50, grouped_p50) = (p50(plain), p50(grouped));
    println!(
        "{}",
        serde_json::json!({
            "index_documents": documents,
            "questions": questions.len(),
            "searches_per_arm": searches,
            "ungrouped_p50_ms": plain_p50,
            "grouped_p50_ms": grouped_p50,
            "grouped_over_ungrouped_p50": grouped_p50 / plain_p50,
            "ungrouped_mean_distinct_docs": plain_docs as f64 / searches,
            "grouped_mean_distinct_docs": grouped_docs as f64 / searches,
            "batch_questions_per_s": n / batched,
            "single_questions_per_s": n / single,
            "batch_over_single_throughput": single / batched,
            "embed_batch_ms_per_question": embed_batched * 1000.0 / n,
            "embed_single_ms_per_question": embed_single * 1000.0 / n,
        })
    );
    Ok(())
}
