//! Metadata filters at size (used by `scripts/bench-filter.sh`): a local index of N synthetic
//! passages (20-passage documents, each with `{"bucket": d % 100}`), then dense top-10 searches
//! with no filter, a filter passing 1% of passages (`bucket eq 7`), one passing 30%
//! (`bucket lt 30`) and one passing all (`exists bucket`), interleaved over rounds. Each search
//! is timed as the engine runs it: the filter resolved against the snapshot's documents (the
//! store keeps the filters it resolved last, so a repeated filter is a cache hit; a first
//! resolution is timed apart), then the store's search; recall@10 is against exact search of
//! the passing passages. Prints JSON.

use std::path::PathBuf;
use std::time::Instant;

use rand::{rngs::StdRng, SeedableRng};
use serde_json::json;

use semsearch::embed::ModelId;
use semsearch::index::{Condition, Filter, LocalStore, Metadata, Store, Write};

#[allow(dead_code)]
#[path = "synthetic/mod.rs"]
mod synthetic;
use synthetic::{Gen, Seeds, DIM, PER_DOC};

/// Documents per write: 25,000 passages, so that a 100k build merges a few times.
const BATCH_DOCS: usize = 1250;
const QUERIES: usize = 200;
/// Filters resolved for the first time, per mode.
const COLD: usize = 50;

/// A filter under test: its name, its condition (None: no filter) and which documents pass.
type Mode = (&'static str, Option<Condition>, Box<dyn Fn(usize) -> bool>);

fn percentile(v: &mut [f64], p: usize) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[((v.len() - 1) * p) / 100]
}

