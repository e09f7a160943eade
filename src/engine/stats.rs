//! What an index holds, as a reader of the page wants to know it before asking: how many
//! documents and passages, and in which languages.

use crate::config::LANGUAGE_SAMPLE;
use crate::error::Result;
use crate::index::{DocFilter, Snapshot};

/// Counts of an index, and its languages estimated from an even sample of passages.
#[derive(Debug, Clone, PartialEq)]
pub struct Stats {
    /// Documents.
    pub documents: usize,
    /// Passages.
    pub passages: usize,
    /// Passages sampled to estimate `languages`.
    pub sampled: usize,
    /// Languages of the sampled passages, most common first (see [`crate::text::languages`]):
    /// ISO 639-3 code, English name, share of the sample (passages whose language cannot be
    /// told are left out, so shares can sum to less than 1).
    pub languages: Vec<(&'static str, &'static str, f32)>,
}

/// The stats of `snap`, of only the documents `docs` accepts when given.
pub fn of(snap: &dyn Snapshot, docs: Option<&DocFilter>) -> Result<Stats> {
    let all = snap.documents()?;
    let (documents, passages) = match docs {
        None => (all.len(), snap.len()),
        Some(f) => all
            .iter()
            .filter(|d| f.accepts(&d.doc))
            .fold((0, 0), |(n, p), d| (n + 1, p + d.passages)),
    };
    let sample = snap.sample(LANGUAGE_SAMPLE)?;
    let mut sampled = snap.passages(&sample)?;
    if let Some(f) = docs {
        sampled.retain(|p| f.accepts(&p.doc));
    }
    let counts = crate::text::languages(sampled.iter().map(|p| p.text.as_str()));
    let n = sampled.len().max(1) as f32;
    Ok(Stats {
        documents,
        passages,
        sampled: sampled.len(),
        languages: counts
            .into_iter()
            .map(|(l, c)| (l.code(), l.eng_name(), c as f32 / n))
            .collect(),
    })
}
