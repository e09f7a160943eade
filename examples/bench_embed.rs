//! Embedding benchmark driver used by `scripts/bench-embed.sh`: single-query latency over the
//! first 200 questions of a SQuAD-format file, then passage throughput over all its contexts.
//! Prints one JSON object; peak RSS is read from /proc at the end.

use std::time::Instant;

use semsearch::embed::{Embedder, TextEmbedder, TextKind};

// Same allocator as the semsearch binary, so that the figures are the binary's.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let model = args
        .next()
        .unwrap_or_else(|| "models/multilingual-e5-small".into());
    let squad = args
        .next()
        .unwrap_or_else(|| "tests/fixtures/eval/cmrc2018_trial.json".into());
    let data: serde_json::Value = serde_json::from_slice(&std::fs::read(&squad)?)?;
    let (mut questions, mut contexts) = (Vec::new(), Vec::new());
    for article in data["data"].as_array().into_iter().flatten() {
        for p in article["paragraphs"].as_array().into_iter().flatten() {
            contexts.push(p["context"].as_str().unwrap_or_default().to_string());
            for qa in p["qas"].as_array().into_iter().flatten() {
                questions.push(qa["question"].as_str().unwrap_or_default().to_string());
            }
        }
    }
    questions.truncate(200);

    let t0 = Instant::now();
    let e = TextEmbedder::load(std::path::Path::new(&model))?;
    let load_s = t0.elapsed().as_secs_f64();
    e.embed(&["warm up"], TextKind::Query)?;

    let mut lat = Vec::with_capacity(questions.len());
    let mut qtokens = 0;
    for q in &questions {
        qtokens += e.count_tokens(q, TextKind::Query)?;
        let t = Instant::now();
        e.embed(&[q.as_str()], TextKind::Query)?;
        lat.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    lat.sort_by(f64::total_cmp);

    if std::env::var_os("BENCH_QUERIES_ONLY").is_some() {
        contexts.truncate(1);
    }
    let refs: Vec<&str> = contexts.iter().map(String::as_str).collect();
    let tokens: usize = refs
        .iter()
        .map(|c| e.count_tokens(c, TextKind::Passage).unwrap_or(0))
        .sum();
    let t = Instant::now();
    e.embed(&refs, TextKind::Passage)?;
    let secs = t.elapsed().as_secs_f64();

    let status = std::fs::read_to_string("/proc/self/status")?;
    let peak_kb: f64 = status
        .lines()
        .find(|l| l.starts_with("VmHWM"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.0);
    println!(
        "{}",
        serde_json::json!({
            "engine": "semsearch",
            "kernels": format!("{:?}", semsearch::kernels::isa()),
            "precision": format!("{:?}", e.precision()),
            "load_s": load_s,
            "questions": questions.len(),
            "mean_query_tokens": qtokens as f64 / questions.len() as f64,
            "query_p50_ms": lat[lat.len() / 2],
            "query_p95_ms": lat[lat.len() * 95 / 100],
            "passages": contexts.len(),
            "passage_tokens": tokens,
            "passages_per_s": contexts.len() as f64 / secs,
            "tokens_per_s": tokens as f64 / secs,
            "peak_rss_mb": peak_kb / 1024.0,
        })
    );
    Ok(())
}
