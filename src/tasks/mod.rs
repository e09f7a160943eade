//! Writes as durable tasks: a write is queued on disk (its documents, then its record, each
//! fsynced) before it is acknowledged with `202`, and one worker per collection runs the queue
//! in order on the low-priority write pool. A restart, or a `kill -9` at any moment, loses no
//! queued task: tasks found queued or processing when the queue is opened run again (a write
//! of a document is a whole-document upsert, and a document stored with exactly the same
//! passages is left alone, so running a task twice writes it once). Each document's result is
//! recorded as soon as it is written, so a task resumed after a crash goes on from there.
//!
//! Ended tasks keep their record (without their documents) until [`MAX_ENDED_TASKS`] newer
//! ones have ended.

pub mod record;

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Arc, Condvar, Mutex};
use std::time::Instant;

pub use record::{DocumentError, Progress, Status, Task, Written};

use crate::config::{MAX_ENDED_TASKS, MAX_QUEUED_TASKS};
use crate::engine::Engine;
use crate::error::{Error, Result};
use crate::ingest::RawDocument;
use record::Files;

/// The task queue of one collection.
pub struct TaskQueue {
    shared: Arc<Shared>,
}

struct Shared {
    files: Files,
    engine: Arc<Engine>,
    pool: Arc<rayon::ThreadPool>,
    state: Mutex<State>,
    wake: Condvar,
}

#[derive(Default)]
struct State {
    tasks: BTreeMap<u64, Task>,
    next: u64,
    closed: bool,
}

impl std::fmt::Debug for TaskQueue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TaskQueue")
            .field("dir", &self.shared.files.dir())
            .finish()
    }
}

fn lock(shared: &Shared) -> std::sync::MutexGuard<'_, State> {
    shared.state.lock().unwrap_or_else(|e| e.into_inner())
}

impl TaskQueue {
    /// The queue kept in `dir` (created when missing) writing to `engine` on `pool`; tasks left
    /// queued or processing by an earlier process are queued again, and the worker starts.
    pub fn open(
        dir: &Path,
        collection: &str,
        engine: Arc<Engine>,
        pool: Arc<rayon::ThreadPool>,
    ) -> Result<Arc<TaskQueue>> {
        let files = Files::open(dir)?;
        let mut state = State::default();
        for (id, mut task) in files.load()? {
            if task.status == Status::Processing {
                task.status = Status::Queued;
            }
            if task.status == Status::Queued {
                tracing::info!(collection, task = id, "task resumed after a restart");
            }
            task.collection = collection.to_string();
            state.next = state.next.max(id + 1);
            state.tasks.insert(id, task);
        }
        state.next = state.next.max(1);
        let shared = Arc::new(Shared {
            files,
            engine,
            pool,
            state: Mutex::new(state),
            wake: Condvar::new(),
        });
        let worker = shared.clone();
        std::thread::Builder::new()
            .name(format!("tasks-{collection}"))
            .spawn(move || work(&worker))
            .map_err(|e| crate::index::StoreError::io(dir, e))?;
        Ok(Arc::new(TaskQueue { shared }))
    }

    /// Queues `docs` (1 or more, each already checked) as one task, durably: once this returns
    /// the task survives a crash.
    pub fn submit(&self, collection: &str, docs: Vec<RawDocument>) -> Result<Task> {
        if docs.is_empty() {
            return Err(Error::invalid("a task needs at least one document"));
        }
        let mut state = lock(&self.shared);
        if state.closed {
            return Err(Error::NotFound(format!("no collection {collection:?}")));
        }
        let queued = state
            .tasks
            .values()
            .filter(|t| !t.status.is_final())
            .count();
        if queued >= MAX_QUEUED_TASKS {
            return Err(Error::Busy(format!(
                "{queued} tasks are waiting: retry once some have run (GET /tasks?status=queued)"
            )));
        }
        let id = state.next;
        let task = Task {
            task_id: id.to_string(),
            status: Status::Queued,
            collection: collection.to_string(),
            documents: docs.len(),
            progress: Progress::default(),
            results: Vec::new(),
            errors: Vec::new(),
            error: None,
            enqueued_at: record::now(),
            started_at: None,
            finished_at: None,
            duration_ms: None,
        };
        // Under the lock: ids are taken in order and the worker never sees a half-made task.
        self.shared.files.create(id, &task, &docs)?;
        state.next = id + 1;
        state.tasks.insert(id, task.clone());
        self.shared.wake.notify_all();
        Ok(task)
    }

    /// Task `id`.
    pub fn get(&self, id: &str) -> Result<Task> {
        let state = lock(&self.shared);
        parse_id(id)
            .and_then(|n| state.tasks.get(&n))
            .cloned()
            .ok_or_else(|| Error::NotFound(format!("no task {id:?}")))
    }

    /// The newest `limit` tasks, newest first, only those in `status` when given.
    pub fn list(&self, status: Option<Status>, limit: usize) -> Vec<Task> {
        let state = lock(&self.shared);
        state
            .tasks
            .values()
            .rev()
            .filter(|t| status.is_none_or(|s| t.status == s))
            .take(limit)
            .cloned()
            .collect()
    }

