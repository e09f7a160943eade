//! Building HNSW graphs (Malkov and Yashunin's algorithm, with hnswlib's neighbour-selection
//! heuristic): nodes inserted in parallel, each node's lists behind its own lock, optionally
//! starting from an existing graph whose nodes come first.
//!
//! Why our own builder rather than hnsw_rs's: a merge can then keep the largest segment's graph
//! and insert only the other segments' vectors, instead of inserting every vector again on every
//! merge (about log(n) times in all); and the graph goes straight into our file layout.

use std::collections::BinaryHeap;
use std::sync::{Mutex, RwLock};

use rayon::prelude::*;

use super::graph::{Scored, EF_CONSTRUCTION, MAX_LAYERS, MAX_NEIGHBOURS};
use crate::kernels::dot;

/// A graph in memory: each node's level and its neighbour lists, layer 0 first.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Links {
    /// Top layer of each node.
    pub levels: Vec<u8>,
    /// `neighbours[node][layer]`, for layers `0..=levels[node]`.
    pub neighbours: Vec<Vec<Vec<u32>>>,
    /// The node searches start from (on the top layer).
    pub entry: u32,
}

impl Links {
    /// Number of nodes.
    pub fn len(&self) -> usize {
        self.levels.len()
    }

    /// True when there is no node.
    pub fn is_empty(&self) -> bool {
        self.levels.is_empty()
    }
}

/// Most neighbours of a node on `layer`: twice as many on the bottom layer, as in hnswlib.
fn capacity(layer: usize) -> usize {
    if layer == 0 {
        2 * MAX_NEIGHBOURS
    } else {
        MAX_NEIGHBOURS
    }
}

/// The level of node `id`: geometric with ratio 1/M, from a hash of the id and `salt` (so a
/// build is reproducible given its insertion order, and two segments do not share levels).
fn level_of(id: usize, salt: u64) -> u8 {
    let mut z = (id as u64 ^ salt.rotate_left(32)).wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^= z >> 31;
    // Uniform in (0, 1]: never ln(0).
    let u = ((z >> 11) as f64 + 1.0) / (1u64 << 53) as f64;
    let level = -u.ln() / (MAX_NEIGHBOURS as f64).ln();
    (level as usize).min(MAX_LAYERS - 1) as u8
}

/// Builds the graph of `vectors` (`dim` floats each). With a `seed`, its nodes are the first
/// `seed.len()` vectors and keep their lists; only the rest are inserted.
pub fn build(vectors: &[f32], dim: usize, seed: Option<Links>, salt: u64) -> Links {
    let n = vectors.len() / dim;
    let seed = seed.filter(|s| !s.is_empty() && s.len() <= n);
    let seeded = seed.as_ref().map_or(0, Links::len);
    let mut levels = seed.as_ref().map_or_else(Vec::new, |s| s.levels.clone());
    levels.extend((seeded..n).map(|i| level_of(i, salt)));
    let (lists, entry) = match seed {
        Some(s) => (s.neighbours, s.entry),
        None => (Vec::new(), 0),
    };
    let mut nodes: Vec<Mutex<Vec<Vec<u32>>>> = lists.into_iter().map(Mutex::new).collect();
    nodes.extend((seeded..n).map(|i| Mutex::new(vec![Vec::new(); levels[i] as usize + 1])));
    if n == 0 {
        return Links::default();
    }
    let builder = Builder {
        vectors,
        dim,
        levels: &levels,
        nodes,
        top: RwLock::new((entry, levels[entry as usize])),
        growing: Mutex::new(()),
    };
    // Without a seed, node 0 is the graph the others join.
    let first = seeded.max(1);
    // Each piece of work rayon splits off gets its own visited marks (n words): not too many.
    (first..n).into_par_iter().with_min_len(64).for_each_init(
        || Visited::new(n),
        |visited, i| builder.insert(i as u32, visited),
    );
    let entry = builder.top.read().unwrap_or_else(|e| e.into_inner()).0;
    Links {
        neighbours: builder
            .nodes
            .into_iter()
            .map(|m| m.into_inner().unwrap_or_else(|e| e.into_inner()))
            .collect(),
        levels,
        entry,
    }
}

struct Builder<'a> {
    vectors: &'a [f32],
    dim: usize,
    levels: &'a [u8],
    nodes: Vec<Mutex<Vec<Vec<u32>>>>,
    /// Entry node and its level.
    top: RwLock<(u32, u8)>,
    /// Held by an insertion that raises the top level, for the whole insertion (as hnswlib).
    growing: Mutex<()>,
}

/// Nodes seen by one search, reset in O(1) by bumping the epoch.
struct Visited {
    marks: Vec<u32>,
    epoch: u32,
}

impl Visited {
    fn new(n: usize) -> Self {
        Visited {
            marks: vec![0; n],
            epoch: 0,
        }
    }

    fn clear(&mut self) {
        self.epoch = self.epoch.wrapping_add(1);
        if self.epoch == 0 {
            self.marks.fill(0);
            self.epoch = 1;
        }
    }

    /// Marks `id`; true when it was marked already.
    fn seen(&mut self, id: u32) -> bool {
        let m = &mut self.marks[id as usize];
        let was = *m == self.epoch;
        *m = self.epoch;
        was
    }
}