fn main() -> anyhow::Result<()> {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(100_000);
    let rounds: usize = std::env::var("ROUNDS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(3);
    let model_dir =
        std::env::var("BENCH_MODEL").unwrap_or_else(|_| "models/multilingual-e5-small".into());
    let seeds = Seeds::load(std::path::Path::new(&model_dir))?;
    let model = ModelId {
        name: "bench".into(),
        dim: DIM,
        fingerprint: "synthetic".into(),
    };
    let mut gen = Gen::new(seeds, StdRng::seed_from_u64(2));
    let queries: Vec<Vec<f32>> = (0..QUERIES).map(|_| gen.query()).collect();
    let docs = n / PER_DOC;
    let bucket = |d: usize| d % 100;
    // BENCH_KEEP: the built index and its vectors are kept there and reused by the next run.
    let keep = std::env::var("BENCH_KEEP")
        .ok()
        .filter(|d| !d.is_empty())
        .map(|d| PathBuf::from(d).join(format!("filter-{n}")));
    let tmp = std::env::temp_dir().join(format!("semsearch-bench-filter-{}", std::process::id()));
    let root = keep.clone().unwrap_or(tmp.clone());
    let dir = root.join("index");
    let vectors_file = root.join("vectors.f32");
    let mut build_s = None;
    if !vectors_file.is_file() {
        let _ = std::fs::remove_dir_all(&root);
        std::fs::create_dir_all(&root)?;
        let mut vectors: Vec<f32> = Vec::with_capacity(docs * PER_DOC * DIM);
        let t = Instant::now();
        let store = LocalStore::open_or_create(&dir, &model)?;
        let mut d = 0;
        while d < docs {
            let batch: Vec<_> = (d..(d + BATCH_DOCS).min(docs))
                .map(|i| {
                    let meta = Metadata::from_json(json!({ "bucket": bucket(i) }))
                        .expect("storable metadata");
                    gen.doc_with(i, 1, meta)
                })
                .collect();
            for (_, vs) in &batch {
                vs.iter()
                    .for_each(|v| vectors.extend_from_slice(&v.passage));
            }
            d += batch.len();
            store.apply(Write::Upsert(batch))?;
            eprintln!("bench_filter: {} of {docs} documents written", d);
        }
        store.settle();
        drop(store);
        build_s = Some(t.elapsed().as_secs_f64());
        let bytes: Vec<u8> = vectors.iter().flat_map(|x| x.to_le_bytes()).collect();
        std::fs::write(&vectors_file, bytes)?;
    }
    let vectors: Vec<f32> = std::fs::read(&vectors_file)?
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect();
    let store = LocalStore::open(&dir, &model)?;
    let snap = store.snapshot()?;

    let parse = |v: serde_json::Value| Condition::parse(&v).expect("a filter");
    let modes: Vec<Mode> = vec![
        ("none", None, Box::new(|_| true)),
        (
            "1%",
            Some(parse(json!({"type": "eq", "key": "bucket", "value": 7}))),
            Box::new(move |d| bucket(d) == 7),
        ),
        (
            "30%",
            Some(parse(json!({"type": "lt", "key": "bucket", "value": 30}))),
            Box::new(move |d| bucket(d) < 30),
        ),
        (
            "all_pass",
            Some(parse(json!({"type": "exists", "key": "bucket"}))),
            Box::new(|_| true),
        ),
    ];
    // A store keeps the filters it resolved last: the loop below repeats each filter, as a
    // tenant's scope or a conversation's filter repeats. A first resolution is timed here, on
    // filters that pass the same documents but differ each time (so none is cached).
    let mut cold: Vec<Vec<f64>> = vec![Vec::new(); modes.len()];
    for (m, (_, c, _)) in modes.iter().enumerate() {
        let Some(c) = c else { continue };
        for i in 0..COLD {
            let fresh = Condition::Or(vec![
                c.clone(),
                parse(json!({"type": "eq", "key": "bucket", "value": 1000 + i})),
            ]);
            let t = Instant::now();
            std::hint::black_box(snap.resolve(&fresh)?);
            cold[m].push(t.elapsed().as_secs_f64() * 1000.0);
        }
    }
    let mut times: Vec<Vec<f64>> = vec![Vec::new(); modes.len()];
    let mut resolving: Vec<Vec<f64>> = vec![Vec::new(); modes.len()];
    let mut found: Vec<Vec<Vec<String>>> = vec![Vec::new(); modes.len()];
    for round in 0..rounds {
        // Interleaved, and in a different order each round, so drift on a shared machine falls
        // on every mode alike.
        for m in (0..modes.len()).map(|i| (i + round) % modes.len()) {
            for q in &queries {
                let t = Instant::now();
                let docs = match &modes[m].1 {
                    None => semsearch::index::DocFilter::All,
                    Some(c) => snap.resolve(c)?,
                };
                resolving[m].push(t.elapsed().as_secs_f64() * 1000.0);
                let got = snap.nearest(q, 10, Filter::docs(&docs))?;
                times[m].push(t.elapsed().as_secs_f64() * 1000.0);
                if round == 0 {
                    let keys: Vec<_> = got.iter().map(|h| h.0).collect();
                    found[m].push(snap.passages(&keys)?.into_iter().map(|p| p.id).collect());
                }
            }
        }
    }
    let recall = |m: usize| {
        let keep = &modes[m].2;
        let mut total = 0.0;
        for (q, got) in queries.iter().zip(&found[m]) {
            let want = synthetic::exact_top10(q, &vectors, &|i| keep(i / PER_DOC));
            total += got.iter().filter(|g| want.contains(g)).count() as f64 / want.len() as f64;
        }
        total / queries.len() as f64
    };
    let mut out = serde_json::Map::new();
    let base_p50 = percentile(&mut times[0].clone(), 50);
    for (m, (name, _, _)) in modes.iter().enumerate() {
        let p50 = percentile(&mut times[m], 50);
        let p99 = percentile(&mut times[m], 99);
        let resolve_p50 = percentile(&mut resolving[m], 50);
        let cold_p50 = if cold[m].is_empty() {
            0.0
        } else {
            percentile(&mut cold[m], 50)
        };
        let short = found[m].iter().filter(|f| f.len() < 10).count();
        out.insert(
            (*name).into(),
            json!({"p50_ms": p50, "p99_ms": p99, "resolve_p50_ms": resolve_p50,
                   "first_resolve_p50_ms": cold_p50,
                   "p50_with_first_resolve_vs_none": (p50 - resolve_p50 + cold_p50) / base_p50,
                   "recall@10": recall(m),
                   "p50_vs_none": p50 / base_p50, "searches_short_of_10": short}),
        );
    }
    drop(snap);
    drop(store);
    if keep.is_none() {
        let _ = std::fs::remove_dir_all(&tmp);
    }
    println!(
        "{}",
        json!({"passages": docs * PER_DOC, "documents": docs, "build_s": build_s,
               "searches_per_mode": rounds * QUERIES, "modes": out})
    );
    Ok(())
}
