//! Reads: one `REPEATABLE READ READ ONLY` transaction per snapshot, rows fetched in bulk (one
//! statement for a batch of keys, each passage with its sentences) and kept for the snapshot's
//! life (the [`Snapshot`] trait lends vectors out by reference). Cosines of candidates are
//! computed in the database ([`Snapshot::cosines`], [`Snapshot::dense_candidates`]), so a
//! search moves numbers, not vectors; a hybrid search on a warm store is four statements
//! (`tests/it/pg_store.rs`: the transaction with its stats, the dense candidates, BM25, the
//! result records), each prepared once per pooled connection (`pool.rs`).
//!
//! A read that fails is an error at that call (a lost database: [`StoreError::Unavailable`],
//! HTTP 503); the snapshot drops its connection then, and every later read of it fails too.

mod sample;
pub(crate) use sample::SampledRow;

use std::collections::HashSet;
use std::sync::{Arc, Mutex};

use elsa::sync::FrozenMap;
use pgvector::Vector;

use super::{db, Conn, Shared};
use crate::embed::ModelId;
use crate::index::lexical::LexicalHits;
use crate::index::store::unknown_key;
use crate::index::{
    Cosines, DocFilter, DocumentInfo, Filter, Key, Passage, Snapshot, StoreError, StoredSentence,
};

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
    /// Passage records read without their vectors (what a result list needs).
    records: FrozenMap<Key, Box<Passage>>,
    /// The first failure's message, once the connection was dropped for it.
    failure: Mutex<Option<String>>,
}

const RECORD_COLUMNS: &str =
    "key, id, doc, title, section, clause, body, start_at, end_at, metadata::text, page";
const PASSAGE_COLUMNS: &str =
    "key, id, doc, title, section, clause, body, start_at, end_at, metadata::text, page, embedding";

impl PgSnapshot {
    /// A snapshot in a fresh read-only transaction.
    pub(crate) fn begin(shared: Arc<Shared>) -> Result<Self, StoreError> {
        let mut snap = PgSnapshot {
            shared,
            conn: Mutex::new(None),
            passages: 0,
            generation: -1,
            has_sentences: false,
            rows: FrozenMap::new(),
            records: FrozenMap::new(),
            failure: Mutex::new(None),
        };
        let (conn, passages, generation, has_sentences) = snap.open()?;
        snap.conn = Mutex::new(Some(conn));
        snap.passages = passages;
        snap.generation = generation;
        snap.has_sentences = has_sentences;
        snap.shared.count(1);
        Ok(snap)
    }

    fn open(&self) -> Result<(Conn, usize, i64, bool), StoreError> {
        // Drop rolls the transaction back (also when unwinding), so a pooled connection is
        // never handed out mid-transaction. Statements are prepared once per connection; those
        // with a document filter are planned for it every time (`Connection::run_planned`).
        // One round trip: the transaction, its settings and the state it sees.
        let begin = format!(
            "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY;
             SET LOCAL hnsw.ef_search = {EF_SEARCH};
             SET LOCAL hnsw.iterative_scan = strict_order;
             SELECT passages, generation, EXISTS (SELECT 1 FROM semsearch_sentences)
             FROM semsearch_stats"
        );
        let mut conn = self.shared.read_conn()?;
        let messages = match conn.simple_query(&begin) {
            Ok(m) => m,
            // A connection the pool kept across a database restart is dead: this first
            // statement is its check, and nothing was read yet, so a fresh one takes over.
            Err(_) if conn.is_closed() => {
                drop(conn);
                conn = self.shared.read_conn()?;
                conn.simple_query(&begin).map_err(db)?
            }
            Err(e) => return Err(db(e)),
        };
        let bad = || StoreError::Invariant("semsearch_stats: no readable row".into());
        let row = messages
            .iter()
            .find_map(|m| match m {
                postgres::SimpleQueryMessage::Row(r) => Some(r),
                _ => None,
            })
            .ok_or_else(bad)?;
        let number = |i: usize| {
            row.get(i)
                .and_then(|v| v.parse::<i64>().ok())
                .ok_or_else(bad)
        };
        let passages = number(0)?;
        let generation = number(1)?;
        let has_sentences = row.get(2) == Some("t");
        Ok((conn, passages as usize, generation, has_sentences))
    }

    /// Runs `f` on the snapshot's connection (`queries` statements). A failure drops the
    /// connection (it may be broken), so every later read of this snapshot fails as well.
    pub(super) fn with<T>(
        &self,
        queries: usize,
        f: impl FnOnce(&mut Conn) -> Result<T, postgres::Error>,
    ) -> Result<T, StoreError> {
        let mut guard = self.conn.lock().unwrap_or_else(|p| p.into_inner());
        let Some(conn) = guard.as_mut() else {
            let first = self
                .failure
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .clone();
            return Err(StoreError::Unavailable(first.unwrap_or_else(|| {
                "the database connection of this request was lost".into()
            })));
        };
        self.shared.count(queries);
        match f(conn) {
            Ok(v) => Ok(v),
            Err(e) => {
                guard.take();
                let e = db(e);
                tracing::warn!("postgres snapshot: {e}");
                let mut first = self.failure.lock().unwrap_or_else(|p| p.into_inner());
                first.get_or_insert_with(|| crate::error::chain(&e));
                Err(e)
            }
        }
    }

