//! The one place that maps where a store lives to a store: a local index folder, or a
//! PostgreSQL database named by a `postgres://` URL. Every edge (the CLI, the server, the
//! benchmarks) opens its store here, so a third backend is added in one place.

use std::path::PathBuf;

use super::postgres::{self, PgStore};
use super::{LocalStore, Store, StoreError};
use crate::embed::ModelId;

/// Where a store lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    /// A local index folder.
    Folder(PathBuf),
    /// A PostgreSQL database with pgvector (its URL).
    Database(String),
}

impl Location {
    /// A `postgres://` or `postgresql://` URL names a database; anything else a folder.
    pub fn parse(spec: &str) -> Self {
        if postgres::is_url(spec) {
            Location::Database(spec.to_string())
        } else {
            Location::Folder(PathBuf::from(spec))
        }
    }

    /// What to call the store in messages: the folder, or the URL without its password.
    pub fn name(&self) -> String {
        match self {
            Location::Folder(p) => p.display().to_string(),
            Location::Database(url) => postgres::redact(url),
        }
    }
}

/// Whether opening may create the store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// The store must exist ([`StoreError::Missing`] otherwise): readers never create one.
    Existing,
    /// A missing store is created (writers).
    Create,
}

/// The store at `at`, which must hold vectors of `model` (a clear
/// [`StoreError::ModelMismatch`] otherwise).
pub fn open(at: &Location, model: &ModelId, access: Access) -> Result<Box<dyn Store>, StoreError> {
    Ok(match (at, access) {
        (Location::Folder(dir), Access::Existing) => Box::new(LocalStore::open(dir, model)?),
        (Location::Folder(dir), Access::Create) => {
            Box::new(LocalStore::open_or_create(dir, model)?)
        }
        (Location::Database(url), Access::Existing) => Box::new(PgStore::open(url, model)?),
        (Location::Database(url), Access::Create) => Box::new(PgStore::open_or_create(url, model)?),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locations_and_their_names() {
        assert_eq!(
            Location::parse("index/default"),
            Location::Folder("index/default".into())
        );
        let db = Location::parse("postgres://u:secret@h:5432/db");
        assert!(matches!(db, Location::Database(_)));
        assert!(!db.name().contains("secret"), "{}", db.name());
        assert!(matches!(
            Location::parse("postgresql://h/db"),
            Location::Database(_)
        ));
    }

    #[test]
    fn a_missing_folder_is_created_only_when_asked() {
        let dir = tempfile::tempdir().unwrap();
        let at = Location::Folder(dir.path().join("idx"));
        let model = crate::index::tests::model(8);
        let err = open(&at, &model, Access::Existing).err().unwrap();
        assert!(matches!(err, StoreError::Missing(_)), "{err}");
        assert!(open(&at, &model, Access::Create).is_ok());
        assert!(open(&at, &model, Access::Existing).is_ok());
    }
}
