//! Retrieval evaluation: recall@k and MRR@10 over SQuAD-format sets (a fresh in-memory index,
//! one document per paragraph) or question/evidence pairs against an existing index. It drives
//! the engine through its public API, as any edge does, so what it measures is what users get.

use std::path::Path;
use std::time::Instant;

use serde::{Deserialize, Serialize};
use unicode_normalization::UnicodeNormalization;

use crate::engine::{Engine, Hit, Mode, SearchRequest};
use crate::error::{Error, Result};
use crate::ingest::{Format, RawDocument};
use crate::search::SentenceCache;

/// Questions embedded per call: large enough to fill the encoder's batches, small enough that
/// progress moves.
const QUESTION_CHUNK: usize = 64;

mod followups;
mod related;

pub use followups::{followups, FollowupReport, TurnScores};
pub use related::{related, RelatedReport};

/// One line of `semsearch eval` output (ARCHITECTURE.md, "The contract").
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// Retrieval mode.
    pub mode: Mode,
    /// The `--questions` file these questions came from, when several were given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub asked: Option<String>,
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
        asked: None,
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

/// Ingests `raws` into `engine`, reporting passages embedded; returns the passages stored.
fn ingest(
    engine: &Engine,
    raws: &[RawDocument],
    progress: &dyn Fn(&str, usize, usize),
) -> Result<usize> {
    let drafts = crate::engine::draft(engine.embedder().as_ref(), engine.options(), raws)?;
    let total: usize = drafts.iter().map(|d| d.passages.len()).sum();
    let done = std::cell::Cell::new(0);
    engine.ingest_drafts(drafts, &|n| {
        done.set(done.get() + n);
        progress("passages", done.get(), total);
    })?;
    Ok(total)
}

/// Questions of a SQuAD set: (article, paragraph's document id, question, gold answers).
type SquadQuestion = (usize, String, String, Vec<String>);

/// One document per paragraph of the articles `keep` accepts, and every question of the set
/// (from `questions`, a parallel file, when given; gold answers from `file`).
fn squad_documents(
    file: &Path,
    questions: Option<&Path>,
    keep: impl Fn(usize) -> bool,
) -> Result<(Vec<RawDocument>, Vec<SquadQuestion>)> {
    let set = read_squad(file)?;
    let asked = match questions {
        Some(q) => read_squad(q)?,
        None => read_squad(file)?,
    };
    if asked.data.len() != set.data.len() {
        return Err(Error::invalid(
            "--questions file has a different number of articles",
        ));
    }
    let mut raws = Vec::new();
    let mut qs = Vec::new();
    for (ai, (a, qa)) in set.data.iter().zip(&asked.data).enumerate() {
        if a.paragraphs.len() != qa.paragraphs.len() {
            return Err(Error::invalid(format!(
                "--questions file differs in paragraphs of article {ai}"
            )));
        }
        for (pi, (p, qp)) in a.paragraphs.iter().zip(&qa.paragraphs).enumerate() {
            let doc = format!("a{ai}-p{pi}");
            if keep(ai) {
                raws.push(RawDocument::new(
                    doc.clone(),
                    p.context.clone(),
                    Format::Text,
                ));
            }
            for (qi, q) in qp.qas.iter().enumerate() {
                let gold = p
                    .qas
                    .get(qi)
                    .map(|g| g.answers.iter().map(|a| a.text.clone()).collect())
                    .unwrap_or_default();
                qs.push((ai, doc.clone(), q.question.clone(), gold));
            }
        }
    }
    Ok((raws, qs))
}

/// Abstention on a SQuAD set (`semsearch eval --squad FILE --unanswerable-held-out`): the
/// in-memory `engine` gets the paragraphs of the odd-numbered articles only; questions about
/// even-numbered articles are then unanswerable (their article is not in the index), those about
/// odd-numbered ones answerable (their paragraph should be in the top 5).
pub fn squad_abstention(
    engine: &Engine,
    file: &Path,
    questions: Option<&Path>,
    min_relevance: f32,
    progress: &dyn Fn(&str, usize, usize),
) -> Result<AbstentionReport> {
    let held = |ai: usize| ai % 2 == 1;
    let (raws, qs) = squad_documents(file, questions, held)?;
    ingest(engine, &raws, progress)?;
    let (mut un, mut ans) = (Vec::new(), Vec::new());
    for (i, (ai, doc, question, _)) in qs.iter().enumerate() {
        progress("questions", i + 1, qs.len());
        if question.trim().is_empty() {
            continue;
        }
        let hits = engine.search(&SearchRequest::new(question.as_str()).k(5))?;
        if held(*ai) {
            ans.push(outcome(&hits, |h| &h.passage.doc == doc));
        } else {
            un.push(outcome(&hits, |_| false));
        }
    }
    Ok(abstention_report(&un, &ans, min_relevance))
}

