//! The database layout, created on first use and versioned in `semsearch_meta`.
//!
//! Migrations run under a transaction-scoped advisory lock, so two servers starting on one new
//! database create it once. A database whose schema is newer than this binary, or built with
//! another model, is refused before anything is read or written.

use postgres::GenericClient;

use super::{db, PgStore};
use crate::embed::ModelId;
use crate::index::StoreError;

/// The schema this binary writes and reads.
pub const SCHEMA_VERSION: i32 = 3;

/// Widest vector stored in its row (4 kB of f32).
const PLAIN_DIM_MAX: usize = 1024;

/// Advisory lock key for migrations ("semsearch" in ASCII, truncated to 63 bits).
const MIGRATION_LOCK: i64 = 0x7365_6d73_6561_7263;

/// Tables and indexes of schema 1, for vectors of `dim` dimensions.
///
/// - passages carry their document's offsets and metadata and the whole-text vector; `key` is
///   the snapshot key (stable, unlike the local store's, but only used within one snapshot);
/// - sentences and postings repeat `doc` so filtered searches need no join;
/// - postings are the jieba terms semsearch computes (the same tokenizer as the local store's
///   tantivy index), with term frequencies, and `len` on passages is the token count: BM25 is
///   computed from them in SQL;
/// - one stats row keeps the passage count, total length (BM25's average) and a generation
///   bumped by every write (it keys caches such as the relevance background).
fn schema_v1(dim: usize) -> String {
    // Vectors kept in the row: a passage row is past TOAST's 2 kB threshold with its text, and
    // PostgreSQL would move the vector out of line (EXTERNAL, pgvector's default), costing every
    // distance computed outside the HNSW index a TOAST fetch (a quarter of a corpus search's
    // time). The text is toasted instead. Only for vectors that leave room for the rest of a
    // row in an 8 kB page.
    let plain = |table: &str| {
        if dim <= PLAIN_DIM_MAX {
            format!("ALTER TABLE {table} ALTER COLUMN embedding SET STORAGE PLAIN;")
        } else {
            String::new()
        }
    };
    let (plain_passages, plain_sentences) =
        (plain("semsearch_passages"), plain("semsearch_sentences"));
    format!(
        "CREATE EXTENSION IF NOT EXISTS vector;
         CREATE TABLE semsearch_documents (
             doc text PRIMARY KEY, title text NOT NULL, passages int NOT NULL, hash text NOT NULL);
         CREATE TABLE semsearch_passages (
             key bigserial PRIMARY KEY, id text NOT NULL UNIQUE, doc text NOT NULL,
             ord int NOT NULL, title text NOT NULL, section text, clause text, body text NOT NULL,
             start_at bigint NOT NULL, end_at bigint NOT NULL, len int NOT NULL,
             embedding vector({dim}) NOT NULL);
         {plain_passages}
         CREATE INDEX semsearch_passages_doc ON semsearch_passages (doc, ord);
         CREATE TABLE semsearch_sentences (
             passage bigint NOT NULL, doc text NOT NULL, start_at int NOT NULL, end_at int NOT NULL,
             embedding vector({dim}) NOT NULL);
         {plain_sentences}
         CREATE INDEX semsearch_sentences_passage ON semsearch_sentences (passage);
         CREATE INDEX semsearch_sentences_doc ON semsearch_sentences (doc);
         CREATE TABLE semsearch_postings (
             term text NOT NULL, passage bigint NOT NULL, doc text NOT NULL, tf int NOT NULL,
             PRIMARY KEY (term, passage));
         CREATE INDEX semsearch_postings_doc ON semsearch_postings (doc);
         CREATE TABLE semsearch_stats (
             one bool PRIMARY KEY DEFAULT true CHECK (one), passages bigint NOT NULL,
             total_len bigint NOT NULL, generation bigint NOT NULL);
         INSERT INTO semsearch_stats VALUES (true, 0, 0, 0);"
    )
}

/// Schema 2: document metadata, on documents (what filters read) and on each passage (what
/// every read of a passage returns, without a join). Adding a column with a constant default
/// rewrites no rows, so a large database migrates at once.
const SCHEMA_V2: &str =
    "ALTER TABLE semsearch_documents ADD COLUMN IF NOT EXISTS metadata jsonb NOT NULL DEFAULT '{}';
     ALTER TABLE semsearch_passages ADD COLUMN IF NOT EXISTS metadata jsonb NOT NULL DEFAULT '{}';
     UPDATE semsearch_meta SET value = '2' WHERE key = 'schema_version';";

