//! Reads: one `REPEATABLE READ READ ONLY` transaction per snapshot, rows fetched in bulk and
//! kept for the snapshot's life (the [`Snapshot`] trait lends vectors out by reference).
//!
//! The trait's reads cannot fail, but a database can: a snapshot that loses its connection
//! records the failure, answers as if empty, and reports it through [`Snapshot::failure`], which
//! the engine checks before it answers, so a lost database is an error (HTTP 503), never an
//! empty result.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};

use elsa::sync::FrozenMap;
use pgvector::Vector;

use super::{db, Conn, Shared};
use crate::embed::ModelId;
use crate::index::lexical::{tokenize, LexicalHits};
use crate::index::{
    DocFilter, DocumentInfo, Filter, Key, Passage, Snapshot, StoreError, StoredSentence,
};
use crate::text::idf;

/// BM25 parameters: tantivy's, so both stores rank alike.
const K1: f64 = 1.2;
const B: f64 = 0.75;

/// Candidates pgvector's HNSW keeps while searching (`hnsw.ef_search`), at least.
const EF_SEARCH: usize = 100;

/// A passage with its vectors, as read once per snapshot.
pub(crate) struct Row {
    passage: Passage,
    vector: Vec<f32>,
    sentences: Vec<(u32, u32, Vec<f32>)>,
}

/// One state of the database.
pub(crate) struct PgSnapshot {
    shared: Arc<Shared>,
    conn: Mutex<Option<Conn>>,
    passages: usize,
    generation: i64,
    has_sentences: bool,
    rows: FrozenMap<Key, Arc<Row>>,
    /// The first failure: (the database was unreachable, message).
    failure: Mutex<Option<(bool, String)>>,
}

const PASSAGE_COLUMNS: &str =
    "key, id, doc, title, section, clause, body, start_at, end_at, embedding";

impl PgSnapshot {
    /// A snapshot in a fresh read-only transaction (a failed one when the database is away).
    pub(crate) fn begin(shared: Arc<Shared>) -> Self {
        let mut snap = PgSnapshot {
            shared,
            conn: Mutex::new(None),
            passages: 0,
            generation: -1,
            has_sentences: false,
            rows: FrozenMap::new(),
            failure: Mutex::new(None),
        };
        match snap.open() {
            Ok((conn, passages, generation, has_sentences)) => {
                snap.conn = Mutex::new(Some(conn));
                snap.passages = passages;
                snap.generation = generation;
                snap.has_sentences = has_sentences;
            }
            Err(e) => snap.fail(e),
        }
        snap
    }

    fn open(&self) -> Result<(Conn, usize, i64, bool), StoreError> {
        let mut conn = self.shared.conn()?;
        // Drop rolls the transaction back (also when unwinding), so a pooled connection is
        // never handed out mid-transaction.
        conn.batch_execute(&format!(
            "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY;
             SET LOCAL hnsw.ef_search = {EF_SEARCH}; SET LOCAL hnsw.iterative_scan = strict_order;"
        ))
        .map_err(db)?;
        let row = conn
            .query_one(
                "SELECT passages, generation,
                        EXISTS (SELECT 1 FROM semsearch_sentences) FROM semsearch_stats",
                &[],
            )
            .map_err(db)?;
        let passages: i64 = row.get(0);
        Ok((conn, passages as usize, row.get(1), row.get(2)))
    }

    fn fail(&self, e: StoreError) {
        tracing::warn!("postgres snapshot: {e}");
        let mut f = self.failure.lock().unwrap_or_else(|p| p.into_inner());
        f.get_or_insert_with(|| match e {
            StoreError::Unavailable(m) => (true, m),
            other => (false, crate::error::chain(&other)),
        });
        // The connection may be broken: never reuse it in this snapshot.
        if let Ok(mut c) = self.conn.try_lock() {
            c.take();
        }
    }

