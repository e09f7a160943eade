//! Dense scoring: a passage scores the mean of two cosines to the question, its whole text's and
//! its best sentence's (its own again when it has no sentence vectors). The whole text says what
//! a clause is about; the best sentence finds the one line in it that a question is after, which
//! a 256-token passage vector blurs (seed-qa recall@5 0.83 -> 0.92, dense).

use crate::index::{Filter, Key, Snapshot, StoreError};
use crate::kernels::dot;

/// Sentence candidates fetched per requested hit: a passage enters the rescoring when its
/// passage vector or one of its sentences is near the question, and a passage holds about five
/// sentences.
const SENTENCE_DEPTH: usize = 4;

/// Top `k` passages for a question vector: `(key, score)`, best first.
pub fn search(
    snap: &dyn Snapshot,
    query: &[f32],
    k: usize,
    filter: Filter<'_>,
) -> Result<Vec<(Key, f32)>, StoreError> {
    if !snap.has_sentences() {
        return snap.nearest(query, k, filter);
    }
    let mut keys: Vec<Key> = snap
        .nearest(query, k, filter)?
        .into_iter()
        .map(|h| h.0)
        .collect();
    keys.extend(
        snap.nearest_sentences(query, k * SENTENCE_DEPTH, filter)?
            .into_iter()
            .map(|h| h.0),
    );
    keys.sort_unstable();
    keys.dedup();
    let scores = scores(snap, query, &keys)?;
    let mut scored: Vec<(Key, f32)> = keys
        .into_iter()
        .zip(scores)
        .map(|(key, s)| (key, s.score))
        .collect();
    scored.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    scored.truncate(k);
    Ok(scored)
}

/// A passage's dense score, and the span of its sentence nearest to the question (characters of
/// the passage text; None when it has no sentence vectors).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Scored {
    /// The dense score.
    pub score: f32,
    /// The best sentence's span.
    pub best: Option<(u32, u32)>,
}

/// The dense scores of passages, in the order of `keys`: two batched reads however many.
pub fn scores(snap: &dyn Snapshot, query: &[f32], keys: &[Key]) -> Result<Vec<Scored>, StoreError> {
    let vectors = snap.vectors(keys)?;
    let sentences = snap.sentences(keys)?;
    Ok(vectors
        .into_iter()
        .zip(sentences)
        .map(|(v, ss)| {
            let whole = dot(query, v);
            let best = ss
                .iter()
                .map(|s| (dot(query, s.vector), (s.start, s.end)))
                .max_by(|a, b| a.0.total_cmp(&b.0));
            // Equal weights, measured against 0.8 on the best sentence: 0.8 is a wash within
            // one language (CMRC, XQuAD) but loses 0.12-0.18 recall@1 across languages (XQuAD
            // en/zh).
            Scored {
                score: (whole + best.map_or(whole, |b| b.0)) / 2.0,
                best: best.map(|b| b.1),
            }
        })
        .collect())
}