    /// Makes sure the rows of `keys` are loaded: two queries for all the missing ones.
    fn load(&self, keys: &[Key]) -> Result<(), StoreError> {
        let missing: Vec<Key> = keys
            .iter()
            .filter(|k| self.rows.get(k).is_none())
            .copied()
            .collect::<HashSet<_>>()
            .into_iter()
            .collect();
        for (k, row) in self.fetch(&missing)? {
            if self.rows.get(&k).is_none() {
                self.rows.insert(k, row);
            }
        }
        Ok(())
    }

    /// Rows of `keys` (those that exist), read from the database in one statement: each
    /// passage with its sentences aggregated in text order.
    fn fetch(&self, keys: &[Key]) -> Result<Vec<(Key, Arc<Row>)>, StoreError> {
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        let keys: Vec<i64> = keys.iter().map(|&k| k as i64).collect();
        let rows = self.with(1, |c| {
            c.run(
                &format!(
                    "SELECT {PASSAGE_COLUMNS},
                            array(SELECT start_at FROM semsearch_sentences s
                                  WHERE s.passage = p.key ORDER BY start_at),
                            array(SELECT end_at FROM semsearch_sentences s
                                  WHERE s.passage = p.key ORDER BY start_at),
                            array(SELECT embedding FROM semsearch_sentences s
                                  WHERE s.passage = p.key ORDER BY start_at)
                     FROM semsearch_passages p WHERE key = ANY($1)"
                ),
                &[&keys],
            )
        })?;
        rows.iter()
            .map(|r| {
                let key: i64 = r.get(0);
                let starts: Vec<i32> = r.get(12);
                let ends: Vec<i32> = r.get(13);
                let vectors: Vec<Vector> = r.get(14);
                let row = Row {
                    passage: passage_of(r)?,
                    vector: r.get::<_, Vector>(11).to_vec(),
                    sentences: starts
                        .into_iter()
                        .zip(ends)
                        .zip(vectors)
                        .map(|((a, b), v)| (a as u32, b as u32, v.to_vec()))
                        .collect(),
                };
                Ok((key as Key, Arc::new(row)))
            })
            .collect()
    }

    /// Passage records of `keys`, in order: those not read yet in one statement, without their
    /// vectors.
    fn records_of(&self, keys: &[Key]) -> Result<Vec<Passage>, StoreError> {
        let missing: Vec<i64> = keys
            .iter()
            .filter(|k| self.rows.get(k).is_none() && self.records.get(k).is_none())
            .map(|&k| k as i64)
            .collect::<HashSet<_>>()
            .into_iter()
            .collect();
        if !missing.is_empty() {
            let rows = self.with(1, |c| {
                c.run(
                    &format!("SELECT {RECORD_COLUMNS} FROM semsearch_passages WHERE key = ANY($1)"),
                    &[&missing],
                )
            })?;
            for r in &rows {
                let key = r.get::<_, i64>(0) as Key;
                if self.records.get(&key).is_none() {
                    self.records.insert(key, Box::new(passage_of(r)?));
                }
            }
        }
        keys.iter()
            .map(|k| match self.rows.get(k) {
                Some(row) => Ok(row.passage.clone()),
                None => self.records.get(k).cloned().ok_or_else(|| unknown_key(*k)),
            })
            .collect()
    }

    /// The rows of `keys`, in order, loaded in one go.
    fn rows_of(&self, keys: &[Key]) -> Result<Vec<&Row>, StoreError> {
        self.load(keys)?;
        keys.iter()
            .map(|k| self.rows.get(k).ok_or_else(|| unknown_key(*k)))
            .collect()
    }

    /// `(key, cosine)` from a nearest-neighbour query.
    fn nearest_in(
        &self,
        sql: &str,
        vector: &[f32],
        k: usize,
        filter: Filter<'_>,
    ) -> Result<Vec<(Key, f32)>, StoreError> {
        if k == 0 || self.passages == 0 {
            return Ok(Vec::new());
        }
        let v = Vector::from(vector.to_vec());
        let exclude: Vec<i64> = filter.exclude.iter().map(|&k| k as i64).collect();
        let limit = k as i64;
        let scope = super::scope::Scope::of(filter.docs);
        let fresh = scope.narrows();
        // A LIMIT above hnsw.ef_search is filled by the iterative scan.
        let hits: Vec<(Key, f32)> = self
            .with(1 + fresh as usize, |c| {
                c.run_planned(
                    fresh,
                    sql,
                    &[&v, &scope.docs, &exclude, &limit, &scope.keys],
                )
            })?
            .iter()
            .map(|r| (r.get::<_, i64>(0) as Key, r.get::<_, f64>(1) as f32))
            .collect();
        // Rows are read when asked for: a search reads the union of its lists in one go.
        Ok(hits)
    }
}

