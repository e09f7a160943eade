//! One consistent state of the local store (its segments, what is dead in them, the lexical
//! view): what a snapshot reads, and what a write or merge builds next.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use super::{Manifest, SegmentRef, FORMAT_VERSION};
use crate::embed::ModelId;
use crate::index::lexical::{LexicalHits, LexicalView};
use crate::index::segment::Segment;
use crate::index::store::{
    unknown_key, DocumentWrite, Filter, Key, SectionKeys, Snapshot, StoredSentence,
};
use crate::index::{Condition, DocFilter};
use crate::index::{DocumentInfo, Passage, PassageVectors, SentenceVector, StoreError};

/// A segment in a snapshot, with what is dead in it.
#[derive(Clone)]
pub(super) struct Live {
    pub(super) seg: Arc<Segment>,
    pub(super) deleted: Arc<HashSet<String>>,
    /// Dead local keys, as a bitset.
    dead: Arc<Vec<u64>>,
    pub(super) live: usize,
}

impl Live {
    pub(super) fn new(seg: Arc<Segment>, deleted: HashSet<String>) -> Self {
        let mut dead = vec![0u64; seg.len().div_ceil(64)];
        let mut live = seg.len();
        for d in seg.docs().iter().filter(|d| deleted.contains(&d.doc)) {
            for k in d.start..d.end {
                dead[k as usize / 64] |= 1 << (k % 64);
            }
            live -= (d.end - d.start) as usize;
        }
        Live {
            seg,
            deleted: Arc::new(deleted),
            dead: Arc::new(dead),
            live,
        }
    }

    fn is_live(&self, local: u32) -> bool {
        self.dead
            .get(local as usize / 64)
            .is_some_and(|w| w >> (local % 64) & 1 == 0)
    }
}

/// A sample's keys with each passage's share of CJK characters ([`Snapshot::sample_cjk`]).
type SampleShares = Arc<Vec<(Key, f32)>>;

/// One consistent state of the store: what a snapshot reads.
pub struct State {
    pub(super) model: ModelId,
    pub(super) generation: u64,
    pub(super) next_segment: u64,
    pub(super) segments: Vec<Live>,
    /// Live documents: segment slot and position in its document table.
    pub(super) docs: HashMap<String, (usize, usize)>,
    pub(super) lexical: LexicalView,
    pub(super) passages: usize,
    /// The last [`Snapshot::sample`] asked for, by size: every question asks for the same one.
    pub(super) sample: std::sync::Mutex<Option<(usize, Arc<Vec<Key>>)>>,
    /// The last [`Snapshot::sample_cjk`], by size (the sample's texts read once per state).
    pub(super) sample_cjk: std::sync::Mutex<Option<(usize, SampleShares)>>,
    /// Filters resolved against this state, the latest first (at most [`RESOLVED_FILTERS`]):
    /// a library's searches repeat their filters (a tenant's scope, a conversation's filter),
    /// and a filter passing thousands of documents costs more to resolve than to search.
    pub(super) resolved: std::sync::Mutex<Vec<(Condition, DocFilter)>>,
}

pub(super) fn key(slot: usize, local: u32) -> Key {
    ((slot as u64) << 32) | local as u64
}

fn split(key: Key) -> (usize, u32) {
    ((key >> 32) as usize, key as u32)
}

impl State {
    pub(super) fn build(
        model: ModelId,
        generation: u64,
        next_segment: u64,
        segments: Vec<Live>,
        lexical: LexicalView,
    ) -> Self {
        let mut docs = HashMap::new();
        for (slot, l) in segments.iter().enumerate() {
            for (i, d) in l.seg.docs().iter().enumerate() {
                if !l.deleted.contains(&d.doc) {
                    docs.insert(d.doc.clone(), (slot, i));
                }
            }
        }
        let passages = segments.iter().map(|l| l.live).sum();
        State {
            model,
            generation,
            next_segment,
            segments,
            docs,
            lexical,
            passages,
            sample: std::sync::Mutex::new(None),
            sample_cjk: std::sync::Mutex::new(None),
            resolved: std::sync::Mutex::new(Vec::new()),
        }
    }

    pub(super) fn manifest(&self) -> Manifest {
        Manifest {
            format_version: FORMAT_VERSION,
            model: self.model.clone(),
            generation: self.generation,
            next_segment: self.next_segment,
            segments: self
                .segments
                .iter()
                .map(|l| {
                    let mut deleted: Vec<String> = l.deleted.iter().cloned().collect();
                    deleted.sort();
                    SegmentRef {
                        id: l.seg.id,
                        deleted,
                    }
                })
                .collect(),
            passages: self.passages,
            documents: self.docs.len(),
            checksum: None,
        }
    }

