//! The local store at size (used by `scripts/bench-index.sh`): builds a synthetic index of N
//! passages (S sentence vectors each) through the store's own write path, in 20-passage
//! documents committed in batches, then measures open time, one add and one delete, and dense
//! search latency and recall@10 against exact search of the same vectors, unfiltered, with a
//! document filter, and with 20% of documents deleted. Prints one JSON object.
//!
//! Vectors are shaped like text embeddings, not uniform noise (on which recall means nothing):
//! real multilingual-e5 vectors of CMRC sentences and questions are the seeds (see [`Gen`]), and
//! the output reports the cosine histogram of real and synthetic pairs side by side. Memory is
//! reported as anonymous (heap) and file-backed (mapped index files) resident sizes.

use std::time::Instant;

use rand::{rngs::StdRng, SeedableRng};
use std::path::{Path, PathBuf};

use semsearch::embed::ModelId;
use semsearch::index::{DocFilter, Filter, LocalStore, Store, Write};
use semsearch::kernels::dot;

#[path = "synthetic/mod.rs"]
mod synthetic;
use synthetic::{Gen, Seeds, DIM, PER_DOC};
/// Documents per write (BENCH_BATCH_DOCS overrides): 250 documents are 5,000 passages.
const BATCH_DOCS: usize = 250;

/// p10, p50 and p90 of the cosines of 2,000 pseudo-random pairs.
fn pair_cosines(v: &[&[f32]]) -> [f32; 3] {
    let mut c: Vec<f32> = (0..2000)
        .map(|i| dot(v[(i * 7919) % v.len()], v[(i * 104_729 + 1) % v.len()]))
        .collect();
    c.sort_by(f32::total_cmp);
    [c[200], c[1000], c[1800]]
}

/// Resident memory now, in MB: anonymous (heap: held whatever the OS does) and file-backed
/// (mapped index files: pages the kernel may drop and read again).
fn rss() -> serde_json::Value {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| -> u64 {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
            / 1024
    };
    serde_json::json!({"anonymous": field("RssAnon:"), "file": field("RssFile:")})
}

fn percentile(v: &mut [f64], p: usize) -> f64 {
    v.sort_by(f64::total_cmp);
    v[(v.len() * p / 100).min(v.len() - 1)]
}

fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let n: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(10_000);
    let sentences: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(5);
    let model_dir =
        std::env::var("BENCH_MODEL").unwrap_or_else(|_| "models/multilingual-e5-small".into());
    // Loaded (and embedded, the first time) before anything is measured; `bench_index 0` only
    // does this, so that a model loaded for it does not count in the figures of the next run.
    let seeds = Seeds::load(Path::new(&model_dir))?;
    if n == 0 {
        return Ok(());
    }
    let work = std::env::temp_dir().join(format!("semsearch-bench-index-{}", std::process::id()));
    let dir = work.join("index");
    let model = ModelId {
        name: "bench".into(),
        dim: DIM,
        fingerprint: "synthetic".into(),
    };
    let real_pairs = pair_cosines(&seeds.passages.iter().map(Vec::as_slice).collect::<Vec<_>>());
    let real_top1 = mean_top1(&seeds.queries, seeds.passages.iter().map(Vec::as_slice));
    let mut gen = Gen::new(seeds, StdRng::seed_from_u64(1));
    let docs = n / PER_DOC;
    // Drawn before the build, so that a kept index (BENCH_KEEP) is measured with the same ones.
    let queries: Vec<Vec<f32>> = (0..200).map(|_| gen.query()).collect();
    let extra = [gen.doc(docs, sentences), gen.doc(docs + 1, sentences)];
    // A built index is kept in BENCH_KEEP (one per size) and copied from there on the next run,
    // to compare search code on one index without building it again.
    let kept = std::env::var("BENCH_KEEP")
        .ok()
        .filter(|d| !d.is_empty())
        .map(|d| PathBuf::from(d).join(format!("index-{n}-{sentences}")));
    let export = std::env::var("BENCH_EXPORT")
        .map(PathBuf::from)
        .unwrap_or(work.clone());
    std::fs::create_dir_all(&export)?;
    let as_bytes = |v: &[f32]| -> Vec<u8> { v.iter().flat_map(|x| x.to_le_bytes()).collect() };
    let mut build_s = None;
    match kept.as_ref().filter(|k| k.join("vectors.f32").is_file()) {
        Some(k) => {
            copy_dir(&k.join("index"), &dir)?;
            for name in ["vectors.f32", "sentences.f32"] {
                if k.join(name).is_file() {
                    std::fs::copy(k.join(name), export.join(name))?;
                }
            }
        }
        None => {
            // Passage vectors in write order (passage i is `d{i / 20}#{i % 20 + 1}`), kept for
            // exact search in a file, so that they do not count in the store's memory.
            let mut vectors: Vec<f32> = Vec::with_capacity(docs * PER_DOC * DIM);
            // Sentence vectors too: the store builds a graph of them as well, so the anchor does.
            let mut sentence_vectors: Vec<f32> = Vec::new();
            let t = Instant::now();
            {
                let store = LocalStore::open_or_create(&dir, &model)?;
                let mut d = 0;
                let per_write = std::env::var("BENCH_BATCH_DOCS")
                    .ok()
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(BATCH_DOCS);
                while d < docs {
                    let batch: Vec<_> = (d..(d + per_write).min(docs))
                        .map(|i| gen.doc(i, sentences))
                        .collect();
                    for v in batch.iter().flat_map(|(_, vs)| vs) {
                        vectors.extend_from_slice(&v.passage);
                        v.sentences
                            .iter()
                            .for_each(|s| sentence_vectors.extend_from_slice(&s.vector));
                    }
                    d += batch.len();
                    store.apply(Write::Upsert(batch))?;
                }
                store.settle();
            }
            build_s = Some(t.elapsed().as_secs_f64());
            std::fs::write(export.join("vectors.f32"), as_bytes(&vectors))?;
            std::fs::write(export.join("sentences.f32"), as_bytes(&sentence_vectors))?;
            if let Some(k) = &kept {
                copy_dir(&dir, &k.join("index"))?;
                for name in ["vectors.f32", "sentences.f32"] {
                    std::fs::copy(export.join(name), k.join(name))?;
                }
            }
        }
    }
    // The same queries for the anchor (scripts/bench-index.sh runs hnswlib).
    std::fs::write(export.join("queries.f32"), as_bytes(&queries.concat()))?;
    let segments = std::fs::read(dir.join("manifest.json"))
        .ok()
        .and_then(|m| serde_json::from_slice::<serde_json::Value>(&m).ok())
        .map(|m| m["segments"].as_array().map_or(0, Vec::len));

    let rss_before_open = rss();
    let t = Instant::now();
    let store = LocalStore::open(&dir, &model)?;
    let open_s = t.elapsed().as_secs_f64();
    let rss_open = rss();
    // What checking the checksums costs of that open: every segment file read through and
    // summed again, as open does (warm cache, like the open just measured).
    let t = Instant::now();
    let mut checked_bytes = 0u64;
    for seg in std::fs::read_dir(&dir)?.flatten() {
        if seg.file_name().to_string_lossy().starts_with("seg-") {
            for f in std::fs::read_dir(seg.path())?.flatten() {
                let name = f.file_name().to_string_lossy().into_owned();
                checked_bytes +=
                    semsearch::index::segment::files::sum_file(&seg.path(), &name)?.len;
            }
        }
    }
    let checksum_s = t.elapsed().as_secs_f64();
    // The first write of a process also loads jieba's dictionary (on a thread started at open,
    // which a write this soon still waits for): reported apart from a write's own cost.
    let [first, second] = extra;
    let t = Instant::now();
    store.apply(Write::Upsert(vec![first]))?;
    let first_add_ms = t.elapsed().as_secs_f64() * 1000.0;
    let t = Instant::now();
    store.apply(Write::Upsert(vec![second]))?;
    let add_ms = t.elapsed().as_secs_f64() * 1000.0;
    let t = Instant::now();
    store.apply(Write::Delete(format!("d{docs}")))?;
    let delete_ms = t.elapsed().as_secs_f64() * 1000.0;
    store.apply(Write::Delete(format!("d{}", docs + 1)))?;
    let timed_on = |store: &dyn Store, filter: Filter<'_>| {
        let snap = store.snapshot().expect("a snapshot");
        let mut times = Vec::new();
        let mut found: Vec<Vec<String>> = Vec::new();
        for q in &queries {
            let t = Instant::now();
            let got = snap.nearest(q, 10, filter).expect("a search");
            times.push(t.elapsed().as_secs_f64() * 1000.0);
            let keys: Vec<_> = got.iter().map(|h| h.0).collect();
            found.push(
                snap.passages(&keys)
                    .expect("the hits' passages")
                    .into_iter()
                    .map(|p| p.id)
                    .collect(),
            );
        }
        let total: f64 = times.iter().sum();
        let p50 = percentile(&mut times, 50);
        let p99 = percentile(&mut times, 99);
        (p50, p99, queries.len() as f64 * 1000.0 / total, found)
    };
    let timed = |filter: Filter<'_>| timed_on(&store, filter);
    let (p50, p99, qps, found) = timed(Filter::default());
    // The shared store on the same passages (BENCH_PG: an empty database), side by side.
    let pg = match std::env::var("BENCH_PG").ok().filter(|u| !u.is_empty()) {
        Some(url) => {
            let pg = semsearch::index::postgres::PgStore::open_or_create(&url, &model)?;
            let t = Instant::now();
            semsearch::index::copy(store.snapshot()?.as_ref(), &pg, &|_, _| {})?;
            let import_s = t.elapsed().as_secs_f64();
            // Twice: the first pass also warms the database's caches.
            timed_on(&pg, Filter::default());
            let (p50, p99, qps, found) = timed_on(&pg, Filter::default());
            Some((import_s, p50, p99, qps, found))
        }
        None => None,
    };
    let d7 = DocFilter::ids(["d7"]);
    let (fp50, _, _, ffound) = timed(Filter::docs(&d7));
    let rss_search = rss();
    let deleted: Vec<String> = (0..docs)
        .filter(|d| d.is_multiple_of(5))
        .map(|d| format!("d{d}"))
        .collect();
    // BENCH_SKIP_DELETES=1 leaves out the 20% deletes (minutes at 1M) when comparing search.
    let skip_deletes = std::env::var("BENCH_SKIP_DELETES").is_ok_and(|v| v == "1");
    let t = Instant::now();
    for d in deleted.iter().filter(|_| !skip_deletes) {
        store.apply(Write::Delete(d.clone()))?;
    }
    let delete_20pct_s = (!skip_deletes).then(|| t.elapsed().as_secs_f64());
    store.settle();
    let after_deletes = (!skip_deletes).then(|| timed(Filter::default()));
    drop(store);

    let vectors: Vec<f32> = std::fs::read(export.join("vectors.f32"))?
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect();
    let synthetic_pairs = pair_cosines(&vectors.chunks_exact(DIM).collect::<Vec<_>>());
    let synthetic_top1 = mean_top1(&queries, vectors.chunks_exact(DIM));
    let recall = |found: &[Vec<String>], keep: &dyn Fn(usize) -> bool| {
        let mut total = 0.0;
        for (q, got) in queries.iter().zip(found) {
            let want = synthetic::exact_top10(q, &vectors, keep);
            let hit = got.iter().filter(|g| want.contains(g)).count();
            total += hit as f64 / want.len().max(1) as f64;
        }
        total / queries.len() as f64
    };
    let all = recall(&found, &|_| true);
    let filtered = recall(&ffound, &|i| i / PER_DOC == 7);
    let dp50 = after_deletes.as_ref().map(|r| r.0);
    let after_delete = after_deletes
        .as_ref()
        .map(|r| recall(&r.3, &|i| !(i / PER_DOC).is_multiple_of(5)));
    let postgres = pg.map(|(import_s, p50, p99, qps, found)| {
        serde_json::json!({"import_s": import_s, "search_p50_ms": p50, "search_p99_ms": p99,
                           "queries_per_s": qps, "recall@10": recall(&found, &|_| true)})
    });
    let _ = std::fs::remove_dir_all(&work);
    println!(
        "{}",
        serde_json::json!({
            "passages": n, "sentences_per_passage": sentences,
            "pair_cosine_p10_p50_p90": {"real": real_pairs, "synthetic": synthetic_pairs},
            "query_top1_cosine": {"real": real_top1, "synthetic": synthetic_top1},
            "rss_mb": {"before_open": rss_before_open, "after_open": rss_open,
                       "after_searches": rss_search},
            "build_s": build_s, "segments": segments, "open_s": open_s,
            "checksum_s": checksum_s, "checked_mb": checked_bytes / 1_000_000,
            "first_add_after_open_ms": first_add_ms, "add_20_passages_ms": add_ms, "delete_one_ms": delete_ms,
            "search_p50_ms": p50, "search_p99_ms": p99, "recall@10": all, "queries_per_s": qps,
            "filtered_p50_ms": fp50, "filtered_recall@10": filtered,
            "delete_20pct_s": delete_20pct_s, "deleted20_p50_ms": dp50,
            "deleted20_recall@10": after_delete, "postgres": postgres,
        })
    );
    Ok(())
}

fn copy_dir(from: &Path, to: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let target = to.join(entry.file_name());
        if entry.file_type()?.is_dir() {
            copy_dir(&entry.path(), &target)?;
        } else {
            std::fs::copy(entry.path(), target)?;
        }
    }
    Ok(())
}

/// Mean over queries of the cosine of their nearest vector.
fn mean_top1<'a>(queries: &[Vec<f32>], vectors: impl Iterator<Item = &'a [f32]> + Clone) -> f32 {
    let best = |q: &[f32]| vectors.clone().map(|v| dot(q, v)).fold(-1.0f32, f32::max);
    queries.iter().map(|q| best(q)).sum::<f32>() / queries.len() as f32
}
