//! Keeping the lexical index in step with the manifest: repaired at open after a crash, and
//! put back when a write fails after its lexical commit (a full disk at the manifest), so that
//! a write that was not acknowledged leaves no trace in keyword search.

use std::collections::HashSet;
use std::sync::atomic::Ordering;

use super::{Inner, State};
use crate::index::{Passage, StoreError};

impl Inner {
    /// At open: the lexical side repaired, then leftovers of unfinished writes removed.
    pub(super) fn recover(&self) -> Result<(), StoreError> {
        self.repair_lexical()?;
        self.sweep();
        Ok(())
    }

    /// After a write of generation `g + 1` failed: the lexical index back to what the manifest
    /// of generation `g` holds for the `touched` documents. When that fails too (the disk is
    /// still full), the store is marked so that the next write repairs it first; until then
    /// searches use the view of generation `g`, which the failed write never replaced.
    pub(super) fn undo_lexical(&self, touched: &[String]) {
        let undo = || -> Result<(), StoreError> {
            let state = self.state();
            let g = state.generation.to_string();
            if self.lexical.payload()?.as_deref() == Some(g.as_str()) {
                return Ok(());
            }
            let mut passages: Vec<Passage> = Vec::new();
            for d in touched {
                if let Some((ps, _)) = state.document(d)? {
                    passages.extend(ps);
                }
            }
            let refs: Vec<&str> = touched.iter().map(String::as_str).collect();
            let adds: Vec<&Passage> = passages.iter().collect();
            self.lexical.apply(&refs, &adds, &g)
        };
        if let Err(e) = undo() {
            tracing::warn!(
                "lexical index not restored after a failed write ({e}): the next write repairs it"
            );
            self.lexical_dirty.store(true, Ordering::SeqCst);
        }
    }

    /// Before a write: the repair [`Inner::undo_lexical`] could not do, if any.
    pub(super) fn repair_if_dirty(&self) -> Result<(), StoreError> {
        if self.lexical_dirty.load(Ordering::SeqCst) {
            self.repair_lexical()?;
            self.lexical_dirty.store(false, Ordering::SeqCst);
        }
        Ok(())
    }

    /// Brings the lexical index in step with the manifest: after a crash between the lexical
    /// commit and the manifest (a WAL names the documents to put back), after a write that
    /// failed and could not be undone, or when the two diverge for any other reason (rebuilt
    /// from every live passage).
    pub(super) fn repair_lexical(&self) -> Result<(), StoreError> {
        let state = self.state();
        let g = state.generation;
        let payload = self.lexical.payload()?;
        if payload.as_deref() != Some(g.to_string().as_str()) {
            let wal = self.dir.join(format!("wal-{}.json", g + 1));
            let ahead = payload.as_deref() == Some((g + 1).to_string().as_str());
            let docs: Vec<String> = if ahead && wal.is_file() {
                let text = std::fs::read(&wal).map_err(|e| StoreError::io(&wal, e))?;
                serde_json::from_slice(&text)
                    .map_err(|e| StoreError::corrupt(&wal, e.to_string()))?
            } else {
                // Unknown divergence (an index migrated from format 1, a lost lexical folder):
                // rebuild the lexical side from every live passage.
                tracing::warn!(
                    "lexical index out of step with the manifest at {}: rebuilding it",
                    self.dir.display()
                );
                let mut passages = Vec::new();
                for d in state.docs.keys() {
                    if let Some((ps, _)) = state.document(d)? {
                        passages.extend(ps);
                    }
                }
                let adds: Vec<&Passage> = passages.iter().collect();
                self.lexical.rebuild(&adds, &g.to_string())?;
                Vec::new()
            };
            if !docs.is_empty() {
                let mut passages = Vec::new();
                for d in &docs {
                    if let Some((ps, _)) = state.document(d)? {
                        passages.extend(ps);
                    }
                }
                let refs: Vec<&str> = docs.iter().map(String::as_str).collect();
                let adds: Vec<&Passage> = passages.iter().collect();
                self.lexical.apply(&refs, &adds, &g.to_string())?;
            }
            self.swap(State::build(
                state.model.clone(),
                g,
                state.next_segment,
                state.segments.clone(),
                self.lexical.view(),
            ));
        }
        Ok(())
    }

    /// Removes what no manifest names: segments and WAL entries of unfinished writes. Only when
    /// no write or merge can be running (at open).
    fn sweep(&self) {
        let state = self.state();
        let named: HashSet<u64> = state.segments.iter().map(|l| l.seg.id).collect();
        if let Ok(entries) = std::fs::read_dir(&self.dir) {
            for e in entries.flatten() {
                let name = e.file_name().to_string_lossy().into_owned();
                let orphan_segment = name
                    .strip_prefix("seg-")
                    .and_then(|n| n.parse::<u64>().ok())
                    .is_some_and(|id| !named.contains(&id));
                let old_wal = name.starts_with("wal-") || name.ends_with(".tmp");
                if orphan_segment {
                    let _ = std::fs::remove_dir_all(e.path());
                } else if old_wal {
                    let _ = std::fs::remove_file(e.path());
                }
            }
        }
    }
}
