//! Related passages: the nearest passages to a stored passage's own vector, with no
//! re-embedding. The passage itself is excluded, and by default so are the passages right before
//! and after it in its document, which are near by construction and say nothing new.

use crate::index::{Filter, Key, Snapshot};

/// Up to `k` passages related to the passage `key`: `(key, cosine)`, best first.
pub fn related(
    snap: &dyn Snapshot,
    key: Key,
    k: usize,
    include_neighbours: bool,
) -> Vec<(Key, f32)> {
    let Some(v) = snap.passage_vector(key) else {
        return Vec::new();
    };
    let mut exclude = vec![key];
    if !include_neighbours {
        exclude.extend([-1, 1].into_iter().filter_map(|d| snap.neighbour(key, d)));
    }
    snap.nearest(
        v,
        k,
        Filter {
            exclude: &exclude,
            ..Filter::default()
        },
    )
}