    /// Runs `f` on the snapshot's connection; on failure records it and returns `None`.
    fn with<T>(&self, f: impl FnOnce(&mut Conn) -> Result<T, postgres::Error>) -> Option<T> {
        let mut guard = self.conn.lock().unwrap_or_else(|p| p.into_inner());
        let conn = guard.as_mut()?;
        match f(conn) {
            Ok(v) => Some(v),
            Err(e) => {
                drop(guard);
                self.fail(db(e));
                None
            }
        }
    }

    /// Makes sure the rows of `keys` are loaded, in two queries for all of them.
    fn load(&self, keys: &[Key]) {
        let missing: Vec<Key> = keys
            .iter()
            .filter(|k| self.rows.get(k).is_none())
            .copied()
            .collect::<HashSet<_>>()
            .into_iter()
            .collect();
        for (k, row) in self.fetch(&missing) {
            if self.rows.get(&k).is_none() {
                self.rows.insert(k, row);
            }
        }
    }

    /// Rows of `keys` (those that exist), read from the database.
    fn fetch(&self, keys: &[Key]) -> Vec<(Key, Arc<Row>)> {
        if keys.is_empty() {
            return Vec::new();
        }
        let keys: Vec<i64> = keys.iter().map(|&k| k as i64).collect();
        let fetched = self.with(|c| {
            let rows = c.query(
                &format!("SELECT {PASSAGE_COLUMNS} FROM semsearch_passages WHERE key = ANY($1)"),
                &[&keys],
            )?;
            let sentences = if self.has_sentences {
                c.query(
                    "SELECT passage, start_at, end_at, embedding FROM semsearch_sentences
                     WHERE passage = ANY($1) ORDER BY passage, start_at",
                    &[&keys],
                )?
            } else {
                Vec::new()
            };
            Ok((rows, sentences))
        });
        let Some((rows, sentences)) = fetched else {
            return Vec::new();
        };
        let mut by_passage: HashMap<i64, Vec<(u32, u32, Vec<f32>)>> = HashMap::new();
        for s in sentences {
            let v: Vector = s.get(3);
            by_passage.entry(s.get(0)).or_default().push((
                s.get::<_, i32>(1) as u32,
                s.get::<_, i32>(2) as u32,
                v.to_vec(),
            ));
        }
        rows.iter()
            .map(|r| {
                let key: i64 = r.get(0);
                let row = Row {
                    passage: passage_of(r),
                    vector: r.get::<_, Vector>(9).to_vec(),
                    sentences: by_passage.remove(&key).unwrap_or_default(),
                };
                (key as Key, Arc::new(row))
            })
            .collect()
    }

    fn row(&self, key: Key) -> Option<&Row> {
        if self.rows.get(&key).is_none() {
            self.load(&[key]);
        }
        self.rows.get(&key)
    }

    /// `(key, cosine)` from a nearest-neighbour query, rows loaded.
    fn nearest_in(
        &self,
        sql: &str,
        vector: &[f32],
        k: usize,
        filter: Filter<'_>,
    ) -> Vec<(Key, f32)> {
        if k == 0 || self.passages == 0 {
            return Vec::new();
        }
        let v = Vector::from(vector.to_vec());
        let exclude: Vec<i64> = filter.exclude.iter().map(|&k| k as i64).collect();
        let limit = k as i64;
        let docs: Option<Vec<&str>> = filter
            .docs
            .named()
            .map(|ids| ids.iter().map(String::as_str).collect());
        let hits: Vec<(Key, f32)> = self
            .with(|c| {
                if k > EF_SEARCH {
                    c.batch_execute(&format!("SET LOCAL hnsw.ef_search = {}", k.min(1000)))?;
                }
                c.query(sql, &[&v, &docs, &exclude, &limit])
            })
            .unwrap_or_default()
            .iter()
            .map(|r| (r.get::<_, i64>(0) as Key, r.get::<_, f64>(1) as f32))
            .collect();
        let keys: Vec<Key> = hits.iter().map(|h| h.0).collect();
        self.load(&keys);
        hits
    }
}

