//! Collections in one database: each is a schema of its own, `semsearch_c_<name>`, holding the
//! same tables as the `default` collection (which lives where the URL's search path puts it,
//! usually `public`). The store of a collection is the store at the URL with that schema first
//! in its search path (`options=-c search_path=...`), so every statement of the store runs
//! unchanged; pgvector's types and operators are found in `public` after it.
//!
//! A schema per collection rather than a collection column: a collection's HNSW graphs and
//! BM25 statistics are its own (a filter on a column would walk every collection's graph), and
//! deleting a collection is one `DROP SCHEMA`.

use postgres::{Client, NoTls};

use super::{db, redact, CONNECT_TIMEOUT};
use crate::index::StoreError;

/// Prefix of a collection's schema name.
const PREFIX: &str = "semsearch_c_";
/// PostgreSQL truncates identifiers past 63 bytes, so longer names would collide.
pub const MAX_NAME: usize = 63 - PREFIX.len();

/// The schema of collection `name` (a name of `[a-z0-9_-]`, quoted where used).
fn schema_of(name: &str) -> String {
    format!("{PREFIX}{name}")
}

/// Refuses a name too long for a schema.
pub fn check(name: &str) -> Result<(), String> {
    if name.len() > MAX_NAME {
        return Err(format!(
            "on PostgreSQL a collection name is at most {MAX_NAME} characters \
             (a schema name is at most 63 bytes): {name:?}"
        ));
    }
    Ok(())
}

/// The URL of collection `name` in the database at `url`: the same database with the
/// collection's schema first in the search path.
pub fn url_of(url: &str, name: &str) -> Result<String, String> {
    check(name)?;
    if url.contains("options=") {
        return Err(format!(
            "{}: a URL that sets `options` cannot hold collections (they set the search path)",
            redact(url)
        ));
    }
    // `-c search_path="semsearch_c_<name>",public`, percent-encoded for the URL.
    let options = format!("-c%20search_path%3D%22{}%22%2Cpublic", schema_of(name));
    let sep = if url.contains('?') { '&' } else { '?' };
    Ok(format!("{url}{sep}options={options}"))
}

fn connect(url: &str) -> Result<Client, StoreError> {
    let mut config: postgres::Config = url
        .parse()
        .map_err(|e| StoreError::Unavailable(format!("bad database URL: {e}")))?;
    config.connect_timeout(CONNECT_TIMEOUT);
    config.connect(NoTls).map_err(db)
}

/// The collections in the database at `url`, by name.
pub fn list(url: &str) -> Result<Vec<String>, StoreError> {
    let mut c = connect(url)?;
    let rows = c
        .query(
            "SELECT substr(nspname, $2) FROM pg_namespace
             WHERE starts_with(nspname, $1) ORDER BY 1",
            &[&PREFIX, &(PREFIX.len() as i32 + 1)],
        )
        .map_err(db)?;
    Ok(rows.iter().map(|r| r.get(0)).collect())
}

/// Makes the (empty) schema of collection `name`, false when it exists; the store made on it
/// creates its tables.
pub fn create(url: &str, name: &str) -> Result<bool, StoreError> {
    let mut c = connect(url)?;
    match c.batch_execute(&format!("CREATE SCHEMA \"{}\"", schema_of(name))) {
        Ok(()) => Ok(true),
        Err(e) if e.code() == Some(&postgres::error::SqlState::DUPLICATE_SCHEMA) => Ok(false),
        Err(e) => Err(db(e)),
    }
}

/// Deletes collection `name` and everything in it, in one transaction.
pub fn drop(url: &str, name: &str) -> Result<(), StoreError> {
    let mut c = connect(url)?;
    c.batch_execute(&format!(
        "DROP SCHEMA IF EXISTS \"{}\" CASCADE",
        schema_of(name)
    ))
    .map_err(db)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_collections_url_puts_its_schema_first() {
        let u = url_of("postgres://u:p@h/db", "hr-2").unwrap();
        assert_eq!(
            u,
            "postgres://u:p@h/db?options=-c%20search_path%3D%22semsearch_c_hr-2%22%2Cpublic"
        );
        let parsed: postgres::Config = u.parse().unwrap();
        assert_eq!(
            parsed.get_options(),
            Some("-c search_path=\"semsearch_c_hr-2\",public")
        );
        assert!(url_of("postgres://h/db?sslmode=disable", "x")
            .unwrap()
            .contains("disable&options="));
        assert!(url_of("postgres://h/db?options=-c%20x%3Dy", "x").is_err());
        assert!(url_of("postgres://h/db", &"a".repeat(MAX_NAME + 1)).is_err());
    }
}
