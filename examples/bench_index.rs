//! The local store at size (used by `scripts/bench-index.sh`): builds a synthetic index of N
//! passages (S sentence vectors each) through the store's own write path, in 20-passage
//! documents committed in batches, then measures open time, one add and one delete, and dense
//! search latency and recall@10 against exact search of the same vectors, unfiltered, with a
//! document filter, and with 20% of documents deleted. Prints one JSON object.
//!
//! Vectors are shaped like text embeddings, not uniform noise (on which recall means nothing):
//! a direction all of them share (sentence embeddings are anisotropic), one of 256 topic
//! centres, and per-vector noise; a random pair has cosine about 0.55, a pair of one topic about
//! 0.75, close to the e5 corpus vectors' own histogram (0.7-0.9).

use std::time::Instant;

use rand::{rngs::StdRng, Rng, SeedableRng};
use semsearch::embed::ModelId;
use semsearch::index::{Filter, LocalStore, Passage, PassageVectors, SentenceVector, Store, Write};

const DIM: usize = 384;
const PER_DOC: usize = 20;
/// Documents per write (BENCH_BATCH_DOCS overrides): 250 documents are 5,000 passages.
const BATCH_DOCS: usize = 250;

fn unit(v: &mut [f32]) {
    let n = v.iter().map(|x| x * x).sum::<f32>().sqrt().max(1e-12);
    v.iter_mut().for_each(|x| *x /= n);
}

struct Gen {
    rng: StdRng,
    mean: Vec<f32>,
    centres: Vec<Vec<f32>>,
}

impl Gen {
    fn vector(&mut self) -> Vec<f32> {
        let c = self.rng.gen_range(0..self.centres.len());
        let mut v: Vec<f32> = self.centres[c]
            .iter()
            .zip(&self.mean)
            .map(|(x, m)| m + 0.6 * x + 0.12 * (self.rng.gen::<f32>() - 0.5))
            .collect();
        unit(&mut v);
        v
    }

    fn doc(&mut self, d: usize, sentences: usize) -> (Vec<Passage>, Vec<PassageVectors>) {
        let mut ps = Vec::new();
        let mut vs = Vec::new();
        for i in 0..PER_DOC {
            ps.push(Passage {
                id: format!("d{d}#{}", i + 1),
                doc: format!("d{d}"),
                title: format!("document {d}"),
                section: None,
                clause: None,
                text: format!("第{i}条 文档{d}的段落，关于规划和发展。"),
                start: 0,
                end: 10,
            });
            vs.push(PassageVectors {
                passage: self.vector(),
                sentences: (0..sentences)
                    .map(|s| SentenceVector {
                        start: s as u32,
                        end: s as u32 + 1,
                        vector: self.vector(),
                    })
                    .collect(),
            });
        }
        (ps, vs)
    }
}

fn gen_mean(rng: &mut StdRng) -> f32 {
    rng.gen::<f32>() - 0.5
}

fn percentile(v: &mut [f64], p: usize) -> f64 {
    v.sort_by(f64::total_cmp);
    v[(v.len() * p / 100).min(v.len() - 1)]
}

fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let n: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(10_000);
    let sentences: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(5);
    let dir = std::env::temp_dir().join(format!("semsearch-bench-index-{}", std::process::id()));
    let model = ModelId {
        name: "bench".into(),
        dim: DIM,
        fingerprint: "synthetic".into(),
    };
    let mut rng = StdRng::seed_from_u64(1);
    let centres = (0..256)
        .map(|_| {
            let mut c: Vec<f32> = (0..DIM).map(|_| rng.gen::<f32>() - 0.5).collect();
            unit(&mut c);
            c
        })
        .collect();
    let mut mean: Vec<f32> = (0..DIM).map(|_| gen_mean(&mut rng)).collect();
    unit(&mut mean);
    let mut gen = Gen { rng, mean, centres };
    let docs = n / PER_DOC;
    let mut vectors: Vec<(String, Vec<f32>)> = Vec::new();
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
            for (ps, vs) in &batch {
                vectors.extend(
                    ps.iter()
                        .zip(vs)
                        .map(|(p, v)| (p.id.clone(), v.passage.clone())),
                );
            }
            d += batch.len();
            store.apply(Write::Upsert(batch))?;
        }
        store.settle();
    }
    let build_s = t.elapsed().as_secs_f64();
    let t = Instant::now();
    let store = LocalStore::open(&dir, &model)?;
    let open_s = t.elapsed().as_secs_f64();
    let extra = gen.doc(docs, sentences);
    let t = Instant::now();
    store.apply(Write::Upsert(vec![extra]))?;
    let add_ms = t.elapsed().as_secs_f64() * 1000.0;
    let t = Instant::now();
    store.apply(Write::Delete(format!("d{docs}")))?;
    let delete_ms = t.elapsed().as_secs_f64() * 1000.0;

    let queries: Vec<Vec<f32>> = (0..200).map(|_| gen.vector()).collect();
    let pair_cos = (0..1000)
        .map(|i| {
            let (a, b) = (
                &vectors[(i * 7919) % vectors.len()].1,
                &vectors[(i * 104_729 + 1) % vectors.len()].1,
            );
            semsearch::kernels::dot(a, b) as f64
        })
        .sum::<f64>()
        / 1000.0;
    let measure = |store: &LocalStore, live: &dyn Fn(&str) -> bool, doc: Option<&str>| {
        let snap = store.snapshot();
        let mut times = Vec::new();
        let mut recall = 0.0;
        for q in &queries {
            let t = Instant::now();
            let got = snap.nearest(q, 10, Filter { doc, exclude: &[] });
            times.push(t.elapsed().as_secs_f64() * 1000.0);
            let mut exact: Vec<(f32, &str)> = vectors
                .iter()
                .filter(|(id, _)| live(id) && doc.is_none_or(|d| id.starts_with(&format!("{d}#"))))
                .map(|(id, v)| (semsearch::kernels::dot(q, v), id.as_str()))
                .collect();
            exact.sort_by(|a, b| b.0.total_cmp(&a.0));
            let want: Vec<&str> = exact.iter().take(10).map(|e| e.1).collect();
            let got: Vec<String> = got
                .iter()
                .filter_map(|(k, _)| snap.passage(*k))
                .map(|p| p.id)
                .collect();
            let hit = got.iter().filter(|g| want.contains(&g.as_str())).count();
            recall += hit as f64 / want.len().max(1) as f64;
        }
        let p50 = percentile(&mut times, 50);
        let p99 = percentile(&mut times, 99);
        (p50, p99, recall / queries.len() as f64)
    };
    let (p50, p99, recall) = measure(&store, &|_| true, None);
    let snap = store.snapshot();
    let t = Instant::now();
    for q in &queries {
        snap.nearest(q, 10, Filter::default());
    }
    let qps = queries.len() as f64 / t.elapsed().as_secs_f64();
    drop(snap);
    if let Ok(dir) = std::env::var("BENCH_EXPORT") {
        // The same vectors and queries for the anchor (scripts/bench-index.sh runs hnswlib).
        let dir = std::path::Path::new(&dir);
        std::fs::create_dir_all(dir)?;
        let flat = |vs: &mut dyn Iterator<Item = &Vec<f32>>| -> Vec<u8> {
            vs.flat_map(|v| v.iter().flat_map(|x| x.to_le_bytes()))
                .collect()
        };
        std::fs::write(
            dir.join("vectors.f32"),
            flat(&mut vectors.iter().map(|v| &v.1)),
        )?;
        std::fs::write(dir.join("queries.f32"), flat(&mut queries.iter()))?;
    }
    let (fp50, _, frecall) = measure(&store, &|_| true, Some("d7"));
    let deleted: Vec<String> = (0..docs)
        .filter(|d| d % 5 == 0)
        .map(|d| format!("d{d}"))
        .collect();
    let t = Instant::now();
    for d in &deleted {
        store.apply(Write::Delete(d.clone()))?;
    }
    let delete_20pct_s = t.elapsed().as_secs_f64();
    let gone: std::collections::HashSet<&str> = deleted.iter().map(String::as_str).collect();
    let live = |id: &str| !gone.contains(id.split('#').next().unwrap_or(""));
    let (dp50, _, drecall) = measure(&store, &live, None);
    drop(store);
    let _ = std::fs::remove_dir_all(&dir);
    println!(
        "{}",
        serde_json::json!({
            "passages": n, "sentences_per_passage": sentences, "random_pair_cosine": pair_cos,
            "build_s": build_s, "open_s": open_s,
            "add_20_passages_ms": add_ms, "delete_one_ms": delete_ms,
            "search_p50_ms": p50, "search_p99_ms": p99, "recall@10": recall, "queries_per_s": qps,
            "filtered_p50_ms": fp50, "filtered_recall@10": frecall,
            "delete_20pct_s": delete_20pct_s, "deleted20_p50_ms": dp50, "deleted20_recall@10": drecall,
        })
    );
    Ok(())
}
