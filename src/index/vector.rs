//! Vector store behind a small trait, so that the single-machine HNSW can later be swapped for a
//! distributed engine (pgvector) without touching search code.
//!
//! The HNSW graph (hnsw_rs) is built in memory from the stored vectors when an index is opened
//! or changed, rather than dumped and reloaded: hnsw_rs's reloaded graph borrows its loader for
//! its whole life, and a graph rebuilt from vectors makes deletion exact (no tombstones to filter
//! or compact). Vectors themselves are persisted, so nothing is ever re-embedded; rebuild cost is
//! measured by `scripts/bench-index.sh`.

use hnsw_rs::anndists::dist::Distance;
use hnsw_rs::prelude::Hnsw;

/// `1 - dot` for normalised vectors, clamped at 0: hnsw_rs's own `DistDot` asserts that the
/// distance is non-negative and panics when rounding makes a vector's dot with itself exceed 1.
#[derive(Default, Clone, Copy)]
pub struct CosineDistance;

impl Distance<f32> for CosineDistance {
    fn eval(&self, a: &[f32], b: &[f32]) -> f32 {
        (1.0 - crate::embed::dot(a, b)).max(0.0)
    }
}

/// Nearest-neighbour search over L2-normalised vectors keyed by dense `u32` ids.
pub trait VectorStore: Send + Sync {
    /// Up to `k` `(key, cosine)` pairs, best first, among keys accepted by `keep`.
    fn search(&self, query: &[f32], k: usize, keep: &dyn Fn(u32) -> bool) -> Vec<(u32, f32)>;
    /// Stored vector of `key`.
    fn vector(&self, key: u32) -> Option<&[f32]>;
    /// Number of vectors.
    fn len(&self) -> usize;
    /// True when empty.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// HNSW over vectors held in memory (key = position).
pub struct HnswStore {
    vectors: Vec<Vec<f32>>,
    graph: Option<Hnsw<'static, f32, CosineDistance>>,
}

/// Below this many vectors search scans them all: perfect recall, well under a millisecond
/// for 4096 vectors of 384 floats, and no graph to rebuild on each write (an index with sentence
/// vectors holds about five per passage; rebuilding the graph per write slowed queries served
/// beside a writer).
pub(crate) const EXACT_BELOW: usize = 4096;

impl HnswStore {
    /// Builds the store (and its graph) from `vectors`.
    pub fn build(vectors: Vec<Vec<f32>>) -> Self {
        let graph = (vectors.len() >= EXACT_BELOW).then(|| {
            let n = vectors.len();
            let layers = 16.min((n as f32).ln().trunc() as usize).max(1);
            let hnsw = Hnsw::<f32, CosineDistance>::new(24, n, layers, 200, CosineDistance);
            let data: Vec<(&[f32], usize)> = vectors
                .iter()
                .enumerate()
                .map(|(i, v)| (v.as_slice(), i))
                .collect();
            hnsw.parallel_insert_slice(&data);
            hnsw
        });
        HnswStore { vectors, graph }
    }

    /// All vectors, in key order.
    pub fn vectors(&self) -> &[Vec<f32>] {
        &self.vectors
    }
}

impl VectorStore for HnswStore {
    fn search(&self, query: &[f32], k: usize, keep: &dyn Fn(u32) -> bool) -> Vec<(u32, f32)> {
        if k == 0 || self.vectors.is_empty() {
            return Vec::new();
        }
        match &self.graph {
            Some(graph) => {
                let filter = |id: &usize| keep(*id as u32);
                let ef = (k * 4).max(96);
                graph
                    .search_filter(query, k, ef, Some(&filter))
                    .into_iter()
                    .map(|n| (n.d_id as u32, 1.0 - n.distance))
                    .collect()
            }
            None => {
                let mut all: Vec<(u32, f32)> = self
                    .vectors
                    .iter()
                    .enumerate()
                    .filter(|(i, _)| keep(*i as u32))
                    .map(|(i, v)| (i as u32, crate::embed::dot(query, v)))
                    .collect();
                all.sort_by(|a, b| b.1.total_cmp(&a.1));
                all.truncate(k);
                all
            }
        }
    }

    fn vector(&self, key: u32) -> Option<&[f32]> {
        self.vectors.get(key as usize).map(Vec::as_slice)
    }

    fn len(&self) -> usize {
        self.vectors.len()
    }
}
