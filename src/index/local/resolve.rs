//! How the local store resolves a filter against one state: metadata conditions over its
//! in-memory document table (without copying the documents), conditions on `section` over its
//! segments' section runs, and the last few resolved filters kept for the searches that repeat
//! them.

use std::collections::BTreeMap;

use super::state::{key, State};
use crate::index::store::{Key, SectionKeys};
use crate::index::{Condition, DocFilter, StoreError};

/// Resolved filters a state keeps (each shares its set with the searches that use it).
const RESOLVED_FILTERS: usize = 8;

impl State {
    /// [`Snapshot::resolve`], answered from the filters this state resolved before when it can.
    pub(super) fn resolve_cached(&self, condition: &Condition) -> Result<DocFilter, StoreError> {
        let cached = |resolved: &mut Vec<(Condition, DocFilter)>| {
            let i = resolved.iter().position(|(c, _)| c == condition)?;
            let hit = resolved.remove(i);
            resolved.insert(0, hit.clone());
            Some(hit.1)
        };
        if let Some(f) = cached(&mut self.resolved.lock().unwrap_or_else(|e| e.into_inner())) {
            return Ok(f);
        }
        let f = self.resolve_now(condition)?;
        let mut resolved = self.resolved.lock().unwrap_or_else(|e| e.into_inner());
        resolved.insert(0, (condition.clone(), f.clone()));
        resolved.truncate(RESOLVED_FILTERS);
        Ok(f)
    }

    /// [`Snapshot::resolve`], uncached.
    fn resolve_now(&self, condition: &Condition) -> Result<DocFilter, StoreError> {
        // Segment by segment, each document table in order (what `docs` holds, read without
        // its hash lookups and in memory order): a document is live in the one segment that
        // does not tombstone it.
        let views = || {
            self.segments.iter().flat_map(|l| {
                l.seg
                    .docs()
                    .iter()
                    .filter(|d| !l.deleted.contains(&d.doc))
                    .map(|d| crate::index::condition::DocView {
                        doc: &d.doc,
                        title: &d.title,
                        metadata: &d.metadata,
                        section: None,
                    })
            })
        };
        if condition.reads_section() {
            return Ok(condition.resolve_sections(views(), &self.section_keys()?));
        }
        Ok(condition.resolve_views(views))
    }

    /// [`Snapshot::sections`].
    pub(super) fn section_keys(&self) -> Result<Vec<SectionKeys>, StoreError> {
        let mut out = Vec::new();
        for (doc, &(slot, i)) in &self.docs {
            let seg = &self.segments[slot].seg;
            let d = &seg.docs()[i];
            let runs = seg.sections()?;
            let first = runs.partition_point(|r| r.1 <= d.start);
            let mut of_doc: BTreeMap<&Option<String>, Vec<Key>> = BTreeMap::new();
            for (start, end, section) in runs[first..].iter().take_while(|r| r.0 < d.end) {
                let locals = *start.max(&d.start)..*end.min(&d.end);
                of_doc
                    .entry(section)
                    .or_default()
                    .extend(locals.map(|l| key(slot, l)));
            }
            out.extend(of_doc.into_iter().map(|(section, keys)| SectionKeys {
                doc: doc.clone(),
                section: section.clone(),
                keys,
            }));
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use crate::index::tests::{doc, open};
    use crate::index::{Condition, DocFilter, Metadata, Store, Write};

    #[test]
    fn a_repeated_filter_is_resolved_once_per_state() {
        let dir = tempfile::tempdir().unwrap();
        let store = open(dir.path(), 8);
        let docs: Vec<_> = (0..4)
            .map(|d| {
                let (mut ps, vs) = doc(&format!("d{d}"), 2, 8, d * 10);
                let meta = Metadata::from_json(json!({"n": d})).unwrap();
                ps.iter_mut().for_each(|p| p.metadata = meta.clone());
                (ps, vs)
            })
            .collect();
        store.apply(Write::Upsert(docs.clone())).unwrap();
        let gte = |n: usize| Condition::parse(&json!({"type": "gte", "key": "n", "value": n}));
        let s = store.snapshot().unwrap();
        let first = s.resolve(&gte(2).unwrap()).unwrap();
        assert_eq!(first, DocFilter::ids(["d2", "d3"]));
        let (DocFilter::Ids(a), DocFilter::Ids(b)) =
            (&first, &s.resolve(&gte(2).unwrap()).unwrap())
        else {
            panic!("a set of ids")
        };
        assert!(
            std::sync::Arc::ptr_eq(a, b),
            "the second resolution is the first's"
        );
        // More filters than are kept: each still resolves to its own documents.
        for n in 0..12 {
            let want: Vec<String> = (n.min(4)..4).map(|d| format!("d{d}")).collect();
            assert_eq!(s.resolve(&gte(n).unwrap()).unwrap(), DocFilter::ids(want));
        }
        // A later state resolves against its own documents.
        store.apply(Write::Delete("d3".into())).unwrap();
        let later = store.snapshot().unwrap();
        assert_eq!(
            later.resolve(&gte(2).unwrap()).unwrap(),
            DocFilter::ids(["d2"])
        );
        assert_eq!(s.resolve(&gte(2).unwrap()).unwrap(), first);
    }
}
