//! One search over several engines (the collections a key may read, for Dify's and OpenAI's
//! `all`): the question embedded once, each engine searched on its own snapshot, the lists
//! merged.
//!
//! The merge keeps each engine's own order and, at every step, takes the head with the highest
//! relevance (the 0..1 score every engine computes alike), so the first n merged results depend
//! only on each engine's first n: pages (`offset`) never overlap or skip, and one engine alone
//! ranks exactly as a plain search.

use super::{Engine, Hit, SearchRequest};
use crate::config::MAX_ALL_COLLECTIONS;
use crate::error::{Error, Result};
use crate::search::page::Window;

/// A page of a search over several engines: each hit with the index of its engine.
#[derive(Debug, Clone)]
pub struct PageAcross {
    /// The page, best first.
    pub hits: Vec<(usize, Hit)>,
    /// The first result after the page, when there is one.
    pub next: Option<(usize, Hit)>,
}

/// The page `req` asks for over `engines` (1..=[`MAX_ALL_COLLECTIONS`] of them, which embed
/// with one model).
pub fn search_page(engines: &[&Engine], req: &SearchRequest) -> Result<PageAcross> {
    req.validate()?;
    let Some(first) = engines.first() else {
        return Err(Error::invalid("no collection to search"));
    };
    if engines.len() > MAX_ALL_COLLECTIONS {
        return Err(Error::invalid(format!(
            "a search may span at most {MAX_ALL_COLLECTIONS} collections ({} here): name one",
            engines.len()
        )));
    }
    let q = first.embed_query(req.query())?;
    let w = req.window();
    // Each engine's head, long enough to fill the page and the one after it.
    let head = Window {
        offset: 0,
        k: w.offset + w.k,
        group_size: w.group_size,
    };
    let mut lists = Vec::with_capacity(engines.len());
    for e in engines {
        let page = e.window_in(e.snapshot()?.as_ref(), req, &q, head)?;
        lists.push(page.hits.into_iter().chain(page.next).collect::<Vec<_>>());
    }
    let mut merged = merge(lists, w.offset + w.k + 1);
    let next = (merged.len() > w.offset + w.k)
        .then(|| merged.pop())
        .flatten();
    let hits = merged.into_iter().skip(w.offset).collect();
    Ok(PageAcross { hits, next })
}

/// The first `n` of `lists` merged: each list's order kept, the head of highest relevance
/// taken first (the earlier list on a tie).
fn merge(lists: Vec<Vec<Hit>>, n: usize) -> Vec<(usize, Hit)> {
    let mut iters: Vec<_> = lists
        .into_iter()
        .map(|l| l.into_iter().peekable())
        .collect();
    let mut out = Vec::with_capacity(n);
    while out.len() < n {
        let mut best: Option<(usize, f32)> = None;
        for (i, it) in iters.iter_mut().enumerate() {
            if let Some(h) = it.peek() {
                if best.is_none_or(|(_, r)| h.relevance > r) {
                    best = Some((i, h.relevance));
                }
            }
        }
        let Some((i, _)) = best else { break };
        if let Some(h) = iters[i].next() {
            out.push((i, h));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::index::Passage;

    fn hit(id: &str, relevance: f32) -> Hit {
        Hit {
            key: 0,
            passage: Passage {
                id: id.into(),
                ..Passage::of_clause("d", None)
            },
            score: 0.0,
            relevance,
        }
    }

    fn ids(m: &[(usize, Hit)]) -> Vec<(usize, &str)> {
        m.iter().map(|(i, h)| (*i, h.passage.id.as_str())).collect()
    }

    #[test]
    fn merging_keeps_each_lists_order_and_takes_the_most_relevant_head() {
        // List 0 is in fusion order, not relevance order: its own order is kept.
        let lists = vec![
            vec![hit("a1", 0.6), hit("a2", 0.9), hit("a3", 0.1)],
            vec![hit("b1", 0.7), hit("b2", 0.2)],
        ];
        let m = merge(lists.clone(), 10);
        assert_eq!(
            ids(&m),
            [(1, "b1"), (0, "a1"), (0, "a2"), (1, "b2"), (0, "a3")]
        );
        // A prefix depends only on the lists' prefixes, so pages tile the merged list.
        let short: Vec<Vec<Hit>> = lists.iter().map(|l| l[..2.min(l.len())].to_vec()).collect();
        assert_eq!(ids(&merge(short, 2)), ids(&m[..2]));
        assert_eq!(ids(&merge(lists.clone(), 3)), ids(&m[..3]));
        // One list alone is itself.
        assert_eq!(
            ids(&merge(vec![lists[0].clone()], 10)),
            [(0, "a1"), (0, "a2"), (0, "a3")]
        );
        assert!(merge(vec![Vec::new(), Vec::new()], 5).is_empty());
    }
}
