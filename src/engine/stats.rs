//! What an index holds, as a reader of the page wants to know it before asking: how many
//! documents and passages, and in which languages.

use crate::config::LANGUAGE_SAMPLE;
use crate::error::Result;
use crate::index::Snapshot;

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

/// The stats of `snap`.
pub fn of(snap: &dyn Snapshot) -> Result<Stats> {
    let documents = snap.documents()?.len();
    let sample = snap.sample(LANGUAGE_SAMPLE)?;
    let passages = snap.passages(&sample)?;
    let counts = crate::text::languages(passages.iter().map(|p| p.text.as_str()));
    let n = passages.len().max(1) as f32;
    Ok(Stats {
        documents,
        passages: snap.len(),
        sampled: passages.len(),
        languages: counts
            .into_iter()
            .map(|(l, c)| (l.code(), l.eng_name(), c as f32 / n))
            .collect(),
    })
}
