//! Search latency per mode on an index (used by `scripts/bench-search.sh`): the seed questions,
//! asked in turn, modes interleaved so that machine noise hits both alike; and once per round a
//! question of the longest length accepted (2,000 characters of the corpus), searched and asked,
//! against a normal question asked (`max_query_over_hybrid_p50`, `max_ask_over_ask_p50`: what
//! the longest question costs against a normal one). Prints JSON. The index may be a folder or
//! a postgres:// URL (`scripts/bench-postgres.sh`). With `BENCH_ANCHOR=INDEX` a second index
//! (the local one, for PostgreSQL) is searched with every question and mode right after or
//! before the first, alternately, so both see the same machine: `anchor_{mode}_p50_ms` and
//! `{mode}_over_anchor_p50`.

use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use semsearch::embed::TextEmbedder;
use semsearch::engine::{Engine, Mode, Options, SearchRequest};
use semsearch::index::Access;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let model = args
        .next()
        .unwrap_or_else(|| "models/multilingual-e5-small".into());
    let index = args.next().unwrap_or_else(|| "index/default".into());
    let rounds: usize = args.next().and_then(|r| r.parse().ok()).unwrap_or(8);
    let embedder = Arc::new(TextEmbedder::load(Path::new(&model))?);
    // A postgres:// URL in place of the index folder measures the shared store.
    let at = semsearch::index::Location::parse(&index);
    let anchor = match std::env::var("BENCH_ANCHOR") {
        Ok(a) => Some(Engine::open_at(
            embedder.clone(),
            &semsearch::index::Location::parse(&a),
            Access::Existing,
            Options::default(),
        )?),
        Err(_) => None,
    };
    let engine = Engine::open_at(embedder, &at, Access::Existing, Options::default())?;
    let questions: Vec<String> = std::fs::read_to_string("tests/fixtures/eval/seed-qa.jsonl")?
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter_map(|v| v["question"].as_str().map(String::from))
        .collect();
    engine.search(&SearchRequest::new("warm up"))?;
    if let Some(a) = &anchor {
        a.search(&SearchRequest::new("warm up"))?;
    }
    let modes = [Mode::Dense, Mode::Hybrid, Mode::Lexical];
    let mut times: Vec<Vec<f64>> = vec![Vec::new(); modes.len()];
    let mut anchor_times: Vec<Vec<f64>> = vec![Vec::new(); modes.len()];
    let mut turn = 0usize;
    let longest: String =
        std::fs::read_to_string("tests/fixtures/corpus/suzhou-15th-five-year-plan-proposal.txt")?
            .chars()
            .filter(|c| !c.is_whitespace())
            .skip(3000)
            .take(semsearch::config::MAX_QUERY_CHARS)
            .collect();
    // [long search, long ask, normal ask]
    let mut long: Vec<Vec<f64>> = vec![Vec::new(); 3];
    let timed = |f: &dyn Fn() -> semsearch::Result<()>| -> anyhow::Result<f64> {
        let t = Instant::now();
        f()?;
        Ok(t.elapsed().as_secs_f64() * 1000.0)
    };
    for round in 0..rounds {
        let normal = questions[round % questions.len()].as_str();
        long[0].push(timed(&|| {
            engine
                .search(&SearchRequest::new(longest.as_str()))
                .map(drop)
        })?);
        long[1].push(timed(&|| {
            engine.ask(&SearchRequest::new(longest.as_str())).map(drop)
        })?);
        long[2].push(timed(&|| {
            engine.ask(&SearchRequest::new(normal)).map(drop)
        })?);
        for q in &questions {
            for (i, m) in modes.iter().enumerate() {
                let req = SearchRequest::new(q.as_str()).mode(*m);
                let run = |e: &Engine, into: &mut Vec<f64>| -> anyhow::Result<()> {
                    let t = Instant::now();
                    e.search(&req)?;
                    into.push(t.elapsed().as_secs_f64() * 1000.0);
                    Ok(())
                };
                turn += 1;
                match &anchor {
                    Some(a) if turn.is_multiple_of(2) => {
                        run(a, &mut anchor_times[i])?;
                        run(&engine, &mut times[i])?;
                    }
                    Some(a) => {
                        run(&engine, &mut times[i])?;
                        run(a, &mut anchor_times[i])?;
                    }
                    None => run(&engine, &mut times[i])?,
                }
            }
        }
    }
    let mut out = serde_json::Map::new();
    for (m, t) in modes.iter().zip(times.iter_mut()) {
        t.sort_by(f64::total_cmp);
        let name = format!("{m:?}").to_lowercase();
        out.insert(format!("{name}_p50_ms"), t[t.len() / 2].into());
        out.insert(format!("{name}_p95_ms"), t[t.len() * 95 / 100].into());
    }
    if anchor.is_some() {
        for (m, t) in modes.iter().zip(anchor_times.iter_mut()) {
            t.sort_by(f64::total_cmp);
            let name = format!("{m:?}").to_lowercase();
            let p50 = t[t.len() / 2];
            out.insert(format!("anchor_{name}_p50_ms"), p50.into());
            let own = out[&format!("{name}_p50_ms")].as_f64().unwrap_or(0.0);
            out.insert(format!("{name}_over_anchor_p50"), (own / p50).into());
        }
    }
    for (name, t) in ["max_query", "max_ask", "ask"].iter().zip(long.iter_mut()) {
        t.sort_by(f64::total_cmp);
        out.insert(format!("{name}_p50_ms"), t[t.len() / 2].into());
    }
    let hybrid = out["hybrid_p50_ms"].as_f64().unwrap_or(1.0);
    let ask = out["ask_p50_ms"].as_f64().unwrap_or(1.0);
    let max_query = out["max_query_p50_ms"].as_f64().unwrap_or(0.0) / hybrid;
    let max_ask = out["max_ask_p50_ms"].as_f64().unwrap_or(0.0) / ask;
    out.insert("max_query_over_hybrid_p50".into(), max_query.into());
    out.insert("max_ask_over_ask_p50".into(), max_ask.into());
    let ratio =
        out["hybrid_p50_ms"].as_f64().unwrap_or(0.0) / out["dense_p50_ms"].as_f64().unwrap_or(1.0);
    out.insert("queries_per_mode".into(), times[0].len().into());
    out.insert("hybrid_over_dense_p50".into(), ratio.into());
    println!("{}", serde_json::Value::Object(out));
    Ok(())
}
