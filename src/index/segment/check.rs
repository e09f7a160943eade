//! The structure a segment's tables must have before any query indexes with them: a table
//! that passes is safe to slice with, so a damaged segment is an error at open naming the file,
//! never a panic in a search. Checksums catch damage to segments written with them; these
//! checks hold for older segments too, and for anything a checksum cannot see (a bug in the
//! writer).

use std::path::Path;

use super::DocEntry;
use crate::index::StoreError;

/// Checks the passage and sentence tables of a segment of `n` passages and `sentences`
/// sentences.
pub(super) fn tables(
    dir: &Path,
    n: usize,
    sentences: usize,
    docs: &[DocEntry],
    offsets: &[u64],
    first_sentence: &[u32],
    spans: &[u32],
) -> Result<(), StoreError> {
    monotonic(&dir.join("passages.off"), offsets)?;
    if offsets.first().is_some_and(|&o| o != 0) {
        return Err(StoreError::corrupt(
            dir.join("passages.off"),
            "does not start at 0",
        ));
    }
    monotonic(&dir.join("sentences.first"), first_sentence)?;
    if first_sentence.first().copied() != Some(0)
        || first_sentence.last().copied() != Some(sentences as u32)
    {
        return Err(StoreError::corrupt(
            dir.join("sentences.first"),
            "does not cover the sentences",
        ));
    }
    if let Some(i) = spans.chunks_exact(2).position(|s| s[0] >= s[1]) {
        return Err(StoreError::corrupt(
            dir.join("sentences.spans"),
            format!("sentence {i} is empty or reversed"),
        ));
    }
    // The documents tile the passages in order, none empty.
    let mut at = 0u32;
    for d in docs {
        if d.start != at || d.end <= d.start {
            return Err(StoreError::corrupt(
                dir.join("segment.json"),
                format!("document {:?} has passages {}..{}", d.doc, d.start, d.end),
            ));
        }
        at = d.end;
    }
    if at as usize != n {
        return Err(StoreError::corrupt(
            dir.join("segment.json"),
            format!("documents cover {at} of {n} passages"),
        ));
    }
    Ok(())
}

/// Checks that `v` never decreases.
pub(super) fn monotonic<T: PartialOrd + Copy>(path: &Path, v: &[T]) -> Result<(), StoreError> {
    match v.windows(2).position(|w| w[1] < w[0]) {
        Some(i) => Err(StoreError::corrupt(
            path,
            format!("offsets decrease at entry {}", i + 1),
        )),
        None => Ok(()),
    }
}
