//! `semsearch eval --related`: are a clause's related clauses on its topic? Against a grouping
//! of one document's clauses (its chapters), the share of the first three related clauses that
//! share the asked clause's chapter, for `related` as served and for two baselines from the same
//! model: the nearest passages of the clause's first passage (what `related` did before it read
//! whole clauses), and the nearest clauses by the embedding of each clause's whole text.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Instant;

use serde::{Deserialize, Serialize};

use crate::embed::TextKind;
use crate::engine::Engine;
use crate::error::{Error, Result};
use crate::index::{Filter, Key, PassageId, Snapshot};
use crate::kernels::dot;

/// Related clauses judged per asked clause.
const TOP: usize = 3;
/// Results asked of each method, so that `TOP` of them are other clauses.
const DEPTH: usize = 30;

/// A document's clauses grouped by topic (`tests/fixtures/eval/clause-chapters.json`).
#[derive(Deserialize)]
struct Grouping {
    doc: String,
    chapters: Vec<Vec<u32>>,
}

/// What `eval --related` reports.
#[derive(Debug, Clone, Serialize)]
pub struct RelatedReport {
    /// Clauses asked (those in the index whose chapter has another clause).
    pub clauses: usize,
    /// Share of the first three related clauses in the asked clause's chapter: `related` as
    /// served (clauses by their sentences' mean vector, each once).
    #[serde(rename = "related@3")]
    pub related: f64,
    /// The same for the nearest passages to the clause's first passage, each clause once.
    #[serde(rename = "passage_neighbours@3")]
    pub passage_neighbours: f64,
    /// The same for the nearest clauses by their whole text's embedding.
    #[serde(rename = "whole_clause_embedding@3")]
    pub whole_clause: f64,
    /// The share a random pick of other clauses would reach.
    pub chance: f64,
    /// Wall time.
    pub seconds: f64,
}

/// Runs `eval --related` with the grouping in `file` against `engine`'s index.
pub fn related(engine: &Engine, file: &Path) -> Result<RelatedReport> {
    let started = Instant::now();
    let text = std::fs::read_to_string(file)
        .map_err(|e| Error::invalid(format!("cannot read {}: {e}", file.display())))?;
    let g: Grouping = serde_json::from_str(&text)
        .map_err(|e| Error::invalid(format!("{}: {e}", file.display())))?;
    let chapter_of: BTreeMap<u32, usize> = g
        .chapters
        .iter()
        .enumerate()
        .flat_map(|(i, c)| c.iter().map(move |n| (*n, i)))
        .collect();
    let snap = engine.snapshot()?;
    let clauses = clauses_of(snap.as_ref(), &g.doc)?;
    if clauses.is_empty() {
        return Err(Error::invalid(format!(
            "no clauses of document {:?} in the index",
            g.doc
        )));
    }
    let asked: Vec<u32> = clauses
        .keys()
        .copied()
        .filter(|c| {
            chapter_of.get(c).is_some_and(|ch| {
                g.chapters[*ch]
                    .iter()
                    .filter(|n| clauses.contains_key(n))
                    .count()
                    > 1
            })
        })
        .collect();
    let texts: Vec<String> = clauses.values().map(|ps| ps.1.join("\n")).collect();
    let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
    let whole: BTreeMap<u32, Vec<f32>> = clauses
        .keys()
        .copied()
        .zip(engine.embedder().embed(&refs, TextKind::Passage)?)
        .collect();
    let score = |c: u32, found: &[u32]| -> f64 {
        let same = found
            .iter()
            .take(TOP)
            .filter(|f| chapter_of.get(f) == chapter_of.get(&c));
        same.count() as f64 / TOP as f64
    };
    let (mut served, mut passage, mut whole_text, mut chance) = (0.0, 0.0, 0.0, 0.0);
    for &c in &asked {
        let first = clauses[&c].0[0];
        let id = snap.passage(first)?.id;
        let hits = engine.related(&id, DEPTH, false, &crate::index::Condition::all())?;
        let found = distinct(c, hits.iter().map(|h| h.passage.clause.as_deref()));
        served += score(c, &found);

        let v = snap.vectors(&[first])?.remove(0).to_vec();
        let mut exclude = vec![first];
        for d in [-1, 1] {
            exclude.extend(snap.neighbour(first, d)?);
        }
        let near = snap.nearest(
            &v,
            DEPTH,
            Filter {
                exclude: &exclude,
                ..Filter::default()
            },
        )?;
        let keys: Vec<Key> = near.iter().map(|n| n.0).collect();
        let ps = snap.passages(&keys)?;
        passage += score(c, &distinct(c, ps.iter().map(|p| p.clause.as_deref())));

        let mut by_text: Vec<(f32, u32)> = whole
            .iter()
            .filter(|(o, _)| **o != c)
            .map(|(o, w)| (dot(&whole[&c], w), *o))
            .collect();
        by_text.sort_by(|a, b| b.0.total_cmp(&a.0));
        whole_text += score(c, &by_text.iter().map(|x| x.1).collect::<Vec<_>>());
        let mates = g.chapters[chapter_of[&c]]
            .iter()
            .filter(|n| clauses.contains_key(n))
            .count();
        chance += (mates - 1) as f64 / (clauses.len() - 1) as f64;
    }
    let n = asked.len().max(1) as f64;
    Ok(RelatedReport {
        clauses: asked.len(),
        related: served / n,
        passage_neighbours: passage / n,
        whole_clause: whole_text / n,
        chance: chance / n,
        seconds: started.elapsed().as_secs_f64(),
    })
}

/// The clauses of `doc` in the snapshot: each one's passages (keys, texts) in document order.
type Clauses = BTreeMap<u32, (Vec<Key>, Vec<String>)>;

fn clauses_of(snap: &dyn Snapshot, doc: &str) -> Result<Clauses> {
    let count = snap
        .documents()?
        .into_iter()
        .find(|d| d.doc == doc)
        .map_or(0, |d| d.passages);
    let mut out = Clauses::new();
    // Ordinals can have gaps after a replace; a document's are at most a few past its count.
    let mut n = 1;
    let mut seen = 0;
    while seen < count && n <= 4 * count + 16 {
        if let Some(k) = snap.find(&PassageId::new(doc, n).to_string())? {
            seen += 1;
            let p = snap.passage(k)?;
            if let Some(c) = p.clause.as_deref().and_then(|c| c.parse::<u32>().ok()) {
                let e = out.entry(c).or_default();
                e.0.push(k);
                e.1.push(p.text);
            }
        }
        n += 1;
    }
    Ok(out)
}

/// The distinct clause numbers of `found`, in order, without `own` and passages outside any
/// clause.
fn distinct<'a>(own: u32, found: impl Iterator<Item = Option<&'a str>>) -> Vec<u32> {
    let mut out: Vec<u32> = Vec::new();
    for c in found.flatten().filter_map(|c| c.parse::<u32>().ok()) {
        if c != own && !out.contains(&c) {
            out.push(c);
        }
    }
    out
}
