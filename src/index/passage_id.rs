//! Passage ids, the one rule: `<doc>#<n>`, where `n` counts a document's passages from 1 in
//! text order. Document ids never contain `#` (see [`crate::ingest::check_doc_id`]), so the id
//! splits at its last `#`; `n` is plain decimal digits without a leading zero, so each passage
//! has exactly one id.

use std::fmt;
use std::str::FromStr;

/// A passage's id.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PassageId {
    /// Its document's id.
    pub doc: String,
    /// Its position in the document, from 1.
    pub n: usize,
}

impl PassageId {
    /// Passage `n` (from 1) of `doc`.
    pub fn new(doc: impl Into<String>, n: usize) -> Self {
        PassageId { doc: doc.into(), n }
    }

    /// The id `delta` passages away in the same document (None before the first).
    pub fn offset(&self, delta: isize) -> Option<PassageId> {
        let n = self.n.checked_add_signed(delta).filter(|&n| n >= 1)?;
        Some(PassageId::new(self.doc.clone(), n))
    }

    /// `(doc, n)` of a well-formed id, without allocating.
    pub fn parts(id: &str) -> Option<(&str, usize)> {
        let (doc, n) = id.rsplit_once('#')?;
        let digits = !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()) && !n.starts_with('0');
        if doc.is_empty() || !digits {
            return None;
        }
        Some((doc, n.parse().ok()?))
    }

    /// The id text of passage `n` of `doc`.
    pub fn format(doc: &str, n: usize) -> String {
        format!("{doc}#{n}")
    }
}

impl fmt::Display for PassageId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}#{}", self.doc, self.n)
    }
}

/// A text that is not a passage id.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{0:?} is not a passage id (<document>#<n>, n from 1)")]
pub struct BadPassageId(pub String);

impl FromStr for PassageId {
    type Err = BadPassageId;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        PassageId::parts(s)
            .map(|(doc, n)| PassageId::new(doc, n))
            .ok_or_else(|| BadPassageId(s.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_rule_both_ways() {
        let id: PassageId = "plan-2025#12".parse().unwrap();
        assert_eq!(id, PassageId::new("plan-2025", 12));
        assert_eq!(id.to_string(), "plan-2025#12");
        assert_eq!(PassageId::format("a", 3), "a#3");
        assert_eq!(id.offset(-11), Some(PassageId::new("plan-2025", 1)));
        assert_eq!(id.offset(-12), None);
        assert_eq!(id.offset(1).unwrap().n, 13);
        for bad in [
            "",
            "a",
            "#1",
            "a#",
            "a#0",
            "a#01",
            "a#+1",
            "a#-1",
            "a# 1",
            "a#1x",
            "a#99999999999999999999999",
        ] {
            assert!(bad.parse::<PassageId>().is_err(), "{bad:?} parsed");
        }
        assert_eq!(PassageId::parts("a#b#2"), Some(("a#b", 2)));
    }
}
