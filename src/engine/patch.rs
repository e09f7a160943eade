//! Changing what is known about a stored document without re-embedding it: its metadata is
//! rewritten with the vectors it has (one store write, like any other upsert, so readers see
//! the old document or the new one, never a mixture).

use super::Engine;
use crate::config::MAX_DOC_PASSAGES;
use crate::error::{Error, Result};
use crate::index::{copy::read_document, DocumentInfo, PassageId, Write};
use crate::ingest;

impl Engine {
    /// Applies `patch` to document `doc`'s metadata (a JSON merge patch: a key set to null is
    /// removed, any other set) and stores it with every passage, its vectors as they are.
    /// Returns the document as stored.
    pub fn patch_metadata(
        &self,
        doc: &str,
        patch: serde_json::Map<String, serde_json::Value>,
    ) -> Result<DocumentInfo> {
        ingest::check_doc_id(doc)?;
        let _writer = self.writer.lock().unwrap_or_else(|e| e.into_inner());
        let _exclusive = self.store.exclusive()?;
        let snap = self.snapshot()?;
        // A document's passages are numbered 1..=n without gaps: counted by lookups, so a
        // patch never lists the whole library.
        let mut n = 0;
        while n < MAX_DOC_PASSAGES && snap.find(&PassageId::format(doc, n + 1))?.is_some() {
            n += 1;
        }
        if n == 0 {
            return Err(Error::NotFound(format!("no document {doc:?}")));
        }
        let (mut passages, vectors) = read_document(snap.as_ref(), doc, n)?;
        let metadata = passages[0]
            .metadata
            .patched(patch)
            .map_err(Error::invalid)?;
        for p in &mut passages {
            p.metadata = metadata.clone();
        }
        let title = passages[0].title.clone();
        self.store.apply(Write::Upsert(vec![(passages, vectors)]))?;
        Ok(DocumentInfo::new(doc, title, n, metadata))
    }
}
