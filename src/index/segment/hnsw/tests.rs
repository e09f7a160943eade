use rand::{Rng, SeedableRng};

use super::super::graph::{self, Graph, Scorer};
use super::*;

const DIM: usize = 32;

/// `n` unit vectors in clusters (as embeddings are), from `seed`.
fn clustered(n: usize, seed: u64) -> Vec<f32> {
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let centres: Vec<Vec<f32>> = (0..20)
        .map(|_| (0..DIM).map(|_| rng.gen_range(-1.0..1.0)).collect())
        .collect();
    let mut out = Vec::with_capacity(n * DIM);
    for _ in 0..n {
        let c = &centres[rng.gen_range(0..centres.len())];
        let v: Vec<f32> = c.iter().map(|x| x + rng.gen_range(-0.6..0.6)).collect();
        let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
        out.extend(v.iter().map(|x| x / norm));
    }
    out
}

struct Exact<'a>(&'a [f32], &'a [f32]);

impl Scorer for Exact<'_> {
    fn score(&self, id: u32) -> f32 {
        dot(self.0, &self.1[id as usize * DIM..(id as usize + 1) * DIM])
    }
}

/// Mean recall@10 of the graph in `links` over `queries` against the exact scan of `vectors`.
fn recall(links: &Links, vectors: &[f32], queries: &[f32]) -> f64 {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("g.graph");
    graph::write(&path, links).unwrap();
    let g = Graph::open(&path, links.len()).unwrap();
    let mut found = 0;
    let count = queries.len() / DIM;
    for q in queries.chunks_exact(DIM) {
        let mut exact: Vec<(f32, u32)> = vectors
            .chunks_exact(DIM)
            .zip(0..)
            .map(|(v, i)| (dot(q, v), i))
            .collect();
        exact.sort_by(|a, b| b.0.total_cmp(&a.0));
        let walk = g.search(g.beam(10), &Exact(q, vectors), &|_| true);
        let top: Vec<u32> = walk.iter().take(10).map(|r| r.0).collect();
        found += exact[..10].iter().filter(|e| top.contains(&e.1)).count();
    }
    found as f64 / (count * 10) as f64
}

/// Every list is within its layer's capacity, names other nodes of that layer, and the entry is
/// on the top layer.
fn check_shape(links: &Links) {
    let n = links.len() as u32;
    let top = *links.levels.iter().max().unwrap();
    assert_eq!(links.levels[links.entry as usize], top);
    for (node, layers) in links.neighbours.iter().enumerate() {
        assert_eq!(layers.len(), links.levels[node] as usize + 1);
        for (layer, list) in layers.iter().enumerate() {
            assert!(list.len() <= capacity(layer), "node {node} layer {layer}");
            for &nb in list {
                assert!(nb < n && nb as usize != node);
                assert!(links.levels[nb as usize] as usize >= layer);
            }
        }
    }
}

#[test]
fn a_built_graph_finds_what_the_exact_scan_finds() {
    let vectors = clustered(6000, 1);
    let queries = clustered(200, 2);
    let links = build(&vectors, DIM, None, 7);
    assert_eq!(links.len(), 6000);
    check_shape(&links);
    let r = recall(&links, &vectors, &queries);
    assert!(r >= 0.95, "recall@10 {r}");
}

#[test]
fn a_graph_grown_from_a_seed_with_nodes_taken_out_finds_as_well() {
    let first = clustered(4000, 3);
    let links = build(&first, DIM, None, 1);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("g.graph");
    graph::write(&path, &links).unwrap();
    let g = Graph::open(&path, 4000).unwrap();
    // The file gives back what was written.
    let identity: Vec<Option<u32>> = (0..4000).map(Some).collect();
    assert_eq!(g.links(&identity), links);
    // Every tenth node deleted, the entry among them: the rest renumbered in order.
    let mut new_id = vec![None; 4000];
    let mut kept = Vec::new();
    for i in 0..4000 {
        if i % 10 != 0 && i != links.entry as usize {
            new_id[i] = Some((kept.len() / DIM) as u32);
            kept.extend_from_slice(&first[i * DIM..(i + 1) * DIM]);
        }
    }
    let seed = g.links(&new_id);
    check_shape(&seed);
    let seeded = seed.len();
    let mut vectors = kept;
    vectors.extend(clustered(3000, 4));
    let grown = build(&vectors, DIM, Some(seed.clone()), 2);
    assert_eq!(grown.len(), seeded + 3000);
    check_shape(&grown);
    // The seed's nodes keep their levels; their lists only gain or trade edges.
    assert_eq!(grown.levels[..seeded], seed.levels[..]);
    let r = recall(&grown, &vectors, &clustered(200, 5));
    assert!(r >= 0.95, "recall@10 {r}");
}

#[test]
fn tiny_and_empty_sets_build() {
    assert!(build(&[], DIM, None, 0).is_empty());
    let one = clustered(1, 9);
    let links = build(&one, DIM, None, 0);
    assert_eq!(
        links.neighbours,
        vec![vec![Vec::<u32>::new(); links.levels[0] as usize + 1]]
    );
    let two = clustered(2, 9);
    let links = build(&two, DIM, None, 0);
    check_shape(&links);
    assert_eq!(links.neighbours[1][0], vec![0]);
}

#[test]
fn the_beam_widens_only_on_large_graphs() {
    use crate::index::segment::graph::beam;
    assert_eq!(beam(10, 5_000), 96);
    assert_eq!(beam(10, 100_000), 96);
    assert_eq!(beam(50, 100_000), 200);
    assert_eq!(beam(10, 400_000), 192);
    let widths: Vec<usize> = (1..=20).map(|m| beam(10, m * 100_000)).collect();
    assert!(widths.windows(2).all(|w| w[0] <= w[1]), "{widths:?}");
}
