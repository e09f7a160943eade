//! Which documents a search reads: an expression over documents, evaluated inside the search
//! (before the top-k cut), so one search answers however many documents a filter names. Today a
//! set of document ids; metadata conditions join it as further variants, and every store learns
//! to evaluate them where it evaluates these.

use std::collections::BTreeSet;

use crate::config::MAX_FILTER_DOCS;

/// The documents a search may return passages of.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum DocFilter {
    /// Every document.
    #[default]
    All,
    /// Only documents with one of these ids (none at all when the set is empty: a filter
    /// narrowed to nothing finds nothing, it never widens to everything).
    Ids(BTreeSet<String>),
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
        DocFilter::Ids(ids.into_iter().map(Into::into).collect())
    }

    /// One document, or every document for None.
    pub fn doc(doc: Option<String>) -> Self {
        doc.map_or(DocFilter::All, |d| DocFilter::ids([d]))
    }

    /// True when passages of document `doc` pass.
    pub fn accepts(&self, doc: &str) -> bool {
        match self {
            DocFilter::All => true,
            DocFilter::Ids(ids) => ids.contains(doc),
        }
    }

    /// The ids named, when the filter is a set of ids (None: every document).
    pub fn named(&self) -> Option<&BTreeSet<String>> {
        match self {
            DocFilter::All => None,
            DocFilter::Ids(ids) => Some(ids),
        }
    }

    /// Both filters at once: the documents each accepts.
    pub fn and(self, other: DocFilter) -> DocFilter {
        match (self, other) {
            (DocFilter::All, f) | (f, DocFilter::All) => f,
            (DocFilter::Ids(a), DocFilter::Ids(b)) => {
                DocFilter::Ids(a.intersection(&b).cloned().collect())
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
