//! Background merges of small segments: a pure planner choosing what to merge, the merge
//! itself (built off the commit lock, swapped in under it), and the thread that runs merges,
//! guarded so that neither an error nor a panic can leave merging switched off for good.

use std::collections::HashSet;
use std::panic::AssertUnwindSafe;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use super::{Inner, Live, State, MAX_MERGE_PASSAGES, MAX_SEGMENTS};
use crate::index::segment::{self, Segment};
use crate::index::{Passage, PassageVectors, StoreError};

/// Which segments to merge, given each one's live passages: none while there are few enough;
/// else size-tiered, the smallest first and each next one only while it is no more than twice
/// what is chosen so far (so a big segment is not rebuilt for a few small ones, and a passage is
/// merged about log(n) times in all) and the total stays within [`MAX_MERGE_PASSAGES`] (larger
/// segments come from bulk loads and are left as they are). Fewer than two chosen is no merge
/// (empty).
pub(super) fn plan(lives: &[usize]) -> Vec<usize> {
    if lives.len() <= MAX_SEGMENTS {
        return Vec::new();
    }
    let mut order: Vec<usize> = (0..lives.len()).collect();
    order.sort_by_key(|&s| lives[s]);
    let mut chosen = Vec::new();
    let mut total = 0;
    for s in order {
        let live = lives[s];
        if total + live > MAX_MERGE_PASSAGES || (chosen.len() >= 2 && live > 2 * total.max(1)) {
            break;
        }
        chosen.push(s);
        total += live;
    }
    if chosen.len() < 2 {
        chosen.clear();
    }
    chosen
}

/// Merges in the background when there are too many segments (one merge thread at a time). A
/// failed or panicking merge is logged and leaves the index as it was; the next write tries
/// again. The thread inherits the caller's priority, which for the server is the low write
/// priority.
pub(super) fn start(inner: &Arc<Inner>) {
    if inner.state().segments.len() <= MAX_SEGMENTS || inner.merging.swap(true, Ordering::SeqCst) {
        return;
    }
    let worker = inner.clone();
    let spawned = std::thread::Builder::new()
        .name("semsearch-merge".into())
        .spawn(move || loop {
            let failed = !merge_until_few(&worker);
            worker.merging.store(false, Ordering::SeqCst);
            // A write that came in between may have added segments: look again after letting go.
            if failed
                || worker.state().segments.len() <= MAX_SEGMENTS
                || worker.merging.swap(true, Ordering::SeqCst)
            {
                break;
            }
        });
    if spawned.is_err() {
        inner.merging.store(false, Ordering::SeqCst);
    }
}

/// Merges until few enough segments remain; false when a merge failed or panicked.
fn merge_until_few(inner: &Inner) -> bool {
    loop {
        // The merge only reads the snapshot it took and swaps a finished state in under the
        // commit lock, so a panic midway leaves nothing half-changed to unwind past.
        match std::panic::catch_unwind(AssertUnwindSafe(|| inner.merge())) {
            Ok(Ok(true)) => continue,
            Ok(Ok(false)) => return true,
            Ok(Err(e)) => {
                tracing::warn!("segment merge failed (the index is unchanged): {e}");
                return false;
            }
            Err(_) => {
                tracing::error!("segment merge panicked (the index is unchanged)");
                return false;
            }
        }
    }
}