fn passage_of(r: &postgres::Row) -> Passage {
    Passage {
        id: r.get(1),
        doc: r.get(2),
        title: r.get(3),
        section: r.get(4),
        clause: r.get(5),
        text: r.get(6),
        start: r.get::<_, i64>(7) as usize,
        end: r.get::<_, i64>(8) as usize,
    }
}

impl Drop for PgSnapshot {
    fn drop(&mut self) {
        if let Some(mut c) = self.conn.get_mut().ok().and_then(Option::take) {
            super::off_runtime(move || {
                let _ = c.batch_execute("ROLLBACK");
            });
        }
    }
}

impl Snapshot for PgSnapshot {
    fn model(&self) -> &ModelId {
        &self.shared.model
    }

    fn len(&self) -> usize {
        self.passages
    }

    fn documents(&self) -> Vec<DocumentInfo> {
        self.with(|c| {
            c.query(
                "SELECT doc, title, passages FROM semsearch_documents ORDER BY doc",
                &[],
            )
        })
        .unwrap_or_default()
        .iter()
        .map(|r| DocumentInfo {
            doc: r.get(0),
            title: r.get(1),
            passages: r.get::<_, i32>(2) as usize,
        })
        .collect()
    }

    fn has_document(&self, doc: &str) -> bool {
        self.document_hash(doc).is_some()
    }

    fn document_hash(&self, doc: &str) -> Option<String> {
        self.with(|c| {
            c.query_opt(
                "SELECT hash FROM semsearch_documents WHERE doc = $1",
                &[&doc],
            )
        })
        .flatten()
        .map(|r| r.get(0))
    }

    fn passage(&self, key: Key) -> Option<Passage> {
        self.row(key).map(|r| r.passage.clone())
    }

    fn find(&self, id: &str) -> Option<Key> {
        self.with(|c| c.query_opt("SELECT key FROM semsearch_passages WHERE id = $1", &[&id]))
            .flatten()
            .map(|r| r.get::<_, i64>(0) as Key)
    }

    fn passage_vector(&self, key: Key) -> Option<&[f32]> {
        self.row(key).map(|r| r.vector.as_slice())
    }

