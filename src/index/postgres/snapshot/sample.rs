//! The passages relevance compares a question with: every step-th passage in key order, the
//! same ones for the same state, shared by the snapshots of one generation.

use std::sync::Arc;

use super::PgSnapshot;
use crate::index::{Key, StoreError};

/// Up to `n` sampled passage keys, their rows loaded into `snap`.
pub(super) fn sample(snap: &PgSnapshot, n: usize) -> Result<Vec<Key>, StoreError> {
    if n == 0 || snap.passages == 0 {
        return Ok(Vec::new());
    }
    {
        let cached = snap.shared.sample.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((g, m, rows)) = cached.as_ref() {
            if *g == snap.generation && *m == n {
                for (k, r) in rows.iter() {
                    if snap.rows.get(k).is_none() {
                        snap.rows.insert(*k, r.clone());
                    }
                }
                return Ok(rows.iter().map(|r| r.0).collect());
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
    let rows = snap.fetch(&keys)?;
    for (k, r) in &rows {
        if snap.rows.get(k).is_none() {
            snap.rows.insert(*k, r.clone());
        }
    }
    *snap.shared.sample.lock().unwrap_or_else(|p| p.into_inner()) =
        Some((snap.generation, n, Arc::new(rows)));
    Ok(keys)
}
