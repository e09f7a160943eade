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
const SECTIONS: [&str; 2] = ["Part A", "Part B"];

/// The heading of paragraph `p` (0-based) of document `d` of [`library`].
fn section_of(d: usize, p: usize) -> Option<usize> {
    (!d.is_multiple_of(3)).then_some(p / 2)
}

/// Twelve documents of four passages each, with metadata: `year` (number), `dept` (string),
/// `tags` (list), and `draft` (boolean) on some only; every document but each third one is
/// Markdown with two headings ([`section_of`]).
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
                let (text, format) = if d.is_multiple_of(3) {
                    (paragraphs.join("\n\n"), Format::Text)
                } else {
                    let part =
                        |name: &str, ps: &[String]| format!("# {name}\n\n{}", ps.join("\n\n"));
                    let text = format!(
                        "{}\n\n{}",
                        part(SECTIONS[0], &paragraphs[..2]),
                        part(SECTIONS[1], &paragraphs[2..])
                    );
                    (text, Format::Markdown)
                };
                RawDocument {
                    pages: Vec::new(),
                    doc: Some(format!("doc-{d:02}")),
                    title: Some(format!("Document {d}")),
                    text,
                    format,
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
    SectionEq(usize),
    SectionEmpty,
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
            F::SectionEq(s) => json!({"type": "eq", "key": "section", "value": SECTIONS[*s]}),
            F::SectionEmpty => json!({"type": "empty", "key": "section"}),
            F::Not(f) => json!({"type": "not", "filter": f.json()}),
            F::And(fs) => {
                json!({"type": "and", "filters": fs.iter().map(F::json).collect::<Vec<_>>()})
            }
            F::Or(fs) => {
                json!({"type": "or", "filters": fs.iter().map(F::json).collect::<Vec<_>>()})
            }
        }
    }

    /// Whether paragraph `p` of document number `d` of [`library`] passes.
    fn passes(&self, d: usize, p: usize) -> bool {
        let year = 2020 + (d % 6) as i64;
        match self {
            F::YearGte(y) => year >= *y,
            F::YearLt(y) => year < *y,
            F::DeptEq(x) => d % 3 == *x,
            F::DeptIn(xs) => xs.contains(&(d % 3)),
            F::TagContains(t) => d % 5 == *t || (d + 2) % 5 == *t,
            F::DraftExists => d.is_multiple_of(4),
            F::SectionEq(s) => section_of(d, p) == Some(*s),
            F::SectionEmpty => section_of(d, p).is_none(),
            F::Not(f) => !f.passes(d, p),
            F::And(fs) => fs.iter().all(|f| f.passes(d, p)),
            F::Or(fs) => fs.iter().any(|f| f.passes(d, p)),
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
        (0usize..2).prop_map(F::SectionEq),
        Just(F::SectionEmpty),
    ];
    leaf.prop_recursive(3, 12, 3, |inner| {
        prop_oneof![
            inner.clone().prop_map(|f| F::Not(Box::new(f))),
            proptest::collection::vec(inner.clone(), 1..4).prop_map(F::And),
            proptest::collection::vec(inner, 1..4).prop_map(F::Or),
        ]
    })
}

/// Document number and paragraph (0-based) of a passage of [`library`].
fn place(p: &Passage) -> (usize, usize) {
    let id: crate::index::PassageId = p.id.parse().expect("an id");
    (p.doc["doc-".len()..].parse().expect("doc-NN"), id.n - 1)
}

impl F {
    fn passes_passage(&self, p: &Passage) -> bool {
        let (d, n) = place(p);
        self.passes(d, n)
    }
}

