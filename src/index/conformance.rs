//! What every [`Store`] must do, as one suite that any store runs: the local store in its unit
//! tests, PostgreSQL in the integration tests, and whichever store comes next. Each check
//! panics with what differed, so a store that breaks the contract fails the test that runs it.
//!
//! The passages are hand-made (orthogonal-ish unit vectors, a few words each) and the checks
//! compare against what was written, so nothing here depends on a model.

use std::collections::BTreeSet;

use super::{
    content_hash, DocFilter, Filter, Key, Passage, PassageVectors, SentenceVector, Snapshot, Store,
    Write,
};

/// A unit vector of dimension `dim`, near axis `i % dim` and distinct for every `i`.
fn vector(i: usize, dim: usize) -> Vec<f32> {
    let mut v: Vec<f32> = (0..dim)
        .map(|j| ((i * 31 + j * 17) % 13) as f32 * 0.01)
        .collect();
    v[i % dim] += 1.0;
    let n = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    v.iter_mut().for_each(|x| *x /= n);
    v
}

/// Document `doc` with the passage texts `texts`; vectors from `seed` on.
fn document(
    doc: &str,
    texts: &[&str],
    seed: usize,
    dim: usize,
) -> (Vec<Passage>, Vec<PassageVectors>) {
    let mut start = 0;
    let passages = texts
        .iter()
        .enumerate()
        .map(|(i, t)| {
            let len = t.chars().count();
            let p = Passage {
                id: super::PassageId::format(doc, i + 1),
                doc: doc.into(),
                title: format!("{doc} title"),
                // The first two under one heading, the rest outside any.
                section: (i < 2).then(|| "intro".to_string()),
                clause: Some((i + 1).to_string()),
                text: t.to_string(),
                start,
                end: start + len,
                // Some with a page and some without, so both round-trip in every store.
                page: (i % 2 == 0).then_some(i as u32 + 1),
                metadata: Default::default(),
            };
            start += len + 1;
            p
        })
        .collect();
    let vectors = texts
        .iter()
        .enumerate()
        .map(|(i, t)| PassageVectors {
            passage: vector(seed + i, dim),
            sentences: vec![SentenceVector {
                start: 0,
                end: t.chars().count() as u32,
                vector: vector(seed + i + 100, dim),
            }],
        })
        .collect();
    (passages, vectors)
}

fn keys_of(s: &dyn Snapshot, ids: &[&str]) -> Vec<Key> {
    ids.iter()
        .map(|id| {
            s.find(id)
                .unwrap()
                .unwrap_or_else(|| panic!("{id} not found"))
        })
        .collect()
}

fn ids_of(s: &dyn Snapshot, hits: &[(Key, f32)]) -> Vec<String> {
    let keys: Vec<Key> = hits.iter().map(|h| h.0).collect();
    s.passages(&keys)
        .unwrap()
        .into_iter()
        .map(|p| p.id)
        .collect()
}

/// Runs every check on `store`, which must be empty and hold vectors of dimension `dim`.
pub fn run(store: &dyn Store, dim: usize) {
    assert!(dim >= 8, "the suite needs at least 8 dimensions");
    empty(store);
    let a = document(
        "a",
        &["lake tai summer", "river flood control", "city park trees"],
        0,
        dim,
    );
    let b = document("b", &["lake tai winter", "学校午餐 school meals"], 3, dim);
    assert_eq!(
        store
            .apply(Write::Upsert(vec![a.clone(), b.clone()]))
            .unwrap(),
        5
    );
    let before = store.snapshot().unwrap();
    reads(before.as_ref(), &a, &b);
    searches(before.as_ref(), &a, dim);
    sections(before.as_ref(), dim);
    // A replacement and a delete; the snapshot taken before still reads the old state.
    let a2 = document("a", &["harbour works"], 7, dim);
    assert_eq!(store.apply(Write::Upsert(vec![a2.clone()])).unwrap(), 1);
    assert_eq!(store.apply(Write::Delete("b".into())).unwrap(), 2);
    let after = store.snapshot().unwrap();
    assert_eq!(after.len(), 1);
    let docs: Vec<String> = after
        .documents()
        .unwrap()
        .into_iter()
        .map(|d| d.doc)
        .collect();
    assert_eq!(docs, ["a"]);
    assert!(after.find("a#2").unwrap().is_none());
    assert!(!after.has_document("b").unwrap());
    assert_eq!(
        after.passage(keys_of(after.as_ref(), &["a#1"])[0]).unwrap(),
        a2.0[0]
    );
    assert_eq!(before.len(), 5, "an older snapshot saw a later write");
    assert_eq!(
        ids_of(
            before.as_ref(),
            &before
                .nearest(&a.1[1].passage, 1, Filter::default())
                .unwrap()
        ),
        ["a#2"]
    );
    let grouped: Vec<String> = after
        .sections()
        .unwrap()
        .iter()
        .map(|s| format!("{} {:?} {}", s.doc, s.section, s.keys.len()))
        .collect();
    assert_eq!(
        grouped,
        ["a Some(\"intro\") 1"],
        "sections of live passages only"
    );
    let hits = after.lexical("lake", 10, &DocFilter::All).unwrap().hits;
    assert!(
        hits.is_empty(),
        "deleted and replaced text still matches: {hits:?}"
    );
}

