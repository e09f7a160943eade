//! Embedding-like synthetic vectors for the index benchmarks: real multilingual-e5 vectors of
//! CMRC sentences and questions are the seeds (see [`Gen`]), so that recall means something
//! (on uniform noise it does not). Shared by `bench_index` and `bench_filter` through `#[path]`.

use std::path::{Path, PathBuf};

use rand::{rngs::StdRng, Rng};

use semsearch::embed::{Embedder, TextEmbedder, TextKind};
use semsearch::index::{Metadata, Passage, PassageVectors, SentenceVector};
use semsearch::kernels::dot;

/// Dimensions of multilingual-e5-small.
pub const DIM: usize = 384;
/// Passages per synthetic document (passage i of a build is `d{i / 20}#{i % 20 + 1}`).
pub const PER_DOC: usize = 20;

/// Real e5 vectors to shape the synthetic ones after: sentences of the CMRC trial paragraphs
/// (as passages) and its questions (as queries), embedded once with the real model and cached.
pub struct Seeds {
    pub passages: Vec<Vec<f32>>,
    pub queries: Vec<Vec<f32>>,
}

const SEED_PASSAGES: usize = 1200;
const SEED_QUERIES: usize = 300;

impl Seeds {
    /// The seeds, embedded with the model in `model_dir` the first time and cached.
    pub fn load(model_dir: &Path) -> anyhow::Result<Seeds> {
        let data: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(
            "tests/fixtures/eval/cmrc2018_trial.json",
        )?)?;
        let mut sentences = Vec::new();
        let mut questions = Vec::new();
        for p in data["data"].as_array().into_iter().flatten() {
            for para in p["paragraphs"].as_array().into_iter().flatten() {
                let context = para["context"].as_str().unwrap_or_default();
                sentences.extend(
                    context
                        .split_inclusive(['。', '！', '？'])
                        .map(str::trim)
                        .filter(|s| s.chars().count() >= 8)
                        .map(String::from),
                );
                for qa in para["qas"].as_array().into_iter().flatten() {
                    questions.extend(qa["question"].as_str().map(String::from));
                }
            }
        }
        // Spread over the whole set, not its first articles.
        let pick = |v: &[String], n: usize| -> Vec<String> {
            let step = (v.len() / n).max(1);
            v.iter().step_by(step).take(n).cloned().collect()
        };
        let (sentences, questions) = (
            pick(&sentences, SEED_PASSAGES),
            pick(&questions, SEED_QUERIES),
        );
        let name = model_dir.file_name().unwrap_or_default().to_string_lossy();
        let cache = std::env::var("SEMSEARCH_CACHE")
            .map(PathBuf::from)
            .unwrap_or_else(|_| {
                PathBuf::from(std::env::var("HOME").unwrap_or_default()).join(".cache/semsearch")
            })
            .join(format!(
                "bench-seeds-{name}-{}-{}.json",
                sentences.len(),
                questions.len()
            ));
        if let Ok(text) = std::fs::read(&cache) {
            if let Ok((passages, queries)) = serde_json::from_slice(&text) {
                return Ok(Seeds { passages, queries });
            }
        }
        let embedder = TextEmbedder::load(model_dir)?;
        eprintln!(
            "embedding {} seed sentences and {} seed questions with {} (cached in {})",
            sentences.len(),
            questions.len(),
            embedder.id().name,
            cache.display()
        );
        let embed = |texts: &[String], kind| -> anyhow::Result<Vec<Vec<f32>>> {
            let mut out = Vec::new();
            for chunk in texts.chunks(32) {
                let refs: Vec<&str> = chunk.iter().map(String::as_str).collect();
                out.extend(embedder.embed(&refs, kind)?);
            }
            Ok(out)
        };
        let seeds = Seeds {
            passages: embed(&sentences, TextKind::Passage)?,
            queries: embed(&questions, TextKind::Query)?,
        };
        if let Some(parent) = cache.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::write(
            &cache,
            serde_json::to_vec(&(&seeds.passages, &seeds.queries))?,
        )?;
        Ok(seeds)
    }
}

/// Scales `v` to unit length.
pub fn unit(v: &mut [f32]) {
    let n = v.iter().map(|x| x * x).sum::<f32>().sqrt().max(1e-12);
    v.iter_mut().for_each(|x| *x /= n);
}

/// A standard normal draw (Box-Muller).
fn normal(rng: &mut StdRng) -> f32 {
    let (u, v): (f32, f32) = (rng.gen::<f32>().max(1e-12), rng.gen());
    (-2.0 * u.ln()).sqrt() * (std::f32::consts::TAU * v).cos()
}

