//! Engine tests on the tiny model: the write path (sentence vectors, ids, validation before any
//! embedding) and answers that reuse stored sentence vectors.

use std::sync::atomic::{AtomicUsize, Ordering};

use super::*;
use crate::embed::tiny;
use crate::embed::{EmbedError, ModelId, TextEmbedder, TextKind};
use crate::index::Condition;
use crate::ingest::{self, Format, RawDocument};
use crate::kernels::dot;

/// Counts the texts it embeds.
struct Counting(TextEmbedder, AtomicUsize);

impl Embedder for Counting {
    fn id(&self) -> &ModelId {
        self.0.id()
    }
    fn embed(&self, texts: &[&str], kind: TextKind) -> Result<Vec<Vec<f32>>, EmbedError> {
        self.1.fetch_add(texts.len(), Ordering::SeqCst);
        self.0.embed(texts, kind)
    }
    fn count_tokens(&self, text: &str, kind: TextKind) -> Result<usize, EmbedError> {
        self.0.count_tokens(text, kind)
    }
}

fn counting_engine() -> (Arc<Counting>, Engine) {
    let counting = Arc::new(Counting(tiny::embedder(1, false), AtomicUsize::new(0)));
    let engine = Engine::open(counting.clone(), None, Options::default()).unwrap();
    (counting, engine)
}

fn note(doc: Option<&str>, title: Option<&str>, text: &str) -> RawDocument {
    RawDocument {
        pages: Vec::new(),
        doc: doc.map(String::from),
        title: title.map(String::from),
        text: text.into(),
        format: Format::Text,
        clean: false,
        metadata: Default::default(),
    }
}

#[test]
fn passages_get_sentence_vectors_and_answers_reuse_them() {
    let (counting, engine) = counting_engine();
    let text = "the lake tai. suzhou plan five year.\ncity river summer";
    engine
        .ingest(&[note(Some("d"), None, text)], &|_| {})
        .unwrap();
    // Two passages, then the two sentences of the first; the second is one sentence whose
    // vector is its passage's.
    assert_eq!(counting.1.load(Ordering::SeqCst), 4);
    let snap = engine.snapshot().unwrap();
    let first = snap.find("d#1").unwrap().unwrap();
    let spans: Vec<(u32, u32)> = snap
        .sentences(&[first])
        .unwrap()
        .remove(0)
        .iter()
        .map(|s| (s.start, s.end))
        .collect();
    let want: Vec<(u32, u32)> = ingest::split::sentences("the lake tai. suzhou plan five year.")
        .into_iter()
        .map(|(a, b)| (a as u32, b as u32))
        .collect();
    assert_eq!(spans, want);
    assert_eq!(spans.len(), 2);
    let second = snap.find("d#2").unwrap().unwrap();
    assert_eq!(snap.sentences(&[second]).unwrap().remove(0).len(), 1);
    assert_eq!(
        snap.sentences(&[second]).unwrap().remove(0)[0].vector,
        snap.vectors(&[second]).unwrap()[0]
    );
    let alone = counting
        .0
        .embed(&["suzhou plan five year."], TextKind::Passage)
        .unwrap();
    assert!(
        dot(
            snap.sentences(&[first]).unwrap().remove(0)[1].vector,
            &alone[0]
        ) > 0.9999
    );

    counting.1.store(0, Ordering::SeqCst);
    let asked = engine.ask(&SearchRequest::new("suzhou plan").k(2)).unwrap();
    assert_eq!(asked.hits.len(), 2);
    assert!(asked.answer.is_some());
    // Only the question was embedded.
    assert_eq!(counting.1.load(Ordering::SeqCst), 1);
}

#[test]
fn bad_input_is_refused_before_anything_is_embedded() {
    let (counting, engine) = counting_engine();
    let good = note(Some("a"), None, "the lake");
    for (bad, msg) in [
        (note(Some("x#1"), None, "the lake"), "must not contain"),
        (note(Some(" "), None, "the lake"), "must not be empty"),
        (note(Some("a"), None, "the city"), "two documents with id"),
        (note(Some("e"), None, " \n \n"), "no text left"),
        (
            note(
                Some("s"),
                None,
                &"甲。".repeat(crate::config::MAX_DOC_SENTENCES + 1),
            ),
            "100001 sentences, more than the 100000",
        ),
        (
            note(
                Some("p"),
                None,
                &"一段很长的文字，说明一件事情。\n".repeat(12_000),
            ),
            "passages, more than the 10000",
        ),
    ] {
        let err = engine
            .ingest(&[good.clone(), bad], &|_| {})
            .unwrap_err()
            .to_string();
        assert!(err.contains(msg), "{err}");
        assert!(engine.documents().unwrap().is_empty());
    }
    assert_eq!(counting.1.load(Ordering::SeqCst), 0);
}

