//! A segment's vector set: its mapped f32 vectors and, for a large set, the HNSW graph walked on
//! int8 copies of them.

use std::path::Path;

use super::files::Mapped;
use super::graph::{self, Graph};
use super::EXACT_BELOW;
use crate::index::StoreError;
use crate::kernels::dot;

/// A vector set: mapped vectors and, when large, a graph walked on int8 copies of them.
///
/// What stays resident: the graph walk reads the int8 vectors (a quarter of the f32 size) and
/// the graph; the f32 vectors are read only to rescore the beam's candidates and by exact scans
/// of small sets, so at a million passages most of the f32 file can stay on disk.
pub(super) struct Vectors {
    data: Mapped<f32>,
    dim: usize,
    graph: Option<Graph>,
    /// Int8 vectors and their scales (graph sets only).
    int8: Option<(Mapped<i8>, Mapped<f32>)>,
}

impl Vectors {
    pub(super) fn open(dir: &Path, name: &str, dim: usize, n: usize) -> Result<Self, StoreError> {
        let data = Mapped::<f32>::open(&dir.join(format!("{name}.f32")))?;
        if data.len() != n * dim {
            return Err(StoreError::corrupt(
                dir,
                format!("{name}.f32 holds the wrong count"),
            ));
        }
        let path = dir.join(format!("{name}.graph"));
        let (graph, int8) = if n >= EXACT_BELOW {
            let q = Mapped::<i8>::open(&dir.join(format!("{name}.i8")))?;
            let s = Mapped::<f32>::open(&dir.join(format!("{name}.scale")))?;
            if q.len() != n * dim || s.len() != n {
                return Err(StoreError::corrupt(
                    dir,
                    format!("{name}.i8 holds the wrong count"),
                ));
            }
            (Some(Graph::open(&path, n)?), Some((q, s)))
        } else {
            (None, None)
        };
        Ok(Vectors {
            data,
            dim,
            graph,
            int8,
        })
    }

    /// Its graph, when it has one.
    pub(super) fn graph(&self) -> Option<&Graph> {
        self.graph.as_ref()
    }

    pub(super) fn get(&self, i: u32) -> &[f32] {
        let d = self.dim;
        &self.data.as_slice()[i as usize * d..(i as usize + 1) * d]
    }

    pub(super) fn len(&self) -> usize {
        self.data.len() / self.dim.max(1)
    }

    /// Up to `k` `(local id, cosine)` among ids `keep` accepts, best first.
    pub(super) fn search(
        &self,
        q: &[f32],
        k: usize,
        keep: &dyn Fn(u32) -> bool,
    ) -> Vec<(u32, f32)> {
        let (Some(g), Some((vq, vs))) = (&self.graph, &self.int8) else {
            return self.scan(q, k, 0..self.len() as u32, keep);
        };
        let mut query = Vec::with_capacity(self.dim);
        let scale = crate::kernels::quantize_i8(q, &mut query);
        let approx = Int8Scorer {
            isa: crate::kernels::isa(),
            query,
            scale,
            vectors: vq.as_slice(),
            scales: vs.as_slice(),
        };
        // The beam's best candidates by the int8 estimate, rescored exactly: int8 only chooses
        // whom to look at. Only the head is rescored: each rescore reads a 1.5 KB f32 vector
        // from a random place, and at 1M passages rescoring whole beams (about 500 reads a
        // query) cost more than the walks.
        let mut found: Vec<(u32, f32)> = g
            .search(g.beam(k), &approx, keep)
            .into_iter()
            .take(rescored(k))
            .map(|(i, _)| (i, dot(q, self.get(i))))
            .collect();
        found.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        found.truncate(k);
        found
    }

    /// Exact search over `range`.
    pub(super) fn scan(
        &self,
        q: &[f32],
        k: usize,
        range: std::ops::Range<u32>,
        keep: &dyn Fn(u32) -> bool,
    ) -> Vec<(u32, f32)> {
        let mut all: Vec<(u32, f32)> = range
            .filter(|&i| keep(i))
            .map(|i| (i, dot(q, self.get(i))))
            .collect();
        all.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        all.truncate(k);
        all
    }
}

/// Candidates rescored with the f32 vectors for `k` results: int8 estimates of e5 vectors
/// rarely move a true top-10 result below the 40 best estimates.
fn rescored(k: usize) -> usize {
    (k * 4).max(40)
}

/// Scores nodes by the int8 dot of their vector with the query's.
struct Int8Scorer<'a> {
    isa: crate::kernels::Isa,
    query: Vec<i8>,
    scale: f32,
    vectors: &'a [i8],
    scales: &'a [f32],
}

impl graph::Scorer for Int8Scorer<'_> {
    fn score(&self, id: u32) -> f32 {
        let (i, d) = (id as usize, self.query.len());
        let dot = crate::kernels::vector::dot_i8_on(
            self.isa,
            &self.query,
            &self.vectors[i * d..(i + 1) * d],
        );
        dot as f32 * self.scale * self.scales[i]
    }

    fn prefetch(&self, id: u32) {
        let d = self.query.len();
        if let Some(v) = self.vectors.get(id as usize * d..(id as usize + 1) * d) {
            crate::kernels::prefetch(v);
        }
    }
}
