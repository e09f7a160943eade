//! An HNSW graph in a file of our own: built by [`super::hnsw`] (parallel insertion), written
//! once, then memory-mapped on open and searched by the code here.
//!
//! The bottom layer, which holds nearly all edges, is read in place from the mapping (CSR:
//! offsets, then neighbour ids), so opening does not grow with the graph; the upper layers (about
//! 1/24 of the nodes) are read into a map.
//!
//! Searching here also puts the filter inside the walk: rejected nodes (deleted passages, other
//! documents) are traversed but never returned, so a search returns `k` live results when there
//! are that many; and vectors are read from the segment's mapped file.

use std::cmp::Ordering;
use std::collections::{BinaryHeap, HashMap};
use std::path::Path;

use super::files::{write_array, Mapped};
use super::hnsw::Links;
use crate::index::StoreError;

/// Neighbours kept per node (twice as many on the bottom layer): within the 16-64 the HNSW
/// authors advise; more raises recall per step and memory per vector. The tests check the graph
/// against the exact scan.
pub(super) const MAX_NEIGHBOURS: usize = 24;
/// Candidates considered while inserting: hnswlib's usual value; build time grows with it,
/// graph quality saturates around it.
pub(super) const EF_CONSTRUCTION: usize = 200;
/// Most layers (levels are geometric with ratio 1/24: 16 layers is far beyond any index).
pub(super) const MAX_LAYERS: usize = 16;
/// Least candidates kept while searching, and per result asked: a wide beam keeps recall when
/// the filter rejects part of what the walk meets.
const EF_SEARCH_MIN: usize = 96;
const EF_SEARCH_PER_RESULT: usize = 4;
/// Above this many nodes the beam grows with the square root of the graph's size: at a fixed
/// beam a graph's recall falls as it grows. Measured on e5-shaped vectors (`bench_index`, M 24):
/// recall@10 at beam 96 is 0.98 at 100k nodes and 0.90 at 785k, where beam 200 gives 0.94 and
/// 256 gives 0.957 (the rule gives 269 there).
const EF_GROWS_ABOVE: usize = 100_000;

const MAGIC: u32 = u32::from_le_bytes(*b"SSG1");

/// A searchable graph over vectors keyed by position.
pub struct Graph {
    file: Mapped<u32>,
    n: usize,
    entry: u32,
    max_level: usize,
    /// Where the bottom layer's offsets and neighbour ids start in `file`.
    l0_offsets: usize,
    l0_neighbours: usize,
    /// Upper-layer neighbours: node -> layer 1.. -> ids.
    upper: HashMap<u32, Vec<Vec<u32>>>,
}

/// Writes `links` as a graph file at `path`.
pub fn write(path: &Path, links: &Links) -> Result<(), StoreError> {
    let n = links.len();
    let max_level = links.levels.get(links.entry as usize).copied().unwrap_or(0);
    let mut out = vec![MAGIC, n as u32, links.entry, max_level as u32];
    let mut offset = 0u32;
    out.push(0);
    for nb in &links.neighbours {
        offset += nb.first().map_or(0, |l| l.len() as u32);
        out.push(offset);
    }
    for nb in &links.neighbours {
        out.extend(nb.first().into_iter().flatten());
    }
    let upper: Vec<usize> = (0..n).filter(|&i| links.levels[i] > 0).collect();
    out.push(upper.len() as u32);
    for i in upper {
        out.push(i as u32);
        out.push(links.levels[i] as u32);
        for l in 1..=links.levels[i] as usize {
            let layer = links.neighbours[i].get(l).map_or(&[][..], |v| v.as_slice());
            out.push(layer.len() as u32);
            out.extend_from_slice(layer);
        }
    }
    write_array(path, &out)
}