    fn sentences(&self, key: Key) -> Vec<StoredSentence<'_>> {
        self.row(key)
            .map(|r| {
                r.sentences
                    .iter()
                    .map(|(start, end, v)| StoredSentence {
                        start: *start,
                        end: *end,
                        vector: v,
                    })
                    .collect()
            })
            .unwrap_or_default()
    }

    fn has_sentences(&self) -> bool {
        self.has_sentences
    }

    fn nearest(&self, vector: &[f32], k: usize, filter: Filter<'_>) -> Vec<(Key, f32)> {
        self.nearest_in(
            "SELECT key, 1 - (embedding <=> $1) FROM semsearch_passages
             WHERE ($2::text[] IS NULL OR doc = ANY($2)) AND key <> ALL($3)
             ORDER BY embedding <=> $1 LIMIT $4",
            vector,
            k,
            filter,
        )
    }

    fn nearest_sentences(&self, vector: &[f32], k: usize, filter: Filter<'_>) -> Vec<(Key, f32)> {
        self.nearest_in(
            "SELECT passage, 1 - (embedding <=> $1) FROM semsearch_sentences
             WHERE ($2::text[] IS NULL OR doc = ANY($2)) AND passage <> ALL($3)
             ORDER BY embedding <=> $1 LIMIT $4",
            vector,
            k,
            filter,
        )
    }

    fn sample(&self, n: usize) -> Vec<Key> {
        if n == 0 || self.passages == 0 {
            return Vec::new();
        }
        {
            let cached = self.shared.sample.lock().unwrap_or_else(|p| p.into_inner());
            if let Some((g, m, rows)) = cached.as_ref() {
                if *g == self.generation && *m == n {
                    for (k, r) in rows.iter() {
                        if self.rows.get(k).is_none() {
                            self.rows.insert(*k, r.clone());
                        }
                    }
                    return rows.iter().map(|r| r.0).collect();
                }
            }
        }
        // Every step-th passage in key order: the same ones for the same state.
        let step = self.passages.div_ceil(n).max(1) as i64;
        let keys: Vec<Key> = self
            .with(|c| {
                c.query(
                    "SELECT key FROM (SELECT key, row_number() OVER (ORDER BY key) - 1 AS i
                                      FROM semsearch_passages) s
                     WHERE i % $1 = 0 ORDER BY key LIMIT $2",
                    &[&step, &(n as i64)],
                )
            })
            .unwrap_or_default()
            .iter()
            .map(|r| r.get::<_, i64>(0) as Key)
            .collect();
        let rows = self.fetch(&keys);
        for (k, r) in &rows {
            if self.rows.get(k).is_none() {
                self.rows.insert(*k, r.clone());
            }
        }
        if self.failure().is_none() {
            *self.shared.sample.lock().unwrap_or_else(|p| p.into_inner()) =
                Some((self.generation, n, Arc::new(rows)));
        }
        keys
    }

    fn lexical(&self, query: &str, k: usize, docs: &DocFilter) -> Result<LexicalHits, StoreError> {
        let mut terms = tokenize(query);
        terms.sort();
        terms.dedup();
        if terms.is_empty() || k == 0 || self.passages == 0 {
            return Ok(LexicalHits {
                terms: terms.len(),
                ..LexicalHits::default()
            });
        }
        let n = self.passages as f32;
        let limit = k as i64;
        let docs: Option<Vec<&str>> = docs
            .named()
            .map(|ids| ids.iter().map(String::as_str).collect());
        let out = self.with(|c| {
            let known = c.query(
                "SELECT term, count(*) FROM semsearch_postings WHERE term = ANY($1)
                 GROUP BY term ORDER BY term",
                &[&terms],
            )?;
            let hits = c.query(
                "WITH st AS (SELECT passages::float8 AS n,
                                    total_len::float8 / greatest(passages, 1) AS avgdl
                             FROM semsearch_stats),
                      df AS (SELECT term, count(*)::float8 AS df FROM semsearch_postings
                             WHERE term = ANY($1) GROUP BY term)
                 SELECT p.passage,
                        sum(ln(1 + (st.n - df.df + 0.5) / (df.df + 0.5))
                            * p.tf * ($4::float8 + 1) / (p.tf + $4::float8 * (1 - $5::float8 + $5::float8 * pa.len / st.avgdl)))
                            AS score
                 FROM semsearch_postings p JOIN df USING (term)
                      JOIN semsearch_passages pa ON pa.key = p.passage, st
                 WHERE $2::text[] IS NULL OR p.doc = ANY($2)
                 GROUP BY p.passage ORDER BY score DESC, p.passage LIMIT $3",
                &[&terms, &docs, &limit, &K1, &B],
            )?;
            Ok((known, hits))
        });
        let Some((known, hits)) = out else {
            return Err(self
                .failure()
                .unwrap_or_else(|| StoreError::Unavailable("database connection lost".into())));
        };
        let known: Vec<(String, f32)> = known
            .iter()
            .map(|r| (r.get(0), idf(n, r.get::<_, i64>(1) as f32)))
            .collect();
        let hits: Vec<(Key, f32)> = hits
            .iter()
            .map(|r| (r.get::<_, i64>(0) as Key, r.get::<_, f64>(1) as f32))
            .collect();
        let keys: Vec<Key> = hits.iter().map(|h| h.0).collect();
        self.load(&keys);
        let best = hits.first().and_then(|h| self.passage(h.0));
        Ok(LexicalHits::new(hits, terms.len(), known, best.as_ref()))
    }

    fn failure(&self) -> Option<StoreError> {
        self.failure
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
            .map(|(unavailable, m)| {
                if unavailable {
                    StoreError::Unavailable(m)
                } else {
                    StoreError::Invariant(format!("database: {m}"))
                }
            })
    }
}
