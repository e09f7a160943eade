//! The shared store: PostgreSQL with pgvector, for many stateless semsearch servers over one
//! database (README, "Scaling out").
//!
//! - dense search is pgvector's HNSW over passage and sentence vectors (cosine);
//! - lexical search is BM25 computed in SQL from postings of the same jieba terms the local
//!   store gives tantivy, so both stores rank words alike;
//! - a [`Snapshot`] is a `REPEATABLE READ READ ONLY` transaction on one pooled connection: what
//!   one search reads is one state of the database, whichever server wrote it;
//! - a write is one transaction holding a per-document advisory lock, so concurrent writes of a
//!   document from several servers serialise and leave exactly one version; it returns (and the
//!   write is acknowledged) only after `COMMIT`.
//!
//! The driver is the synchronous `postgres` crate: the engine is synchronous, and the server
//! already runs engine calls off its async threads.

mod bm25;
pub mod collections;
mod pool;
mod schema;
mod scope;
mod snapshot;

use std::collections::HashMap;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use pgvector::Vector;
use postgres::NoTls;
use r2d2_postgres::PostgresConnectionManager;

use super::lexical::tokenize;
use super::{content_hash, DocumentWrite, Snapshot, Store, StoreError, Write};
use crate::embed::ModelId;

pub use schema::SCHEMA_VERSION;
use snapshot::PgSnapshot;

type Pool = r2d2::Pool<pool::Manager>;
type Conn = r2d2::PooledConnection<pool::Manager>;

/// Connections per server: a search holds one for its snapshot, a write one more.
const POOL_SIZE: u32 = 16;
/// How long a request waits for a connection (or the database) before it is answered 503.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// True when `s` names a PostgreSQL store (`postgres://` or `postgresql://`).
pub fn is_url(s: &str) -> bool {
    s.starts_with("postgres://") || s.starts_with("postgresql://")
}

/// The store in one PostgreSQL database.
pub struct PgStore {
    shared: Arc<Shared>,
}

/// The relevance background of one state: (generation, passages asked for, their rows with
/// their CJK shares).
pub(crate) type Sample = (i64, usize, Arc<Vec<snapshot::SampledRow>>);

/// What the store and its snapshots share.
pub(crate) struct Shared {
    /// Always Some but in `drop`.
    pool: Option<Pool>,
    model: ModelId,
    /// The URL without its password, for messages.
    shown: String,
    /// The relevance background (`Snapshot::sample`) of one generation.
    sample: Mutex<Option<Sample>>,
    /// Statements the snapshots sent, since the store was opened.
    queries: Arc<std::sync::atomic::AtomicU64>,
}

impl Shared {
    /// Counts `n` statements sent by a snapshot.
    pub(crate) fn count(&self, n: usize) {
        self.queries
            .fetch_add(n as u64, std::sync::atomic::Ordering::Relaxed);
    }
}

/// A database error: an unreachable or lost database is [`StoreError::Unavailable`] (the
/// caller may retry), anything the database itself refused is [`StoreError::Database`].
pub(crate) fn db(e: postgres::Error) -> StoreError {
    use postgres::error::SqlState;
    let io = std::error::Error::source(&e).is_some_and(|s| s.is::<std::io::Error>());
    let down = e.code().is_some_and(|c| {
        [
            SqlState::ADMIN_SHUTDOWN,
            SqlState::CRASH_SHUTDOWN,
            SqlState::CANNOT_CONNECT_NOW,
        ]
        .contains(c)
    });
    if e.is_closed() || io || down {
        StoreError::Unavailable(e.to_string())
    } else {
        StoreError::Database(Box::new(e))
    }
}

impl PgStore {
    /// The store at `url`, which must hold a semsearch schema built with `model`.
    pub fn open(url: &str, model: &ModelId) -> Result<Self, StoreError> {
        let store = Self::connect(url, model)?;
        if !schema::prepare(&store, model, false)? {
            return Err(StoreError::Missing(store.shared.shown.clone()));
        }
        Ok(store)
    }

    /// The store at `url`, its schema created on first use.
    pub fn open_or_create(url: &str, model: &ModelId) -> Result<Self, StoreError> {
        let store = Self::connect(url, model)?;
        schema::prepare(&store, model, true)?;
        Ok(store)
    }