/// The hybrid ranking of `question` as the engine fuses it, from lists computed without the
/// filter (every passage, exactly) and filtered by hand: what a filtered hybrid search must
/// return when the filter is applied inside each list before its cut.
fn exact_hybrid(engine: &Engine, question: &str, f: &F, k: usize) -> Vec<String> {
    use crate::config::FUSION_DEPTH;
    use crate::index::lexical::LexicalHits;
    use crate::index::DocFilter;
    use crate::search::{fusion, retrieve, Query};
    let snap = engine.snapshot().unwrap();
    let snap = snap.as_ref();
    let q = engine.embed_query(question).unwrap();
    let background = Judge::new(snap, question, &q, engine.options.relevance)
        .unwrap()
        .background();
    assert!(!background.mixed, "one script: no reordering by script");
    let (all, total) = (DocFilter::All, snap.len());
    let depth = (k + 1).max(FUSION_DEPTH);
    let passing = |hits: Vec<(Key, f32)>| -> Vec<(Key, f32)> {
        hits.into_iter()
            .filter(|h| f.passes_passage(&snap.passage(h.0).unwrap()))
            .take(depth)
            .collect()
    };
    let every = Query {
        text: question,
        vector: &q,
        k: total,
        mode: Mode::Dense,
        docs: &all,
        background: &background,
    };
    let dense = passing(retrieve(snap, &every, &engine.options.fusion).unwrap());
    let raw = snap.lexical(question, total, &all).unwrap();
    let lex = passing(raw.hits.clone());
    let best = lex.first().map(|h| snap.passage(h.0).unwrap().text);
    let lexical = LexicalHits::new(lex, raw.terms, raw.known.clone(), best.as_deref());
    let dense_keys: Vec<Key> = dense.iter().map(|h| h.0).collect();
    let dense_scores: Vec<f32> = dense.iter().map(|h| h.1).collect();
    let lex_keys: Vec<Key> = lexical.hits.iter().map(|h| h.0).collect();
    let top: Vec<String> = snap
        .passages(&dense_keys[..dense_keys.len().min(3)])
        .unwrap()
        .into_iter()
        .map(|p| p.text)
        .collect();
    let top: Vec<&str> = top.iter().map(String::as_str).collect();
    let params = &engine.options.fusion;
    let agreement = fusion::language_agreement(question, &top);
    let w = params.lexical_weight_for(lexical.language_match, lexical.coverage, agreement);
    let wd = params.dense_weight_for(&dense_scores);
    let fused = fusion::rrf(&[(&dense_keys, wd), (&lex_keys, w)], params.k);
    let keys: Vec<Key> = fused.iter().take(k).map(|h| h.0).collect();
    snap.passages(&keys)
        .unwrap()
        .into_iter()
        .map(|p| p.id)
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    /// A filtered search equals the exact unfiltered ranking with the filter applied by hand
    /// (dense and lexical), and hybrid the fusion of those two lists filtered by hand; each
    /// returns `k` passing passages when there are that many.
    #[test]
    fn filtered_search_is_the_exact_ranking_filtered(f in filters(), k in 1usize..12, q in 0usize..4) {
        let engine = library();
        let question = ["green lake water in summer", "school road", "farm bridge river", "plan"][q];
        let condition = Condition::parse(&f.json()).unwrap();
        let total = engine.stats(&Condition::all()).unwrap().passages;
        let passing = (0..12).flat_map(|d| (0..4).map(move |p| (d, p))).filter(|&(d, p)| f.passes(d, p)).count();
        prop_assert_eq!(total, 48);
        for mode in [Mode::Dense, Mode::Lexical, Mode::Hybrid] {
            let req = SearchRequest::new(question).mode(mode).k(k).filter(condition.clone());
            let filtered = engine.search(&req).unwrap();
            prop_assert!(filtered.iter().all(|h| f.passes_passage(&h.passage)), "{mode:?}");
            if mode == Mode::Hybrid {
                prop_assert_eq!(filtered.len(), k.min(passing));
                prop_assert_eq!(ids(&filtered), exact_hybrid(engine, question, &f, k));
                continue;
            }
            let exact: Vec<String> = engine
                .search(&SearchRequest::new(question).mode(mode).k(total.min(100)))
                .unwrap()
                .iter()
                .filter(|h| f.passes_passage(&h.passage))
                .take(k)
                .map(|h| h.passage.id.clone())
                .collect();
            prop_assert_eq!(ids(&filtered), exact, "{:?}", mode);
        }
    }
}