impl Graph {
    /// Maps the graph file at `path`, a graph of `nodes` nodes, and checks it whole: every
    /// offset and neighbour id a search may follow is in range, so a damaged file is an error
    /// here and never a panic in a query.
    pub fn open(path: &Path, nodes: usize) -> Result<Self, StoreError> {
        let file = Mapped::<u32>::open(path)?;
        let bad = |what: &str| StoreError::corrupt(path, format!("graph file: {what}"));
        let s = file.as_slice();
        if s.len() < 5 || s[0] != MAGIC {
            return Err(bad("bad header"));
        }
        let (n, entry, max_level) = (s[1] as usize, s[2], s[3] as usize);
        if n != nodes {
            return Err(bad(&format!("{n} nodes for {nodes} vectors")));
        }
        if max_level > MAX_LAYERS {
            return Err(bad("too many layers"));
        }
        let l0_offsets = 4;
        let l0_neighbours = l0_offsets + n + 1;
        let offsets = s
            .get(l0_offsets..l0_neighbours)
            .ok_or_else(|| bad("truncated"))?;
        super::check::monotonic(path, offsets)?;
        let edges = offsets[n] as usize;
        if offsets[0] != 0 {
            return Err(bad("offsets do not start at 0"));
        }
        let bottom = s
            .get(l0_neighbours..l0_neighbours + edges)
            .ok_or_else(|| bad("truncated"))?;
        if bottom.iter().any(|&id| id as usize >= n) {
            return Err(bad("a neighbour id is out of range"));
        }
        let mut at = l0_neighbours + edges;
        let mut next = || -> Result<u32, StoreError> {
            let v = *s.get(at).ok_or_else(|| bad("truncated"))?;
            at += 1;
            Ok(v)
        };
        let mut upper = HashMap::new();
        for _ in 0..next()? {
            let node = next()?;
            let level = next()? as usize;
            if node as usize >= n || level == 0 || level > max_level {
                return Err(bad("an upper-layer node is out of range"));
            }
            let mut layers = Vec::with_capacity(level);
            for _ in 0..level {
                let count = next()? as usize;
                if count > MAX_NEIGHBOURS * 2 {
                    return Err(bad("a node has too many neighbours"));
                }
                let ids = (0..count).map(|_| next()).collect::<Result<Vec<_>, _>>()?;
                if ids.iter().any(|&id| id as usize >= n) {
                    return Err(bad("a neighbour id is out of range"));
                }
                layers.push(ids);
            }
            upper.insert(node, layers);
        }
        if at != s.len() {
            return Err(bad("trailing data"));
        }
        if entry as usize >= n.max(1) {
            return Err(bad("entry point out of range"));
        }
        Ok(Graph {
            file,
            n,
            entry,
            max_level,
            l0_offsets,
            l0_neighbours,
            upper,
        })
    }

    /// The graph in memory with its nodes renumbered by `new_id` (None: the node is left out,
    /// with every edge to it), to seed a larger graph ([`super::hnsw::build`]). A node of the
    /// top layer is the entry, the old entry if it is kept.
    pub fn links(&self, new_id: &[Option<u32>]) -> Links {
        let kept = new_id.iter().flatten().count();
        let mut links = Links {
            levels: vec![0; kept],
            neighbours: vec![Vec::new(); kept],
            entry: 0,
        };
        for (old, &new) in new_id.iter().enumerate().take(self.n) {
            let Some(new) = new else { continue };
            let level = self.upper.get(&(old as u32)).map_or(0, Vec::len);
            links.levels[new as usize] = level as u8;
            links.neighbours[new as usize] = (0..=level)
                .map(|l| {
                    self.neighbours(old as u32, l)
                        .iter()
                        .filter_map(|&nb| new_id.get(nb as usize).copied().flatten())
                        .collect()
                })
                .collect();
        }
        let top = links.levels.iter().copied().max().unwrap_or(0);
        links.entry = match new_id.get(self.entry as usize).copied().flatten() {
            Some(e) if links.levels[e as usize] == top => e,
            _ => links.levels.iter().position(|&l| l == top).unwrap_or(0) as u32,
        };
        links
    }

    fn neighbours(&self, node: u32, layer: usize) -> &[u32] {
        if layer == 0 {
            let s = self.file.as_slice();
            let (a, b) = (
                s[self.l0_offsets + node as usize] as usize,
                s[self.l0_offsets + node as usize + 1] as usize,
            );
            &s[self.l0_neighbours + a..self.l0_neighbours + b]
        } else {
            self.upper
                .get(&node)
                .and_then(|l| l.get(layer - 1))
                .map_or(&[], |v| v.as_slice())
        }
    }