    fn connect(url: &str, model: &ModelId) -> Result<Self, StoreError> {
        let mut config: postgres::Config = url
            .parse()
            .map_err(|e| StoreError::Unavailable(format!("bad database URL: {e}")))?;
        config.connect_timeout(CONNECT_TIMEOUT);
        if config.get_application_name().is_none() {
            config.application_name("semsearch");
        }
        let shown = redact(url);
        let pool = r2d2::Pool::builder()
            .max_size(POOL_SIZE)
            .min_idle(Some(0))
            .connection_timeout(CONNECT_TIMEOUT)
            // Checked by the caller instead (`Shared::conn`, `Shared::read_conn`): a read's
            // first statement is the check, saving a round trip per request.
            .test_on_check_out(false)
            .build_unchecked(pool::Manager(PostgresConnectionManager::new(config, NoTls)));
        Ok(PgStore {
            shared: Arc::new(Shared {
                pool: Some(pool),
                model: model.clone(),
                shown,
                sample: Mutex::new(None),
                queries: Default::default(),
            }),
        })
    }

    pub(crate) fn conn(&self) -> Result<Conn, StoreError> {
        self.shared.conn()
    }

    /// A counter of the statements (each one round trip) the store's snapshots send, from
    /// when the store was opened: what benchmarks and tests count reads by.
    pub fn read_queries(&self) -> Arc<std::sync::atomic::AtomicU64> {
        self.shared.queries.clone()
    }

    /// The store's name in messages (the URL without its password).
    pub(crate) fn name(&self) -> &str {
        &self.shared.shown
    }

    pub(crate) fn corrupt(&self, message: impl Into<String>) -> StoreError {
        StoreError::Corrupt {
            at: self.shared.shown.clone(),
            message: message.into(),
        }
    }

    fn upsert(&self, docs: &[DocumentWrite]) -> Result<usize, StoreError> {
        let mut conn = self.conn()?;
        let mut tx = conn.transaction().map_err(db)?;
        let mut ids: Vec<&str> = docs
            .iter()
            .filter_map(|(p, _)| p.first().map(|p| p.doc.as_str()))
            .collect();
        ids.sort_unstable();
        ids.dedup();
        lock_documents(&mut tx, &ids)?;
        let (mut removed, mut removed_len) = (0i64, 0i64);
        for doc in &ids {
            let (n, len) = delete_document(&mut tx, doc)?;
            removed += n;
            removed_len += len;
        }
        let (mut added, mut added_len) = (0i64, 0i64);
        for (passages, vectors) in docs {
            let Some(first) = passages.first() else {
                continue;
            };
            if passages.len() != vectors.len() {
                return Err(StoreError::Invariant(format!(
                    "{}: {} passages but {} vectors",
                    first.doc,
                    passages.len(),
                    vectors.len()
                )));
            }
            let metadata = serde_json::to_string(&first.metadata)?;
            tx.execute(
                "INSERT INTO semsearch_documents (doc, title, passages, hash, metadata)
                 VALUES ($1, $2, $3, $4, $5::text::jsonb)",
                &[
                    &first.doc,
                    &first.title,
                    &(passages.len() as i32),
                    &content_hash(passages),
                    &metadata,
                ],
            )
            .map_err(db)?;
            for (ord, (p, v)) in passages.iter().zip(vectors).enumerate() {
                let terms = tokenize(&p.text);
                let len = terms.len() as i32;
                let key: i64 = tx
                    .query_one(
                        "INSERT INTO semsearch_passages
                             (id, doc, ord, title, section, clause, body, start_at, end_at, len,
                              embedding, metadata, page)
                         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12::text::jsonb,
                                 $13)
                         RETURNING key",
                        &[
                            &p.id,
                            &p.doc,
                            &(ord as i32),
                            &p.title,
                            &p.section,
                            &p.clause,
                            &p.text,
                            &(p.start as i64),
                            &(p.end as i64),
                            &len,
                            &Vector::from(v.passage.clone()),
                            &metadata,
                            &p.page.map(|p| p.min(i32::MAX as u32) as i32),
                        ],
                    )
                    .map_err(db)?
                    .get(0);
                if !v.sentences.is_empty() {
                    let starts: Vec<i32> = v.sentences.iter().map(|s| s.start as i32).collect();
                    let ends: Vec<i32> = v.sentences.iter().map(|s| s.end as i32).collect();
                    let vecs: Vec<Vector> = v
                        .sentences
                        .iter()
                        .map(|s| Vector::from(s.vector.clone()))
                        .collect();
                    tx.execute(
                        "INSERT INTO semsearch_sentences (passage, doc, start_at, end_at, embedding)
                         SELECT $1, $2, s, e, v FROM unnest($3::int[], $4::int[], $5::vector[])
                             AS t(s, e, v)",
                        &[&key, &p.doc, &starts, &ends, &vecs],
                    )
                    .map_err(db)?;
                }
                let mut tf: HashMap<&str, i32> = HashMap::new();
                for t in &terms {
                    *tf.entry(t.as_str()).or_default() += 1;
                }
                let (words, counts): (Vec<&str>, Vec<i32>) = tf.into_iter().unzip();
                tx.execute(
                    "INSERT INTO semsearch_postings (term, passage, doc, tf)
                     SELECT t, $1, $2, f FROM unnest($3::text[], $4::int[]) AS u(t, f)",
                    &[&key, &p.doc, &words, &counts],
                )
                .map_err(db)?;
                added += 1;
                added_len += len as i64;
            }
        }
        bump_stats(&mut tx, added - removed, added_len - removed_len)?;
        tx.commit().map_err(db)?;
        Ok(added as usize)
    }

    fn delete(&self, doc: &str) -> Result<usize, StoreError> {
        let mut conn = self.conn()?;
        let mut tx = conn.transaction().map_err(db)?;
        lock_documents(&mut tx, &[doc])?;
        let (n, len) = delete_document(&mut tx, doc)?;
        if n > 0 {
            bump_stats(&mut tx, -n, -len)?;
        }
        tx.commit().map_err(db)?;
        Ok(n as usize)
    }
}