impl Inner {
    /// Merges the smallest segments into one (their live documents only), off the write path:
    /// the new segment is built from a snapshot without holding the commit lock, then swapped
    /// in under it, carrying as tombstones the documents deleted or replaced meanwhile. The
    /// lexical index is keyed by passage id and does not change, so the generation stays.
    pub(super) fn merge(&self) -> Result<bool, StoreError> {
        let (snap, id) = {
            let _w = self.writing.lock().unwrap_or_else(|e| e.into_inner());
            let snap = self.state();
            if snap.segments.len() <= MAX_SEGMENTS {
                return Ok(false);
            }
            // Reserve the new segment's id before letting writes go on.
            let id = snap.next_segment;
            self.swap(State::build(
                snap.model.clone(),
                snap.generation,
                id + 1,
                snap.segments.clone(),
                snap.lexical.clone(),
            ));
            (snap, id)
        };
        let lives: Vec<usize> = snap.segments.iter().map(|l| l.live).collect();
        let chosen = plan(&lives);
        if chosen.is_empty() {
            return Ok(false);
        }
        let total: usize = chosen.iter().map(|&s| lives[s]).sum();
        tracing::debug!(target: "semsearch::phase", segments = chosen.len(), passages = total, "merge start");
        let merged = self.merge_chosen(&snap, id, &chosen);
        tracing::debug!(target: "semsearch::phase", "merge end");
        merged
    }

    /// The rest of [`Inner::merge`], once segments are chosen.
    fn merge_chosen(&self, snap: &State, id: u64, chosen: &[usize]) -> Result<bool, StoreError> {
        // The largest first: its graphs are kept and the others' vectors inserted into them.
        let mut order = chosen.to_vec();
        order.sort_by_key(|&s| std::cmp::Reverse(snap.segments[s].live));
        let mut docs = Vec::new();
        let mut seeds = segment::Seeds::default();
        for (i, &s) in order.iter().enumerate() {
            let l = &snap.segments[s];
            for d in l.seg.docs().iter().filter(|d| !l.deleted.contains(&d.doc)) {
                if let Some(doc) = snap.document(&d.doc)? {
                    docs.push(doc);
                }
            }
            if i == 0 {
                seeds = seeds_of(l, &docs);
            }
        }
        let dim = snap.model.dim;
        let merged = if docs.is_empty() {
            None
        } else {
            let built = segment::write_seeded(&self.dir, id, dim, &docs, seeds)
                .and_then(|dir| Segment::open(&dir, dim));
            match built {
                Ok(seg) => Some(Arc::new(seg)),
                Err(e) => {
                    let _ = std::fs::remove_dir_all(segment::dir_of(&self.dir, id));
                    return Err(e);
                }
            }
        };
        let chosen_ids: Vec<u64> = chosen.iter().map(|&s| snap.segments[s].seg.id).collect();
        let _w = self.writing.lock().unwrap_or_else(|e| e.into_inner());
        let now = self.state();
        // Documents of the chosen segments deleted or replaced since the snapshot.
        let mut dead = HashSet::new();
        for &s in chosen {
            let before = &snap.segments[s];
            let Some(after) = now.segments.iter().find(|l| l.seg.id == before.seg.id) else {
                // Another merge took it: give up, the next write retries.
                let _ = std::fs::remove_dir_all(segment::dir_of(&self.dir, id));
                return Ok(false);
            };
            dead.extend(after.deleted.difference(&before.deleted).cloned());
        }
        let mut segments: Vec<Live> = now
            .segments
            .iter()
            .filter(|l| !chosen_ids.contains(&l.seg.id))
            .cloned()
            .collect();
        if let Some(seg) = merged {
            segments.push(Live::new(seg, dead));
        }
        let next = State::build(
            now.model.clone(),
            now.generation,
            now.next_segment.max(id + 1),
            segments,
            now.lexical.clone(),
        );
        super::write_manifest(&self.dir, &next.manifest())?;
        self.swap(next);
        for &s in chosen {
            // Snapshots still reading them keep their mappings; the files go when they do.
            let _ = std::fs::remove_dir_all(snap.segments[s].seg.dir());
        }
        Ok(true)
    }
}