    /// The `ef` best `(key, score)` pairs the walk found among keys `keep` accepts, best
    /// first, for a beam of `ef` ([`Graph::beam`] gives the usual one); `scorer` gives the
    /// similarity of a node to the query (the int8 estimate, rescored by the caller).
    pub fn search<S: Scorer>(
        &self,
        ef: usize,
        scorer: &S,
        keep: &dyn Fn(u32) -> bool,
    ) -> Vec<(u32, f32)> {
        let score = |id: u32| scorer.score(id);
        if self.n == 0 || ef == 0 {
            return Vec::new();
        }
        let mut ep = self.entry;
        let mut best = score(ep);
        for layer in (1..=self.max_level).rev() {
            loop {
                let mut moved = false;
                for &nb in self.neighbours(ep, layer) {
                    let s = score(nb);
                    if s > best {
                        (ep, best) = (nb, s);
                        moved = true;
                    }
                }
                if !moved {
                    break;
                }
            }
        }
        let mut visited = vec![0u64; self.n.div_ceil(64)];
        let mut seen = |id: u32| {
            let (w, b) = (id as usize / 64, id as usize % 64);
            let was = visited[w] >> b & 1 == 1;
            visited[w] |= 1 << b;
            was
        };
        seen(ep);
        // Candidates: best first. Results: worst first, at most ef, accepted nodes only.
        let mut candidates = BinaryHeap::from([Scored(best, ep)]);
        let (mut next, mut refused): (Vec<u32>, Vec<u32>) = (Vec::new(), Vec::new());
        let mut results: BinaryHeap<std::cmp::Reverse<Scored>> = BinaryHeap::new();
        if keep(ep) {
            results.push(std::cmp::Reverse(Scored(best, ep)));
        }
        while let Some(Scored(s, node)) = candidates.pop() {
            if results.len() >= ef && results.peek().is_some_and(|w| s < w.0 .0) {
                break;
            }
            // The neighbours to score: those `keep` accepts, then, up to a node's full count of
            // neighbours, the accepted neighbours of those it refuses (ACORN-1's two-hop
            // expansion). A refused node is never scored, so a filter passing a share p of the
            // graph costs about what the unfiltered walk costs rather than 1/p times as much,
            // and the walk still crosses the refused regions it would have crossed.
            next.clear();
            refused.clear();
            for &nb in self.neighbours(node, 0) {
                if seen(nb) {
                    continue;
                }
                if keep(nb) {
                    next.push(nb);
                } else {
                    refused.push(nb);
                }
            }
            'hops: for &nb in &refused {
                for &far in self.neighbours(nb, 0) {
                    if next.len() >= MAX_NEIGHBOURS {
                        break 'hops;
                    }
                    if keep(far) && !seen(far) {
                        next.push(far);
                    }
                }
            }
            // Nothing accepted within two hops (a region of deleted or filtered-out passages):
            // the refused neighbours are scored and followed, never returned, so the walk
            // still reaches the accepted nodes beyond them.
            if next.is_empty() {
                for &nb in &refused {
                    let sn = score(nb);
                    let worst = results.peek().map_or(f32::NEG_INFINITY, |w| w.0 .0);
                    if results.len() < ef || sn > worst {
                        candidates.push(Scored(sn, nb));
                    }
                }
            }
            // Ask for the vectors before scoring the first: a walk over a large segment waits
            // on memory more than on arithmetic.
            for &nb in &next {
                scorer.prefetch(nb);
            }
            for &nb in &next {
                let sn = score(nb);
                let worst = results.peek().map_or(f32::NEG_INFINITY, |w| w.0 .0);
                if results.len() < ef || sn > worst {
                    candidates.push(Scored(sn, nb));
                    results.push(std::cmp::Reverse(Scored(sn, nb)));
                    if results.len() > ef {
                        results.pop();
                    }
                }
            }
        }
        let mut out: Vec<(u32, f32)> = results.into_iter().map(|r| (r.0 .1, r.0 .0)).collect();
        out.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        out
    }

    /// The beam for `k` results on this graph.
    pub fn beam(&self, k: usize) -> usize {
        beam(k, self.n)
    }
}

/// The beam for `k` results on a graph of `n` nodes.
pub(super) fn beam(k: usize, n: usize) -> usize {
    let base = (k * EF_SEARCH_PER_RESULT).max(EF_SEARCH_MIN);
    let growth = (n as f64 / EF_GROWS_ABOVE as f64).sqrt().max(1.0);
    (base as f64 * growth).round() as usize
}

/// How a search scores nodes against its query.
pub trait Scorer {
    /// Similarity of node `id` to the query (higher is nearer).
    fn score(&self, id: u32) -> f32;
    /// A hint that `id` will be scored soon.
    fn prefetch(&self, _id: u32) {}
}

/// A node with its score, ordered by score (ties: the lower id is greater).
#[derive(Clone, Copy, PartialEq, Debug)]
pub(super) struct Scored(pub(super) f32, pub(super) u32);

impl Eq for Scored {}

impl PartialOrd for Scored {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Scored {
    fn cmp(&self, other: &Self) -> Ordering {
        self.0.total_cmp(&other.0).then(other.1.cmp(&self.1))
    }
}
