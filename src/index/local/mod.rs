//! The single-machine store: segments on disk, a manifest naming them, and a tantivy index, in
//! one folder.
//!
//! ```text
//! index/<name>/manifest.json     format 2: model, generation, segments and their tombstones
//!              seg-<id>/         immutable segments (see `segment`)
//!              lexical/          tantivy, keyed by passage id, commit payload = generation
//!              wal-<gen>.json    the documents the write of generation <gen> touches
//! ```
//!
//! A write costs what it changes: an add writes one new segment (its passages, vectors and,
//! only if it is large, graphs) and commits its passages to tantivy; a delete writes nothing but
//! a tombstone (the document's id, listed against the segment holding it) and a tantivy delete.
//! Opening maps the segments and reads their document tables; nothing is rebuilt, re-tokenized
//! or re-embedded. When small segments pile up, a background thread merges them into one (their
//! live documents only), which drops the tombstones they carried.
//!
//! Order of a write, and why a crash at any point loses nothing acknowledged and shows nothing
//! half-written: (1) the new segment is written and fsynced (a crash leaves an orphan folder,
//! removed on open); (2) `wal-<gen+1>.json` names the documents the write touches; (3) tantivy
//! commits with payload `gen+1`; (4) the manifest of generation `gen+1` replaces the old one
//! atomically: this rename is the commit point; (5) the write is acknowledged. On open, a
//! tantivy commit one generation ahead of the manifest (a crash between 3 and 4) is repaired
//! for exactly the documents the WAL names: their tantivy entries are put back to what the
//! manifest holds.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};

use serde::{Deserialize, Serialize};

use super::lexical::LexicalIndex;
use super::segment::files::{json_crc, replace_atomically};
use super::segment::{self, Segment};
use super::store::{Snapshot, Store, Write};
use super::{Passage, PassageVectors, StoreError};
use crate::embed::ModelId;

mod backup;
mod merge;
mod recover;
mod resolve;
mod state;

pub use backup::{backup, BackupInfo};
use state::Live;
pub use state::State;

/// Version of the on-disk layout written now.
pub const FORMAT_VERSION: u32 = 2;

const MANIFEST: &str = "manifest.json";

/// Segments tolerated before the smallest are merged: each adds a graph walk per query, and
/// walks, not their sizes, dominate search time (measured at 100k passages: one segment
/// 0.71 ms p50, about eight segments 6.5 ms).
const MAX_SEGMENTS: usize = 4;
/// Most live passages merged at once: a merge rebuilds the graphs of what it merges (minutes at
/// this size on two cores), so larger segments, which come from bulk ingests, are left as they
/// are.
const MAX_MERGE_PASSAGES: usize = 1_000_000;

/// A segment as the manifest lists it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct SegmentRef {
    id: u64,
    /// Documents of this segment that were deleted or replaced since.
    #[serde(default)]
    deleted: Vec<String>,
}

/// The manifest: the commit point of every write.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Manifest {
    format_version: u32,
    model: ModelId,
    generation: u64,
    next_segment: u64,
    segments: Vec<SegmentRef>,
    passages: usize,
    documents: usize,
    /// [`json_crc`] of this manifest without this field (absent in manifests written before
    /// checksums and by the format-1 migration).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    checksum: Option<u32>,
}

/// Commits `manifest` (sealed with its checksum) as the index's manifest.
fn write_manifest(dir: &Path, manifest: &Manifest) -> Result<(), StoreError> {
    let mut sealed = Manifest {
        checksum: None,
        ..manifest.clone()
    };
    sealed.checksum = Some(json_crc(&sealed)?);
    replace_atomically(&dir.join(MANIFEST), &serde_json::to_vec_pretty(&sealed)?)
}

/// Checks what a manifest says of itself: its checksum, and segment ids that are distinct
/// and below the next one to be given.
fn check_manifest(dir: &Path, manifest: &mut Manifest) -> Result<(), StoreError> {
    let path = dir.join(MANIFEST);
    if let Some(sum) = manifest.checksum.take() {
        if json_crc(manifest)? != sum {
            return Err(StoreError::corrupt(path, "checksum mismatch (damaged)"));
        }
    }
    let mut ids = HashSet::new();
    for r in &manifest.segments {
        if r.id >= manifest.next_segment || !ids.insert(r.id) {
            return Err(StoreError::corrupt(
                path,
                format!("segment {} listed twice or beyond the next id", r.id),
            ));
        }
    }
    Ok(())
}

