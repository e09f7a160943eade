//! Collections: several libraries in one server. The index the server was started on is the
//! `default` collection, unchanged on disk; every other one is an index folder of its own under
//! `<index>.collections/<name>/`, opened at start and served under `/collections/<name>/...` by
//! the same routes the root serves for `default` (each collection gets its own router over its
//! own engine; keys, the in-flight bound, the write pool and metrics are shared).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock, RwLock};

use axum::Router;

use super::auth::keys::valid_collection;
use super::auth::DEFAULT_COLLECTION;
use crate::engine::Engine;
use crate::error::{Error, Result};
use crate::index::StoreError;

/// Opens (creating when missing) the engine of an index folder.
pub type Opener = Box<dyn Fn(&Path) -> Result<Engine> + Send + Sync>;

/// One collection other than `default`.
pub struct Collection {
    /// Its engine.
    pub engine: Arc<Engine>,
    /// Its routes, built on first use.
    pub router: OnceLock<Router>,
}

/// The collections of a server besides `default`.
pub struct Collections {
    root: Option<PathBuf>,
    opener: Option<Opener>,
    open: RwLock<BTreeMap<String, Arc<Collection>>>,
    changing: Mutex<()>,
    /// The `default` collection's routes as `/collections/default/...` reaches them.
    pub default_router: OnceLock<Router>,
}

impl std::fmt::Debug for Collections {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Collections")
            .field("root", &self.root)
            .finish()
    }
}

/// The folder that holds the collections of the index at `index`.
pub fn folder_of(index: &Path) -> PathBuf {
    let mut name = index.file_name().unwrap_or_default().to_os_string();
    name.push(".collections");
    index.with_file_name(name)
}

impl Collections {
    /// No collections besides `default`, and none can be made (a database store).
    pub fn unsupported() -> Self {
        Collections {
            root: None,
            opener: None,
            open: RwLock::new(BTreeMap::new()),
            changing: Mutex::new(()),
            default_router: OnceLock::new(),
        }
    }

    /// The collections under `root`, each opened with `opener`.
    pub fn open(root: PathBuf, opener: Opener) -> Result<Self> {
        let mut open = BTreeMap::new();
        if root.is_dir() {
            let entries = std::fs::read_dir(&root).map_err(|e| StoreError::io(&root, e))?;
            for entry in entries.flatten() {
                let name = entry.file_name().to_string_lossy().into_owned();
                if !valid_collection(&name) || name == DEFAULT_COLLECTION || !entry.path().is_dir()
                {
                    continue;
                }
                let engine = opener(&entry.path())?;
                open.insert(
                    name,
                    Arc::new(Collection {
                        engine: Arc::new(engine),
                        router: OnceLock::new(),
                    }),
                );
            }
        }
        Ok(Collections {
            root: Some(root),
            opener: Some(opener),
            open: RwLock::new(open),
            changing: Mutex::new(()),
            default_router: OnceLock::new(),
        })
    }

    /// The collection `name` (not `default`), if it exists.
    pub fn get(&self, name: &str) -> Option<Arc<Collection>> {
        self.open
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(name)
            .cloned()
    }

    /// Names and engines of the collections besides `default`, in name order.
    pub fn list(&self) -> Vec<(String, Arc<Engine>)> {
        self.open
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .map(|(n, c)| (n.clone(), c.engine.clone()))
            .collect()
    }

    /// Makes collection `name`: an empty index folder. Blocking (it creates the index).
    pub fn create(&self, name: &str) -> Result<()> {
        let (Some(root), Some(opener)) = (&self.root, &self.opener) else {
            return Err(Error::invalid(
                "this server's store is a database: collections need a local index folder",
            ));
        };
        check_name(name)?;
        let _one_at_a_time = self.changing.lock().unwrap_or_else(|e| e.into_inner());
        if name == DEFAULT_COLLECTION || self.get(name).is_some() {
            return Err(Error::Conflict(format!("collection {name:?} exists")));
        }
        let dir = root.join(name);
        if dir.exists() {
            return Err(Error::Conflict(format!(
                "{} exists but is not an open collection: move it away first",
                dir.display()
            )));
        }
        std::fs::create_dir_all(&dir).map_err(|e| StoreError::io(&dir, e))?;
        let engine = match opener(&dir) {
            Ok(e) => e,
            Err(e) => {
                let _ = std::fs::remove_dir_all(&dir);
                return Err(e);
            }
        };
        self.open.write().unwrap_or_else(|e| e.into_inner()).insert(
            name.to_string(),
            Arc::new(Collection {
                engine: Arc::new(engine),
                router: OnceLock::new(),
            }),
        );
        Ok(())
    }

    /// Deletes collection `name` and its folder. Requests already running on it finish on the
    /// open engine; a write among them is lost with the collection.
    pub fn delete(&self, name: &str) -> Result<()> {
        if name == DEFAULT_COLLECTION {
            return Err(Error::invalid("the default collection cannot be deleted"));
        }
        let Some(root) = &self.root else {
            return Err(Error::NotFound(format!("no collection {name:?}")));
        };
        let _one_at_a_time = self.changing.lock().unwrap_or_else(|e| e.into_inner());
        let removed = self
            .open
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .remove(name);
        if removed.is_none() {
            return Err(Error::NotFound(format!("no collection {name:?}")));
        }
        // Out of the listing first (a rename is atomic), then removed.
        let dir = root.join(name);
        let gone = root.join(format!(
            ".deleted-{name}-{}",
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos())
        ));
        if std::fs::rename(&dir, &gone).is_ok() {
            if let Err(e) = std::fs::remove_dir_all(&gone) {
                tracing::warn!(
                    "collection {name} deleted; {} not removed: {e}",
                    gone.display()
                );
            }
        }
        Ok(())
    }
}

fn check_name(name: &str) -> Result<()> {
    if valid_collection(name) {
        Ok(())
    } else {
        Err(Error::invalid(format!(
            "collection names are 1 to 64 of a-z, 0-9, _ and - (got {name:?})"
        )))
    }
}
