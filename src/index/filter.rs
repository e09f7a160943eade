//! Which passages a search reads: an expression over documents (and, for conditions on a
//! passage's own `section`, over passages), evaluated inside the search (before the top-k cut),
//! so one search answers however many documents a filter names.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use super::Key;
use crate::config::MAX_FILTER_DOCS;

/// The passages a search may return.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum DocFilter {
    /// Every document.
    #[default]
    All,
    /// Only documents with one of these ids (none at all when the set is empty: a filter
    /// narrowed to nothing finds nothing, it never widens to everything).
    /// Shared: a resolved filter is cached and handed to every search that asks again.
    Ids(Arc<BTreeSet<String>>),
    /// Some documents whole and some passages of others: what a condition on a passage's
    /// `section` resolves to, in the keys of one snapshot.
    Passages(Arc<PassageSet>),
}

/// Documents passing whole, and passages of documents passing in part (keys of one snapshot).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PassageSet {
    /// Every document with a passage that passes.
    docs: BTreeSet<String>,
    whole: BTreeSet<String>,
    parts: BTreeMap<String, BTreeSet<Key>>,
}

impl PassageSet {
    /// Every passage of `doc` passes.
    pub fn add_whole(&mut self, doc: &str) {
        self.parts.remove(doc);
        self.docs.insert(doc.to_string());
        self.whole.insert(doc.to_string());
    }

    /// These passages of `doc` pass (nothing changes when `keys` is empty or `doc` is whole).
    pub fn add_part(&mut self, doc: &str, keys: impl IntoIterator<Item = Key>) {
        if self.whole.contains(doc) {
            return;
        }
        let mut keys = keys.into_iter().peekable();
        if keys.peek().is_none() {
            return;
        }
        self.docs.insert(doc.to_string());
        self.parts.entry(doc.to_string()).or_default().extend(keys);
    }

    /// Documents every passage of which passes.
    pub fn whole(&self) -> &BTreeSet<String> {
        &self.whole
    }

    /// Documents passing in part, with their passages that pass.
    pub fn parts(&self) -> &BTreeMap<String, BTreeSet<Key>> {
        &self.parts
    }

    /// The passing passages of documents passing in part.
    pub fn keys(&self) -> impl Iterator<Item = Key> + '_ {
        self.parts.values().flatten().copied()
    }

    /// True when passage `key` of document `doc` passes.
    pub fn accepts(&self, doc: &str, key: Key) -> bool {
        self.whole.contains(doc) || self.parts.get(doc).is_some_and(|k| k.contains(&key))
    }

    /// Only what passes both.
    fn and(self, other: &PassageSet) -> PassageSet {
        let mut out = PassageSet::default();
        for doc in &self.docs {
            match (
                self.parts.get(doc),
                other.whole.contains(doc),
                other.parts.get(doc),
            ) {
                (None, true, _) => out.add_whole(doc),
                (None, false, Some(theirs)) => out.add_part(doc, theirs.iter().copied()),
                (Some(mine), true, _) => out.add_part(doc, mine.iter().copied()),
                (Some(mine), false, Some(theirs)) => {
                    out.add_part(doc, mine.intersection(theirs).copied())
                }
                (_, false, None) => {}
            }
        }
        out
    }

    /// Only documents in `ids`.
    fn within(mut self, ids: &BTreeSet<String>) -> PassageSet {
        self.docs.retain(|d| ids.contains(d));
        self.whole.retain(|d| ids.contains(d));
        self.parts.retain(|d, _| ids.contains(d));
        self
    }
}

/// The one `All`, for borrowers that need a `&'static` default.
pub static ALL_DOCUMENTS: DocFilter = DocFilter::All;

impl DocFilter {
    /// Only the documents named (repeats are one).
    pub fn ids<I, S>(ids: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        DocFilter::Ids(Arc::new(ids.into_iter().map(Into::into).collect()))
    }

    /// Only the documents of `ids`.
    pub fn set(ids: BTreeSet<String>) -> Self {
        DocFilter::Ids(Arc::new(ids))
    }

