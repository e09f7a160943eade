//! Collections: several libraries in one server. The index the server was started on is the
//! `default` collection, unchanged; every other one is a store of its own, opened at start and
//! served under `/collections/<name>/...` by the same routes the root serves for `default`
//! (each collection gets its own router over its own engine; keys, the in-flight bound, the
//! write pool and metrics are shared). On a local index a collection is an index folder under
//! `<index>.collections/<name>/`; on PostgreSQL a schema of the same database
//! ([`crate::index::postgres::collections`]).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock, RwLock};

use axum::Router;

use super::auth::keys::valid_collection;
use super::auth::DEFAULT_COLLECTION;
use crate::engine::Engine;
use crate::error::{Error, Result};
use crate::index::postgres::collections as pg;
use crate::index::{Location, StoreError};

/// Opens the engine of a collection's store (creating it when missing, for a server).
pub type Opener = Box<dyn Fn(&Location) -> Result<Engine> + Send + Sync>;

/// Where the collections besides `default` live.
#[derive(Debug, Clone)]
enum Home {
    /// Nowhere: none can be made.
    None,
    /// Index folders under this folder.
    Folder(PathBuf),
    /// Schemas of the database at this URL.
    Database(String),
}

/// One collection other than `default`.
pub struct Collection {
    /// Its engine.
    pub engine: Arc<Engine>,
    /// Its routes, built on first use.
    pub router: OnceLock<Router>,
}

/// The collections of a server besides `default`.
pub struct Collections {
    home: Home,
    opener: Option<Opener>,
    open: RwLock<BTreeMap<String, Arc<Collection>>>,
    changing: Mutex<()>,
    /// The `default` collection's routes as `/collections/default/...` reaches them.
    pub default_router: OnceLock<Router>,
}

impl std::fmt::Debug for Collections {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Collections")
            .field("home", &self.home)
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
    /// No collections besides `default`, and none can be made.
    pub fn unsupported() -> Self {
        Collections {
            home: Home::None,
            opener: None,
            open: RwLock::new(BTreeMap::new()),
            changing: Mutex::new(()),
            default_router: OnceLock::new(),
        }
    }

    /// These engines as collections, none made or deleted over HTTP: for a program that
    /// opens its stores itself (and the service-contract tests, run on a collection).
    pub fn fixed(engines: Vec<(String, Arc<Engine>)>) -> Self {
        let open = engines
            .into_iter()
            .map(|(name, engine)| {
                let c = Collection {
                    engine,
                    router: OnceLock::new(),
                };
                (name, Arc::new(c))
            })
            .collect();
        Collections {
            open: RwLock::new(open),
            ..Self::unsupported()
        }
    }

    /// The collections under `root`, each opened with `opener`.
    pub fn open(root: PathBuf, opener: Opener) -> Result<Self> {
        let mut names = Vec::new();
        if root.is_dir() {
            let entries = std::fs::read_dir(&root).map_err(|e| StoreError::io(&root, e))?;
            for entry in entries.flatten() {
                if entry.path().is_dir() {
                    names.push(entry.file_name().to_string_lossy().into_owned());
                }
            }
        }
        Self::open_names(Home::Folder(root), names, opener)
    }

    /// The collections in the database at `url` (schemas), each opened with `opener`.
    pub fn open_database(url: &str, opener: Opener) -> Result<Self> {
        let names = pg::list(url)?;
        Self::open_names(Home::Database(url.to_string()), names, opener)
    }

    fn open_names(home: Home, names: Vec<String>, opener: Opener) -> Result<Self> {
        let mut open = BTreeMap::new();
        for name in names {
            // Anything else in the folder (a backup, a deleted collection on its way out) is
            // not a collection.
            if !valid_collection(&name) || name == DEFAULT_COLLECTION {
                continue;
            }
            let engine = opener(&location(&home, &name)?)?;
            open.insert(
                name,
                Arc::new(Collection {
                    engine: Arc::new(engine),
                    router: OnceLock::new(),
                }),
            );
        }
        Ok(Collections {
            home,
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

    /// Makes collection `name`: an empty store. Blocking (it creates the index).
    pub fn create(&self, name: &str) -> Result<()> {
        let Some(opener) = &self.opener else {
            return Err(Error::invalid("this server cannot make collections"));
        };
        check_name(name)?;
        let _one_at_a_time = self.changing.lock().unwrap_or_else(|e| e.into_inner());
        if name == DEFAULT_COLLECTION || self.get(name).is_some() {
            return Err(Error::Conflict(format!("collection {name:?} exists")));
        }
        let at = location(&self.home, name)?;
        match &self.home {
            Home::None => unreachable!("no opener without a home"),
            Home::Folder(root) => {
                let dir = root.join(name);
                if dir.exists() {
                    return Err(Error::Conflict(format!(
                        "{} exists but is not an open collection: move it away first",
                        dir.display()
                    )));
                }
                std::fs::create_dir_all(&dir).map_err(|e| StoreError::io(&dir, e))?;
            }
            // Made by another server since this one started: refused like a folder left
            // behind, rather than taken over.
            Home::Database(url) => {
                if !pg::create(url, name)? {
                    return Err(Error::Conflict(format!(
                        "collection {name:?} exists in the database (made by another server?): \
                         restart this server to serve it"
                    )));
                }
            }
        }
        let engine = match opener(&at) {
            Ok(e) => e,
            Err(e) => {
                let _ = self.remove(name);
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

    /// Deletes collection `name` and its store. Requests already running on it finish on the
    /// open engine; a write among them is lost with the collection.
    pub fn delete(&self, name: &str) -> Result<()> {
        if name == DEFAULT_COLLECTION {
            return Err(Error::invalid("the default collection cannot be deleted"));
        }
        let _one_at_a_time = self.changing.lock().unwrap_or_else(|e| e.into_inner());
        let removed = self
            .open
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .remove(name);
        if removed.is_none() {
            return Err(Error::NotFound(format!("no collection {name:?}")));
        }
        self.remove(name)
    }

    /// Removes the store of `name`.
    fn remove(&self, name: &str) -> Result<()> {
        match &self.home {
            Home::None => Ok(()),
            Home::Database(url) => Ok(pg::drop(url, name)?),
            Home::Folder(root) => {
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
    }
}

/// Where collection `name` lives in `home`.
fn location(home: &Home, name: &str) -> Result<Location> {
    match home {
        Home::None => Err(Error::invalid("this server cannot make collections")),
        Home::Folder(root) => Ok(Location::Folder(root.join(name))),
        Home::Database(url) => Ok(Location::Database(
            pg::url_of(url, name).map_err(Error::invalid)?,
        )),
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
