//! Retrieval evaluation: recall@k and MRR@10 over SQuAD-format sets (a fresh in-memory index,
//! one document per paragraph) or question/evidence pairs against an existing index. It drives
//! the engine through its public API, as any edge does, so what it measures is what users get.

use std::path::Path;
use std::time::Instant;

use serde::{Deserialize, Serialize};
use unicode_normalization::UnicodeNormalization;

use crate::embed::TextKind;
use crate::engine::{Engine, Hit, Mode, SearchRequest};
use crate::error::{Error, Result};
use crate::ingest::{Format, RawDocument};
use crate::search::SentenceCache;

/// Questions embedded per call: large enough to fill the encoder's batches, small enough that
/// progress moves.
const QUESTION_CHUNK: usize = 64;

/// One line of `semsearch eval` output (ARCHITECTURE.md, "The contract").
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
    /// Share of questions whose answer sentence contains a gold answer (SQuAD, when asked for).
    #[serde(rename = "answer@1", skip_serializing_if = "Option::is_none")]
    pub answer_1: Option<f64>,
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
    #[serde(default)]
    answers: Vec<Gold>,
}
#[derive(Deserialize)]
struct Gold {
    text: String,
}

fn read_squad(path: &Path) -> Result<Squad> {
    let bytes = std::fs::read(path)
        .map_err(|e| Error::invalid(format!("cannot read {}: {e}", path.display())))?;
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
        answer_1: None,
        seconds: started.elapsed().as_secs_f64(),
    }
}

fn first_hit(hits: &[Hit], is_hit: impl Fn(&Hit) -> bool) -> Option<usize> {
    hits.iter().position(is_hit).map(|i| i + 1)
}

/// SQuAD eval: `engine` must be empty and in memory; it gets one document per paragraph. One
/// report per mode, all from the same index and question vectors; `answers` adds answer@1.
#[allow(clippy::too_many_arguments)]
pub fn squad(
    engine: &Engine,
    file: &Path,
    questions: Option<&Path>,
    modes: &[Mode],
    k: usize,
    answers: bool,
    progress: &dyn Fn(&str, usize, usize),
) -> Result<Vec<Report>> {
    let started = Instant::now();
    let set = read_squad(file)?;
    let asked = match questions {
        Some(q) => read_squad(q)?,
        None => read_squad(file)?,
    };
    let mut raws = Vec::new();
    // (doc, question, gold answers from the passages' own language)
    let mut qs: Vec<(String, String, Vec<String>)> = Vec::new();
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
            raws.push(RawDocument::new(
                doc.clone(),
                p.context.clone(),
                Format::Text,
            ));
            for (qi, q) in qp.qas.iter().enumerate() {
                let gold = p
                    .qas
                    .get(qi)
                    .map(|g| g.answers.iter().map(|a| a.text.clone()).collect())
                    .unwrap_or_default();
                qs.push((doc.clone(), q.question.clone(), gold));
            }
        }
    }
    let drafts = crate::engine::draft(engine.embedder().as_ref(), engine.options(), &raws)?;
    let total: usize = drafts.iter().map(|d| d.passages.len()).sum();
    let done = std::cell::Cell::new(0);
    engine.ingest_drafts(drafts, &|n| {
        done.set(done.get() + n);
        progress("passages", done.get(), total);
    })?;
    let texts: Vec<&str> = qs.iter().map(|q| q.1.as_str()).collect();
    let mut qvecs = Vec::with_capacity(texts.len());
    for chunk in texts.chunks(QUESTION_CHUNK) {
        qvecs.extend(engine.embedder().embed(chunk, TextKind::Query)?);
        progress("questions", qvecs.len(), texts.len());
    }
    let embed_secs = started.elapsed().as_secs_f64();
    let mut reports = Vec::new();
    // Sentence vectors depend only on the passage: shared by every mode.
    let mut cache = SentenceCache::default();
    for &mode in modes {
        let t = Instant::now();
        let mut ranks = Vec::with_capacity(qs.len());
        let mut answered = 0usize;
        for (i, ((doc, question, gold), v)) in qs.iter().zip(&qvecs).enumerate() {
            // The public sets hold a few blank questions (CMRC 2018 trial: 2 of 1002). The
            // engine refuses those; they count as misses, so the denominator stays the set's.
            if question.trim().is_empty() {
                ranks.push(None);
                continue;
            }
            let req = SearchRequest::new(question.as_str()).k(k).mode(mode);
            let hits = engine.search_embedded(&req, v)?;
            ranks.push(first_hit(&hits, |h| &h.passage.doc == doc));
            if answers {
                let a = engine.answer(req.query(), v, &hits, &mut cache)?;
                if a.is_some_and(|a| {
                    gold.iter()
                        .any(|g| !g.is_empty() && a.text.contains(g.as_str()))
                }) {
                    answered += 1;
                }
                progress("answers", i + 1, qs.len());
            }
        }
        let mut r = report(mode, total, &ranks, t);
        r.seconds += embed_secs;
        if answers {
            r.answer_1 = Some(answered as f64 / qs.len().max(1) as f64);
        }
        reports.push(r);
    }
    Ok(reports)
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

/// Question/evidence eval against the engine's existing index, one report per mode.
pub fn qa(engine: &Engine, file: &Path, modes: &[Mode], k: usize) -> Result<Vec<Report>> {
    let text = std::fs::read_to_string(file)
        .map_err(|e| Error::invalid(format!("cannot read {}: {e}", file.display())))?;
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
    let mut reports = Vec::new();
    for &mode in modes {
        let t = Instant::now();
        let mut ranks = Vec::new();
        for l in &lines {
            let ev = normalize(&l.evidence);
            if l.question.trim().is_empty() {
                ranks.push(None);
                continue;
            }
            let hits = engine.search(&SearchRequest::new(l.question.as_str()).k(k).mode(mode))?;
            ranks.push(first_hit(&hits, |h| {
                normalize(&h.passage.text).contains(&ev)
            }));
        }
        reports.push(report(mode, passages, &ranks, t));
    }
    Ok(reports)
}