/// The store in one folder (or in a temporary folder, removed on drop, for in-memory use).
pub struct LocalStore {
    pub(super) inner: Arc<Inner>,
}

/// What the store and its merge thread share.
pub(super) struct Inner {
    dir: PathBuf,
    temporary: bool,
    pub(super) lexical: LexicalIndex,
    current: RwLock<Arc<State>>,
    /// Serializes commits: writes (ordered by the engine) and the swap at the end of a merge.
    writing: Mutex<()>,
    /// True while a merge thread runs.
    merging: std::sync::atomic::AtomicBool,
    /// True when a failed write left the lexical index ahead of the manifest and putting it
    /// back failed too: the next write repairs it first.
    lexical_dirty: std::sync::atomic::AtomicBool,
}

impl Drop for Inner {
    fn drop(&mut self) {
        if self.temporary {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

/// True when `dir` holds an index.
pub fn exists(dir: &Path) -> bool {
    dir.join(MANIFEST).is_file()
}

fn read_manifest(dir: &Path) -> Result<serde_json::Value, StoreError> {
    let path = dir.join(MANIFEST);
    let text = std::fs::read(&path).map_err(|e| StoreError::io(&path, e))?;
    serde_json::from_slice(&text)
        .map_err(|e| StoreError::corrupt(dir, format!("corrupt manifest.json: {e}")))
}

/// A clear error when the store `at` was built with `found`, not the loaded `model`.
pub(crate) fn check_model(at: &str, found: &ModelId, model: &ModelId) -> Result<(), StoreError> {
    if found == model {
        return Ok(());
    }
    Err(StoreError::ModelMismatch {
        at: at.to_string(),
        message: format!(
            "built with model {} (dim {}, fingerprint {}), but the loaded model is {} (dim {}, fingerprint {}); \
             use the same --model, or re-ingest into a new --index",
            found.name, found.dim, found.fingerprint, model.name, model.dim, model.fingerprint
        ),
    })
}

impl LocalStore {
    /// The index in `dir`, which must exist and hold vectors of `model`. An index of format 1
    /// is migrated on this first open (its vectors are kept; nothing is re-embedded).
    pub fn open(dir: &Path, model: &ModelId) -> Result<Self, StoreError> {
        Ok(LocalStore {
            inner: Arc::new(Inner::open(dir, model)?),
        })
    }

    /// The index in `dir`, or an empty one created there.
    pub fn open_or_create(dir: &Path, model: &ModelId) -> Result<Self, StoreError> {
        Ok(LocalStore {
            inner: Arc::new(Inner::open_or_create(dir, model)?),
        })
    }

    /// An empty index in a temporary folder, removed when the store is dropped.
    pub fn in_memory(model: ModelId) -> Result<Self, StoreError> {
        Ok(LocalStore {
            inner: Arc::new(Inner::in_memory(model)?),
        })
    }

    /// Waits for a running merge to finish (tests and benchmarks measure settled states).
    pub fn settle(&self) {
        while self.inner.merging.load(std::sync::atomic::Ordering::SeqCst) {
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
    }
}

impl Inner {
    /// The index in `dir`, which must exist and hold vectors of `model`. An index of format 1
    /// is migrated on this first open (its vectors are kept; nothing is re-embedded).
    pub fn open(dir: &Path, model: &ModelId) -> Result<Self, StoreError> {
        if !exists(dir) {
            return Err(StoreError::Missing(dir.display().to_string()));
        }
        let raw = read_manifest(dir)?;
        match raw.get("format_version").and_then(|v| v.as_u64()) {
            Some(1) => super::v1::migrate(dir, model)?,
            Some(2) => {}
            other => {
                return Err(StoreError::corrupt(
                    dir,
                    format!("format version {other:?} (this build reads 1 and 2)"),
                ))
            }
        }
        let raw = read_manifest(dir)?;
        let mut manifest: Manifest = serde_json::from_value(raw)
            .map_err(|e| StoreError::corrupt(dir, format!("corrupt manifest.json: {e}")))?;
        check_manifest(dir, &mut manifest)?;
        check_model(&dir.display().to_string(), &manifest.model, model)?;
        Self::load(dir, manifest, false)
    }

    /// The index in `dir`, or an empty one created there.
    pub fn open_or_create(dir: &Path, model: &ModelId) -> Result<Self, StoreError> {
        if exists(dir) {
            return Self::open(dir, model);
        }
        Self::create(dir, model, false)
    }

    /// An empty index in a temporary folder, removed when the store is dropped.
    pub fn in_memory(model: ModelId) -> Result<Self, StoreError> {
        use std::sync::atomic::{AtomicU64, Ordering};
        static N: AtomicU64 = AtomicU64::new(0);
        let dir = std::env::temp_dir().join(format!(
            "semsearch-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        Self::create(&dir, &model, true)
    }

    fn create(dir: &Path, model: &ModelId, temporary: bool) -> Result<Self, StoreError> {
        std::fs::create_dir_all(dir).map_err(|e| StoreError::io(dir, e))?;
        let manifest = Manifest {
            format_version: FORMAT_VERSION,
            model: model.clone(),
            generation: 0,
            next_segment: 1,
            segments: Vec::new(),
            passages: 0,
            documents: 0,
            checksum: None,
        };
        // The lexical side first: a manifest always names a lexical commit it can trust. A
        // lexical folder without a manifest is left from a creation that never finished.
        let lexical_dir = dir.join("lexical");
        if lexical_dir.exists() {
            std::fs::remove_dir_all(&lexical_dir).map_err(|e| StoreError::io(&lexical_dir, e))?;
        }
        let lexical = LexicalIndex::open_or_create(&lexical_dir)?;
        lexical.apply(&[], &[], "0")?;
        write_manifest(dir, &manifest)?;
        let mut store = Self::load(dir, manifest, temporary)?;
        store.temporary = temporary;
        Ok(store)
    }

    fn load(dir: &Path, manifest: Manifest, temporary: bool) -> Result<Self, StoreError> {
        super::lexical::tokenizer::warm_up();
        let dim = manifest.model.dim;
        let mut segments = Vec::with_capacity(manifest.segments.len());
        for r in &manifest.segments {
            let seg = Segment::open(&segment::dir_of(dir, r.id), dim)?;
            segments.push(Live::new(
                Arc::new(seg),
                r.deleted.iter().cloned().collect(),
            ));
        }
        let lexical = LexicalIndex::open_or_create(&dir.join("lexical"))?;
        let state = State::build(
            manifest.model.clone(),
            manifest.generation,
            manifest.next_segment,
            segments,
            lexical.view(),
        );
        if (state.passages, state.docs.len()) != (manifest.passages, manifest.documents) {
            return Err(StoreError::corrupt(
                dir.join(MANIFEST),
                format!(
                    "lists {} passages of {} documents; its segments hold {} of {}",
                    manifest.passages,
                    manifest.documents,
                    state.passages,
                    state.docs.len()
                ),
            ));
        }
        let store = Inner {
            dir: dir.to_path_buf(),
            temporary,
            current: RwLock::new(Arc::new(state)),
            lexical,
            writing: Mutex::new(()),
            merging: std::sync::atomic::AtomicBool::new(false),
            lexical_dirty: std::sync::atomic::AtomicBool::new(false),
        };
        store.recover()?;
        Ok(store)
    }

    fn state(&self) -> Arc<State> {
        self.current
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    fn swap(&self, next: State) {
        *self.current.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(next);
    }

    /// Steps 2-4 of a write (see the module docs): WAL, lexical commit, manifest. A failure at
    /// any step leaves the store as it was (the lexical commit undone), so the write is not
    /// acknowledged and leaves no trace, and the next write starts clean.
    fn commit(&self, next: State, touched: &[String], added: &[Passage]) -> Result<(), StoreError> {
        let g = next.generation;
        let wal = self.dir.join(format!("wal-{g}.json"));
        replace_atomically(&wal, &serde_json::to_vec(touched)?)?;
        let refs: Vec<&str> = touched.iter().map(String::as_str).collect();
        let adds: Vec<&Passage> = added.iter().collect();
        let committed = self
            .lexical
            .apply(&refs, &adds, &g.to_string())
            .and_then(|()| {
                let next = State {
                    lexical: self.lexical.view(),
                    ..next
                };
                write_manifest(&self.dir, &next.manifest())?;
                Ok(next)
            });
        match committed {
            Ok(next) => {
                self.swap(next);
                let _ = std::fs::remove_file(&wal);
                Ok(())
            }
            Err(e) => {
                self.undo_lexical(touched);
                if !self.lexical_dirty.load(std::sync::atomic::Ordering::SeqCst) {
                    let _ = std::fs::remove_file(&wal);
                }
                Err(e)
            }
        }
    }

    fn upsert(&self, docs: Vec<(Vec<Passage>, Vec<PassageVectors>)>) -> Result<usize, StoreError> {
        let state = self.state();
        let count = docs.iter().map(|(p, _)| p.len()).sum();
        let ids: Vec<String> = docs
            .iter()
            .filter_map(|(p, _)| p.first().map(|p| p.doc.clone()))
            .collect();
        let id = state.next_segment;
        let seg_dir = segment::dir_of(&self.dir, id);
        // A segment of a write that fails is removed at once (a full disk gets its space back).
        let gone = |e: StoreError| {
            let _ = std::fs::remove_dir_all(&seg_dir);
            e
        };
        segment::write(&self.dir, id, state.model.dim, &docs).map_err(gone)?;
        let seg = Arc::new(Segment::open(&seg_dir, state.model.dim).map_err(gone)?);
        let mut segments = tombstoned(&state, &ids);
        segments.push(Live::new(seg, HashSet::new()));
        let next = State::build(
            state.model.clone(),
            state.generation + 1,
            id + 1,
            segments,
            state.lexical.clone(),
        );
        let added: Vec<Passage> = docs.into_iter().flat_map(|(p, _)| p).collect();
        self.commit(next, &ids, &added).map_err(|e| {
            // Unless the new manifest did land (only its folder's fsync failed): then it names
            // the segment, and the write is kept, though not acknowledged.
            let landed = read_manifest(&self.dir)
                .ok()
                .and_then(|m| m.get("generation").and_then(|g| g.as_u64()))
                == Some(state.generation + 1);
            if landed {
                e
            } else {
                gone(e)
            }
        })?;
        Ok(count)
    }

    fn delete(&self, doc: &str) -> Result<usize, StoreError> {
        let state = self.state();
        let removed = state.document(doc)?.map_or(0, |(p, _)| p.len());
        let ids = vec![doc.to_string()];
        let next = State::build(
            state.model.clone(),
            state.generation + 1,
            state.next_segment,
            tombstoned(&state, &ids),
            state.lexical.clone(),
        );
        self.commit(next, &ids, &[])?;
        Ok(removed)
    }
}

/// The segments of `state` with `docs` tombstoned wherever they are live.
fn tombstoned(state: &State, docs: &[String]) -> Vec<Live> {
    let mut segments = state.segments.clone();
    let mut touched: HashMap<usize, HashSet<String>> = HashMap::new();
    for d in docs {
        if let Some(&(slot, _)) = state.docs.get(d) {
            touched
                .entry(slot)
                .or_insert_with(|| (*segments[slot].deleted).clone())
                .insert(d.clone());
        }
    }
    for (slot, deleted) in touched {
        segments[slot] = Live::new(segments[slot].seg.clone(), deleted);
    }
    segments
}

impl Store for LocalStore {
    fn snapshot(&self) -> Result<Arc<dyn Snapshot>, StoreError> {
        Ok(self.inner.state())
    }

    fn folder(&self) -> Option<&Path> {
        (!self.inner.temporary).then_some(self.inner.dir.as_path())
    }

    fn apply(&self, write: Write) -> Result<usize, StoreError> {
        let inner = &self.inner;
        let n = {
            let _w = inner.writing.lock().unwrap_or_else(|e| e.into_inner());
            inner.repair_if_dirty()?;
            tracing::debug!(target: "semsearch::phase", "save start");
            let n = match write {
                Write::Upsert(docs) => inner.upsert(docs)?,
                Write::Delete(doc) => inner.delete(&doc)?,
            };
            tracing::debug!(target: "semsearch::phase", "save end");
            n
        };
        // The write is durable now; too many segments are merged in the background.
        merge::start(inner);
        Ok(n)
    }
}
