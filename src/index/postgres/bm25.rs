//! The reads PostgreSQL computes itself: BM25 over the postings (tantivy's formula, so both
//! stores rank words alike) and the cosines of candidates, so that a search moves numbers, not
//! vectors.

use std::collections::HashMap;

use pgvector::Vector;

use super::snapshot::PgSnapshot;
use crate::index::lexical::{query_terms, LexicalHits};
use crate::index::{Cosines, DocFilter, Filter, Key, Snapshot, StoreError};
use crate::text::idf;

/// BM25 parameters: tantivy's, so both stores rank alike.
const K1: f64 = 1.2;
const B: f64 = 0.75;

/// Up to `k` passages by BM25 for `query` among the documents `docs` accepts.
pub(super) fn search(
    snap: &PgSnapshot,
    query: &str,
    k: usize,
    docs: &DocFilter,
) -> Result<LexicalHits, StoreError> {
    let terms = query_terms(query);
    if terms.is_empty() || k == 0 || snap.len() == 0 {
        return Ok(LexicalHits {
            terms: terms.len(),
            ..LexicalHits::default()
        });
    }
    let n = snap.len() as f32;
    let limit = k as i64;
    let scope = super::scope::Scope::of(docs);
    // One statement and one scan of the terms' postings: the hits, the document frequency of
    // each known term (for the fusion's evidence) and the text of the first hit (for its
    // coverage), told apart by `kind`.
    let fresh = scope.narrows();
    let rows = snap.with(1 + fresh as usize, |c| {
        c.run_planned(
            fresh,
            "WITH st AS (SELECT passages::float8 AS n,
                                total_len::float8 / greatest(passages, 1) AS avgdl
                         FROM semsearch_stats),
                  m AS (SELECT term, passage, doc, tf,
                               count(*) OVER (PARTITION BY term)::float8 AS df
                        FROM semsearch_postings WHERE term = ANY($1)),
                  hits AS (
                     SELECT m.passage AS key,
                            sum(ln(1 + (st.n - m.df + 0.5) / (m.df + 0.5))
                                * m.tf * ($4::float8 + 1)
                                / (m.tf + $4::float8 * (1 - $5::float8 + $5::float8 * pa.len / st.avgdl)))
                                AS score
                     FROM m JOIN semsearch_passages pa ON pa.key = m.passage, st
                     WHERE $2::text[] IS NULL OR m.doc = ANY($2) OR m.passage = ANY($6)
                     GROUP BY m.passage ORDER BY score DESC, m.passage LIMIT $3),
                  top AS (SELECT key FROM hits ORDER BY score DESC, key LIMIT 1)
             SELECT 0 AS kind, key, score, NULL::text AS text FROM hits
             UNION ALL SELECT 1, df::int8, NULL, term FROM (SELECT DISTINCT term, df FROM m) d
             UNION ALL SELECT 2, pa.key, NULL, pa.body
                       FROM top JOIN semsearch_passages pa USING (key)",
            &[&terms, &scope.docs, &limit, &K1, &B, &scope.keys],
        )
    })?;
    let mut hits: Vec<(Key, f32)> = Vec::new();
    let mut known: Vec<(String, f32)> = Vec::new();
    let mut best: Option<String> = None;
    for r in &rows {
        match r.get::<_, i32>(0) {
            0 => hits.push((r.get::<_, i64>(1) as Key, r.get::<_, f64>(2) as f32)),
            1 => known.push((r.get(3), idf(n, r.get::<_, i64>(1) as f32))),
            _ => best = r.get(3),
        }
    }
    // UNION ALL keeps no order: the ranking and the term order are restored here.
    hits.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    known.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(LexicalHits::new(hits, terms.len(), known, best.as_deref()))
}

/// Cosines of `keys` computed in the database, by key: only the numbers travel.
pub(super) fn cosines(
    snap: &PgSnapshot,
    vector: &[f32],
    keys: &[Key],
) -> Result<HashMap<Key, Cosines>, StoreError> {
    if keys.is_empty() {
        return Ok(HashMap::new());
    }
    let v = Vector::from(vector.to_vec());
    let keys: Vec<i64> = keys.iter().map(|&k| k as i64).collect();
    let rows = snap.with(1, |c| {
        c.run(
            "SELECT p.key, 1 - (p.embedding <=> $1), b.cos, b.start_at, b.end_at
                 FROM semsearch_passages p
                 LEFT JOIN LATERAL (
                     SELECT 1 - (s.embedding <=> $1) AS cos, s.start_at, s.end_at
                     FROM semsearch_sentences s WHERE s.passage = p.key
                     ORDER BY s.embedding <=> $1, s.start_at LIMIT 1) b ON true
                 WHERE p.key = ANY($2)",
            &[&v, &keys],
        )
    })?;
    Ok(rows.iter().map(cosines_of).collect())
}

/// `(key, cosines)` of a row `key, whole cosine, best sentence's cosine, start, end`.
fn cosines_of(r: &postgres::Row) -> (Key, Cosines) {
    let best = r.get::<_, Option<f64>>(2).map(|cos| {
        (
            cos as f32,
            r.get::<_, i32>(3) as u32,
            r.get::<_, i32>(4) as u32,
        )
    });
    let c = Cosines {
        whole: r.get::<_, f64>(1) as f32,
        best,
    };
    (r.get::<_, i64>(0) as Key, c)
}

/// [`Snapshot::dense_candidates`] in one statement: both nearest-neighbour searches, their
/// union and its cosines. A LIMIT above `hnsw.ef_search` is filled by pgvector's iterative
/// scan (`strict_order`, set for every snapshot), so no setting changes per search.
pub(super) fn dense_candidates(
    snap: &PgSnapshot,
    vector: &[f32],
    k: usize,
    sentence_k: usize,
    filter: Filter<'_>,
) -> Result<Vec<(Key, Cosines)>, StoreError> {
    if (k == 0 && sentence_k == 0) || snap.len() == 0 {
        return Ok(Vec::new());
    }
    let v = Vector::from(vector.to_vec());
    let exclude: Vec<i64> = filter.exclude.iter().map(|&k| k as i64).collect();
    let scope = super::scope::Scope::of(filter.docs);
    let (k, sentence_k) = (k as i64, sentence_k as i64);
    let fresh = scope.narrows();
    let rows = snap.with(1 + fresh as usize, |c| {
        c.run_planned(
            fresh,
            "WITH a AS (SELECT key FROM semsearch_passages
                        WHERE ($2::text[] IS NULL OR doc = ANY($2) OR key = ANY($6))
                              AND key <> ALL($3)
                        ORDER BY embedding <=> $1 LIMIT $4),
                  b AS (SELECT passage AS key FROM semsearch_sentences
                        WHERE ($2::text[] IS NULL OR doc = ANY($2) OR passage = ANY($6))
                              AND passage <> ALL($3)
                        ORDER BY embedding <=> $1 LIMIT $5),
                  u AS (SELECT key FROM a UNION SELECT key FROM b)
             SELECT p.key, 1 - (p.embedding <=> $1), c.cos, c.start_at, c.end_at
             FROM u JOIN semsearch_passages p ON p.key = u.key
             LEFT JOIN LATERAL (
                 SELECT 1 - (s.embedding <=> $1) AS cos, s.start_at, s.end_at
                 FROM semsearch_sentences s WHERE s.passage = p.key
                 ORDER BY s.embedding <=> $1, s.start_at LIMIT 1) c ON true
             ORDER BY p.key",
            &[&v, &scope.docs, &exclude, &k, &sentence_k, &scope.keys],
        )
    })?;
    Ok(rows.iter().map(cosines_of).collect())
}