/// SQuAD eval: `engine` must be empty and in memory; it gets one document per paragraph. One
/// report per mode and question set (`questions`, parallel files; the set's own questions when
/// empty), all from the same index; `answers` adds answer@1.
#[allow(clippy::too_many_arguments)]
pub fn squad(
    engine: &Engine,
    file: &Path,
    questions: &[&Path],
    modes: &[Mode],
    k: usize,
    answers: bool,
    progress: &dyn Fn(&str, usize, usize),
) -> Result<Vec<Report>> {
    let sets: Vec<Option<&Path>> = if questions.is_empty() {
        vec![None]
    } else {
        questions.iter().map(|q| Some(*q)).collect()
    };
    // Every set is read before the slow ingest, so a bad file fails at once.
    let mut asked = Vec::with_capacity(sets.len());
    for set in &sets {
        asked.push(squad_documents(file, *set, |_| true)?);
    }
    let started = Instant::now();
    let total = ingest(engine, &asked[0].0, progress)?;
    let ingest_secs = started.elapsed().as_secs_f64();
    // Sentence vectors depend only on the passage: shared by every mode and set.
    let mut cache = SentenceCache::default();
    let mut reports = Vec::new();
    for (set, (_, qs)) in sets.iter().zip(&asked) {
        let name = set
            .filter(|_| sets.len() > 1)
            .map(|p| p.display().to_string());
        let mut set_reports = squad_set(engine, qs, modes, k, answers, &mut cache, progress)?;
        for r in &mut set_reports {
            r.passages = total;
            r.seconds += ingest_secs;
            r.asked = name.clone();
        }
        reports.extend(set_reports);
    }
    Ok(reports)
}