    fn accept<'a>(&'a self, slot: usize, filter: Filter<'a>) -> impl Fn(u32) -> bool + 'a {
        let l = &self.segments[slot];
        move |local| l.is_live(local) && !filter.exclude.contains(&key(slot, local))
    }

    /// Live passages of one document, with their vectors (for merges and repairs).
    pub(super) fn document(&self, doc: &str) -> Result<Option<DocumentWrite>, StoreError> {
        let Some(&(slot, i)) = self.docs.get(doc) else {
            return Ok(None);
        };
        let seg = &self.segments[slot].seg;
        let d = &seg.docs()[i];
        let mut ps = Vec::new();
        let mut vs = Vec::new();
        for local in d.start..d.end {
            ps.push(seg.passage(local)?);
            vs.push(PassageVectors {
                passage: seg.passage_vector(local).to_vec(),
                sentences: seg
                    .sentences(local)
                    .map(|(start, end, v)| SentenceVector {
                        start,
                        end,
                        vector: v.to_vec(),
                    })
                    .collect(),
            });
        }
        Ok(Some((ps, vs)))
    }

    /// Runs a per-segment search where `filter` allows and merges the hits, best first. A
    /// document's passages are one range of one segment: a filter naming documents searches
    /// only their ranges (scanned: at most [`crate::config::MAX_FILTER_DOCS`] documents of at
    /// most [`crate::config::MAX_DOC_PASSAGES`] passages each, where a graph walk filtered so
    /// narrowly would visit most of the graph anyway).
    ///
    /// Each segment is walked with its full beam. Measured and rejected: passing the k-th best
    /// score of the segments already searched as a floor below which a walk stops (as Lucene
    /// shares a minimum competitive similarity across segments): at 100k passages in two
    /// segments it gained 9% queries/s and cost recall@10 0.985 -> 0.917, since a walk must
    /// cross weaker nodes to reach strong ones.
    #[allow(clippy::type_complexity)]
    fn each_segment(
        &self,
        k: usize,
        filter: Filter<'_>,
        search: &SegmentSearch<'_>,
    ) -> Vec<(Key, f32)> {
        let Some(ids) = filter.docs.named() else {
            return self.walk_each(k, filter, search);
        };
        let parts = filter.docs.passages();
        let whole = parts.map_or(ids, |p| p.whole());
        // The passing passages, per segment, as ranges: each segment scans them when they are
        // few, else walks its graph keeping only them.
        let mut ranges: Vec<Vec<std::ops::Range<u32>>> = vec![Vec::new(); self.segments.len()];
        for &(slot, i) in whole.iter().filter_map(|doc| self.docs.get(doc.as_str())) {
            let d = &self.segments[slot].seg.docs()[i];
            ranges[slot].push(d.start..d.end);
        }
        for (slot, local) in parts.into_iter().flat_map(|p| p.keys()).map(split) {
            match ranges.get_mut(slot) {
                Some(rs) => match rs.last_mut() {
                    Some(r) if r.end == local => r.end += 1,
                    _ => rs.push(local..local + 1),
                },
                None => continue,
            }
        }
        let mut all = Vec::new();
        for (slot, ranges) in ranges.iter().enumerate() {
            let passing: usize = ranges.iter().map(|r| r.len()).sum();
            if passing == 0 {
                continue;
            }
            let seg = &self.segments[slot].seg;
            let accept = self.accept(slot, filter);
            let found = if passing <= scan_limit(seg.len()) {
                ranges
                    .iter()
                    .flat_map(|r| search(seg, Some(r.clone()), &accept))
                    .collect()
            } else {
                let mut bits = vec![0u64; seg.len().div_ceil(64)];
                for r in ranges {
                    set_bits(&mut bits, r.clone());
                }
                let keep = |local: u32| {
                    bits[local as usize / 64] >> (local % 64) & 1 == 1 && accept(local)
                };
                search(seg, None, &keep)
            };
            all.extend(found.into_iter().map(|(local, s)| (key(slot, local), s)));
        }
        State::merge_hits(all, k)
    }

