//! Lexical (BM25) store: tantivy with a Chinese-aware tokenizer, behind a small trait like the
//! vector store.
//!
//! The tokenizer segments with jieba in search mode (compounds also yield their parts, so
//! 人工智能 matches 智能), lower-cases, drops punctuation, and keeps a number with its percent
//! sign as one extra token (4.2% as well as 4.2). English and mixed text go through the same
//! path: jieba passes Latin words through whole.
//!
//! Like the HNSW graph, the tantivy index is derived data: it is built in RAM from the stored
//! passages whenever an [`super::Index`] value is made, so it can never drift out of step with
//! the vectors on add, delete or reopen.

use std::collections::HashSet;
use std::sync::LazyLock;

use jieba_rs::Jieba;
use rayon::prelude::*;
use tantivy::collector::TopDocs;
use tantivy::query::{BooleanQuery, Occur, Query, TermQuery};
use tantivy::schema::{
    Field, IndexRecordOption, Schema, TextFieldIndexing, TextOptions, Value, FAST, INDEXED, STORED,
    STRING,
};
use tantivy::tokenizer::{PreTokenizedString, Token, TokenStream, Tokenizer};
use tantivy::{Index as TantivyIndex, IndexReader, TantivyDocument, Term};

use crate::error::{Error, Result};

static JIEBA: LazyLock<Jieba> = LazyLock::new(Jieba::new);

/// Terms of `text` as the lexical index sees them.
pub fn tokenize(text: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let words = JIEBA.cut_for_search(text, true);
    for (i, w) in words.iter().enumerate() {
        let t = w.trim();
        if t.is_empty() || t.chars().all(|c| !c.is_alphanumeric()) {
            continue;
        }
        let lower = t.to_lowercase();
        // "4.2%" as one token: also index the bare number, so "4.2" finds it.
        if let Some(num) = lower
            .strip_suffix(['%', '％'])
            .filter(|n| !n.is_empty() && n.chars().all(|c| c.is_ascii_digit() || c == '.'))
        {
            out.push(num.to_string());
        }
        let numeric = lower.chars().all(|c| c.is_ascii_digit() || c == '.');
        if numeric && words.get(i + 1).is_some_and(|n| *n == "%" || *n == "％") {
            out.push(format!("{lower}%"));
        }
        out.push(lower);
    }
    out
}

/// The tantivy tokenizer wrapping [`tokenize`].
#[derive(Clone, Default)]
pub struct JiebaTokenizer;

/// Tokens of one text.
pub struct JiebaStream {
    tokens: Vec<Token>,
    next: usize,
}

impl Tokenizer for JiebaTokenizer {
    type TokenStream<'a> = JiebaStream;
    fn token_stream<'a>(&'a mut self, text: &'a str) -> JiebaStream {
        let tokens = tokenize(text)
            .into_iter()
            .enumerate()
            .map(|(position, text)| Token {
                offset_from: 0,
                offset_to: 0,
                position,
                text,
                position_length: 1,
            })
            .collect();
        JiebaStream { tokens, next: 0 }
    }
}

impl TokenStream for JiebaStream {
    fn advance(&mut self) -> bool {
        self.next += 1;
        self.next <= self.tokens.len()
    }
    fn token(&self) -> &Token {
        &self.tokens[self.next - 1]
    }
    fn token_mut(&mut self) -> &mut Token {
        &mut self.tokens[self.next - 1]
    }
}

/// Lexical matches and how much the lexical side knows about the query.
#[derive(Debug, Clone, Default)]
pub struct LexicalHits {
    /// `(key, bm25)` best first.
    pub hits: Vec<(u32, f32)>,
    /// Share of the query's distinct terms that occur anywhere in the index: low when the
    /// question is in another language than the passages.
    pub language_match: f32,
    /// IDF-weighted share of those known terms that the best hit contains (0 when no hit).
    pub coverage: f32,
}

/// Text search over passages keyed by dense `u32` ids.
pub trait LexicalStore: Send + Sync {
    /// Up to `k` hits for `query`, restricted to document `doc` when given.
    fn search(&self, query: &str, k: usize, doc: Option<&str>) -> Result<LexicalHits>;
}

/// BM25 over an in-RAM tantivy index.
pub struct TantivyStore {
    reader: IndexReader,
    key: Field,
    doc: Field,
    text: Field,
    terms: Vec<Terms>,
}

/// A passage's terms as [`tokenize`] makes them, shared between successive index values: a
/// write re-tokenizes only the passages it adds (jieba was most of a small write's cost).
#[derive(Debug)]
pub struct PassageTerms {
    list: Vec<String>,
    set: HashSet<String>,
}

/// Shared [`PassageTerms`].
pub type Terms = std::sync::Arc<PassageTerms>;

impl PassageTerms {
    /// Tokenizes `text`.
    pub fn of(text: &str) -> Terms {
        let list = tokenize(text);
        let set = list.iter().cloned().collect();
        std::sync::Arc::new(PassageTerms { list, set })
    }
}