/// The graphs of `l` to grow the merged segment's from, whose first documents are `docs`, read
/// from `l` (its live ones, in order): none unless every vector read equals the one its graph
/// was built on, so a seed can never describe other vectors than the ones it links.
fn seeds_of(l: &Live, docs: &[(Vec<Passage>, Vec<PassageVectors>)]) -> segment::Seeds {
    let seg = &l.seg;
    let live: Vec<_> = seg
        .docs()
        .iter()
        .filter(|d| !l.deleted.contains(&d.doc))
        .collect();
    let same = live.len() == docs.len()
        && live.iter().zip(docs).all(|(d, (passages, vectors))| {
            passages.len() == (d.end - d.start) as usize
                && (d.start..d.end).zip(vectors).all(|(local, v)| {
                    seg.passage_vector(local) == v.passage.as_slice()
                        && seg
                            .sentences(local)
                            .map(|(_, _, sv)| sv)
                            .eq(v.sentences.iter().map(|sv| sv.vector.as_slice()))
                })
        });
    if !same {
        return segment::Seeds::default();
    }
    seg.seeds(&|d| !l.deleted.contains(&d.doc))
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;
    use std::sync::Arc;

    use super::{plan, seeds_of, Live};
    use crate::index::segment::{self, Segment};
    use crate::index::tests::doc;

    #[test]
    fn a_merge_seeds_only_from_the_vectors_its_graph_was_built_on() {
        let dir = tempfile::tempdir().unwrap();
        let docs: Vec<_> = (0..60)
            .map(|d| doc(&format!("d{d}"), 80, 8, d * 1000))
            .collect();
        let seg = segment::write(dir.path(), 1, 8, &docs).unwrap();
        let seg = Arc::new(Segment::open(&seg, 8).unwrap());
        let live_of = |dead: &HashSet<String>| {
            let kept: Vec<_> = docs
                .iter()
                .filter(|(p, _)| !dead.contains(&p[0].doc))
                .cloned()
                .collect();
            (Live::new(seg.clone(), dead.clone()), kept)
        };
        // 6 of 60 documents deleted: both graphs seed the merge, renumbered without them.
        let dead: HashSet<String> = (0..6).map(|d| format!("d{}", d * 7)).collect();
        let (live, kept) = live_of(&dead);
        let seeds = seeds_of(&live, &kept);
        assert_eq!(seeds.vectors.as_ref().map(|l| l.len()), Some(54 * 80));
        assert_eq!(seeds.sentences.as_ref().map(|l| l.len()), Some(54 * 80 * 2));
        // One vector read differs from the one in the graph's segment: no seed.
        let mut changed = kept.clone();
        changed[3].1[5].sentences[1].vector[0] += 0.5;
        let seeds = seeds_of(&live, &changed);
        assert!(seeds.vectors.is_none() && seeds.sentences.is_none());
        // A document missing from what was read: no seed.
        let seeds = seeds_of(&live, &kept[1..]);
        assert!(seeds.vectors.is_none());
        // More than a quarter deleted: the graphs are built again.
        let dead: HashSet<String> = (0..16).map(|d| format!("d{d}")).collect();
        let (live, kept) = live_of(&dead);
        assert!(seeds_of(&live, &kept).vectors.is_none());
    }

    #[test]
    fn plans_size_tiered_merges() {
        // (live passages per segment, segments chosen)
        let table: &[(&[usize], &[usize])] = &[
            (&[], &[]),
            (&[5, 5, 5, 5], &[]),
            (&[1, 1, 1, 1, 1], &[0, 1, 2, 3, 4]),
            (&[100, 1, 1, 100, 100], &[1, 2]),
            (&[1000, 10, 20, 40, 1000], &[1, 2, 3]),
            (&[0, 0, 7, 9, 30], &[0, 1]),
            (&[500_000, 400_000, 300_000, 200_000, 900_000], &[3, 2, 1]),
            (&[600_000, 700_000, 800_000, 900_000, 950_000], &[]),
            (&[2_000_000, 1, 1, 1, 1], &[1, 2, 3, 4]),
        ];
        for (lives, want) in table {
            assert_eq!(plan(lives), *want, "lives {lives:?}");
        }
    }
}