    /// Only the passages of `set`.
    pub fn passages_of(set: PassageSet) -> Self {
        DocFilter::Passages(Arc::new(set))
    }

    /// One document, or every document for None.
    pub fn doc(doc: Option<String>) -> Self {
        doc.map_or(DocFilter::All, |d| DocFilter::ids([d]))
    }

    /// True when passages of document `doc` pass (some of them, for [`DocFilter::Passages`]).
    pub fn accepts(&self, doc: &str) -> bool {
        match self {
            DocFilter::All => true,
            DocFilter::Ids(ids) => ids.contains(doc),
            DocFilter::Passages(p) => p.docs.contains(doc),
        }
    }

    /// True when passage `key` of document `doc` passes.
    pub fn accepts_passage(&self, doc: &str, key: Key) -> bool {
        match self {
            DocFilter::Passages(p) => p.accepts(doc, key),
            other => other.accepts(doc),
        }
    }

    /// The documents with passages that pass, when the filter names documents (None: every
    /// document).
    pub fn named(&self) -> Option<&BTreeSet<String>> {
        match self {
            DocFilter::All => None,
            DocFilter::Ids(ids) => Some(ids),
            DocFilter::Passages(p) => Some(&p.docs),
        }
    }

    /// The passage-level part of the filter, when it has one.
    pub fn passages(&self) -> Option<&PassageSet> {
        match self {
            DocFilter::Passages(p) => Some(p),
            _ => None,
        }
    }

    /// Both filters at once: the documents each accepts.
    pub fn and(self, other: DocFilter) -> DocFilter {
        match (self, other) {
            (DocFilter::All, f) | (f, DocFilter::All) => f,
            (DocFilter::Ids(a), DocFilter::Ids(b)) => {
                DocFilter::set(a.intersection(&b).cloned().collect())
            }
            (DocFilter::Passages(p), DocFilter::Ids(ids))
            | (DocFilter::Ids(ids), DocFilter::Passages(p)) => {
                DocFilter::passages_of(Arc::unwrap_or_clone(p).within(&ids))
            }
            (DocFilter::Passages(p), DocFilter::Passages(q)) => {
                DocFilter::passages_of(Arc::unwrap_or_clone(p).and(&q))
            }
        }
    }

    /// Checks the filter's size: at most [`MAX_FILTER_DOCS`] documents, so that what a client
    /// names bounds the work of the search.
    pub fn validate(&self) -> Result<(), String> {
        match self.named() {
            Some(ids) if ids.len() > MAX_FILTER_DOCS => Err(format!(
                "a filter may name at most {MAX_FILTER_DOCS} documents ({} given)",
                ids.len()
            )),
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sets_of_documents() {
        let f = DocFilter::ids(["b", "a", "b"]);
        assert_eq!(f.named().unwrap().len(), 2);
        assert!(f.accepts("a") && !f.accepts("c"));
        assert!(DocFilter::All.accepts("anything"));
        assert!(!DocFilter::ids(Vec::<String>::new()).accepts("a"));
        assert_eq!(DocFilter::doc(None), DocFilter::All);
        assert_eq!(
            DocFilter::doc(Some("a".into())).and(f.clone()),
            DocFilter::ids(["a"])
        );
        assert_eq!(DocFilter::All.and(f.clone()), f);
        assert_eq!(
            DocFilter::ids(["x"]).and(DocFilter::ids(["y"])),
            DocFilter::ids(Vec::<String>::new())
        );
    }

    #[test]
    fn a_filter_is_bounded() {
        let many = DocFilter::ids((0..=MAX_FILTER_DOCS).map(|i| i.to_string()));
        assert_eq!(
            many.validate().unwrap_err(),
            format!("a filter may name at most {MAX_FILTER_DOCS} documents (101 given)")
        );
        assert!(DocFilter::ids((0..MAX_FILTER_DOCS).map(|i| i.to_string()))
            .validate()
            .is_ok());
    }
}
