//! Lexical (BM25) search: tantivy over terms from a Chinese-aware tokenizer ([`tokenizer`]),
//! behind a small trait like the vector store.
//!
//! The tantivy index lives beside the vector segments and commits with each write; see
//! [`super::local`] for how the two stay in step across crashes.

pub mod tantivy;
pub mod tokenizer;

pub use self::tantivy::{LexicalIndex, LexicalView, RawHits};
pub use tokenizer::{query_terms, tokenize, JiebaTokenizer, MAX_QUERY_TERMS};

/// Lexical matches and how much the lexical side knows about the query.
#[derive(Debug, Clone, Default)]
pub struct LexicalHits {
    /// `(key, bm25)` best first.
    pub hits: Vec<(crate::index::Key, f32)>,
    /// Share of the query's distinct terms that occur anywhere in the index: low when the
    /// question is in another language than the passages.
    pub language_match: f32,
    /// IDF-weighted share of those known terms that the best hit contains (0 when no hit).
    pub coverage: f32,
    /// Distinct query terms.
    pub terms: usize,
    /// Query terms the index knows, with their IDF.
    pub known: Vec<(String, f32)>,
}

impl LexicalHits {
    /// Hits with their evidence: `terms` distinct query terms, of which `known` (with IDF) occur
    /// in the index, and `best`, the first hit's text, for the coverage.
    pub fn new(
        hits: Vec<(crate::index::Key, f32)>,
        terms: usize,
        known: Vec<(String, f32)>,
        best: Option<&str>,
    ) -> Self {
        let language_match = if terms == 0 {
            0.0
        } else {
            known.len() as f32 / terms as f32
        };
        let total_idf: f32 = known.iter().map(|k| k.1).sum();
        let coverage = match best {
            Some(best) if total_idf > 0.0 => {
                let have: std::collections::HashSet<String> = tokenize(best).into_iter().collect();
                known
                    .iter()
                    .filter(|(t, _)| have.contains(t))
                    .map(|k| k.1)
                    .sum::<f32>()
                    / total_idf
            }
            _ => 0.0,
        };
        LexicalHits {
            hits,
            language_match,
            coverage,
            terms,
            known,
        }
    }
}

impl From<::tantivy::TantivyError> for crate::index::StoreError {
    fn from(e: ::tantivy::TantivyError) -> Self {
        crate::index::StoreError::Lexical(Box::new(e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::index::filter::{DocFilter, ALL_DOCUMENTS as ALL};

    #[test]
    fn a_query_is_searched_with_its_first_distinct_terms() {
        let long: String = (0..200).map(|i| format!("w{i} w{i} ")).collect();
        let t = query_terms(&long);
        assert_eq!(t.len(), MAX_QUERY_TERMS);
        assert!(t.contains(&"w0".to_string()) && t.contains(&"w63".to_string()));
        assert!(!t.contains(&"w64".to_string()));
        assert!(t.windows(2).all(|w| w[0] < w[1]), "sorted and distinct");
    }

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

    fn passage(doc: &str, n: usize, text: &str) -> crate::index::Passage {
        crate::index::Passage {
            page: None,
            id: format!("{doc}#{n}"),
            doc: doc.into(),
            title: "t".into(),
            section: None,
            clause: None,
            text: text.into(),
            start: 0,
            end: text.chars().count(),
            metadata: Default::default(),
        }
    }

    #[test]
    fn bm25_ranks_filters_and_deletes() {
        let ps = [
            passage("a", 1, "坚持和发展新时代枫桥经验"),
            passage("a", 2, "太湖苏州辖区连续18年安全度夏"),
            passage("b", 1, "枫桥经验在全国推广"),
        ];
        let lex = LexicalIndex::in_ram().unwrap();
        lex.apply(&[], &ps.iter().collect::<Vec<_>>(), "1").unwrap();
        assert_eq!(lex.payload().unwrap().as_deref(), Some("1"));
        let v = lex.view();
        let r = v.search("枫桥经验", 10, &ALL).unwrap();
        assert_eq!(r.hits.len(), 2);
        assert_eq!(r.known.len(), r.terms);
        let all = v.search("枫桥经验", 10, &ALL).unwrap();
        let r = v.search("枫桥经验", 10, &DocFilter::ids(["b"])).unwrap();
        assert_eq!(
            r.hits.iter().map(|h| h.0.as_str()).collect::<Vec<_>>(),
            ["b#1"]
        );
        // A filter passes or refuses, it never scores: b#1 keeps its BM25 (document `b` is
        // smaller than `a`, so its id term would have weighed more).
        let unfiltered = all.hits.iter().find(|h| h.0 == "b#1").unwrap().1;
        assert_eq!(r.hits[0].1, unfiltered);
        let ids = ["a#1".to_string()];
        let r = v
            .search_passages("枫桥经验", 10, &["b".to_string()].into(), &ids)
            .unwrap();
        assert_eq!(r.hits.len(), 2);
        for (id, score) in &r.hits {
            assert_eq!(
                Some(*score),
                all.hits.iter().find(|h| &h.0 == id).map(|h| h.1)
            );
        }
        // Several documents are one query; a document the index lacks matches nothing.
        let r = v
            .search("枫桥经验", 10, &DocFilter::ids(["a", "b", "zz"]))
            .unwrap();
        assert_eq!(r.hits.len(), 2);
        let none = DocFilter::ids(Vec::<String>::new());
        assert!(v.search("枫桥经验", 10, &none).unwrap().hits.is_empty());
        let r = v
            .search("How many years has Lake Tai been safe", 10, &ALL)
            .unwrap();
        assert!(r.hits.is_empty() && r.known.is_empty());
        assert!(v.search("", 10, &ALL).unwrap().hits.is_empty());
        // Deleting a document by id; the old view still sees it.
        lex.apply(&["a"], &[], "2").unwrap();
        assert_eq!(
            lex.view().search("枫桥经验", 10, &ALL).unwrap().hits.len(),
            1
        );
        assert_eq!(v.search("枫桥经验", 10, &ALL).unwrap().hits.len(), 2);
    }

    #[test]
    fn a_failed_write_keeps_the_last_commit_and_the_next_one_works() {
        let lex = LexicalIndex::in_ram().unwrap();
        lex.apply(&[], &[&passage("a", 1, "枫桥经验")], "1")
            .unwrap();
        let err = lex
            .fail_write(&passage("b", 1, "枫桥经验推广"))
            .unwrap_err();
        assert!(err.to_string().contains("lexical"), "{err}");
        assert_eq!(lex.payload().unwrap().as_deref(), Some("1"));
        // The next write gets a fresh writer: the failed one's document never shows.
        lex.apply(&[], &[&passage("c", 1, "枫桥经验全国")], "2")
            .unwrap();
        let hits = lex.view().search("枫桥经验", 10, &ALL).unwrap().hits;
        let mut ids: Vec<&str> = hits.iter().map(|h| h.0.as_str()).collect();
        ids.sort();
        assert_eq!(ids, ["a#1", "c#1"]);
        assert_eq!(lex.payload().unwrap().as_deref(), Some("2"));
    }
}
