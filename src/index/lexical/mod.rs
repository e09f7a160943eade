//! Lexical (BM25) search: tantivy over terms from a Chinese-aware tokenizer ([`tokenizer`]),
//! behind a small trait like the vector store.
//!
//! Like the HNSW graph, the tantivy index is derived data: it is built in RAM from the stored
//! passages whenever an [`super::Index`] value is made, so it can never drift out of step with
//! the vectors on add, delete or reopen.

pub mod tantivy;
pub mod tokenizer;

pub use self::tantivy::TantivyStore;
pub use tokenizer::{tokenize, JiebaTokenizer, PassageTerms, Terms};

use super::StoreError;

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
    fn search(&self, query: &str, k: usize, doc: Option<&str>) -> Result<LexicalHits, StoreError>;
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
