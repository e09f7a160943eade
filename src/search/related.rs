//! Related clauses: what else a document (or library) says about the topic of one clause, at
//! the level a reader thinks in. A clause split into several passages is one unit: it is asked
//! by the mean of its passages' stored vectors (no re-embedding), it never lists its own
//! fragments, and every other clause is listed once, by its best-matching passage. A passage
//! outside any numbered clause is its own unit; the passages right before and after it are left
//! out, since they are near by construction and say nothing new.
//!
//! Measured with `semsearch eval --related tests/fixtures/eval/clause-chapters.json` (the plan's
//! clauses grouped by its chapters; README, "Related clauses").

use crate::index::{DocFilter, Filter, Key, Passage, Snapshot, StoreError};
use crate::kernels::dot;

/// Most passages read as one clause: a longer one is read by the 32 around the passage asked.
pub const MAX_CLAUSE_PASSAGES: usize = 32;
/// Candidate passages read per clause wanted: a long clause can fill several places of the
/// nearest-passage list, and each clause counts once.
const CANDIDATES_PER_RESULT: usize = 4;
/// Candidate passages read at least.
const MIN_CANDIDATES: usize = 32;

/// The unit `key` belongs to: its clause's passages in document order (the passage alone when
/// it is outside any clause).
pub fn clause_of(snap: &dyn Snapshot, key: Key) -> Result<Vec<Key>, StoreError> {
    let Some(clause) = snap.passage(key)?.clause else {
        return Ok(vec![key]);
    };
    let mut before = Vec::new();
    let mut after = Vec::new();
    for (d, into) in [(-1, &mut before), (1, &mut after)] {
        let mut at = key;
        while into.len() + 1 < MAX_CLAUSE_PASSAGES {
            let Some(n) = snap.neighbour(at, d)? else {
                break;
            };
            if snap.passage(n)?.clause.as_deref() != Some(clause.as_str()) {
                break;
            }
            into.push(n);
            at = n;
        }
    }
    before.reverse();
    before.push(key);
    before.extend(after);
    Ok(before)
}

/// Related units, and the vector they were found by.
pub type Related = (Vec<(Key, f32)>, Vec<f32>);

/// Up to `k` units related to the one passage `key` belongs to: `(key, cosine)` of each one's
/// best passage, best first, and the vector they were found by (the unit's), only from the
/// documents `docs` accepts. With `include_neighbours`, the other passages of its own clause
/// (or, outside any clause, the passages right before and after it) may be listed too, each as
/// its own result.
pub fn related(
    snap: &dyn Snapshot,
    key: Key,
    k: usize,
    include_neighbours: bool,
    docs: &DocFilter,
) -> Result<Related, StoreError> {
    let unit = clause_of(snap, key)?;
    let v = unit_vector(snap, &unit)?;
    let own = snap.passage(key)?;
    let mut exclude = vec![key];
    if !include_neighbours {
        exclude.extend(unit.iter().copied().filter(|u| *u != key));
        if own.clause.is_none() {
            for d in [-1, 1] {
                exclude.extend(snap.neighbour(key, d)?);
            }
        }
    }
    let depth = (k * CANDIDATES_PER_RESULT).max(MIN_CANDIDATES);
    let hits = snap.nearest(
        &v,
        depth,
        Filter {
            exclude: &exclude,
            docs,
        },
    )?;
    let keys: Vec<Key> = hits.iter().map(|h| h.0).collect();
    let passages = snap.passages(&keys)?;
    let best = one_per_clause(&hits, &passages, &own, include_neighbours, depth);
    // Each candidate clause by its own mean; its best passage stands for it.
    let mut ranked = Vec::with_capacity(best.len());
    for (k_best, _) in best {
        let theirs = if include_neighbours && unit.contains(&k_best) {
            vec![k_best]
        } else {
            clause_of(snap, k_best)?
        };
        ranked.push((k_best, dot(&v, &unit_vector(snap, &theirs)?)));
    }
    ranked.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    ranked.truncate(k);
    Ok((ranked, v))
}

/// A unit's direction: the normalised mean of its passages' sentence vectors, or of the
/// passages' own vectors when they have none. Sentences weigh what a clause says point by point;
/// the passage vectors of a long clause are each a blur of several points (on the plan's
/// chapters, `eval --related`: 0.50 by sentences, 0.42 by passages).
pub fn unit_vector(snap: &dyn Snapshot, unit: &[Key]) -> Result<Vec<f32>, StoreError> {
    fn add(mean: &mut Vec<f32>, v: &[f32]) {
        if mean.is_empty() {
            *mean = vec![0.0; v.len()];
        }
        for (m, x) in mean.iter_mut().zip(v) {
            *m += x;
        }
    }
    let mut mean: Vec<f32> = Vec::new();
    for sentences in snap.sentences(unit)? {
        for s in sentences {
            add(&mut mean, s.vector);
        }
    }
    if mean.is_empty() {
        for v in snap.vectors(unit)? {
            add(&mut mean, v);
        }
    }
    let norm = dot(&mean, &mean).sqrt();
    if norm > 0.0 {
        mean.iter_mut().for_each(|m| *m /= norm);
    }
    Ok(mean)
}

/// The first `k` hits of distinct clauses (hits outside any clause each count alone); with
/// `keep_own`, hits of the asked passage's own clause each count alone too.
fn one_per_clause(
    hits: &[(Key, f32)],
    passages: &[Passage],
    own: &Passage,
    keep_own: bool,
    k: usize,
) -> Vec<(Key, f32)> {
    let mut seen: Vec<(&str, &str)> = Vec::new();
    let mut out = Vec::new();
    for (h, p) in hits.iter().zip(passages) {
        if out.len() == k {
            break;
        }
        if let Some(c) = p.clause.as_deref() {
            let mine = p.doc == own.doc && own.clause.as_deref() == Some(c);
            if !(mine && keep_own) {
                if seen.contains(&(p.doc.as_str(), c)) {
                    continue;
                }
                seen.push((p.doc.as_str(), c));
            }
        }
        out.push(*h);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(doc: &str, clause: Option<&str>) -> Passage {
        Passage::of_clause(doc, clause)
    }

    #[test]
    fn each_clause_is_listed_once_by_its_best_passage() {
        let hits = [(1, 0.9), (2, 0.8), (3, 0.7), (4, 0.6), (5, 0.5)];
        let passages = [
            p("a", Some("7")),
            p("a", Some("7")),
            p("b", Some("7")),
            p("a", None),
            p("a", None),
        ];
        let own = p("a", Some("3"));
        assert_eq!(
            one_per_clause(&hits, &passages, &own, false, 10),
            vec![(1, 0.9), (3, 0.7), (4, 0.6), (5, 0.5)]
        );
        assert_eq!(
            one_per_clause(&hits, &passages, &own, false, 2),
            vec![(1, 0.9), (3, 0.7)]
        );
        // The asked clause's own passages, when kept, are each their own result.
        let own = p("a", Some("7"));
        assert_eq!(one_per_clause(&hits, &passages, &own, true, 3).len(), 3);
    }
}
