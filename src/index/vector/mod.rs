//! Nearest-neighbour search over L2-normalised vectors keyed by dense `u32` ids: an exact scan
//! for small sets ([`exact`]), an HNSW graph above ([`hnsw`]), chosen per set by its size.
//!
//! Both are built in memory from the stored vectors when an index is opened or changed, rather
//! than dumped and reloaded: hnsw_rs's reloaded graph borrows its loader for its whole life, and
//! a graph rebuilt from vectors makes deletion exact (no tombstones to filter or compact).
//! Vectors themselves are persisted, so nothing is ever re-embedded.

pub mod exact;
pub mod hnsw;

use hnsw_rs::anndists::dist::Distance;

/// `1 - dot` for normalised vectors, clamped at 0: hnsw_rs's own `DistDot` asserts that the
/// distance is non-negative and panics when rounding makes a vector's dot with itself exceed 1.
#[derive(Default, Clone, Copy)]
pub struct CosineDistance;

impl Distance<f32> for CosineDistance {
    fn eval(&self, a: &[f32], b: &[f32]) -> f32 {
        (1.0 - crate::kernels::dot(a, b)).max(0.0)
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

/// Below this many vectors search scans them all: perfect recall, well under a millisecond
/// for 4096 vectors of 384 floats, and no graph to rebuild on each write (an index with sentence
/// vectors holds about five per passage; rebuilding the graph per write slowed queries served
/// beside a writer).
pub const EXACT_BELOW: usize = 4096;

/// A set of vectors, searched exactly or through a graph depending on its size (key =
/// position).
pub struct VectorSet {
    vectors: Vec<Vec<f32>>,
    graph: Option<hnsw::Graph>,
}

impl VectorSet {
    /// Builds the set (and, at [`EXACT_BELOW`] vectors or more, its graph) from `vectors`.
    pub fn build(vectors: Vec<Vec<f32>>) -> Self {
        let graph = (vectors.len() >= EXACT_BELOW).then(|| hnsw::Graph::build(&vectors));
        VectorSet { vectors, graph }
    }

    /// All vectors, in key order.
    pub fn vectors(&self) -> &[Vec<f32>] {
        &self.vectors
    }
}

impl VectorStore for VectorSet {
    fn search(&self, query: &[f32], k: usize, keep: &dyn Fn(u32) -> bool) -> Vec<(u32, f32)> {
        if k == 0 || self.vectors.is_empty() {
            return Vec::new();
        }
        match &self.graph {
            Some(graph) => graph.search(query, k, keep),
            None => exact::search(&self.vectors, query, k, keep),
        }
    }

    fn vector(&self, key: u32) -> Option<&[f32]> {
        self.vectors.get(key as usize).map(Vec::as_slice)
    }

    fn len(&self) -> usize {
        self.vectors.len()
    }
}