    /// A graph walk in every segment (no filter on documents).
    fn walk_each(
        &self,
        k: usize,
        filter: Filter<'_>,
        search: &SegmentSearch<'_>,
    ) -> Vec<(Key, f32)> {
        let mut all = Vec::new();
        for slot in 0..self.segments.len() {
            let accept = self.accept(slot, filter);
            all.extend(
                search(&self.segments[slot].seg, None, &accept)
                    .into_iter()
                    .map(|(local, s)| (key(slot, local), s)),
            );
        }
        State::merge_hits(all, k)
    }

    /// Every `passages / n`-th live passage in segment order (see [`Snapshot::sample`]).
    fn spread(&self, n: usize) -> Vec<Key> {
        if n == 0 || self.passages == 0 {
            return Vec::new();
        }
        // Every `step`-th live passage in segment order.
        let step = self.passages.div_ceil(n).max(1);
        let mut out = Vec::with_capacity(n.min(self.passages));
        let mut seen = 0usize;
        for (slot, l) in self.segments.iter().enumerate() {
            for local in (0..l.seg.len() as u32).filter(|&i| l.is_live(i)) {
                if seen.is_multiple_of(step) {
                    out.push(key(slot, local));
                }
                seen += 1;
            }
        }
        out.truncate(n);
        out
    }

    /// Id of the live passage `key`, without reading it.
    fn id_of(&self, key: Key) -> Option<String> {
        let (seg, local) = self.live(key).ok()?;
        let d = seg.doc_of(local)?;
        Some(crate::index::PassageId::new(&d.doc, (local - d.start + 1) as usize).to_string())
    }

    /// Key of the live passage with this id.
    pub(super) fn find_live(&self, id: &str) -> Option<Key> {
        let (doc, n) = crate::index::PassageId::parts(id)?;
        let n = u32::try_from(n).ok()?;
        let &(slot, i) = self.docs.get(doc)?;
        let d = &self.segments[slot].seg.docs()[i];
        let local = d.start + n.checked_sub(1)?;
        (local < d.end).then(|| key(slot, local))
    }

    /// Best-first merge of per-segment hits.
    fn merge_hits(mut all: Vec<(Key, f32)>, k: usize) -> Vec<(Key, f32)> {
        all.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        all.truncate(k);
        all
    }
}

impl State {
    /// The segment and local id of a live passage `key`.
    fn live(&self, key: Key) -> Result<(&Segment, u32), StoreError> {
        let (slot, local) = split(key);
        match self.segments.get(slot) {
            Some(l) if (local as usize) < l.seg.len() && l.is_live(local) => Ok((&l.seg, local)),
            _ => Err(unknown_key(key)),
        }
    }
}

impl Snapshot for State {
    fn model(&self) -> &ModelId {
        &self.model
    }

    fn len(&self) -> usize {
        self.passages
    }

    fn documents(&self) -> Result<Vec<DocumentInfo>, StoreError> {
        let mut out: Vec<DocumentInfo> = self
            .docs
            .values()
            .map(|&(slot, i)| {
                let d = &self.segments[slot].seg.docs()[i];
                DocumentInfo::new(
                    d.doc.clone(),
                    d.title.clone(),
                    (d.end - d.start) as usize,
                    d.metadata.clone(),
                )
            })
            .collect();
        out.sort_by(|a, b| a.doc.cmp(&b.doc));
        Ok(out)
    }

    fn resolve(&self, condition: &Condition) -> Result<DocFilter, StoreError> {
        self.resolve_cached(condition)
    }

    fn sections(&self) -> Result<Vec<SectionKeys>, StoreError> {
        self.section_keys()
    }

    fn has_document(&self, doc: &str) -> Result<bool, StoreError> {
        Ok(self.docs.contains_key(doc))
    }

    fn document_hash(&self, doc: &str) -> Result<Option<String>, StoreError> {
        Ok(self
            .docs
            .get(doc)
            .map(|&(slot, i)| self.segments[slot].seg.docs()[i].hash.clone()))
    }

    fn passages(&self, keys: &[Key]) -> Result<Vec<Passage>, StoreError> {
        keys.iter()
            .map(|&key| {
                let (seg, local) = self.live(key)?;
                seg.passage(local)
            })
            .collect()
    }

    fn find(&self, id: &str) -> Result<Option<Key>, StoreError> {
        Ok(self.find_live(id))
    }

    fn vectors(&self, keys: &[Key]) -> Result<Vec<&[f32]>, StoreError> {
        keys.iter()
            .map(|&key| {
                let (seg, local) = self.live(key)?;
                Ok(seg.passage_vector(local))
            })
            .collect()
    }

