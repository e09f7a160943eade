//! Pages, grouping, batches and filters of the engine on the tiny model: what a page, a group or
//! a filter returns is checked against the whole exact ranking, cut by hand.

use std::sync::OnceLock;

use proptest::prelude::{prop_assert, prop_assert_eq, prop_oneof, proptest, Just, ProptestConfig};
use proptest::strategy::Strategy as Drawn;
use serde_json::{json, Value};

use super::*;
use crate::embed::tiny;
use crate::index::{Condition, Metadata};
use crate::ingest::{Format, RawDocument};

const WORDS: [&str; 12] = [
    "lake", "tai", "river", "summer", "plan", "city", "green", "water", "road", "school", "farm",
    "bridge",
];
const DEPTS: [&str; 3] = ["transport", "water", "schools"];

/// Twelve documents of a few passages each, with metadata: `year` (number), `dept` (string),
/// `tags` (list), and `draft` (boolean) on some only.
fn library() -> &'static Engine {
    static ENGINE: OnceLock<Engine> = OnceLock::new();
    ENGINE.get_or_init(|| {
        let engine = Engine::open(Arc::new(tiny::embedder(1, false)), None, Options::default())
            .expect("engine");
        let raws: Vec<RawDocument> = (0..12)
            .map(|d| {
                let paragraphs: Vec<String> = (0..4)
                    .map(|p| {
                        (0..8)
                            .map(|w| WORDS[(d * 7 + p * 5 + w * 3) % WORDS.len()])
                            .collect::<Vec<_>>()
                            .join(" ")
                    })
                    .collect();
                let mut meta = json!({
                    "year": 2020 + d % 6,
                    "dept": DEPTS[d % 3],
                    "tags": [WORDS[d % 5], WORDS[(d + 2) % 5]],
                });
                if d.is_multiple_of(4) {
                    meta["draft"] = json!(true);
                }
                RawDocument {
                    pages: Vec::new(),
                    doc: Some(format!("doc-{d:02}")),
                    title: Some(format!("Document {d}")),
                    text: paragraphs.join("\n\n"),
                    format: Format::Text,
                    clean: false,
                    metadata: Metadata::from_json(meta).expect("metadata"),
                }
            })
            .collect();
        engine.ingest(&raws, &|_| {}).expect("ingest");
        engine
    })
}

fn ids(hits: &[Hit]) -> Vec<String> {
    hits.iter().map(|h| h.passage.id.clone()).collect()
}

const QUESTION: &str = "green lake water in summer";

#[test]
fn pages_concatenate_to_one_call_in_every_mode() {
    let engine = library();
    for mode in [Mode::Hybrid, Mode::Dense, Mode::Lexical] {
        let req = SearchRequest::new(QUESTION).mode(mode);
        let whole = engine.search_page(&req.clone().k(40)).unwrap();
        let mut paged = Vec::new();
        for offset in (0..40).step_by(5) {
            let page = engine
                .search_page(&req.clone().k(5).offset(offset))
                .unwrap();
            assert_eq!(
                page.next.is_some(),
                offset + 5 < whole.hits.len() || whole.next.is_some()
            );
            paged.extend(page.hits);
        }
        assert_eq!(ids(&paged), ids(&whole.hits), "{mode:?}");
        // Scores and relevance are the passage's own, whichever page it is read on.
        assert_eq!(paged, whole.hits, "{mode:?}");
    }
    // Past the end: an empty page, and nothing more.
    let last = engine
        .search_page(
            &SearchRequest::new("lake")
                .mode(Mode::Dense)
                .k(10)
                .offset(48),
        )
        .unwrap();
    assert!(last.hits.is_empty() && last.next.is_none());
}

#[test]
fn grouping_keeps_the_ranking_order_with_at_most_group_size_per_document() {
    let engine = library();
    for mode in [Mode::Hybrid, Mode::Dense, Mode::Lexical] {
        let all = engine
            .search(&SearchRequest::new(QUESTION).mode(mode).k(48))
            .unwrap();
        for g in [1, 2] {
            let req = SearchRequest::new(QUESTION)
                .mode(mode)
                .k(8)
                .group_size(Some(g));
            let grouped = engine.search(&req).unwrap();
            // The ranking cut by hand: each document's first g passages, in ranking order.
            let mut seen = std::collections::HashMap::<&str, usize>::new();
            let expected: Vec<String> = all
                .iter()
                .filter(|h| {
                    let n = seen.entry(h.passage.doc.as_str()).or_default();
                    *n += 1;
                    *n <= g
                })
                .take(8)
                .map(|h| h.passage.id.clone())
                .collect();
            assert_eq!(ids(&grouped), expected, "{mode:?} group_size {g}");
        }
    }
    let one = engine
        .search(&SearchRequest::new(QUESTION).k(12).group_size(Some(1)))
        .unwrap();
    let docs: std::collections::HashSet<&str> =
        one.iter().map(|h| h.passage.doc.as_str()).collect();
    assert_eq!(
        docs.len(),
        12,
        "group_size 1: every result another document"
    );
}

