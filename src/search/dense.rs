//! Dense scoring: a passage scores the mean of two cosines to the question, its whole text's and
//! its best sentence's (its own again when it has no sentence vectors). The whole text says what
//! a clause is about; the best sentence finds the one line in it that a question is after, which
//! a 256-token passage vector blurs (seed-qa recall@5 0.83 -> 0.92, dense).

use crate::index::{Filter, Key, Snapshot};
use crate::kernels::dot;

/// Sentence candidates fetched per requested hit: a passage enters the rescoring when its
/// passage vector or one of its sentences is near the question, and a passage holds about five
/// sentences.
const SENTENCE_DEPTH: usize = 4;

/// Top `k` passages for a question vector: `(key, score)`, best first.
pub fn search(snap: &dyn Snapshot, query: &[f32], k: usize, filter: Filter<'_>) -> Vec<(Key, f32)> {
    if !snap.has_sentences() {
        return snap.nearest(query, k, filter);
    }
    let mut keys: Vec<Key> = snap
        .nearest(query, k, filter)
        .into_iter()
        .map(|h| h.0)
        .collect();
    keys.extend(
        snap.nearest_sentences(query, k * SENTENCE_DEPTH, filter)
            .into_iter()
            .map(|h| h.0),
    );
    keys.sort_unstable();
    keys.dedup();
    let mut scored: Vec<(Key, f32)> = keys
        .into_iter()
        .map(|key| (key, score(snap, query, key)))
        .collect();
    scored.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    scored.truncate(k);
    scored
}

/// The dense score of one passage.
pub fn score(snap: &dyn Snapshot, query: &[f32], key: Key) -> f32 {
    let whole = snap.passage_vector(key).map_or(0.0, |v| dot(query, v));
    let best = snap
        .sentences(key)
        .iter()
        .map(|s| dot(query, s.vector))
        .reduce(f32::max)
        .unwrap_or(whole);
    // Equal weights, measured against 0.8 on the best sentence: 0.8 is a wash within one
    // language (CMRC, XQuAD) but loses 0.12-0.18 recall@1 across languages (XQuAD en/zh).
    (whole + best) / 2.0
}
