//! An HNSW graph (hnsw_rs) over a set of vectors, searched with the filter applied inside the
//! graph walk, so that a filtered search still returns `k` results when there are that many.

use hnsw_rs::prelude::Hnsw;

use super::CosineDistance;

/// Neighbours kept per node: within the 16-64 hnsw_rs advises; more raises recall per step and
/// memory per vector. The index tests check the graph against the exact scan.
const MAX_NEIGHBOURS: usize = 24;
/// Candidates considered while inserting: hnsw_rs's usual value; build time grows with it,
/// graph quality saturates around it.
const EF_CONSTRUCTION: usize = 200;
/// Most layers: hnsw_rs's own cap; ln(n) layers are used below it.
const MAX_LAYERS: usize = 16;
/// Least candidates considered while searching, and per result asked: a document filter may
/// reject most nodes the walk meets, and a wide beam still finds `k` accepted ones.
const EF_SEARCH_MIN: usize = 96;
const EF_SEARCH_PER_RESULT: usize = 4;

/// The graph over vectors whose keys are their positions.
pub struct Graph(Hnsw<'static, f32, CosineDistance>);

impl Graph {
    /// Builds the graph, inserting in parallel.
    pub fn build(vectors: &[Vec<f32>]) -> Self {
        let n = vectors.len();
        let layers = MAX_LAYERS.min((n as f32).ln().trunc() as usize).max(1);
        let hnsw = Hnsw::<f32, CosineDistance>::new(
            MAX_NEIGHBOURS,
            n,
            layers,
            EF_CONSTRUCTION,
            CosineDistance,
        );
        let data: Vec<(&[f32], usize)> = vectors
            .iter()
            .enumerate()
            .map(|(i, v)| (v.as_slice(), i))
            .collect();
        hnsw.parallel_insert_slice(&data);
        Graph(hnsw)
    }

    /// Up to `k` `(key, cosine)` pairs, best first, among keys accepted by `keep`.
    pub fn search(&self, query: &[f32], k: usize, keep: &dyn Fn(u32) -> bool) -> Vec<(u32, f32)> {
        let filter = |id: &usize| keep(*id as u32);
        let ef = (k * EF_SEARCH_PER_RESULT).max(EF_SEARCH_MIN);
        self.0
            .search_filter(query, k, ef, Some(&filter))
            .into_iter()
            .map(|n| (n.d_id as u32, 1.0 - n.distance))
            .collect()
    }
}