#[test]
fn a_batch_answers_as_its_searches_one_by_one() {
    let engine = library();
    let reqs = vec![
        SearchRequest::new(QUESTION),
        SearchRequest::new("school road bridge")
            .mode(Mode::Lexical)
            .k(3),
        SearchRequest::new("farm")
            .k(4)
            .offset(2)
            .group_size(Some(1)),
        SearchRequest::new("river city").filter(
            Condition::parse(&json!({"type": "eq", "key": "dept", "value": "water"})).unwrap(),
        ),
    ];
    let batch = engine.search_batch(&reqs).unwrap();
    assert_eq!(batch.len(), reqs.len());
    for (r, page) in reqs.iter().zip(&batch) {
        assert_eq!(*page, engine.search_page(r).unwrap());
    }
    let msg = |reqs: &[SearchRequest]| engine.search_batch(reqs).unwrap_err().to_string();
    assert_eq!(msg(&[]), "a batch holds 1 to 32 queries (0 given)");
    assert_eq!(
        msg(&vec![SearchRequest::new("q"); 33]),
        "a batch holds 1 to 32 queries (33 given)"
    );
    assert_eq!(
        msg(&[SearchRequest::new("q"), SearchRequest::new(" ")]),
        "queries[1]: query must not be empty"
    );
}

/// A filter as the property test draws it: its JSON and, independently of the engine's
/// evaluator, whether a document's metadata passes it.
#[derive(Debug, Clone)]
enum F {
    YearGte(i64),
    YearLt(i64),
    DeptEq(usize),
    DeptIn(Vec<usize>),
    TagContains(usize),
    DraftExists,
    Not(Box<F>),
    And(Vec<F>),
    Or(Vec<F>),
}

impl F {
    fn json(&self) -> Value {
        match self {
            F::YearGte(y) => json!({"type": "gte", "key": "year", "value": y}),
            F::YearLt(y) => json!({"type": "lt", "key": "year", "value": y}),
            F::DeptEq(d) => json!({"type": "eq", "key": "dept", "value": DEPTS[*d]}),
            F::DeptIn(ds) => {
                json!({"type": "in", "key": "dept", "value": ds.iter().map(|d| DEPTS[*d]).collect::<Vec<_>>()})
            }
            F::TagContains(t) => json!({"type": "contains", "key": "tags", "value": WORDS[*t]}),
            F::DraftExists => json!({"type": "exists", "key": "draft"}),
            F::Not(f) => json!({"type": "not", "filter": f.json()}),
            F::And(fs) => {
                json!({"type": "and", "filters": fs.iter().map(F::json).collect::<Vec<_>>()})
            }
            F::Or(fs) => {
                json!({"type": "or", "filters": fs.iter().map(F::json).collect::<Vec<_>>()})
            }
        }
    }

    /// Whether document number `d` of [`library`] passes.
    fn passes(&self, d: usize) -> bool {
        let year = 2020 + (d % 6) as i64;
        match self {
            F::YearGte(y) => year >= *y,
            F::YearLt(y) => year < *y,
            F::DeptEq(x) => d % 3 == *x,
            F::DeptIn(xs) => xs.contains(&(d % 3)),
            F::TagContains(t) => d % 5 == *t || (d + 2) % 5 == *t,
            F::DraftExists => d.is_multiple_of(4),
            F::Not(f) => !f.passes(d),
            F::And(fs) => fs.iter().all(|f| f.passes(d)),
            F::Or(fs) => fs.iter().any(|f| f.passes(d)),
        }
    }
}

fn filters() -> impl Drawn<Value = F> {
    let leaf = prop_oneof![
        (2019i64..2027).prop_map(F::YearGte),
        (2019i64..2027).prop_map(F::YearLt),
        (0usize..3).prop_map(F::DeptEq),
        proptest::collection::vec(0usize..3, 1..3).prop_map(F::DeptIn),
        (0usize..6).prop_map(F::TagContains),
        Just(F::DraftExists),
    ];
    leaf.prop_recursive(3, 12, 3, |inner| {
        prop_oneof![
            inner.clone().prop_map(|f| F::Not(Box::new(f))),
            proptest::collection::vec(inner.clone(), 1..4).prop_map(F::And),
            proptest::collection::vec(inner, 1..4).prop_map(F::Or),
        ]
    })
}

fn doc_number(h: &Hit) -> usize {
    h.passage.doc["doc-".len()..].parse().expect("doc-NN")
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    /// A filtered search equals the exact unfiltered ranking with the filter applied by hand
    /// (dense and lexical); hybrid returns only what passes, `k` of it when there is that much.
    #[test]
    fn filtered_search_is_the_exact_ranking_filtered(f in filters(), k in 1usize..12, q in 0usize..4) {
        let engine = library();
        let question = ["green lake water in summer", "school road", "farm bridge river", "plan"][q];
        let condition = Condition::parse(&f.json()).unwrap();
        let total = engine.stats(&Condition::all()).unwrap().passages;
        let passing: usize = engine
            .documents()
            .unwrap()
            .iter()
            .filter(|d| f.passes(d.doc["doc-".len()..].parse().unwrap()))
            .map(|d| d.passages)
            .sum();
        for mode in [Mode::Dense, Mode::Lexical, Mode::Hybrid] {
            let req = SearchRequest::new(question).mode(mode).k(k).filter(condition.clone());
            let filtered = engine.search(&req).unwrap();
            prop_assert!(filtered.iter().all(|h| f.passes(doc_number(h))), "{mode:?}");
            if mode == Mode::Hybrid {
                prop_assert_eq!(filtered.len(), k.min(passing));
                continue;
            }
            let exact: Vec<String> = engine
                .search(&SearchRequest::new(question).mode(mode).k(total.min(100)))
                .unwrap()
                .iter()
                .filter(|h| f.passes(doc_number(h)))
                .take(k)
                .map(|h| h.passage.id.clone())
                .collect();
            prop_assert_eq!(ids(&filtered), exact, "{:?}", mode);
        }
    }
}
