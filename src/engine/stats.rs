//! What an index holds, as a reader of the page wants to know it before asking: how many
//! documents and passages, and in which languages.

use crate::config::LANGUAGE_SAMPLE;
use crate::error::Result;
use crate::index::Snapshot;

/// Characters of a passage read to tell its language (whatlang is as sure at 200 as at 2,000).
const DETECT_CHARS: usize = 200;

/// Counts of an index, and its languages estimated from an even sample of passages.
#[derive(Debug, Clone, PartialEq)]
pub struct Stats {
    /// Documents.
    pub documents: usize,
    /// Passages.
    pub passages: usize,
    /// Passages sampled to estimate `languages`.
    pub sampled: usize,
    /// Languages of the sampled passages, most common first: ISO 639-3 code, English name, share
    /// of the sample (passages whose language cannot be told are left out, so shares can sum to
    /// less than 1).
    pub languages: Vec<(&'static str, &'static str, f32)>,
}

/// The stats of `snap`.
pub fn of(snap: &dyn Snapshot) -> Result<Stats> {
    let documents = snap.documents()?.len();
    let sample = snap.sample(LANGUAGE_SAMPLE)?;
    let passages = snap.passages(&sample)?;
    let mut counts: Vec<(whatlang::Lang, usize)> = Vec::new();
    for p in &passages {
        let head = match p.text.char_indices().nth(DETECT_CHARS) {
            Some((i, _)) => &p.text[..i],
            None => &p.text,
        };
        if let Some(lang) = whatlang::detect_lang(head) {
            match counts.iter_mut().find(|c| c.0 == lang) {
                Some(c) => c.1 += 1,
                None => counts.push((lang, 1)),
            }
        }
    }
    counts.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.code().cmp(b.0.code())));
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
