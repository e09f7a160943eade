//! A page of a ranking: `offset` and `k` over one ranked list, optionally at most `group_size`
//! passages per document, with the first result past the page (so a client learns whether
//! there is more without asking).
//!
//! Pages of one question concatenate to the single call whose `k` is their sum as long as every
//! page is computed at the same retrieval depth: hybrid fusion reads both lists
//! [`FUSION_DEPTH`]-deep whatever the page, so within the first [`FUSION_DEPTH`] results pages
//! never overlap and never leave a gap. A deeper page is ranked at its own depth (fusion of
//! longer lists) and may differ from a shallower call at its edges.

use std::collections::HashMap;

use super::fusion::FusionParams;
use super::{retrieve, Query};
use crate::config::{FUSION_DEPTH, MAX_GROUP_DEPTH};
use crate::index::{Key, Snapshot, StoreError};

/// Which part of the ranking to return.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    /// Results skipped (0-based).
    pub offset: usize,
    /// Results returned.
    pub k: usize,
    /// At most this many passages per document (None: no grouping).
    pub group_size: Option<usize>,
}

/// The page's `(key, score)` pairs, best first, and the first result after it, if any.
pub type Ranked = (Vec<(Key, f32)>, Option<(Key, f32)>);

/// The window `w` of the ranking of `q` (whose `k` is ignored).
pub fn page(
    snap: &dyn Snapshot,
    q: &Query<'_>,
    fusion: &FusionParams,
    w: Window,
) -> Result<Ranked, StoreError> {
    // One more than the page: whether there is a next one.
    let need = w.offset + w.k + 1;
    let ranked = match w.group_size {
        None => retrieve(snap, &Query { k: need, ..*q }, fusion)?,
        Some(g) => grouped(snap, q, fusion, need, g)?,
    };
    let mut rest = ranked.into_iter().skip(w.offset);
    let hits: Vec<(Key, f32)> = rest.by_ref().take(w.k).collect();
    Ok((hits, rest.next()))
}

/// The first `need` results of the ranking with at most `group_size` passages per document:
/// the ranking read deeper (fourfold each round, up to [`MAX_GROUP_DEPTH`]) until enough
/// documents fill it or the ranking runs out.
fn grouped(
    snap: &dyn Snapshot,
    q: &Query<'_>,
    fusion: &FusionParams,
    need: usize,
    group_size: usize,
) -> Result<Vec<(Key, f32)>, StoreError> {
    // Fewer documents than the page wants: reading deeper cannot fill it, so stop at them.
    let documents = match q.docs.named() {
        Some(ids) => ids.len(),
        None => snap.documents()?.len(),
    };
    let need = need.min(documents.saturating_mul(group_size));
    let mut depth = need.clamp(FUSION_DEPTH, MAX_GROUP_DEPTH);
    loop {
        let ranked = retrieve(snap, &Query { k: depth, ..*q }, fusion)?;
        let exhausted = ranked.len() < depth || depth >= MAX_GROUP_DEPTH;
        let keys: Vec<Key> = ranked.iter().map(|r| r.0).collect();
        let passages = snap.passages(&keys)?;
        let mut per_doc: HashMap<&str, usize> = HashMap::new();
        let kept: Vec<(Key, f32)> = ranked
            .iter()
            .zip(&passages)
            .filter(|(_, p)| {
                let n = per_doc.entry(p.doc.as_str()).or_default();
                *n += 1;
                *n <= group_size
            })
            .map(|(r, _)| *r)
            .take(need)
            .collect();
        let full = per_doc.values().filter(|&&n| n >= group_size).count();
        if kept.len() >= need || exhausted || full >= documents {
            return Ok(kept);
        }
        depth = (depth * 4).min(MAX_GROUP_DEPTH);
    }
}
