//! Related passages: the nearest passages to a stored passage's own vector, with no
//! re-embedding. The passage itself is excluded, and by default so are the passages right before
//! and after it in its document, which are near by construction and say nothing new.

use crate::index::{Filter, Key, Snapshot, StoreError};

/// Up to `k` passages related to the passage `key`: `(key, cosine)`, best first.
pub fn related(
    snap: &dyn Snapshot,
    key: Key,
    k: usize,
    include_neighbours: bool,
) -> Result<Vec<(Key, f32)>, StoreError> {
    let v = snap.vectors(&[key])?.remove(0).to_vec();
    let mut exclude = vec![key];
    if !include_neighbours {
        for d in [-1, 1] {
            exclude.extend(snap.neighbour(key, d)?);
        }
    }
    snap.nearest(
        &v,
        k,
        Filter {
            exclude: &exclude,
            ..Filter::default()
        },
    )
}