/// Rank of the perturbation: directions along which real passages differ.
const RANK: usize = 24;
/// How far along the way to a second seed a vector may lie.
const MIX: f32 = 0.5;
/// Spread along each perturbation direction (passages, queries).
const SPREAD: f32 = 0.045;
const QUERY_SPREAD: f32 = 0.03;

/// Embedding-like vectors: a real passage vector moved part of the way towards another one
/// (so that vectors fill the regions between real ones rather than clumping on them), plus a
/// low-rank perturbation along differences of real vectors; queries are real question vectors
/// with a smaller perturbation.
pub struct Gen {
    rng: StdRng,
    seeds: Seeds,
    basis: Vec<Vec<f32>>,
}

impl Gen {
    /// A generator seeded by `seeds`.
    pub fn new(seeds: Seeds, mut rng: StdRng) -> Gen {
        let mut basis: Vec<Vec<f32>> = Vec::new();
        while basis.len() < RANK {
            let n = seeds.passages.len();
            let (a, b) = (
                &seeds.passages[rng.gen_range(0..n)],
                &seeds.passages[rng.gen_range(0..n)],
            );
            let mut d: Vec<f32> = a.iter().zip(b).map(|(x, y)| x - y).collect();
            for e in &basis {
                let p = dot(&d, e);
                d.iter_mut().zip(e).for_each(|(x, y)| *x -= p * y);
            }
            if d.iter().map(|x| x * x).sum::<f32>() > 1e-4 {
                unit(&mut d);
                basis.push(d);
            }
        }
        Gen { rng, seeds, basis }
    }

    fn perturb(&mut self, mut v: Vec<f32>, spread: f32) -> Vec<f32> {
        for e in &self.basis {
            let z = spread * normal(&mut self.rng);
            v.iter_mut().zip(e).for_each(|(x, y)| *x += z * y);
        }
        unit(&mut v);
        v
    }

    /// A passage-like vector.
    pub fn vector(&mut self) -> Vec<f32> {
        let n = self.seeds.passages.len();
        let (a, b) = (self.rng.gen_range(0..n), self.rng.gen_range(0..n));
        let t = MIX * self.rng.gen::<f32>();
        let (a, b) = (&self.seeds.passages[a], &self.seeds.passages[b]);
        let v = a.iter().zip(b).map(|(x, y)| x + t * (y - x)).collect();
        self.perturb(v, SPREAD)
    }

    /// A question-like vector.
    pub fn query(&mut self) -> Vec<f32> {
        let q = self.seeds.queries[self.rng.gen_range(0..self.seeds.queries.len())].clone();
        self.perturb(q, QUERY_SPREAD)
    }

    /// Document `d`: [`PER_DOC`] passages of `sentences` sentence vectors each.
    pub fn doc(&mut self, d: usize, sentences: usize) -> (Vec<Passage>, Vec<PassageVectors>) {
        self.doc_with(d, sentences, Metadata::default())
    }

    /// Document `d` with `metadata` on every passage.
    pub fn doc_with(
        &mut self,
        d: usize,
        sentences: usize,
        metadata: Metadata,
    ) -> (Vec<Passage>, Vec<PassageVectors>) {
        let mut ps = Vec::new();
        let mut vs = Vec::new();
        for i in 0..PER_DOC {
            ps.push(Passage {
                page: None,
                id: format!("d{d}#{}", i + 1),
                doc: format!("d{d}"),
                title: format!("document {d}"),
                section: None,
                clause: None,
                text: format!("第{i}条 文档{d}的段落，关于规划和发展。"),
                start: 0,
                end: 10,
                metadata: metadata.clone(),
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

/// Ids of the exact 10 nearest of `vectors` (passage `i` is `d{i / 20}#{i % 20 + 1}`) to `q`
/// among the passages `keep` accepts (by index): what recall@10 is measured against.
pub fn exact_top10(q: &[f32], vectors: &[f32], keep: &dyn Fn(usize) -> bool) -> Vec<String> {
    let mut exact: Vec<(f32, usize)> = vectors
        .chunks_exact(DIM)
        .enumerate()
        .filter(|(i, _)| keep(*i))
        .map(|(i, v)| (dot(q, v), i))
        .collect();
    exact.sort_by(|a, b| b.0.total_cmp(&a.0));
    exact
        .iter()
        .take(10)
        .map(|&(_, i)| format!("d{}#{}", i / PER_DOC, i % PER_DOC + 1))
        .collect()
}