fn empty(store: &dyn Store) {
    let s = store.snapshot().unwrap();
    assert_eq!(s.len(), 0);
    assert!(s.documents().unwrap().is_empty());
    assert!(s.find("a#1").unwrap().is_none());
    assert!(s.sample(10).unwrap().is_empty());
    let q = vector(0, s.model().dim);
    assert!(s.nearest(&q, 5, Filter::default()).unwrap().is_empty());
    assert!(s
        .lexical("lake", 5, &DocFilter::All)
        .unwrap()
        .hits
        .is_empty());
}

fn reads(
    s: &dyn Snapshot,
    a: &(Vec<Passage>, Vec<PassageVectors>),
    b: &(Vec<Passage>, Vec<PassageVectors>),
) {
    assert_eq!(s.len(), 5);
    let docs: Vec<(String, usize)> = s
        .documents()
        .unwrap()
        .into_iter()
        .map(|d| (d.doc, d.passages))
        .collect();
    assert_eq!(docs, [("a".to_string(), 3), ("b".to_string(), 2)]);
    assert!(s.has_document("a").unwrap() && !s.has_document("c").unwrap());
    assert_eq!(s.document_hash("b").unwrap(), Some(content_hash(&b.0)));
    assert!(s.find("a#4").unwrap().is_none() && s.find("a#0").unwrap().is_none());
    // Batches answer in the order asked, repeats included.
    let keys = keys_of(s, &["b#2", "a#1", "a#3", "a#1"]);
    let want = [&b.0[1], &a.0[0], &a.0[2], &a.0[0]];
    let got = s.passages(&keys).unwrap();
    assert_eq!(got.iter().collect::<Vec<_>>(), want);
    let vectors = s.vectors(&keys).unwrap();
    for (v, w) in vectors.iter().zip([&b.1[1], &a.1[0], &a.1[2], &a.1[0]]) {
        assert_eq!(v.len(), w.passage.len());
        assert!(v.iter().zip(&w.passage).all(|(x, y)| (x - y).abs() < 1e-5));
    }
    let sentences = s.sentences(&keys).unwrap();
    assert_eq!(sentences.len(), 4);
    assert_eq!((sentences[0][0].start, sentences[0][0].end), (0, 17));
    assert!(s.passages(&[]).unwrap().is_empty());
    // A key the snapshot never handed out is an error, not a panic or a wrong passage.
    assert!(s.passages(&[Key::MAX]).is_err());
    assert_eq!(s.neighbour(keys[1], 1).unwrap(), s.find("a#2").unwrap());
    assert_eq!(s.neighbour(keys[1], -1).unwrap(), None);
    assert_eq!(s.neighbour(keys[0], 1).unwrap(), None);
    // The background sample: distinct live keys, the same ones twice.
    let sample = s.sample(3).unwrap();
    assert!(!sample.is_empty() && sample.len() <= 3);
    assert_eq!(sample.iter().collect::<BTreeSet<_>>().len(), sample.len());
    assert_eq!(s.sample(3).unwrap(), sample);
    assert_eq!(s.sample(100).unwrap().len(), 5);
    // With each passage's script, read from its text, the same when kept between searches.
    let read: Vec<(Key, f32)> = sample
        .iter()
        .zip(s.passages(&sample).unwrap())
        .map(|(k, p)| (*k, crate::text::cjk_share(&p.text)))
        .collect();
    assert_eq!(s.sample_cjk(3).unwrap(), read);
    assert_eq!(s.sample_cjk(3).unwrap(), read);
    assert_eq!(s.sample_cjk(100).unwrap().len(), 5);
    assert_eq!(s.sample_cjk(3).unwrap(), read);
}

