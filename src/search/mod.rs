//! Retrieval over a [`Snapshot`]: dense, lexical, or both fused. Pure of the engine: it takes a
//! snapshot and a question already embedded, and returns keys with scores, so the same code runs
//! over any store.

pub mod answer;
pub mod calibration;
pub mod dense;
pub mod fusion;
pub mod page;
pub mod related;
pub mod relevance;

use crate::config::FUSION_DEPTH;
use crate::error::{Error, Result};
use crate::index::{DocFilter, Filter, Key, Snapshot, StoreError};

pub use answer::SentenceCache;
use fusion::FusionParams;

/// Retrieval mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// Dense and lexical rankings fused (the default).
    Hybrid,
    /// Vector similarity only.
    Dense,
    /// BM25 only.
    Lexical,
}

impl Mode {
    /// Parses `hybrid`, `dense` or `lexical`.
    pub fn parse(s: &str) -> Result<Self> {
        match s {
            "hybrid" => Ok(Mode::Hybrid),
            "dense" => Ok(Mode::Dense),
            "lexical" => Ok(Mode::Lexical),
            other => Err(Error::invalid(format!(
                "unknown mode {other:?} (expected hybrid, dense or lexical)"
            ))),
        }
    }
}

/// A validated question, embedded.
#[derive(Debug, Clone, Copy)]
pub struct Query<'a> {
    /// The question (trimmed).
    pub text: &'a str,
    /// Its vector (unused in lexical mode).
    pub vector: &'a [f32],
    /// Results wanted.
    pub k: usize,
    /// Retrieval mode.
    pub mode: Mode,
    /// The documents searched.
    pub docs: &'a DocFilter,
    /// The question's background per script (see [`relevance::Background`]).
    pub background: &'a relevance::Background,
}

/// Passages from the top of the dense list whose language is compared with the question's (see
/// [`fusion::language_agreement`]): enough to outvote one odd passage.
const AGREEMENT_PASSAGES: usize = 3;

/// Top `(key, score)` pairs for a query, best first.
pub fn retrieve(
    snap: &dyn Snapshot,
    q: &Query<'_>,
    fusion: &FusionParams,
) -> Result<Vec<(Key, f32)>, StoreError> {
    let filter = Filter::docs(q.docs);
    Ok(match q.mode {
        Mode::Dense if q.background.mixed => {
            let mut hits = by_script(
                snap,
                dense::search(snap, q.vector, q.k.max(FUSION_DEPTH), filter)?,
                q.background,
            )?;
            hits.truncate(q.k);
            hits
        }
        Mode::Dense => dense::search(snap, q.vector, q.k, filter)?,
        Mode::Lexical => snap.lexical(q.text, q.k, q.docs)?.hits,
        Mode::Hybrid => {
            let depth = q.k.max(FUSION_DEPTH);
            let mut dense_hits = dense::search(snap, q.vector, depth, filter)?;
            if q.background.mixed {
                dense_hits = by_script(snap, dense_hits, q.background)?;
            }
            let dense: Vec<Key> = dense_hits.iter().map(|h| h.0).collect();
            let dense_scores: Vec<f32> = dense_hits.iter().map(|h| h.1).collect();
            let lexical = snap.lexical(q.text, depth, q.docs)?;
            let lex_keys: Vec<Key> = lexical.hits.iter().map(|h| h.0).collect();
            let first = &dense[..dense.len().min(AGREEMENT_PASSAGES)];
            let top: Vec<String> = snap.passages(first)?.into_iter().map(|p| p.text).collect();
            let top_texts: Vec<&str> = top.iter().map(String::as_str).collect();
            let agreement = fusion::language_agreement(q.text, &top_texts);
            let w = fusion.lexical_weight_for(lexical.language_match, lexical.coverage, agreement);
            let wd = fusion.dense_weight_for(&dense_scores);
            tracing::debug!(
                dense_weight = wd,
                language_match = lexical.language_match,
                coverage = lexical.coverage,
                agreement,
                lexical_weight = w,
                "hybrid fusion"
            );
            let mut fused = fusion::rrf(&[(&dense, wd), (&lex_keys, w)], fusion.k);
            fused.truncate(q.k);
            fused
        }
    })
}

/// A dense ranking read against each passage's script: scores become contrasts with the
/// question's background for that script, reordered. In a library of Chinese and English text
/// the model scores an English question's unrelated English passages about as high as the
/// Chinese clause that answers it; against their own script's background they fall below it.
fn by_script(
    snap: &dyn Snapshot,
    hits: Vec<(Key, f32)>,
    background: &relevance::Background,
) -> Result<Vec<(Key, f32)>, StoreError> {
    let keys: Vec<Key> = hits.iter().map(|h| h.0).collect();
    let passages = snap.passages(&keys)?;
    let mut out: Vec<(Key, f32)> = hits
        .into_iter()
        .zip(&passages)
        .map(|((k, s), p)| (k, s - background.for_text(&p.text)))
        .collect();
    out.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    Ok(out)
}