/// Schema 3: the page a passage of a paginated document (PDF) starts on; null for the rest.
const SCHEMA_V3: &str = "ALTER TABLE semsearch_passages ADD COLUMN IF NOT EXISTS page int;
     UPDATE semsearch_meta SET value = '3' WHERE key = 'schema_version';";

/// The vector indexes (pgvector HNSW, cosine), created when missing: at schema creation, at the
/// end of a bulk load that dropped them, and when a writer opens a database whose bulk load was
/// cut short. Searches are exact, only slower, while they are missing.
pub(super) const HNSW_INDEXES: &str =
    "CREATE INDEX IF NOT EXISTS semsearch_passages_hnsw ON semsearch_passages
         USING hnsw (embedding vector_cosine_ops) WITH (m = 16, ef_construction = 64);
     CREATE INDEX IF NOT EXISTS semsearch_sentences_hnsw ON semsearch_sentences
         USING hnsw (embedding vector_cosine_ops) WITH (m = 16, ef_construction = 64);";

/// Brings the database to [`SCHEMA_VERSION`] (when `create`) and checks its model; `Ok(false)`
/// when there is no semsearch schema and `create` is false.
pub(super) fn prepare(store: &PgStore, model: &ModelId, create: bool) -> Result<bool, StoreError> {
    let mut conn = store.conn()?;
    let mut tx = conn.transaction().map_err(db)?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])
        .map_err(db)?;
    // In the schema tables are made in, not anywhere on the search path: a collection's
    // schema comes before `public` (`postgres::collections`), whose tables must not count.
    let exists: bool = tx
        .query_one(
            "SELECT EXISTS (SELECT 1 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
             WHERE c.relname = 'semsearch_meta' AND n.nspname = current_schema())",
            &[],
        )
        .map_err(db)?
        .get(0);
    if !exists {
        if !create {
            return Ok(false);
        }
        tx.batch_execute(
            "CREATE TABLE semsearch_meta (key text PRIMARY KEY, value text NOT NULL);",
        )
        .map_err(db)?;
        tx.batch_execute(&schema_v1(model.dim)).map_err(db)?;
        let meta = [
            ("schema_version", "1".to_string()),
            ("model_name", model.name.clone()),
            ("model_dim", model.dim.to_string()),
            ("model_fingerprint", model.fingerprint.clone()),
        ];
        for (k, v) in &meta {
            tx.execute("INSERT INTO semsearch_meta VALUES ($1, $2)", &[k, v])
                .map_err(db)?;
        }
    }
    let mut version: i32 = meta(&mut tx, "schema_version")?
        .parse()
        .map_err(|_| store.corrupt("schema_version is not a number"))?;
    if version == 1 {
        // Migrated by readers too: a server that only reads must still find the columns, and
        // the change is instant and loses nothing.
        tx.batch_execute(SCHEMA_V2).map_err(db)?;
        version = 2;
    }
    if version == 2 {
        tx.batch_execute(SCHEMA_V3).map_err(db)?;
        version = 3;
    }
    if version > SCHEMA_VERSION {
        return Err(store.corrupt(format!(
            "schema version {version} is newer than this semsearch (which knows {SCHEMA_VERSION}); \
             upgrade semsearch"
        )));
    }
    let found = ModelId {
        name: meta(&mut tx, "model_name")?,
        dim: meta(&mut tx, "model_dim")?
            .parse()
            .map_err(|_| store.corrupt("model_dim is not a number"))?,
        fingerprint: meta(&mut tx, "model_fingerprint")?,
    };
    crate::index::local::check_model(store.name(), &found, model)?;
    if create {
        tx.batch_execute(HNSW_INDEXES).map_err(db)?;
    }
    tx.commit().map_err(db)?;
    Ok(true)
}

fn meta(tx: &mut impl GenericClient, key: &str) -> Result<String, StoreError> {
    let row = tx
        .query_opt("SELECT value FROM semsearch_meta WHERE key = $1", &[&key])
        .map_err(db)?;
    row.map(|r| r.get(0)).ok_or_else(|| {
        StoreError::Invariant(format!(
            "semsearch_meta has no {key}: not a semsearch database"
        ))
    })
}
