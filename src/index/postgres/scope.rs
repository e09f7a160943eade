//! A filter as PostgreSQL statements take it, and the passages by section that filters on
//! `section` resolve against.

use super::snapshot::PgSnapshot;
use crate::index::{DocFilter, Key, SectionKeys, StoreError};

/// The parameters of a filter: `doc = ANY(docs) OR key = ANY(keys)`, every passage when `docs`
/// is None.
pub(super) struct Scope<'a> {
    /// Documents passing whole; None for every document.
    pub docs: Option<Vec<&'a str>>,
    /// Passages passing of documents passing in part.
    pub keys: Vec<i64>,
}

impl<'a> Scope<'a> {
    pub(super) fn of(filter: &'a DocFilter) -> Self {
        match filter.passages() {
            Some(p) => Scope {
                docs: Some(p.whole().iter().map(String::as_str).collect()),
                keys: p.keys().map(|k| k as i64).collect(),
            },
            None => Scope {
                docs: filter
                    .named()
                    .map(|ids| ids.iter().map(String::as_str).collect()),
                keys: Vec::new(),
            },
        }
    }

    /// True when the filter narrows the search (so its statements are planned for it).
    pub(super) fn narrows(&self) -> bool {
        self.docs.is_some()
    }
}

/// The live passages grouped by document and section.
pub(super) fn sections(snap: &PgSnapshot) -> Result<Vec<SectionKeys>, StoreError> {
    Ok(snap
        .with(1, |c| {
            c.run(
                "SELECT doc, section, array_agg(key ORDER BY key) FROM semsearch_passages
                 GROUP BY doc, section ORDER BY doc, section",
                &[],
            )
        })?
        .iter()
        .map(|r| SectionKeys {
            doc: r.get(0),
            section: r.get(1),
            keys: r
                .get::<_, Vec<i64>>(2)
                .into_iter()
                .map(|k| k as Key)
                .collect(),
        })
        .collect())
}
