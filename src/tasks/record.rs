//! A task as it is kept on disk and shown over HTTP (`GET /tasks/{id}`), and the files that
//! hold it: `<id>.task.json` (the record, replaced atomically at every change) and
//! `<id>.docs.json` (the documents, written before the record exists and removed once the
//! task has ended).

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::index::segment::files::replace_atomically;
use crate::index::StoreError;
use crate::ingest::RawDocument;

/// Where a task is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Durably queued; runs after the tasks before it.
    Queued,
    /// Being embedded and written.
    Processing,
    /// Every document written.
    Succeeded,
    /// At least one document not written (`errors` says which and why).
    Failed,
    /// Cancelled while queued; nothing written.
    Canceled,
}

impl Status {
    /// Parses `queued|processing|succeeded|failed|canceled`.
    pub fn parse(s: &str) -> Option<Status> {
        serde_json::from_value(serde_json::Value::String(s.to_string())).ok()
    }

    /// True once the task will not change again.
    pub fn is_final(self) -> bool {
        matches!(self, Status::Succeeded | Status::Failed | Status::Canceled)
    }
}

/// How far a task has come.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Progress {
    /// Documents finished (written or failed), of `documents`.
    pub documents_done: usize,
    /// Passages embedded so far (of the documents being written).
    pub passages_embedded: usize,
}

/// A document a task wrote.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Written {
    /// Its position in the task (0-based).
    pub index: usize,
    /// Its id.
    pub doc: String,
    /// Its passages.
    pub passages: usize,
    /// True when it was stored already with exactly these passages (nothing embedded).
    pub unchanged: bool,
}

/// A document a task could not write.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct DocumentError {
    /// Its position in the task (0-based).
    pub index: usize,
    /// Its id, when it has one.
    pub doc: Option<String>,
    /// Why.
    pub error: String,
}

/// A write task.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Task {
    /// Its id (increasing in the order tasks were queued).
    pub task_id: String,
    /// Where it is.
    pub status: Status,
    /// The collection it writes to.
    pub collection: String,
    /// Documents in it.
    pub documents: usize,
    /// How far it has come.
    pub progress: Progress,
    /// The documents written, in order.
    pub results: Vec<Written>,
    /// The documents not written, in order.
    pub errors: Vec<DocumentError>,
    /// Why the task failed, in a sentence.
    pub error: Option<String>,
    /// When it was queued (RFC 3339).
    pub enqueued_at: String,
    /// When it started (RFC 3339).
    pub started_at: Option<String>,
    /// When it ended (RFC 3339).
    pub finished_at: Option<String>,
    /// From start to end, in milliseconds.
    pub duration_ms: Option<u64>,
}

/// Now, in RFC 3339.
pub fn now() -> String {
    jiff::Timestamp::now().to_string()
}

/// The files of tasks in one folder.
#[derive(Debug, Clone)]
pub struct Files {
    dir: PathBuf,
}

impl Files {
    /// The task files in `dir` (created when missing).
    pub fn open(dir: &Path) -> Result<Files, StoreError> {
        std::fs::create_dir_all(dir).map_err(|e| StoreError::io(dir, e))?;
        Ok(Files {
            dir: dir.to_path_buf(),
        })
    }

    /// The folder.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn record_path(&self, id: u64) -> PathBuf {
        self.dir.join(format!("{id:020}.task.json"))
    }

    fn docs_path(&self, id: u64) -> PathBuf {
        self.dir.join(format!("{id:020}.docs.json"))
    }

    /// Every task recorded, by id; the documents of a task whose record was never written (a
    /// crash before its 202) are removed.
    pub fn load(&self) -> Result<Vec<(u64, Task)>, StoreError> {
        let io = |e| StoreError::io(&self.dir, e);
        let mut tasks = Vec::new();
        let mut docs = Vec::new();
        for entry in std::fs::read_dir(&self.dir).map_err(io)?.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            let id = name.split('.').next().and_then(|n| n.parse::<u64>().ok());
            match (
                id,
                name.ends_with(".task.json"),
                name.ends_with(".docs.json"),
            ) {
                (Some(id), true, _) => {
                    let path = entry.path();
                    let bytes = std::fs::read(&path).map_err(|e| StoreError::io(&path, e))?;
                    let task: Task =
                        serde_json::from_slice(&bytes).map_err(|e| StoreError::Corrupt {
                            at: path.display().to_string(),
                            message: format!("not a task record: {e}"),
                        })?;
                    tasks.push((id, task));
                }
                (Some(id), _, true) => docs.push(id),
                // Temporary files of a write cut short.
                _ if name.ends_with(".tmp") => {
                    let _ = std::fs::remove_file(entry.path());
                }
                _ => {}
            }
        }
        tasks.sort_by_key(|(id, _)| *id);
        for id in docs {
            if tasks.binary_search_by_key(&id, |(i, _)| *i).is_err() {
                self.remove_docs(id);
            }
        }
        Ok(tasks)
    }

    /// Writes a new task: its documents first, then its record, each durably; only then does
    /// the task exist.
    pub fn create(&self, id: u64, task: &Task, docs: &[RawDocument]) -> Result<(), StoreError> {
        let bytes = serde_json::to_vec(docs)?;
        replace_atomically(&self.docs_path(id), &bytes)?;
        self.save(id, task).inspect_err(|_| self.remove_docs(id))
    }

    /// Replaces a task's record.
    pub fn save(&self, id: u64, task: &Task) -> Result<(), StoreError> {
        replace_atomically(&self.record_path(id), &serde_json::to_vec_pretty(task)?)
    }

    /// A queued task's documents.
    pub fn docs(&self, id: u64) -> Result<Vec<RawDocument>, StoreError> {
        let path = self.docs_path(id);
        let bytes = std::fs::read(&path).map_err(|e| StoreError::io(&path, e))?;
        Ok(serde_json::from_slice(&bytes)?)
    }

    /// Removes a task's documents (it has ended).
    pub fn remove_docs(&self, id: u64) {
        let _ = std::fs::remove_file(self.docs_path(id));
    }

    /// Removes a task altogether (an old ended one).
    pub fn remove(&self, id: u64) {
        self.remove_docs(id);
        let _ = std::fs::remove_file(self.record_path(id));
    }
}
