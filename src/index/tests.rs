//! Index persistence with hand-made vectors: round trip, model mismatch, delete, crash safety.

use std::path::Path;

use super::persist::read_manifest;
use super::vector::EXACT_BELOW;
use super::*;
use crate::embed::ModelId;
use crate::search::dense;

fn model(dim: usize) -> ModelId {
    ModelId {
        name: "m".into(),
        dim,
        fingerprint: "f".into(),
    }
}

fn unit(i: usize, dim: usize) -> Vec<f32> {
    use rand::{Rng, SeedableRng};
    let mut rng = rand::rngs::StdRng::seed_from_u64(i as u64);
    let mut v: Vec<f32> = (0..dim).map(|_| rng.gen::<f32>() - 0.5).collect();
    let n = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    v.iter_mut().for_each(|x| *x /= n);
    v
}

fn doc(name: &str, n: usize, dim: usize, seed: usize) -> (Vec<Passage>, Vec<PassageVectors>) {
    let ps = (0..n)
        .map(|i| Passage {
            id: format!("{name}#{}", i + 1),
            doc: name.into(),
            title: format!("{name} title"),
            section: Some("一、总体".into()),
            clause: Some((i + 1).to_string()),
            text: format!("{name} passage {i}"),
            start: i * 10,
            end: i * 10 + 9,
        })
        .collect();
    let vs = (0..n).map(|i| unit(seed + i, dim).into()).collect();
    (ps, vs)
}

fn ids(index: &Index, q: &[f32], k: usize) -> Vec<String> {
    dense::search(index, q, k, Filter::default())
        .into_iter()
        .map(|(key, _)| index.passage(key).unwrap().id.clone())
        .collect()
}

#[test]
fn round_trip_gives_same_results() {
    let dir = tempfile::tempdir().unwrap();
    let mut index = Index::new(model(8))
        .with_documents(vec![doc("a", 5, 8, 0), doc("b", EXACT_BELOW + 50, 8, 100)])
        .unwrap();
    let q = unit(3, 8);
    let before = ids(&index, &q, 10);
    index.save(dir.path()).unwrap();
    let reopened = Index::open(dir.path(), &model(8)).unwrap();
    assert_eq!(reopened.passages(), index.passages());
    assert_eq!(ids(&reopened, &q, 10), before);
    assert_eq!(reopened.documents().len(), 2);
    assert_eq!(
        reopened
            .passage(reopened.find("a#3").unwrap())
            .unwrap()
            .clause
            .as_deref(),
        Some("3")
    );
}

#[test]
fn another_model_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    Index::new(model(8))
        .with_documents(vec![doc("a", 3, 8, 0)])
        .unwrap()
        .save(dir.path())
        .unwrap();
    let other = ModelId {
        name: "other".into(),
        dim: 8,
        fingerprint: "g".into(),
    };
    let err = Index::open(dir.path(), &other)
        .err()
        .expect("must refuse")
        .to_string();
    assert!(err.contains("built with model m"), "{err}");
    assert!(Index::open(dir.path(), &model(16)).is_err());
}

#[test]
fn delete_removes_a_document_everywhere() {
    let dir = tempfile::tempdir().unwrap();
    let index = Index::new(model(8))
        .with_documents(vec![doc("a", 4, 8, 0), doc("b", 4, 8, 50)])
        .unwrap();
    let (mut without, removed) = index.without_document("a").unwrap();
    assert_eq!(removed, 4);
    assert!(ids(&without, &unit(0, 8), 10)
        .iter()
        .all(|id| id.starts_with("b#")));
    without.save(dir.path()).unwrap();
    let reopened = Index::open(dir.path(), &model(8)).unwrap();
    assert_eq!(reopened.len(), 4);
    assert!(!reopened.has_document("a"));
    let (_, none) = reopened.without_document("zzz").unwrap();
    assert_eq!(none, 0);
}