fn lex_err(e: impl std::fmt::Display) -> Error {
    Error::Lexical(e.to_string())
}

impl TantivyStore {
    /// Indexes `(doc id, text)` pairs; the key of each is its position.
    pub fn build<'a>(passages: impl Iterator<Item = (&'a str, &'a str)>) -> Result<Self> {
        Self::build_with(passages.map(|(d, t)| (d, t, None)))
    }

    /// [`TantivyStore::build`] reusing the terms already known for some passages (from
    /// [`TantivyStore::terms`] of an earlier store); the others are tokenized, in parallel.
    pub fn build_with<'a>(
        passages: impl Iterator<Item = (&'a str, &'a str, Option<Terms>)>,
    ) -> Result<Self> {
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
        let mut writer = index.writer_with_num_threads(1, budget).map_err(lex_err)?;
        for (i, ((d, _, _), t)) in passages.iter().zip(&terms).enumerate() {
            let mut td = TantivyDocument::default();
            td.add_u64(key, i as u64);
            td.add_text(doc, d);
            td.add_pre_tokenized_text(text, pre_tokenized(&t.list));
            writer.add_document(td).map_err(lex_err)?;
        }
        writer.commit().map_err(lex_err)?;
        let reader = index.reader().map_err(lex_err)?;
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

/// The same tokens as [`JiebaTokenizer`] would make, handed to tantivy ready-made.
fn pre_tokenized(list: &[String]) -> PreTokenizedString {
    PreTokenizedString {
        text: String::new(),
        tokens: list
            .iter()
            .enumerate()
            .map(|(position, t)| Token {
                offset_from: 0,
                offset_to: 0,
                position,
                text: t.clone(),
                position_length: 1,
            })
            .collect(),
    }
}

impl LexicalStore for TantivyStore {
    fn search(&self, query: &str, k: usize, doc: Option<&str>) -> Result<LexicalHits> {
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
        let top = searcher
            .search(&query, &TopDocs::with_limit(k))
            .map_err(lex_err)?;
        let mut hits = Vec::with_capacity(top.len());
        for (score, addr) in top {
            let stored: tantivy::TantivyDocument = searcher.doc(addr).map_err(lex_err)?;
            let key = stored
                .get_first(self.key)
                .and_then(|v| v.as_u64())
                .ok_or_else(|| lex_err("stored key missing"))?;
            hits.push((key as u32, score));
        }
        let n = searcher.num_docs() as f32;
        let mut known: Vec<(&String, f32)> = Vec::new();
        for t in &q_terms {
            let df = searcher
                .doc_freq(&Term::from_field_text(self.text, t))
                .map_err(lex_err)? as f32;
            if df > 0.0 {
                known.push((t, (1.0 + (n - df + 0.5) / (df + 0.5)).ln()));
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chinese_compounds_yield_their_parts() {
        let t = tokenize("推进人工智能赋能新型工业化");
        for w in ["人工", "智能", "人工智能", "工业", "工业化"] {
            assert!(t.contains(&w.to_string()), "{w} missing from {t:?}");
        }
    }

    #[test]
    fn numbers_keep_their_percent() {
        let t = tokenize("研发投入强度4.2%以上");
        assert!(t.contains(&"4.2%".to_string()), "{t:?}");
        assert!(t.contains(&"4.2".to_string()), "{t:?}");
        assert!(!t.iter().any(|x| x == "%"));
    }

    #[test]
    fn english_and_mixed_text() {
        assert_eq!(
            tokenize("The Quick, brown FOX!"),
            ["the", "quick", "brown", "fox"]
        );
        let t = tokenize("AI赋能GDP增长5%");
        for w in ["ai", "赋能", "gdp", "增长", "5%"] {
            assert!(t.contains(&w.to_string()), "{w} missing from {t:?}");
        }
    }

    #[test]
    fn bm25_ranks_and_filters() {
        let docs = [
            ("a", "坚持和发展新时代枫桥经验"),
            ("a", "太湖苏州辖区连续18年安全度夏"),
            ("b", "枫桥经验在全国推广"),
        ];
        let s = TantivyStore::build(docs.iter().copied()).unwrap();
        let r = s.search("枫桥经验", 10, None).unwrap();
        assert_eq!(r.hits.len(), 2);
        assert!(r.coverage > 0.99 && r.language_match > 0.99);
        let r = s.search("枫桥经验", 10, Some("b")).unwrap();
        assert_eq!(r.hits.iter().map(|h| h.0).collect::<Vec<_>>(), [2]);
        let r = s
            .search("How many years has Lake Tai been safe", 10, None)
            .unwrap();
        assert!(r.hits.is_empty() && r.coverage == 0.0 && r.language_match == 0.0);
        assert!(s.search("", 10, None).unwrap().hits.is_empty());
    }
}