    fn sentences(&self, keys: &[Key]) -> Result<Vec<Vec<StoredSentence<'_>>>, StoreError> {
        keys.iter()
            .map(|&key| {
                let (seg, local) = self.live(key)?;
                Ok(seg
                    .sentences(local)
                    .map(|(start, end, vector)| StoredSentence { start, end, vector })
                    .collect())
            })
            .collect()
    }

    fn has_sentences(&self) -> bool {
        self.segments.iter().any(|l| l.seg.has_sentences())
    }

    fn nearest(
        &self,
        vector: &[f32],
        k: usize,
        filter: Filter<'_>,
    ) -> Result<Vec<(Key, f32)>, StoreError> {
        Ok(self.each_segment(k, filter, &|seg, range, keep| {
            seg.nearest(vector, k, range, keep)
        }))
    }

    fn nearest_sentences(
        &self,
        vector: &[f32],
        k: usize,
        filter: Filter<'_>,
    ) -> Result<Vec<(Key, f32)>, StoreError> {
        Ok(self.each_segment(k, filter, &|seg, range, keep| {
            seg.nearest_sentences(vector, k, range, keep)
        }))
    }

    fn sample(&self, n: usize) -> Result<Vec<Key>, StoreError> {
        let mut cached = self.sample.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((_, keys)) = cached.as_ref().filter(|(m, _)| *m == n) {
            return Ok(keys.to_vec());
        }
        let keys = Arc::new(self.spread(n));
        *cached = Some((n, keys.clone()));
        Ok(keys.to_vec())
    }

    fn sample_cjk(&self, n: usize) -> Result<Vec<(Key, f32)>, StoreError> {
        let mut cached = self.sample_cjk.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((_, shares)) = cached.as_ref().filter(|(m, _)| *m == n) {
            return Ok(shares.to_vec());
        }
        let shares = Arc::new(crate::index::store::cjk_shares(self, self.sample(n)?)?);
        *cached = Some((n, shares.clone()));
        Ok(shares.to_vec())
    }

    fn lexical(&self, query: &str, k: usize, docs: &DocFilter) -> Result<LexicalHits, StoreError> {
        let raw = match docs.passages() {
            Some(p) => {
                let ids: Vec<String> = p.keys().filter_map(|k| self.id_of(k)).collect();
                self.lexical.search_passages(query, k, p.whole(), &ids)?
            }
            None => self.lexical.search(query, k, docs)?,
        };
        // Ids the manifest does not hold live are skipped: the lexical side may briefly know a
        // write the manifest does not (repaired on the next open), never the reverse.
        let hits: Vec<(Key, f32)> = raw
            .hits
            .iter()
            .filter_map(|(pid, s)| self.find_live(pid).map(|k| (k, *s)))
            .collect();
        let best = match hits.first() {
            Some(&(k, _)) => Some(self.passage(k)?),
            None => None,
        };
        Ok(LexicalHits::new(
            hits,
            raw.terms,
            raw.known,
            best.as_ref().map(|p| p.text.as_str()),
        ))
    }
}

/// Sets bits `r` of `bits`, a word at a time.
fn set_bits(bits: &mut [u64], r: std::ops::Range<u32>) {
    let (mut at, end) = (r.start as usize, r.end as usize);
    while at < end {
        let (word, bit) = (at / 64, at % 64);
        let n = (64 - bit).min(end - at);
        let mask = if n == 64 {
            u64::MAX
        } else {
            ((1u64 << n) - 1) << bit
        };
        bits[word] |= mask;
        at += n;
    }
}

/// One segment's search: exact over a range when given, else a graph walk; `keep` accepts.
type SegmentSearch<'a> =
    dyn Fn(&Segment, Option<std::ops::Range<u32>>, &dyn Fn(u32) -> bool) -> Vec<(u32, f32)> + 'a;

/// Most passages of a segment of `passages` that a filtered search scans exactly; beyond it the
/// segment's graph is walked with the filter.
/// A walk visits about `V / p` nodes when a share `p` of passages passes (V, a few thousand,
/// scored in int8), a scan scores each passing passage in f32 (about twice the cost): they
/// cost alike near `sqrt(1000 * passages)` passing (10,000 of 100,000; 31,600 of a million).
fn scan_limit(passages: usize) -> usize {
    ((1000.0 * passages as f64).sqrt() as usize).max(2000)
}