impl Shared {
    /// A pooled connection known to work (one empty statement checks it; a dead one, left
    /// by a database restart, is dropped for a new one).
    fn conn(&self) -> Result<Conn, StoreError> {
        let mut conn = self.read_conn()?;
        if conn.simple_query("").is_err() {
            // Broken now, so the pool discards it rather than taking it back.
            drop(conn);
            conn = self.read_conn()?;
        }
        Ok(conn)
    }

    /// A pooled connection, unchecked: its user retries on a fresh one when its first
    /// statement finds it dead ([`snapshot::PgSnapshot::begin`]).
    pub(crate) fn read_conn(&self) -> Result<Conn, StoreError> {
        let pool = self.pool.as_ref().expect("the pool lives until drop");
        pool.get()
            .map_err(|e| StoreError::Unavailable(format!("database {}: {e}", self.shown)))
    }
}

impl Drop for Shared {
    fn drop(&mut self) {
        if let Some(pool) = self.pool.take() {
            off_runtime(move || drop(pool));
        }
    }
}

/// Runs `f` (blocking database work) here, or on a thread of its own when called from an async
/// runtime, where the driver's blocking calls would panic: a server drops its last snapshot or
/// its store on an async thread.
pub(crate) fn off_runtime(f: impl FnOnce() + Send + 'static) {
    if tokio::runtime::Handle::try_current().is_ok() {
        let _ = std::thread::spawn(f).join();
    } else {
        f();
    }
}

/// Advisory lock key of [`Store::exclusive`] ("semwrite" in ASCII).
const WRITER_LOCK: i64 = 0x7365_6d77_7269_7465;

/// The connection holding [`WRITER_LOCK`].
struct Exclusive(Option<Conn>);

impl Drop for Exclusive {
    fn drop(&mut self) {
        if let Some(mut c) = self.0.take() {
            off_runtime(move || {
                // On failure the connection is broken, and its session (with the lock) ends.
                let _ = c.execute("SELECT pg_advisory_unlock($1)", &[&WRITER_LOCK]);
            });
        }
    }
}

/// Serialises writers of the same documents across servers until the transaction ends; taken
/// in id order, so two multi-document writes cannot deadlock.
fn lock_documents(tx: &mut postgres::Transaction<'_>, ids: &[&str]) -> Result<(), StoreError> {
    for id in ids {
        tx.execute(
            "SELECT pg_advisory_xact_lock(hashtextextended($1, 0))",
            &[id],
        )
        .map_err(db)?;
    }
    Ok(())
}

