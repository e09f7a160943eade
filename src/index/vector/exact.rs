//! Exact nearest neighbours: score every accepted vector, keep the best `k`.

use crate::kernels::dot;

/// Up to `k` `(key, cosine)` pairs, best first, among keys accepted by `keep`.
pub fn search(
    vectors: &[Vec<f32>],
    query: &[f32],
    k: usize,
    keep: &dyn Fn(u32) -> bool,
) -> Vec<(u32, f32)> {
    let mut all: Vec<(u32, f32)> = vectors
        .iter()
        .enumerate()
        .filter(|(i, _)| keep(*i as u32))
        .map(|(i, v)| (i as u32, dot(query, v)))
        .collect();
    all.sort_by(|a, b| b.1.total_cmp(&a.1));
    all.truncate(k);
    all
}
