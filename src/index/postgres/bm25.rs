//! The reads PostgreSQL computes itself: BM25 over the postings (tantivy's formula, so both
//! stores rank words alike) and the cosines of candidates, so that a search moves numbers, not
//! vectors.

use std::collections::HashMap;

use pgvector::Vector;

use super::snapshot::PgSnapshot;
use crate::index::lexical::{tokenize, LexicalHits};
use crate::index::{Cosines, DocFilter, Key, Snapshot, StoreError};
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
    let mut terms = tokenize(query);
    terms.sort();
    terms.dedup();
    if terms.is_empty() || k == 0 || snap.len() == 0 {
        return Ok(LexicalHits {
            terms: terms.len(),
            ..LexicalHits::default()
        });
    }
    let n = snap.len() as f32;
    let limit = k as i64;
    let docs: Option<Vec<&str>> = docs
        .named()
        .map(|ids| ids.iter().map(String::as_str).collect());
    let (known, hits) = snap.with(2, |c| {
        let known = c.run(
            "SELECT term, count(*) FROM semsearch_postings WHERE term = ANY($1)
             GROUP BY term ORDER BY term",
            &[&terms],
        )?;
        let hits = c.run(
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
    })?;
    let known: Vec<(String, f32)> = known
        .iter()
        .map(|r| (r.get(0), idf(n, r.get::<_, i64>(1) as f32)))
        .collect();
    let hits: Vec<(Key, f32)> = hits
        .iter()
        .map(|r| (r.get::<_, i64>(0) as Key, r.get::<_, f64>(1) as f32))
        .collect();
    let best = match hits.first() {
        Some(h) => Some(snap.passage(h.0)?),
        None => None,
    };
    Ok(LexicalHits::new(hits, terms.len(), known, best.as_ref()))
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
    Ok(rows
        .iter()
        .map(|r| {
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
        })
        .collect())
}