    /// Cancels task `id` while it is queued; a task that started or ended is a conflict.
    pub fn cancel(&self, id: &str) -> Result<Task> {
        let mut state = lock(&self.shared);
        let n = parse_id(id).filter(|n| state.tasks.contains_key(n));
        let Some(n) = n else {
            return Err(Error::NotFound(format!("no task {id:?}")));
        };
        let task = state.tasks.get_mut(&n).expect("checked above");
        if task.status != Status::Queued {
            return Err(Error::Conflict(format!(
                "task {id} is {}: only a queued task can be cancelled",
                serde_json::to_value(task.status).unwrap_or_default()
            )));
        }
        let mut canceled = task.clone();
        canceled.status = Status::Canceled;
        canceled.finished_at = Some(record::now());
        self.shared.files.save(n, &canceled)?;
        self.shared.files.remove_docs(n);
        *task = canceled.clone();
        Ok(canceled)
    }

    /// Stops the worker after the task it is running (the collection is going away); queued
    /// tasks stay on disk.
    pub fn close(&self) {
        lock(&self.shared).closed = true;
        self.shared.wake.notify_all();
    }
}

impl Drop for TaskQueue {
    fn drop(&mut self) {
        self.close();
    }
}

fn parse_id(id: &str) -> Option<u64> {
    id.parse().ok()
}

/// The worker: the oldest queued task, run to its end, then the next.
fn work(shared: &Shared) {
    loop {
        let (id, mut task) = {
            let mut state = lock(shared);
            loop {
                if state.closed {
                    return;
                }
                // Marked processing under the lock: from here on it cannot be cancelled.
                let next = state
                    .tasks
                    .iter_mut()
                    .find(|(_, t)| t.status == Status::Queued)
                    .map(|(id, t)| {
                        t.status = Status::Processing;
                        t.started_at.get_or_insert_with(record::now);
                        (*id, t.clone())
                    });
                match next {
                    Some(found) => break found,
                    None => {
                        state = shared.wake.wait(state).unwrap_or_else(|e| e.into_inner());
                    }
                }
            }
        };
        update(shared, id, &task);
        let started = Instant::now();
        run(shared, id, &mut task);
        task.status = if task.errors.is_empty() {
            Status::Succeeded
        } else {
            Status::Failed
        };
        task.error = (!task.errors.is_empty()).then(|| {
            format!(
                "{} of {} documents not written (see errors)",
                task.errors.len(),
                task.documents
            )
        });
        task.finished_at = Some(record::now());
        task.duration_ms = Some(started.elapsed().as_millis() as u64);
        update(shared, id, &task);
        shared.files.remove_docs(id);
        tracing::info!(
            collection = task.collection,
            task = id,
            status = ?task.status,
            documents = task.documents,
            ms = task.duration_ms,
            "task ended"
        );
        forget_old(shared);
    }
}

/// Documents written by one store write of a task: one commit (a segment, a lexical commit, a
/// manifest) per few documents rather than per document, which is what makes a large task fast.
const CHUNK_DOCUMENTS: usize = 32;

/// Writes the task's documents from the first not yet recorded, [`CHUNK_DOCUMENTS`] at a time,
/// recording each chunk once written. Input errors were refused before the task was queued, so
/// a chunk that fails fails for the service's reasons (a full disk, a lost database), and every
/// document of it is reported with that error.
fn run(shared: &Shared, id: u64, task: &mut Task) {
    let docs = match shared.files.docs(id) {
        Ok(d) => d,
        Err(e) => {
            task.errors.push(DocumentError {
                index: 0,
                doc: None,
                error: format!("the task's documents could not be read: {e}"),
            });
            return;
        }
    };
    let mut index = task.progress.documents_done;
    while index < docs.len() {
        let chunk = &docs[index..(index + CHUNK_DOCUMENTS).min(docs.len())];
        let embedded = std::sync::atomic::AtomicUsize::new(0);
        let before = task.progress.passages_embedded;
        let progress = |n: usize| {
            let total = embedded.fetch_add(n, std::sync::atomic::Ordering::Relaxed) + n;
            if let Some(t) = lock(shared).tasks.get_mut(&id) {
                t.progress.passages_embedded = before + total;
            }
        };
        let out = shared
            .pool
            .install(|| shared.engine.ingest(chunk, &progress));
        task.progress.passages_embedded += embedded.into_inner();
        match out {
            Ok(done) => task
                .results
                .extend(done.into_iter().enumerate().map(|(j, d)| Written {
                    index: index + j,
                    doc: d.doc,
                    passages: d.passages,
                    unchanged: d.unchanged,
                })),
            Err(e) => task
                .errors
                .extend(chunk.iter().enumerate().map(|(j, raw)| DocumentError {
                    index: index + j,
                    doc: raw.doc.clone(),
                    error: e.to_string(),
                })),
        }
        index += chunk.len();
        task.progress.documents_done = index;
        update(shared, id, task);
    }
}

/// Records `task` on disk and in memory; a record that cannot be written (a full disk) is
/// logged and kept in memory: the documents' own writes are what must not be lost, and those
/// went through the store.
fn update(shared: &Shared, id: u64, task: &Task) {
    if let Err(e) = shared.files.save(id, task) {
        tracing::error!(task = id, "task record not saved: {e}");
    }
    if let Some(t) = lock(shared).tasks.get_mut(&id) {
        *t = task.clone();
    }
}

/// Forgets all but the newest [`MAX_ENDED_TASKS`] ended tasks.
fn forget_old(shared: &Shared) {
    let mut state = lock(shared);
    let ended: Vec<u64> = state
        .tasks
        .iter()
        .filter(|(_, t)| t.status.is_final())
        .map(|(id, _)| *id)
        .collect();
    for id in ended
        .iter()
        .take(ended.len().saturating_sub(MAX_ENDED_TASKS))
    {
        state.tasks.remove(id);
        shared.files.remove(*id);
    }
}