fn searches(s: &dyn Snapshot, a: &(Vec<Passage>, Vec<PassageVectors>), dim: usize) {
    let q = &a.1[1].passage;
    let hits = s.nearest(q, 5, Filter::default()).unwrap();
    assert_eq!(hits.len(), 5);
    assert_eq!(ids_of(s, &hits)[0], "a#2");
    assert!(
        (hits[0].1 - 1.0).abs() < 1e-3,
        "cosine of a vector with itself: {}",
        hits[0].1
    );
    assert!(
        hits.windows(2).all(|w| w[0].1 >= w[1].1),
        "not best first: {hits:?}"
    );
    let sentence = &a.1[1].sentences[0].vector;
    let hits = s.nearest_sentences(sentence, 1, Filter::default()).unwrap();
    assert_eq!(ids_of(s, &hits), ["a#2"]);
    // Filters: a set of documents, an empty set, exclusions.
    let only_b = DocFilter::ids(["b", "zz"]);
    let hits = s.nearest(q, 5, Filter::docs(&only_b)).unwrap();
    assert_eq!(
        ids_of(s, &hits)
            .iter()
            .filter(|id| id.starts_with("b#"))
            .count(),
        2
    );
    assert_eq!(hits.len(), 2);
    let none = DocFilter::ids(Vec::<String>::new());
    assert!(s.nearest(q, 5, Filter::docs(&none)).unwrap().is_empty());
    assert!(s
        .nearest_sentences(q, 5, Filter::docs(&none))
        .unwrap()
        .is_empty());
    let first = keys_of(s, &["a#2"]);
    let hits = s
        .nearest(
            q,
            5,
            Filter {
                exclude: &first,
                ..Filter::default()
            },
        )
        .unwrap();
    assert!(!ids_of(s, &hits).contains(&"a#2".to_string()));
    assert_eq!(hits.len(), 4);
    let far = vector(dim - 1, dim);
    assert_eq!(s.nearest(&far, 100, Filter::default()).unwrap().len(), 5);
    // Words: BM25 over the same terms, filtered the same way.
    let lex = s.lexical("lake tai", 10, &DocFilter::All).unwrap();
    let mut got = ids_of(s, &lex.hits);
    got.sort();
    assert_eq!(got, ["a#1", "b#1"]);
    assert_eq!(lex.terms, 2);
    let lex = s.lexical("lake tai", 10, &DocFilter::ids(["b"])).unwrap();
    assert_eq!(ids_of(s, &lex.hits), ["b#1"]);
    assert!(s.lexical("lake", 10, &none).unwrap().hits.is_empty());
    assert!(s
        .lexical("nothing here", 10, &DocFilter::All)
        .unwrap()
        .hits
        .is_empty());
}

/// Passages by section, and a filter on `section` inside every search.
fn sections(s: &dyn Snapshot, dim: usize) {
    let mut grouped: Vec<(String, Option<String>, Vec<String>)> = s
        .sections()
        .unwrap()
        .into_iter()
        .map(|g| {
            let mut ids: Vec<String> = s
                .passages(&g.keys)
                .unwrap()
                .into_iter()
                .map(|p| p.id)
                .collect();
            ids.sort();
            (g.doc, g.section, ids)
        })
        .collect();
    grouped.sort();
    let intro = Some("intro".to_string());
    let ids = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    assert_eq!(
        grouped,
        [
            ("a".into(), None, ids(&["a#3"])),
            ("a".into(), intro.clone(), ids(&["a#1", "a#2"])),
            ("b".into(), intro, ids(&["b#1", "b#2"])),
        ]
    );
    let cond = super::Condition::parse(
        &serde_json::json!({"type": "eq", "key": "section", "value": "intro"}),
    )
    .unwrap();
    let only = s.resolve(&cond).unwrap();
    let mut got = ids_of(
        s,
        &s.nearest(&vector(dim - 1, dim), 100, Filter::docs(&only))
            .unwrap(),
    );
    got.sort();
    assert_eq!(got, ["a#1", "a#2", "b#1", "b#2"]);
    let q = &vector(2, dim);
    let mut got = ids_of(
        s,
        &s.nearest_sentences(q, 100, Filter::docs(&only)).unwrap(),
    );
    got.sort();
    got.dedup();
    assert!(!got.contains(&"a#3".to_string()), "{got:?}");
    let mut got = ids_of(s, &s.lexical("lake tai", 10, &only).unwrap().hits);
    got.sort();
    assert_eq!(got, ["a#1", "b#1"]);
    assert!(s.lexical("park trees", 10, &only).unwrap().hits.is_empty());
    let outside =
        super::Condition::parse(&serde_json::json!({"type": "empty", "key": "section"})).unwrap();
    let outside = s.resolve(&outside).unwrap();
    assert_eq!(
        ids_of(s, &s.nearest(q, 5, Filter::docs(&outside)).unwrap()),
        ["a#3"]
    );
    assert_eq!(
        ids_of(s, &s.lexical("park trees", 10, &outside).unwrap().hits),
        ["a#3"]
    );
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_local_store_keeps_the_store_contract() {
        let model = crate::index::tests::model(16);
        let store = crate::index::LocalStore::in_memory(model.clone()).unwrap();
        super::run(&store, model.dim);
        let dir = tempfile::tempdir().unwrap();
        let store = crate::index::LocalStore::open_or_create(dir.path(), &model).unwrap();
        super::run(&store, model.dim);
    }
}
