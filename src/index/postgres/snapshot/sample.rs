//! The passages relevance compares a question with: every step-th passage in key order, the
//! same ones for the same state, shared by the snapshots of one generation.

use std::sync::Arc;

use super::PgSnapshot;
use crate::index::{Key, StoreError};
use crate::text::cjk_share;

/// A sampled passage: its key, its row and its share of CJK characters.
pub(crate) type SampledRow = (Key, Arc<super::Row>, f32);

/// Up to `n` sampled passage keys, their rows loaded into `snap`.
pub(super) fn sample(snap: &PgSnapshot, n: usize) -> Result<Vec<Key>, StoreError> {
    Ok(sampled(snap, n)?.iter().map(|s| s.0).collect())
}

/// [`sample`] with each passage's share of CJK characters, computed once per generation (the
/// texts are scanned when the sample is loaded, not on every search).
pub(super) fn sample_cjk(snap: &PgSnapshot, n: usize) -> Result<Vec<(Key, f32)>, StoreError> {
    Ok(sampled(snap, n)?.iter().map(|s| (s.0, s.2)).collect())
}

/// The sample of `snap`'s generation (from the store's cache when it holds that one), its rows
/// loaded into `snap`.
fn sampled(snap: &PgSnapshot, n: usize) -> Result<Arc<Vec<SampledRow>>, StoreError> {
    if n == 0 || snap.passages == 0 {
        return Ok(Arc::new(Vec::new()));
    }
    let load = |rows: &[SampledRow]| {
        for (k, r, _) in rows {
            if snap.rows.get(k).is_none() {
                snap.rows.insert(*k, r.clone());
            }
        }
    };
    {
        let cached = snap.shared.sample.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((g, m, rows)) = cached.as_ref() {
            if *g == snap.generation && *m == n {
                load(rows);
                return Ok(rows.clone());
            }
        }
    }
    // Every step-th passage in key order: the same ones for the same state.
    let step = snap.passages.div_ceil(n).max(1) as i64;
    let keys: Vec<Key> = snap
        .with(1, |c| {
            c.run(
                "SELECT key FROM (SELECT key, row_number() OVER (ORDER BY key) - 1 AS i
                                  FROM semsearch_passages) s
                 WHERE i % $1 = 0 ORDER BY key LIMIT $2",
                &[&step, &(n as i64)],
            )
        })?
        .iter()
        .map(|r| r.get::<_, i64>(0) as Key)
        .collect();
    let mut rows: Vec<SampledRow> = snap
        .fetch(&keys)?
        .into_iter()
        .map(|(k, r)| {
            let share = cjk_share(&r.passage.text);
            (k, r, share)
        })
        .collect();
    // The database returns them in no set order; the sample is in key order, on every call.
    rows.sort_unstable_by_key(|r| r.0);
    load(&rows);
    let rows = Arc::new(rows);
    *snap.shared.sample.lock().unwrap_or_else(|p| p.into_inner()) =
        Some((snap.generation, n, rows.clone()));
    Ok(rows)
}
