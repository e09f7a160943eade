//! The task queues of a server's collections ([`crate::tasks`]): one folder per collection
//! under the server's task folder (`<index>.tasks/<collection>/` unless `serve --tasks DIR`),
//! each with its worker, opened at start so that tasks left queued by an earlier process run
//! again, and on first use for a collection made later.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use crate::engine::Engine;
use crate::error::Result;
use crate::tasks::TaskQueue;

/// The task queues of one server.
#[derive(Debug)]
pub struct Queues {
    root: PathBuf,
    pool: Arc<rayon::ThreadPool>,
    open: Mutex<HashMap<String, Arc<TaskQueue>>>,
}

impl Queues {
    /// Queues kept under `root`, running on the write pool `pool`.
    pub fn new(root: PathBuf, pool: Arc<rayon::ThreadPool>) -> Self {
        Queues {
            root,
            pool,
            open: Mutex::new(HashMap::new()),
        }
    }

    /// The queue of collection `name`, writing to `engine`; opened (and its pending tasks
    /// resumed) on first use.
    pub fn of(&self, name: &str, engine: &Arc<Engine>) -> Result<Arc<TaskQueue>> {
        let mut open = self.open.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(q) = open.get(name) {
            return Ok(q.clone());
        }
        let q = TaskQueue::open(
            &self.root.join(name),
            name,
            engine.clone(),
            self.pool.clone(),
        )?;
        open.insert(name.to_string(), q.clone());
        Ok(q)
    }

    /// Stops the queue of a deleted collection and removes its tasks.
    pub fn remove(&self, name: &str) {
        let q = self
            .open
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(name);
        if let Some(q) = q {
            q.close();
        }
        let _ = std::fs::remove_dir_all(self.root.join(name));
    }
}