fn passage_of(r: &postgres::Row) -> Result<Passage, StoreError> {
    Ok(Passage {
        id: r.get(1),
        doc: r.get(2),
        title: r.get(3),
        section: r.get(4),
        clause: r.get(5),
        text: r.get(6),
        start: r.get::<_, i64>(7) as usize,
        end: r.get::<_, i64>(8) as usize,
        metadata: serde_json::from_str(r.get(9))?,
        page: r.get::<_, Option<i32>>(10).map(|p| p.max(0) as u32),
    })
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

    fn documents(&self) -> Result<Vec<DocumentInfo>, StoreError> {
        self.with(1, |c| {
            c.run(
                "SELECT doc, title, passages, metadata::text FROM semsearch_documents
                     ORDER BY doc",
                &[],
            )
        })?
        .iter()
        .map(|r| {
            Ok(DocumentInfo::new(
                r.get::<_, String>(0),
                r.get::<_, String>(1),
                r.get::<_, i32>(2) as usize,
                serde_json::from_str(r.get(3))?,
            ))
        })
        .collect()
    }

    fn sections(&self) -> Result<Vec<crate::index::SectionKeys>, StoreError> {
        super::scope::sections(self)
    }

    fn document_hash(&self, doc: &str) -> Result<Option<String>, StoreError> {
        Ok(self
            .with(1, |c| {
                c.run_opt(
                    "SELECT hash FROM semsearch_documents WHERE doc = $1",
                    &[&doc],
                )
            })?
            .map(|r| r.get(0)))
    }

    fn passages(&self, keys: &[Key]) -> Result<Vec<Passage>, StoreError> {
        self.records_of(keys)
    }

    fn find(&self, id: &str) -> Result<Option<Key>, StoreError> {
        Ok(self
            .with(1, |c| {
                c.run_opt("SELECT key FROM semsearch_passages WHERE id = $1", &[&id])
            })?
            .map(|r| r.get::<_, i64>(0) as Key))
    }

    fn vectors(&self, keys: &[Key]) -> Result<Vec<&[f32]>, StoreError> {
        Ok(self
            .rows_of(keys)?
            .into_iter()
            .map(|r| r.vector.as_slice())
            .collect())
    }

    fn sentences(&self, keys: &[Key]) -> Result<Vec<Vec<StoredSentence<'_>>>, StoreError> {
        Ok(self
            .rows_of(keys)?
            .into_iter()
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
            .collect())
    }

    fn has_sentences(&self) -> bool {
        self.has_sentences
    }

    fn cosines(&self, vector: &[f32], keys: &[Key]) -> Result<Vec<Cosines>, StoreError> {
        // Rows already here (the relevance background's) are scored here; the rest where
        // their vectors are.
        let remote: Vec<Key> = keys
            .iter()
            .filter(|k| self.rows.get(k).is_none())
            .copied()
            .collect();
        let far = super::bm25::cosines(self, vector, &remote)?;
        keys.iter()
            .map(|k| match self.rows.get(k) {
                Some(r) => {
                    let ss: Vec<StoredSentence<'_>> = r
                        .sentences
                        .iter()
                        .map(|(start, end, v)| StoredSentence {
                            start: *start,
                            end: *end,
                            vector: v,
                        })
                        .collect();
                    Ok(Cosines::of(vector, &r.vector, &ss))
                }
                None => far.get(k).copied().ok_or_else(|| unknown_key(*k)),
            })
            .collect()
    }

    fn nearest(
        &self,
        vector: &[f32],
        k: usize,
        filter: Filter<'_>,
    ) -> Result<Vec<(Key, f32)>, StoreError> {
        self.nearest_in(
            "SELECT key, 1 - (embedding <=> $1) FROM semsearch_passages
             WHERE ($2::text[] IS NULL OR doc = ANY($2) OR key = ANY($5)) AND key <> ALL($3)
             ORDER BY embedding <=> $1 LIMIT $4",
            vector,
            k,
            filter,
        )
    }

    fn nearest_sentences(
        &self,
        vector: &[f32],
        k: usize,
        filter: Filter<'_>,
    ) -> Result<Vec<(Key, f32)>, StoreError> {
        self.nearest_in(
            "SELECT passage, 1 - (embedding <=> $1) FROM semsearch_sentences
             WHERE ($2::text[] IS NULL OR doc = ANY($2) OR passage = ANY($5))
                   AND passage <> ALL($3)
             ORDER BY embedding <=> $1 LIMIT $4",
            vector,
            k,
            filter,
        )
    }

    fn dense_candidates(
        &self,
        vector: &[f32],
        k: usize,
        sentence_k: usize,
        filter: Filter<'_>,
    ) -> Result<Vec<(Key, Cosines)>, StoreError> {
        super::bm25::dense_candidates(self, vector, k, sentence_k, filter)
    }

    fn sample(&self, n: usize) -> Result<Vec<Key>, StoreError> {
        sample::sample(self, n)
    }

    fn sample_cjk(&self, n: usize) -> Result<Vec<(Key, f32)>, StoreError> {
        sample::sample_cjk(self, n)
    }

    fn lexical(&self, query: &str, k: usize, docs: &DocFilter) -> Result<LexicalHits, StoreError> {
        super::bm25::search(self, query, k, docs)
    }
}