#[test]
fn re_adding_a_document_replaces_it() {
    let index = Index::new(model(8))
        .with_documents(vec![doc("a", 4, 8, 0)])
        .unwrap();
    let index = index.with_documents(vec![doc("a", 2, 8, 9)]).unwrap();
    assert_eq!(index.len(), 2);
}

#[test]
fn interrupted_save_leaves_the_previous_index_readable() {
    let dir = tempfile::tempdir().unwrap();
    let mut first = Index::new(model(8))
        .with_documents(vec![doc("a", 3, 8, 0)])
        .unwrap();
    first.save(dir.path()).unwrap();
    let mut second = first.with_documents(vec![doc("b", 3, 8, 10)]).unwrap();
    // Fail at each write in turn: vectors, then the manifest.
    for fail_on in ["vectors.f32", "manifest.json.tmp"] {
        let err = second.save_with(dir.path(), &mut |p: &Path| {
            if p.ends_with(fail_on) {
                Err(std::io::Error::other("disk full (injected)"))
            } else {
                Ok(())
            }
        });
        assert!(err.is_err());
        let reopened = Index::open(dir.path(), &model(8)).unwrap();
        assert_eq!(reopened.documents().len(), 1, "after failing on {fail_on}");
        assert_eq!(reopened.passages(), first.passages());
    }
    second.save(dir.path()).unwrap();
    assert_eq!(
        Index::open(dir.path(), &model(8))
            .unwrap()
            .documents()
            .len(),
        2
    );
}

#[test]
fn exact_and_graph_search_agree_on_the_nearest() {
    let small = Index::new(model(8))
        .with_documents(vec![doc("a", 10, 8, 0)])
        .unwrap();
    let big = Index::new(model(8))
        .with_documents(vec![
            doc("a", 10, 8, 0),
            doc("b", EXACT_BELOW + 100, 8, 10_000),
        ])
        .unwrap();
    let q = unit(4, 8);
    assert_eq!(ids(&small, &q, 1), ["a#5"]);
    let top = dense::search(&big, &q, 1, Filter::default())[0];
    assert!(top.1 > 0.9999);
    let filtered = ids(&big, &q, 5);
    assert_eq!(filtered.len(), 5);
    let only_b: Vec<String> = dense::search(
        &big,
        &q,
        5,
        Filter {
            doc: Some("b"),
            exclude: &[],
        },
    )
    .into_iter()
    .map(|(k, _)| big.passage(k).unwrap().doc.clone())
    .collect();
    assert!(only_b.iter().all(|d| d == "b") && only_b.len() == 5);
}

#[test]
fn lexical_and_vector_sides_agree_on_live_passages() {
    let dir = tempfile::tempdir().unwrap();
    let mut index = Index::new(model(8))
        .with_documents(vec![doc("a", 3, 8, 0), doc("b", 3, 8, 10)])
        .unwrap();
    assert_eq!(index.lexical("passage", 10, None).unwrap().hits.len(), 6);
    index.save(dir.path()).unwrap();
    let (mut without, _) = Index::open(dir.path(), &model(8))
        .unwrap()
        .without_document("a")
        .unwrap();
    without.save(dir.path()).unwrap();
    let reopened = Index::open(dir.path(), &model(8)).unwrap();
    let lexical: Vec<String> = reopened
        .lexical("passage", 10, None)
        .unwrap()
        .hits
        .iter()
        .map(|(k, _)| reopened.passage(*k).unwrap().doc.clone())
        .collect();
    let dense: Vec<String> = dense::search(&reopened, &unit(0, 8), 10, Filter::default())
        .iter()
        .map(|(k, _)| reopened.passage(*k).unwrap().doc.clone())
        .collect();
    assert_eq!(lexical, ["b", "b", "b"]);
    assert_eq!(dense, ["b", "b", "b"]);
    assert!(reopened
        .lexical("a", 10, Some("a"))
        .unwrap()
        .hits
        .is_empty());
}