impl Builder<'_> {
    fn vector(&self, id: u32) -> &[f32] {
        &self.vectors[id as usize * self.dim..(id as usize + 1) * self.dim]
    }

    fn sim(&self, a: u32, b: u32) -> f32 {
        dot(self.vector(a), self.vector(b))
    }

    fn lock(&self, id: u32) -> std::sync::MutexGuard<'_, Vec<Vec<u32>>> {
        self.nodes[id as usize]
            .lock()
            .unwrap_or_else(|e| e.into_inner())
    }

    /// Copies node `id`'s list on `layer` into `out` (so no lock is held while scoring).
    fn read(&self, id: u32, layer: usize, out: &mut Vec<u32>) {
        out.clear();
        if let Some(l) = self.lock(id).get(layer) {
            out.extend_from_slice(l);
        }
    }

    fn insert(&self, id: u32, visited: &mut Visited) {
        let level = self.levels[id as usize];
        let (mut ep, mut top) = *self.top.read().unwrap_or_else(|e| e.into_inner());
        let _growing = (level > top).then(|| {
            let g = self.growing.lock().unwrap_or_else(|e| e.into_inner());
            (ep, top) = *self.top.read().unwrap_or_else(|e| e.into_inner());
            g
        });
        let q = self.vector(id);
        let mut best = dot(q, self.vector(ep));
        let mut list = Vec::new();
        for layer in (level as usize + 1..=top as usize).rev() {
            loop {
                self.read(ep, layer, &mut list);
                let before = ep;
                for &nb in &list {
                    let s = dot(q, self.vector(nb));
                    if s > best {
                        (ep, best) = (nb, s);
                    }
                }
                if ep == before {
                    break;
                }
            }
        }
        let mut entries = vec![Scored(best, ep)];
        for layer in (0..=level.min(top) as usize).rev() {
            let found = self.search_layer(id, &entries, EF_CONSTRUCTION, layer, visited);
            let chosen = self.select(&found, MAX_NEIGHBOURS);
            self.link(id, &chosen, layer);
            for c in &chosen {
                self.connect(c.1, id, c.0, layer);
            }
            entries = found;
        }
        if level > top {
            *self.top.write().unwrap_or_else(|e| e.into_inner()) = (id, level);
        }
    }

    /// The `ef` nodes nearest node `id` on `layer` found from `entries`, best first, never
    /// `id` itself (which a concurrent insertion may already have linked from a node met here).
    fn search_layer(
        &self,
        id: u32,
        entries: &[Scored],
        ef: usize,
        layer: usize,
        visited: &mut Visited,
    ) -> Vec<Scored> {
        let q = self.vector(id);
        visited.clear();
        visited.seen(id);
        let mut candidates: BinaryHeap<Scored> = BinaryHeap::new();
        let mut results: BinaryHeap<std::cmp::Reverse<Scored>> = BinaryHeap::new();
        for &e in entries {
            if !visited.seen(e.1) {
                candidates.push(e);
                results.push(std::cmp::Reverse(e));
            }
        }
        while results.len() > ef {
            results.pop();
        }
        let mut list = Vec::new();
        while let Some(Scored(s, node)) = candidates.pop() {
            if results.len() >= ef && results.peek().is_some_and(|w| s < w.0 .0) {
                break;
            }
            self.read(node, layer, &mut list);
            for &nb in &list {
                if visited.seen(nb) {
                    continue;
                }
                let sn = dot(q, self.vector(nb));
                if results.len() < ef || results.peek().is_some_and(|w| sn > w.0 .0) {
                    candidates.push(Scored(sn, nb));
                    results.push(std::cmp::Reverse(Scored(sn, nb)));
                    if results.len() > ef {
                        results.pop();
                    }
                }
            }
        }
        let mut out: Vec<Scored> = results.into_iter().map(|r| r.0).collect();
        out.sort_by(|a, b| b.cmp(a));
        out
    }

    /// hnswlib's heuristic: from `candidates` (best first, scored against the node being
    /// linked), keep one only when it is nearer that node than any kept so far, up to `m`. Edges
    /// then point in diverse directions, which keeps clusters connected to each other.
    fn select(&self, candidates: &[Scored], m: usize) -> Vec<Scored> {
        if candidates.len() <= m {
            return candidates.to_vec();
        }
        let mut kept: Vec<Scored> = Vec::with_capacity(m);
        for &c in candidates {
            if kept.len() >= m {
                break;
            }
            if kept.iter().all(|k| self.sim(c.1, k.1) < c.0) {
                kept.push(c);
            }
        }
        kept
    }

    /// Sets node `id`'s list on `layer` to `chosen`, keeping the edges concurrent insertions
    /// gave it meanwhile.
    fn link(&self, id: u32, chosen: &[Scored], layer: usize) {
        let mut lists = self.lock(id);
        self.add_edges(id, &mut lists[layer], chosen, layer);
    }

    /// Adds the edge `from -> to` (similarity `s`) on `layer`.
    fn connect(&self, from: u32, to: u32, s: f32, layer: usize) {
        let mut lists = self.lock(from);
        if let Some(list) = lists.get_mut(layer) {
            self.add_edges(from, list, &[Scored(s, to)], layer);
        }
    }

    /// Adds the edges `new` (scored against `node`) to `node`'s `list`, pruning the whole list
    /// with the heuristic when it would exceed the layer's capacity.
    fn add_edges(&self, node: u32, list: &mut Vec<u32>, new: &[Scored], layer: usize) {
        let fresh: Vec<Scored> = new
            .iter()
            .filter(|c| !list.contains(&c.1))
            .copied()
            .collect();
        if list.len() + fresh.len() <= capacity(layer) {
            list.extend(fresh.iter().map(|c| c.1));
            return;
        }
        let mut all: Vec<Scored> = list
            .iter()
            .map(|&nb| Scored(self.sim(node, nb), nb))
            .chain(fresh)
            .collect();
        all.sort_by(|a, b| b.cmp(a));
        *list = self
            .select(&all, capacity(layer))
            .into_iter()
            .map(|c| c.1)
            .collect();
    }
}

#[cfg(test)]
mod tests;
