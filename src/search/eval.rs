//! Retrieval evaluation: recall@k and MRR@10 over SQuAD-format sets (a fresh in-memory index,
//! one document per paragraph) or question/evidence pairs against an existing index.

use std::path::Path;
use std::time::Instant;

use serde::{Deserialize, Serialize};
use unicode_normalization::UnicodeNormalization;

use super::{Engine, Hit, Mode};
use crate::embed::TextKind;
use crate::error::{Error, Result};
use crate::ingest::{Format, RawDocument};

/// The eval JSON of the contract.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// Retrieval mode.
    pub mode: Mode,
    /// Questions asked.
    pub questions: usize,
    /// Passages in the index.
    pub passages: usize,
    /// Share with a hit at rank 1.
    #[serde(rename = "recall@1")]
    pub recall_1: f64,
    /// Share with a hit in the top 5.
    #[serde(rename = "recall@5")]
    pub recall_5: f64,
    /// Share with a hit in the top 10.
    #[serde(rename = "recall@10")]
    pub recall_10: f64,
    /// Mean reciprocal rank of the first hit (0 beyond 10).
    #[serde(rename = "mrr@10")]
    pub mrr_10: f64,
    /// Wall time.
    pub seconds: f64,
}

#[derive(Deserialize)]
struct Squad {
    data: Vec<Article>,
}
#[derive(Deserialize)]
struct Article {
    paragraphs: Vec<Paragraph>,
}
#[derive(Deserialize)]
struct Paragraph {
    context: String,
    qas: Vec<Qa>,
}
#[derive(Deserialize)]
struct Qa {
    question: String,
}

fn read_squad(path: &Path) -> Result<Squad> {
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    serde_json::from_slice(&bytes)
        .map_err(|e| Error::invalid(format!("{}: not SQuAD v1 JSON: {e}", path.display())))
}

/// Ranks (1-based) of the first hit per question, None when no hit in the list.
fn report(mode: Mode, passages: usize, ranks: &[Option<usize>], started: Instant) -> Report {
    let n = ranks.len().max(1) as f64;
    let within = |k: usize| ranks.iter().filter(|r| r.is_some_and(|r| r <= k)).count() as f64 / n;
    let mrr = ranks
        .iter()
        .map(|r| r.filter(|&r| r <= 10).map_or(0.0, |r| 1.0 / r as f64))
        .sum::<f64>()
        / n;
    Report {
        mode,
        questions: ranks.len(),
        passages,
        recall_1: within(1),
        recall_5: within(5),
        recall_10: within(10),
        mrr_10: mrr,
        seconds: started.elapsed().as_secs_f64(),
    }
}

fn first_hit(hits: &[Hit], is_hit: impl Fn(&Hit) -> bool) -> Option<usize> {
    hits.iter().position(is_hit).map(|i| i + 1)
}

/// SQuAD eval: `engine` must be empty and in memory; it gets one document per paragraph.
pub fn squad(
    engine: &Engine,
    file: &Path,
    questions: Option<&Path>,
    mode: Mode,
    k: usize,
    progress: &dyn Fn(&str, usize, usize),
) -> Result<Report> {
    let started = Instant::now();
    let set = read_squad(file)?;
    let asked = match questions {
        Some(q) => read_squad(q)?,
        None => read_squad(file)?,
    };
    let mut raws = Vec::new();
    let mut qs: Vec<(String, String)> = Vec::new(); // (doc, question)
    if asked.data.len() != set.data.len() {
        return Err(Error::invalid(
            "--questions file has a different number of articles",
        ));
    }
    for (ai, (a, qa)) in set.data.iter().zip(&asked.data).enumerate() {
        if a.paragraphs.len() != qa.paragraphs.len() {
            return Err(Error::invalid(format!(
                "--questions file differs in paragraphs of article {ai}"
            )));
        }
        for (pi, (p, qp)) in a.paragraphs.iter().zip(&qa.paragraphs).enumerate() {
            let doc = format!("a{ai}-p{pi}");
            raws.push(RawDocument {
                doc: doc.clone(),
                title: None,
                text: p.context.clone(),
                format: Format::Text,
            });
            qs.extend(qp.qas.iter().map(|q| (doc.clone(), q.question.clone())));
        }
    }
    let mut passages = Vec::new();
    for raw in &raws {
        passages.push(engine.passages_of(raw)?);
    }
    let total: usize = passages.iter().map(Vec::len).sum();
    let flat: Vec<_> = passages.iter().flatten().cloned().collect();
    let done = std::cell::Cell::new(0);
    let vectors = engine.embed_passages(&flat, &|n| {
        done.set(done.get() + n);
        progress("passages", done.get(), total);
    })?;
    let mut it = vectors.into_iter();
    let prepared = passages.into_iter().map(|ps| {
        let vs: Vec<_> = it.by_ref().take(ps.len()).collect();
        (ps, vs)
    });
    engine.add(prepared.collect())?;
    let texts: Vec<&str> = qs.iter().map(|(_, q)| q.as_str()).collect();
    let mut ranks = Vec::with_capacity(qs.len());
    for (ci, chunk) in texts.chunks(64).enumerate() {
        let vecs = engine.embedder().embed(chunk, TextKind::Query)?;
        for (j, v) in vecs.iter().enumerate() {
            let doc = &qs[ci * 64 + j].0;
            let hits = engine.search_vector(v, k, mode, None);
            ranks.push(first_hit(&hits, |h| &h.passage.doc == doc));
        }
        progress("questions", ranks.len(), qs.len());
    }
    Ok(report(mode, total, &ranks, started))
}

#[derive(Deserialize)]
struct QaLine {
    question: String,
    evidence: String,
}

/// NFKC, whitespace removed: how evidence and passages are compared.
pub fn normalize(s: &str) -> String {
    s.nfkc().filter(|c| !c.is_whitespace()).collect()
}

/// Question/evidence eval against the engine's existing index.
pub fn qa(engine: &Engine, file: &Path, mode: Mode, k: usize) -> Result<Report> {
    let started = Instant::now();
    let text = std::fs::read_to_string(file).map_err(|e| Error::io(file, e))?;
    let lines: Vec<QaLine> = text
        .lines()
        .filter(|l| !l.trim().is_empty())
        .enumerate()
        .map(|(i, l)| {
            serde_json::from_str(l)
                .map_err(|e| Error::invalid(format!("{}:{}: {e}", file.display(), i + 1)))
        })
        .collect::<Result<_>>()?;
    let passages = engine.snapshot().len();
    if passages == 0 {
        return Err(Error::invalid("the index is empty: ingest documents first"));
    }
    let mut ranks = Vec::new();
    for l in &lines {
        let ev = normalize(&l.evidence);
        let hits = engine.search(&l.question, k, mode, None)?;
        ranks.push(first_hit(&hits, |h| {
            normalize(&h.passage.text).contains(&ev)
        }));
    }
    Ok(report(mode, passages, &ranks, started))
}