#[test]
fn one_line_documents_are_kept() {
    let (_, engine) = counting_engine();
    let mut lines = Vec::new();
    for (i, text) in [
        "今天灯塔看守人数了四十二只海鸥。",
        "Today the lighthouse keeper counted 42 gulls.",
    ]
    .iter()
    .enumerate()
    {
        let raw = RawDocument::new(format!("n{i}"), *text, Format::Text);
        assert!(raw.clean, "cleaning is on: the line must survive it");
        lines.push(raw);
    }
    let done = engine.ingest(&lines, &|_| {}).unwrap();
    assert_eq!(done.iter().map(|d| d.passages).collect::<Vec<_>>(), [1, 1]);
    assert_eq!(
        engine.passage("n0#1", &Condition::all()).unwrap().text,
        "今天灯塔看守人数了四十二只海鸥。"
    );
}

#[test]
fn documents_without_id_never_replace_each_other() {
    let (_, engine) = counting_engine();
    let engine = Arc::new(engine);
    // Writers race with the same title and no id: every one must end up a document of its own.
    let threads: Vec<_> = (0..4)
        .map(|i| {
            let engine = engine.clone();
            std::thread::spawn(move || {
                let raw = note(None, Some("Same Title"), &format!("the lake {i}"));
                engine.ingest(&[raw], &|_| {}).unwrap().remove(0).doc
            })
        })
        .collect();
    let mut ids: Vec<String> = threads.into_iter().map(|t| t.join().unwrap()).collect();
    ids.sort();
    assert_eq!(
        ids,
        ["same-title", "same-title-2", "same-title-3", "same-title-4"]
    );
    assert_eq!(engine.documents().unwrap().len(), 4);
    // In one batch too.
    let two = [
        note(None, Some("Same Title"), "a"),
        note(None, Some("Same Title"), "b"),
    ];
    let done = engine.ingest(&two, &|_| {}).unwrap();
    assert_eq!(done[0].doc, "same-title-5");
    assert_eq!(done[1].doc, "same-title-6");
}

#[test]
fn unchanged_documents_are_not_embedded_again() {
    let (counting, engine) = counting_engine();
    let docs = [
        note(Some("a"), None, "the lake\nthe city"),
        note(Some("b"), None, "the river"),
    ];
    engine.ingest(&docs[..1], &|_| {}).unwrap();
    // An interrupted run committed "a"; the rerun embeds only "b".
    counting.1.store(0, Ordering::SeqCst);
    let done = engine.ingest(&docs, &|_| {}).unwrap();
    assert_eq!(
        done.iter().map(|d| d.unchanged).collect::<Vec<_>>(),
        [true, false]
    );
    assert_eq!(counting.1.load(Ordering::SeqCst), 1);
    counting.1.store(0, Ordering::SeqCst);
    assert!(engine
        .ingest(&docs, &|_| {})
        .unwrap()
        .iter()
        .all(|d| d.unchanged));
    assert_eq!(counting.1.load(Ordering::SeqCst), 0);
    // A changed document is embedded and replaces the old one.
    let changed = note(Some("b"), None, "the river\nthe plan");
    let done = engine.ingest(&[changed], &|_| {}).unwrap();
    assert!(!done[0].unchanged);
    assert_eq!(engine.documents().unwrap()[1].passages, 2);
}

#[test]
fn a_given_id_replaces_and_delete_is_exact() {
    let (_, engine) = counting_engine();
    engine
        .ingest(&[note(Some("d"), None, "the lake\nthe city")], &|_| {})
        .unwrap();
    engine
        .ingest(&[note(Some("d"), None, "the river")], &|_| {})
        .unwrap();
    assert_eq!(engine.documents().unwrap()[0].passages, 1);
    assert_eq!(engine.delete("d").unwrap(), 1);
    assert!(matches!(engine.delete("d"), Err(Error::NotFound(_))));
    assert!(engine.snapshot().unwrap().is_empty());
}

#[test]
fn requests_are_validated_once_for_every_path() {
    let (_, engine) = counting_engine();
    for bad in [
        SearchRequest::new(""),
        SearchRequest::new("q").k(0),
        SearchRequest::new("q").k(101),
    ] {
        assert!(matches!(engine.search(&bad), Err(Error::InvalidInput(_))));
        assert!(matches!(engine.ask(&bad), Err(Error::InvalidInput(_))));
    }
    assert!(matches!(
        engine.related("x#1", 0, false, &Condition::all()),
        Err(Error::InvalidInput(_))
    ));
    assert!(matches!(
        engine.related("x#1", 5, false, &Condition::all()),
        Err(Error::NotFound(_))
    ));
}

#[test]
fn ask_honours_the_document_filter() {
    let (_, engine) = counting_engine();
    engine
        .ingest(
            &[
                note(Some("a"), None, "the lake tai safe"),
                note(Some("b"), None, "the lake tai summer"),
            ],
            &|_| {},
        )
        .unwrap();
    // The tiny model's relevance means nothing: a threshold of 0 takes any passage as found.
    let req = SearchRequest::new("lake tai")
        .doc(Some("b".into()))
        .min_relevance(Some(0.0));
    let asked = engine.ask(&req).unwrap();
    assert!(asked.found);
    assert!(asked.hits.iter().all(|h| h.passage.doc == "b"));
    assert_eq!(asked.answer.unwrap().passage_id, "b#1");
}