/// Removes a document; returns its passages and their total length.
fn delete_document(
    tx: &mut postgres::Transaction<'_>,
    doc: &str,
) -> Result<(i64, i64), StoreError> {
    for table in [
        "semsearch_postings",
        "semsearch_sentences",
        "semsearch_documents",
    ] {
        tx.execute(&format!("DELETE FROM {table} WHERE doc = $1"), &[&doc])
            .map_err(db)?;
    }
    let row = tx
        .query_one(
            "WITH d AS (DELETE FROM semsearch_passages WHERE doc = $1 RETURNING len)
             SELECT count(*), coalesce(sum(len), 0)::bigint FROM d",
            &[&doc],
        )
        .map_err(db)?;
    Ok((row.get(0), row.get(1)))
}

fn bump_stats(
    tx: &mut postgres::Transaction<'_>,
    passages: i64,
    len: i64,
) -> Result<(), StoreError> {
    tx.execute(
        "UPDATE semsearch_stats SET passages = passages + $1, total_len = total_len + $2,
             generation = generation + 1",
        &[&passages, &len],
    )
    .map_err(db)?;
    Ok(())
}

/// `url` with any password replaced by `***`.
pub fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => {
            let userinfo = &url[s + 3..at];
            match userinfo.find(':') {
                Some(c) => format!("{}{}:***{}", &url[..s + 3], &userinfo[..c], &url[at..]),
                None => url.to_string(),
            }
        }
        _ => url.to_string(),
    }
}

impl Store for PgStore {
    fn snapshot(&self) -> Result<Arc<dyn Snapshot>, StoreError> {
        Ok(Arc::new(PgSnapshot::begin(self.shared.clone())?))
    }

    fn apply(&self, write: Write) -> Result<usize, StoreError> {
        match write {
            Write::Upsert(docs) => self.upsert(&docs),
            Write::Delete(doc) => self.delete(&doc),
        }
    }

    /// A session advisory lock on a connection of its own, released when the guard drops.
    fn exclusive(&self) -> Result<Option<super::WriterGuard>, StoreError> {
        let mut conn = self.conn()?;
        conn.execute("SELECT pg_advisory_lock($1)", &[&WRITER_LOCK])
            .map_err(db)?;
        Ok(Some(Box::new(Exclusive(Some(conn)))))
    }

    /// Into an empty database, the HNSW indexes are dropped for the load and built once at the
    /// end: one build is about ten times cheaper than maintaining the graphs row by row
    /// (`scripts/bench-postgres.sh`). A database holding passages keeps its indexes, since
    /// other servers may be searching it.
    fn bulk(&self, loading: bool) -> Result<(), StoreError> {
        let mut conn = self.conn()?;
        if loading {
            let passages: i64 = conn
                .query_one("SELECT passages FROM semsearch_stats", &[])
                .map_err(db)?
                .get(0);
            if passages == 0 {
                // Dropping needs the tables to itself: when a reader holds them for more than a
                // moment, the load keeps the indexes (slower, never stuck).
                let dropped = conn.batch_execute(
                    "BEGIN; SET LOCAL lock_timeout = '2s';
                     DROP INDEX IF EXISTS semsearch_passages_hnsw;
                     DROP INDEX IF EXISTS semsearch_sentences_hnsw; COMMIT;",
                );
                if let Err(e) = dropped {
                    let _ = conn.batch_execute("ROLLBACK");
                    tracing::warn!("bulk load keeps the vector indexes: {e}");
                }
            }
        } else {
            conn.batch_execute(schema::HNSW_INDEXES).map_err(db)?;
            // Statistics for the planner now, not when autovacuum gets to it: without them a
            // freshly loaded library is planned as if every table were empty.
            conn.batch_execute(
                "ANALYZE semsearch_passages, semsearch_sentences, semsearch_postings, \
                 semsearch_stats, semsearch_documents",
            )
            .map_err(db)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_never_reach_messages() {
        assert_eq!(
            redact("postgres://app:s3cret@db.example:5432/semsearch"),
            "postgres://app:***@db.example:5432/semsearch"
        );
        assert_eq!(
            redact("postgres://postgres@127.0.0.1:55432/semsearch"),
            "postgres://postgres@127.0.0.1:55432/semsearch"
        );
        assert!(is_url("postgresql://x/y") && !is_url("index/default"));
    }
}
