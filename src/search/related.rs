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
    let (Some(me), Some(v)) = (snap.passage(key), snap.passage_vector(key)) else {
        return Vec::new();
    };
    let mut exclude = vec![key];
    if !include_neighbours {
        if let Some(n) = position(&me.id) {
            for other in [n.wrapping_sub(1), n + 1] {
                if let Some(k) = snap.find(&format!("{}#{other}", me.doc)) {
                    exclude.push(k);
                }
            }
        }
    }
    snap.nearest(
        v,
        k,
        Filter {
            doc: None,
            exclude: &exclude,
        },
    )
}

/// The `n` of a passage id `<doc>#<n>`.
fn position(id: &str) -> Option<usize> {
    id.rsplit_once('#').and_then(|(_, n)| n.parse().ok())
}