#[test]
fn a_filter_of_several_documents_is_one_search() {
    let (counting, engine) = counting_engine();
    let docs: Vec<RawDocument> = ["a", "b", "c", "d"]
        .iter()
        .map(|d| note(Some(d), None, "the lake tai safe in summer"))
        .collect();
    engine.ingest(&docs, &|_| {}).unwrap();
    let before = counting.1.load(Ordering::SeqCst);
    for mode in [Mode::Hybrid, Mode::Dense, Mode::Lexical] {
        let req = SearchRequest::new("lake tai")
            .k(10)
            .mode(mode)
            .docs(crate::index::DocFilter::ids(["b", "d", "missing"]));
        let hits = engine.search(&req).unwrap();
        let mut got: Vec<&str> = hits.iter().map(|h| h.passage.doc.as_str()).collect();
        got.sort();
        assert_eq!(got, ["b", "d"], "{mode:?}");
    }
    // The question was embedded once per search, whatever the filter names.
    assert_eq!(counting.1.load(Ordering::SeqCst) - before, 3);
    // A filter narrowed to nothing finds nothing.
    let none =
        SearchRequest::new("lake tai").docs(crate::index::DocFilter::ids(Vec::<String>::new()));
    assert!(engine.search(&none).unwrap().is_empty());
    // Beyond the cap, a clear error before any work.
    let many =
        crate::index::DocFilter::ids((0..=crate::config::MAX_FILTER_DOCS).map(|i| i.to_string()));
    let err = engine
        .search(&SearchRequest::new("lake").docs(many))
        .unwrap_err();
    assert!(err.to_string().contains("at most 100 documents"), "{err}");
}

#[test]
fn not_found_means_no_answer_and_relevance_is_a_share() {
    let (_, engine) = counting_engine();
    engine
        .ingest(
            &[note(
                Some("a"),
                None,
                "the lake tai safe. the summer is long.",
            )],
            &|_| {},
        )
        .unwrap();
    for mode in [Mode::Hybrid, Mode::Dense, Mode::Lexical] {
        let hits = engine
            .search(&SearchRequest::new("lake tai").mode(mode))
            .unwrap();
        assert!(!hits.is_empty());
        assert!(
            hits.iter().all(|h| (0.0..=1.0).contains(&h.relevance)),
            "{mode:?}"
        );
    }
    // Found exactly when a passage reaches the threshold, and never an answer without it.
    for min in [0.0, 0.5, 1.0] {
        let asked = engine
            .ask(&SearchRequest::new("lake tai").min_relevance(Some(min)))
            .unwrap();
        assert_eq!(asked.found, asked.hits.iter().any(|h| h.relevance >= min));
        assert!(asked.found || asked.answer.is_none());
        assert!(!asked.hits.is_empty());
    }
    let err = engine
        .ask(&SearchRequest::new("lake tai").min_relevance(Some(-0.1)))
        .unwrap_err();
    assert!(err.to_string().contains("min_relevance"), "{err}");
}

#[test]
fn a_write_past_its_deadline_stops_and_writes_nothing() {
    let (counting, engine) = counting_engine();
    let docs = [note(Some("a"), None, "the lake\n\nthe city")];
    let err = engine
        .ingest_by(&docs, &|_| {}, write::Deadline::after(0.0))
        .unwrap_err();
    assert!(matches!(err, Error::Deadline(_)), "{err}");
    assert!(engine.documents().unwrap().is_empty());
    assert_eq!(counting.1.load(Ordering::SeqCst), 0);
    let done = engine
        .ingest_by(&docs, &|_| {}, write::Deadline::after(60.0))
        .unwrap();
    assert_eq!(done.len(), 1);
}

#[test]
fn the_sample_carries_each_passages_script_read_once_per_state() {
    let (_, engine) = counting_engine();
    let texts = [
        "太湖连续十八年安全度夏。",
        "the lake tai stayed safe.",
        "苏州 river 太湖",
    ];
    for (i, t) in texts.iter().enumerate() {
        let id = format!("n{i}");
        engine
            .ingest(&[note(Some(id.as_str()), None, t)], &|_| {})
            .unwrap();
    }
    let snap = engine.snapshot().unwrap();
    let keys = snap.sample(256).unwrap();
    let read: Vec<(Key, f32)> = snap
        .passages(&keys)
        .unwrap()
        .iter()
        .zip(&keys)
        .map(|(p, &k)| (k, crate::text::cjk_share(&p.text)))
        .collect();
    assert_eq!(read.len(), 3);
    // Computed once, then kept: the same answer as reading the texts.
    assert_eq!(snap.sample_cjk(256).unwrap(), read);
    assert_eq!(snap.sample_cjk(256).unwrap(), read);
    assert_eq!(snap.sample_cjk(2).unwrap().len(), 2);
    assert!(read.iter().any(|r| r.1 > 0.9) && read.iter().any(|r| r.1 == 0.0));
}
