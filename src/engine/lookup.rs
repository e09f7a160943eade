//! Reads by id and listings: a passage, the passages around one, the clauses related to one,
//! the documents, the stats. Each is narrowed by a scope (the documents the caller may read:
//! [`Condition::all`] for every one), and what lies outside it answers exactly as what does not
//! exist, so neither an error nor a count tells a caller about documents it may not read.

use super::{facets, hits, not_found_passage, stats, validate_k, Engine, Stats};
use crate::error::{Error, Result};
use crate::index::{Condition, DocFilter, DocumentInfo, Passage, Snapshot};
use crate::search::{self, relevance::Judge};

/// The documents of `snap` that `scope` passes, as the stores filter ([`DocFilter::All`] for
/// [`Condition::all`], without reading the document list).
fn resolve(snap: &dyn Snapshot, scope: &Condition) -> Result<DocFilter> {
    scope.validate().map_err(Error::invalid)?;
    Ok(snap.resolve(scope)?)
}

impl Engine {
    /// Documents in the index, in id order.
    pub fn documents(&self) -> Result<Vec<DocumentInfo>> {
        Ok(self.snapshot()?.documents()?)
    }

    /// The documents `filter` passes, and the facets of `fields` over them (none when `fields`
    /// is None), from one state of the index.
    pub fn documents_where(
        &self,
        filter: &Condition,
        fields: Option<&facets::FacetFields>,
    ) -> Result<(Vec<DocumentInfo>, Vec<facets::Facet>)> {
        filter.validate().map_err(Error::invalid)?;
        if filter.reads_section() {
            return Err(Error::invalid(
                "filter: `section` is a field of passages: it narrows searches, not the list of \
                 documents",
            ));
        }
        let docs = self.snapshot()?.documents()?;
        let counted = fields.map_or_else(Vec::new, |f| facets::count(&docs, filter, f));
        let passing = docs
            .into_iter()
            .filter(|d| filter.matches(d.into()))
            .collect();
        Ok((passing, counted))
    }

    /// True when document `doc` exists and `scope` passes it.
    pub fn has_document(&self, doc: &str, scope: &Condition) -> Result<bool> {
        let snap = self.snapshot()?;
        if !snap.has_document(doc)? {
            return Ok(false);
        }
        Ok(resolve(snap.as_ref(), scope)?.accepts(doc))
    }

    /// What the documents `scope` passes hold: documents, passages, languages.
    pub fn stats(&self, scope: &Condition) -> Result<Stats> {
        let snap = self.snapshot()?;
        match resolve(snap.as_ref(), scope)? {
            DocFilter::All => stats::of(snap.as_ref(), None),
            docs => stats::of(snap.as_ref(), Some(&docs)),
        }
    }

    /// Passage by id, when `scope` passes its document.
    pub fn passage(&self, id: &str, scope: &Condition) -> Result<Passage> {
        let snap = self.snapshot()?;
        let key = snap.find(id)?.ok_or_else(|| not_found_passage(id))?;
        let p = snap.passage(key)?;
        if !resolve(snap.as_ref(), scope)?.accepts(&p.doc) {
            return Err(not_found_passage(id));
        }
        Ok(p)
    }

    /// Passage `id` with up to `n` passages of its document on each side, in document order,
    /// from one snapshot (the page's view of a cited passage), when `scope` passes its document.
    pub fn around(&self, id: &str, n: usize, scope: &Condition) -> Result<Vec<Passage>> {
        if n > crate::config::MAX_NEIGHBOURS {
            return Err(Error::invalid(format!(
                "n must be at most {} (got {n})",
                crate::config::MAX_NEIGHBOURS
            )));
        }
        let snap = self.snapshot()?;
        let key = snap.find(id)?.ok_or_else(|| not_found_passage(id))?;
        // A stored id follows the one rule, so its neighbours are named from it (one lookup
        // each), not read passage by passage.
        let pid: crate::index::PassageId = id.parse().map_err(|_| not_found_passage(id))?;
        if !resolve(snap.as_ref(), scope)?.accepts(&pid.doc) {
            return Err(not_found_passage(id));
        }
        let mut keys = Vec::with_capacity(2 * n + 1);
        for d in -(n as isize)..=n as isize {
            if d == 0 {
                keys.push(key);
            } else if let Some(near) = pid.offset(d) {
                keys.extend(snap.find(&near.to_string())?);
            }
        }
        Ok(snap.passages(&keys)?)
    }

    /// Clauses related to the clause a stored passage belongs to (its passages' mean vector, no
    /// re-embedding), each once by its best passage, never its own clause's passages, only of
    /// documents `scope` passes (the passage's own among them); see [`search::related`] for
    /// what `include_neighbours` adds.
    pub fn related(
        &self,
        id: &str,
        k: usize,
        include_neighbours: bool,
        scope: &Condition,
    ) -> Result<Vec<crate::engine::Hit>> {
        validate_k(k)?;
        let snap = self.snapshot()?;
        let key = snap.find(id)?.ok_or_else(|| not_found_passage(id))?;
        let docs = resolve(snap.as_ref(), scope)?;
        if docs.named().is_some() && !docs.accepts(&snap.passage(key)?.doc) {
            return Err(not_found_passage(id));
        }
        let (found, v) =
            search::related::related(snap.as_ref(), key, k, include_neighbours, &docs)?;
        // Judged as if the clause were the question: how far each result stands out from the
        // library's average passage, on the same scale.
        let judge = Judge::new(snap.as_ref(), "", &v, self.options.relevance)?;
        hits(snap.as_ref(), found, &judge, &v)
    }
}