/// One report per mode for one set of SQuAD questions over the ingested paragraphs.
fn squad_set(
    engine: &Engine,
    qs: &[SquadQuestion],
    modes: &[Mode],
    k: usize,
    answers: bool,
    cache: &mut SentenceCache,
    progress: &dyn Fn(&str, usize, usize),
) -> Result<Vec<Report>> {
    let started = Instant::now();
    let texts: Vec<&str> = qs.iter().map(|q| q.2.as_str()).collect();
    let mut qvecs = Vec::with_capacity(texts.len());
    for chunk in texts.chunks(QUESTION_CHUNK) {
        qvecs.extend(engine.embed_queries(chunk)?);
        progress("questions", qvecs.len(), texts.len());
    }
    let embed_secs = started.elapsed().as_secs_f64();
    let mut reports = Vec::new();
    for &mode in modes {
        let t = Instant::now();
        let mut ranks = Vec::with_capacity(qs.len());
        let mut answered = 0usize;
        for (i, ((_, doc, question, gold), v)) in qs.iter().zip(&qvecs).enumerate() {
            // The public sets hold a few blank questions (CMRC 2018 trial: 2 of 1002). The
            // engine refuses those; they count as misses, so the denominator stays the set's.
            if question.trim().is_empty() {
                ranks.push(None);
                continue;
            }
            let req = SearchRequest::new(question.as_str()).k(k).mode(mode);
            let snap = engine.snapshot()?;
            let hits = engine.search_in(snap.as_ref(), &req, v)?;
            ranks.push(first_hit(&hits, |h| &h.passage.doc == doc));
            if answers {
                let a = engine.answer(snap.as_ref(), req.query(), v, &hits, cache)?;
                if a.is_some_and(|a| {
                    gold.iter()
                        .any(|g| !g.is_empty() && a.text.contains(g.as_str()))
                }) {
                    answered += 1;
                }
                progress("answers", i + 1, qs.len());
            }
        }
        let mut r = report(mode, 0, &ranks, t);
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
    let passages = engine.snapshot()?.len();
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

/// Abstention (`semsearch eval --unanswerable`): how often the engine says "not in the
/// documents" for questions they do not answer, and how often it still answers those they do.
#[derive(Debug, Clone, Serialize)]
pub struct AbstentionReport {
    /// Unanswerable questions asked.
    pub unanswerable: usize,
    /// Share of them answered `found: false`.
    pub abstained: f64,
    /// Answerable questions asked.
    pub answerable: usize,
    /// Share of those answered `found: true` with an evidence passage in the top 5.
    #[serde(rename = "answered@5")]
    pub answered_5: f64,
    /// The threshold used.
    pub min_relevance: f32,
    /// The same two shares at other thresholds (0.3 to 0.7), from the same answers.
    pub sweep: Vec<SweepPoint>,
}

/// Abstention at one threshold.
#[derive(Debug, Clone, Serialize)]
pub struct SweepPoint {
    /// Threshold.
    pub min_relevance: f32,
    /// Share of unanswerable questions abstained.
    pub abstained: f64,
    /// Share of answerable questions found with evidence in the top 5.
    #[serde(rename = "answered@5")]
    pub answered_5: f64,
}

/// What one question's answer needs for every threshold: its best relevance, and (answerable
/// questions) whether the evidence is in the top 5.
struct Outcome {
    best: f32,
    evidence: bool,
}

fn abstention_report(un: &[Outcome], ans: &[Outcome], min_relevance: f32) -> AbstentionReport {
    let point = |t: f32| SweepPoint {
        min_relevance: t,
        abstained: un.iter().filter(|o| o.best < t).count() as f64 / un.len().max(1) as f64,
        answered_5: ans.iter().filter(|o| o.best >= t && o.evidence).count() as f64
            / ans.len().max(1) as f64,
    };
    let at = point(min_relevance);
    AbstentionReport {
        unanswerable: un.len(),
        abstained: at.abstained,
        answerable: ans.len(),
        answered_5: at.answered_5,
        min_relevance,
        sweep: [0.3, 0.4, 0.45, 0.5, 0.55, 0.6, 0.7].map(point).to_vec(),
    }
}

fn outcome(hits: &[Hit], evidence: impl Fn(&Hit) -> bool) -> Outcome {
    Outcome {
        best: hits.iter().map(|h| h.relevance).fold(0.0, f32::max),
        evidence: hits.iter().take(5).any(evidence),
    }
}

#[derive(Deserialize)]
struct QuestionLine {
    question: String,
}

fn read_jsonl<T: for<'de> Deserialize<'de>>(file: &Path) -> Result<Vec<T>> {
    let text = std::fs::read_to_string(file)
        .map_err(|e| Error::invalid(format!("cannot read {}: {e}", file.display())))?;
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| {
            serde_json::from_str(l)
                .map_err(|e| Error::invalid(format!("{}:{}: {e}", file.display(), i + 1)))
        })
        .collect()
}

/// Asks `unanswerable` questions (JSONL `{question}`) and `answerable` ones (JSONL `{question,
/// evidence}`, optional) of the engine's index at relevance threshold `min_relevance`.
pub fn abstention(
    engine: &Engine,
    unanswerable: &Path,
    answerable: Option<&Path>,
    min_relevance: f32,
) -> Result<AbstentionReport> {
    let un: Vec<QuestionLine> = read_jsonl(unanswerable)?;
    let ans: Vec<QaLine> = match answerable {
        Some(f) => read_jsonl(f)?,
        None => Vec::new(),
    };
    if engine.snapshot()?.is_empty() {
        return Err(Error::invalid("the index is empty: ingest documents first"));
    }
    let search = |q: &str| engine.search(&SearchRequest::new(q).k(5));
    let mut un_out = Vec::new();
    for l in &un {
        un_out.push(outcome(&search(&l.question)?, |_| false));
    }
    let mut ans_out = Vec::new();
    for l in &ans {
        let ev = normalize(&l.evidence);
        ans_out.push(outcome(&search(&l.question)?, |h| {
            normalize(&h.passage.text).contains(&ev)
        }));
    }
    Ok(abstention_report(&un_out, &ans_out, min_relevance))
}
