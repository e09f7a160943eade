//! BM25 over an in-RAM tantivy index of pre-tokenized passages.

use rayon::prelude::*;
use tantivy::collector::TopDocs;
use tantivy::query::{BooleanQuery, Occur, Query, TermQuery};
use tantivy::schema::{
    Field, IndexRecordOption, Schema, TextFieldIndexing, TextOptions, Value, FAST, INDEXED, STORED,
    STRING,
};
use tantivy::{Index as TantivyIndex, IndexReader, TantivyDocument, Term};

use super::tokenizer::{pre_tokenized, tokenize, JiebaTokenizer, PassageTerms, Terms};
use super::{LexicalHits, LexicalStore};
use crate::index::StoreError;
use crate::text::idf;

/// BM25 over an in-RAM tantivy index.
pub struct TantivyStore {
    reader: IndexReader,
    key: Field,
    doc: Field,
    text: Field,
    terms: Vec<Terms>,
}

impl TantivyStore {
    /// Indexes `(doc id, text)` pairs; the key of each is its position.
    pub fn build<'a>(
        passages: impl Iterator<Item = (&'a str, &'a str)>,
    ) -> Result<Self, StoreError> {
        Self::build_with(passages.map(|(d, t)| (d, t, None)))
    }

    /// [`TantivyStore::build`] reusing the terms already known for some passages (from
    /// [`TantivyStore::terms`] of an earlier store); the others are tokenized, in parallel.
    pub fn build_with<'a>(
        passages: impl Iterator<Item = (&'a str, &'a str, Option<Terms>)>,
    ) -> Result<Self, StoreError> {
        let passages: Vec<_> = passages.collect();
        let terms: Vec<Terms> = passages
            .par_iter()
            .map(|(_, t, known)| known.clone().unwrap_or_else(|| PassageTerms::of(t)))
            .collect();
        let mut sb = Schema::builder();
        let key = sb.add_u64_field("key", INDEXED | STORED | FAST);
        let doc = sb.add_text_field("doc", STRING);
        let opts = TextOptions::default().set_indexing_options(
            TextFieldIndexing::default()
                .set_tokenizer("jieba")
                .set_index_option(IndexRecordOption::WithFreqs),
        );
        let text = sb.add_text_field("text", opts);
        let index = TantivyIndex::create_in_ram(sb.build());
        index.tokenizers().register("jieba", JiebaTokenizer);
        // tantivy's arena is touched page by page on every build: its 15 MB minimum is plenty for
        // small indexes and keeps a write's page faults down; big ones get room for fewer segments.
        let budget = if passages.len() < 10_000 {
            15_000_000
        } else {
            100_000_000
        };
        let mut writer = index.writer_with_num_threads(1, budget)?;
        for (i, ((d, _, _), t)) in passages.iter().zip(&terms).enumerate() {
            let mut td = TantivyDocument::default();
            td.add_u64(key, i as u64);
            td.add_text(doc, d);
            td.add_pre_tokenized_text(text, pre_tokenized(&t.list));
            writer.add_document(td)?;
        }
        writer.commit()?;
        let reader = index.reader()?;
        Ok(TantivyStore {
            reader,
            key,
            doc,
            text,
            terms,
        })
    }
}

impl TantivyStore {
    /// Terms of the passage with key `key`.
    pub fn terms(&self, key: usize) -> Option<Terms> {
        self.terms.get(key).cloned()
    }
}

impl LexicalStore for TantivyStore {
    fn search(&self, query: &str, k: usize, doc: Option<&str>) -> Result<LexicalHits, StoreError> {
        let mut q_terms = tokenize(query);
        q_terms.sort();
        q_terms.dedup();
        if q_terms.is_empty() || k == 0 || self.terms.is_empty() {
            return Ok(LexicalHits::default());
        }
        let should: Vec<(Occur, Box<dyn Query>)> = q_terms
            .iter()
            .map(|t| {
                let tq = TermQuery::new(
                    Term::from_field_text(self.text, t),
                    IndexRecordOption::WithFreqs,
                );
                (Occur::Should, Box::new(tq) as Box<dyn Query>)
            })
            .collect();
        let mut query: Box<dyn Query> = Box::new(BooleanQuery::new(should));
        if let Some(d) = doc {
            let filter =
                TermQuery::new(Term::from_field_text(self.doc, d), IndexRecordOption::Basic);
            query = Box::new(BooleanQuery::new(vec![
                (Occur::Must, query),
                (Occur::Must, Box::new(filter)),
            ]));
        }
        let searcher = self.reader.searcher();
        let top = searcher.search(&query, &TopDocs::with_limit(k))?;
        let mut hits = Vec::with_capacity(top.len());
        for (score, addr) in top {
            let stored: TantivyDocument = searcher.doc(addr)?;
            let key = stored
                .get_first(self.key)
                .and_then(|v| v.as_u64())
                .ok_or_else(|| StoreError::Invariant("tantivy document without its key".into()))?;
            hits.push((key as u32, score));
        }
        let n = searcher.num_docs() as f32;
        let mut known: Vec<(&String, f32)> = Vec::new();
        for t in &q_terms {
            let df = searcher.doc_freq(&Term::from_field_text(self.text, t))? as f32;
            if df > 0.0 {
                known.push((t, idf(n, df)));
            }
        }
        let language_match = known.len() as f32 / q_terms.len() as f32;
        let total_idf: f32 = known.iter().map(|k| k.1).sum();
        let coverage = match hits.first() {
            Some((key, _)) if total_idf > 0.0 => {
                let have = &self.terms[*key as usize].set;
                known
                    .iter()
                    .filter(|(t, _)| have.contains(*t))
                    .map(|k| k.1)
                    .sum::<f32>()
                    / total_idf
            }
            _ => 0.0,
        };
        Ok(LexicalHits {
            hits,
            language_match,
            coverage,
        })
    }
}