/// `doc` whose passages each carry two sentence vectors (seeded apart from the passage's).
/// Tests that rank by them use 64 dimensions, where random unit vectors are nearly orthogonal.
fn doc_with_sentences(
    name: &str,
    n: usize,
    dim: usize,
    seed: usize,
) -> (Vec<Passage>, Vec<PassageVectors>) {
    let (ps, mut vs) = doc(name, n, dim, seed);
    for (i, v) in vs.iter_mut().enumerate() {
        v.sentences = (0..2)
            .map(|j| SentenceVector {
                start: j * 4,
                end: j * 4 + 4,
                vector: unit(10_000 + seed + 2 * i + j as usize, dim),
            })
            .collect();
    }
    (ps, vs)
}

#[test]
fn a_passage_is_found_by_its_best_sentence() {
    let index = Index::new(model(64))
        .with_documents(vec![doc_with_sentences("a", 6, 64, 0)])
        .unwrap();
    // The query is exactly the second sentence of a#4: its score is the mean of 1 and the
    // passage's own cosine, above any passage whose whole vector merely resembles the query.
    let q = index.sentences(3)[1].vector.to_vec();
    let top = dense::search(&index, &q, 3, Filter::default());
    assert_eq!(index.passage(top[0].0).unwrap().id, "a#4");
    let whole = crate::kernels::dot(&q, index.passage_vector(3).unwrap());
    assert!((top[0].1 - (1.0 + whole) / 2.0).abs() < 1e-5);
    // Related passages use whole-text vectors only.
    let nearest = index.nearest(index.passage_vector(2).unwrap(), 1, Filter::default());
    assert_eq!(nearest[0], (2, nearest[0].1));
    assert!(nearest[0].1 > 0.9999);
}

#[test]
fn sentence_vectors_survive_save_delete_and_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let mut index = Index::new(model(64))
        .with_documents(vec![
            doc_with_sentences("a", 3, 64, 0),
            doc_with_sentences("b", EXACT_BELOW / 2 + 10, 64, 100),
        ])
        .unwrap();
    index.save(dir.path()).unwrap();
    let reopened = Index::open(dir.path(), &model(64)).unwrap();
    let (without, _) = reopened.without_document("a").unwrap();
    let key = without.find("b#7").unwrap();
    let okey = index.find("b#7").unwrap();
    let got: Vec<(u32, u32, Vec<f32>)> = without
        .sentences(key)
        .iter()
        .map(|s| (s.start, s.end, s.vector.to_vec()))
        .collect();
    let want: Vec<(u32, u32, Vec<f32>)> = index
        .sentences(okey)
        .iter()
        .map(|s| (s.start, s.end, s.vector.to_vec()))
        .collect();
    assert_eq!(got.len(), 2);
    assert_eq!(got, want);
    // The graph over 600 sentences finds an exact sentence match.
    let q = want[1].2.clone();
    assert_eq!(
        without
            .passage(dense::search(&without, &q, 1, Filter::default())[0].0)
            .unwrap()
            .id,
        "b#7"
    );
}

#[test]
fn an_index_without_sentence_files_still_opens_and_a_broken_one_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let mut index = Index::new(model(8))
        .with_documents(vec![doc_with_sentences("a", 4, 8, 0)])
        .unwrap();
    index.save(dir.path()).unwrap();
    let gen = dir.path().join(format!(
        "gen-{}",
        read_manifest(dir.path()).unwrap().generation
    ));
    std::fs::write(
        gen.join("sentences.json"),
        r#"{"counts":[2,2,2],"spans":[]}"#,
    )
    .unwrap();
    let err = Index::open(dir.path(), &model(8))
        .err()
        .expect("must refuse")
        .to_string();
    assert!(err.contains("sentences.json"), "{err}");
    // An index saved before sentence vectors existed: passage vectors alone.
    std::fs::remove_file(gen.join("sentences.json")).unwrap();
    std::fs::remove_file(gen.join("sentences.f32")).unwrap();
    let old = Index::open(dir.path(), &model(8)).unwrap();
    assert!(old.sentences(0).is_empty());
    let q = unit(2, 8);
    assert_eq!(ids(&old, &q, 1), ["a#3"]);
}
