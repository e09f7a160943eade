//! The local store with hand-made vectors: round trips through segments, graphs, tombstones and
//! merges against exact search; crash recovery; migration from format 1.

use std::path::Path;

use super::segment::EXACT_BELOW;
use super::*;
use crate::embed::ModelId;
use crate::search::dense;

mod damage;

pub(super) fn model(dim: usize) -> ModelId {
    ModelId {
        name: "m".into(),
        dim,
        fingerprint: "f".into(),
    }
}

pub(super) fn unit(i: usize, dim: usize) -> Vec<f32> {
    use rand::{Rng, SeedableRng};
    let mut rng = rand::rngs::StdRng::seed_from_u64(i as u64);
    let mut v: Vec<f32> = (0..dim).map(|_| rng.gen::<f32>() - 0.5).collect();
    let n = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    v.iter_mut().for_each(|x| *x /= n);
    v
}

pub(super) fn doc(
    name: &str,
    n: usize,
    dim: usize,
    seed: usize,
) -> (Vec<Passage>, Vec<PassageVectors>) {
    let ps = (0..n)
        .map(|i| Passage {
            page: None,
            id: format!("{name}#{}", i + 1),
            doc: name.into(),
            title: format!("{name} title"),
            section: Some("一、总体".into()),
            clause: Some((i + 1).to_string()),
            text: format!("{name} passage {i}"),
            start: i * 10,
            end: i * 10 + 9,
            metadata: Default::default(),
        })
        .collect();
    let vs = (0..n)
        .map(|i| PassageVectors {
            passage: unit(seed + i, dim),
            sentences: (0..2)
                .map(|j| SentenceVector {
                    start: j * 4,
                    end: j * 4 + 4,
                    vector: unit(1_000_000 + seed + 2 * i + j as usize, dim),
                })
                .collect(),
        })
        .collect();
    (ps, vs)
}

pub(super) fn open(dir: &Path, dim: usize) -> LocalStore {
    LocalStore::open_or_create(dir, &model(dim)).unwrap()
}

fn ids(s: &dyn Snapshot, hits: &[(Key, f32)]) -> Vec<String> {
    hits.iter()
        .map(|(k, _)| s.passage(*k).unwrap().id)
        .collect()
}

pub(super) fn dense_ids(s: &dyn Snapshot, q: &[f32], k: usize) -> Vec<String> {
    ids(s, &dense::search(s, q, k, Filter::default()).unwrap())
}

/// Exact nearest whole-passage vectors among live passages, by brute force over `docs`.
fn exact(docs: &[(Vec<Passage>, Vec<PassageVectors>)], q: &[f32], k: usize) -> Vec<String> {
    let mut all: Vec<(String, f32)> = docs
        .iter()
        .flat_map(|(ps, vs)| ps.iter().zip(vs))
        .map(|(p, v)| (p.id.clone(), crate::kernels::dot(q, &v.passage)))
        .collect();
    all.sort_by(|a, b| b.1.total_cmp(&a.1));
    all.into_iter().take(k).map(|a| a.0).collect()
}

#[test]
fn round_trip_through_a_graph_segment_gives_exact_results() {
    let dir = tempfile::tempdir().unwrap();
    let docs = vec![doc("a", 5, 8, 0), doc("b", EXACT_BELOW + 50, 8, 100)];
    let store = open(dir.path(), 8);
    store.apply(Write::Upsert(docs.clone())).unwrap();
    let q = unit(3, 8);
    let before = dense_ids(store.snapshot().unwrap().as_ref(), &q, 10);
    drop(store);
    let store = LocalStore::open(dir.path(), &model(8)).unwrap();
    let s = store.snapshot().unwrap();
    assert_eq!(dense_ids(s.as_ref(), &q, 10), before);
    assert_eq!(s.len(), EXACT_BELOW + 55);
    assert_eq!(s.documents().unwrap().len(), 2);
    let p = s.passage(s.find("a#3").unwrap().unwrap()).unwrap();
    assert_eq!(p.clause.as_deref(), Some("3"));
    assert!(
        s.find("a#6").unwrap().is_none()
            && s.find("a#0").unwrap().is_none()
            && s.find("zz#1").unwrap().is_none()
    );
    // The graph finds the exact nearest whole-passage vectors.
    for i in [7, 900, 4000] {
        let q = docs[1].1[i].passage.clone();
        let got = ids(s.as_ref(), &s.nearest(&q, 10, Filter::default()).unwrap());
        let want = exact(&docs, &q, 10);
        assert_eq!(got[0], want[0]);
        let shared = got.iter().filter(|g| want.contains(g)).count();
        assert!(shared >= 9, "{got:?} vs {want:?}");
    }
    // A document filter scans that document: k results from it alone.
    let only_a = s
        .nearest(&q, 3, Filter::docs(&DocFilter::ids(["a"])))
        .unwrap();
    assert_eq!(only_a.len(), 3);
    assert!(ids(s.as_ref(), &only_a)
        .iter()
        .all(|id| id.starts_with("a#")));
}

#[test]
fn another_model_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    open(dir.path(), 8)
        .apply(Write::Upsert(vec![doc("a", 2, 8, 0)]))
        .unwrap();
    let other = ModelId {
        name: "other".into(),
        ..model(8)
    };
    let err = LocalStore::open(dir.path(), &other)
        .err()
        .unwrap()
        .to_string();
    assert!(err.contains("built with model m"), "{err}");
    assert!(LocalStore::open(&dir.path().join("nope"), &model(8)).is_err());
}

#[test]
fn deletes_and_replacements_are_exact_everywhere_and_survive_reopening() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path(), 8);
    let big = doc("big", EXACT_BELOW + 10, 8, 500);
    store
        .apply(Write::Upsert(vec![doc("a", 3, 8, 0), big.clone()]))
        .unwrap();
    store
        .apply(Write::Upsert(vec![doc("b", 3, 8, 10)]))
        .unwrap();
    // Replace b, delete half of big's neighbourhood by deleting big itself.
    store
        .apply(Write::Upsert(vec![doc("b", 2, 8, 20)]))
        .unwrap();
    assert_eq!(
        store.apply(Write::Delete("big".into())).unwrap(),
        EXACT_BELOW + 10
    );
    for s in [
        store.snapshot().unwrap(),
        open(dir.path(), 8).snapshot().unwrap(),
    ] {
        assert_eq!(s.len(), 5);
        let docs: Vec<String> = s.documents().unwrap().into_iter().map(|d| d.doc).collect();
        assert_eq!(docs, ["a", "b"]);
        // Dense, through big's graph: never a tombstoned passage, still k results.
        let q = big.1[3].passage.clone();
        let hits = s.nearest(&q, 5, Filter::default()).unwrap();
        assert_eq!(hits.len(), 5);
        assert!(ids(s.as_ref(), &hits)
            .iter()
            .all(|id| !id.starts_with("big#")));
        let sent = s.nearest_sentences(&q, 5, Filter::default()).unwrap();
        assert!(sent.iter().all(|(k, _)| s.passage(*k).is_ok()));
        // Lexical: the replaced and deleted passages are gone.
        let lex: Vec<String> = ids(
            s.as_ref(),
            &s.lexical("passage", 100, &DocFilter::All).unwrap().hits,
        );
        assert_eq!(lex.len(), 5, "{lex:?}");
        assert!(s.find("b#3").unwrap().is_none() && s.find("big#1").unwrap().is_none());
        assert!(s
            .lexical("big", 10, &DocFilter::ids(["big"]))
            .unwrap()
            .hits
            .is_empty());
    }
}

#[test]
fn small_segments_merge_without_losing_or_reviving_anything() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path(), 8);
    let mut live = Vec::new();
    for i in 0..20 {
        let d = doc(&format!("d{i}"), 3, 8, 100 * i);
        store.apply(Write::Upsert(vec![d.clone()])).unwrap();
        live.push(d);
        if i % 5 == 4 {
            let gone = format!("d{}", i - 2);
            store.apply(Write::Delete(gone.clone())).unwrap();
            live.retain(|d| d.0[0].doc != gone);
        }
    }
    store.settle();
    let segments = std::fs::read_dir(dir.path())
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with("seg-"))
        .count();
    assert!(segments <= 4, "{segments} segments");
    for s in [
        store.snapshot().unwrap(),
        open(dir.path(), 8).snapshot().unwrap(),
    ] {
        assert_eq!(s.len(), live.len() * 3);
        for i in [0, 17, 40] {
            let q = unit(i, 8);
            assert_eq!(
                ids(s.as_ref(), &s.nearest(&q, 5, Filter::default()).unwrap()),
                exact(&live, &q, 5)
            );
        }
        assert_eq!(
            s.lexical("passage", 100, &DocFilter::All)
                .unwrap()
                .hits
                .len(),
            live.len() * 3
        );
    }
}

#[test]
fn a_crash_between_lexical_commit_and_manifest_is_repaired_on_open() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path(), 8);
    store.apply(Write::Upsert(vec![doc("a", 2, 8, 0)])).unwrap();
    // What a crash after step 3 of a delete of "a" and an add of "x" leaves: the WAL names
    // them, tantivy committed them with the next generation, the manifest never changed.
    let manifest = std::fs::read(dir.path().join("manifest.json")).unwrap();
    std::fs::write(dir.path().join("wal-2.json"), br#"["a","x"]"#).unwrap();
    let x = doc("x", 1, 8, 9).0;
    store.inner.lexical.apply(&["a"], &[&x[0]], "2").unwrap();
    drop(store);
    std::fs::write(dir.path().join("manifest.json"), manifest).unwrap();
    std::fs::create_dir_all(dir.path().join("seg-77")).unwrap();
    let s = open(dir.path(), 8).snapshot().unwrap();
    let lex: Vec<String> = ids(
        s.as_ref(),
        &s.lexical("passage", 10, &DocFilter::All).unwrap().hits,
    );
    assert_eq!(lex.len(), 2, "{lex:?}");
    assert!(s.lexical("x", 10, &DocFilter::All).unwrap().hits.is_empty());
    assert!(!dir.path().join("seg-77").exists() && !dir.path().join("wal-2.json").exists());
}

#[test]
fn a_format_1_index_is_migrated_on_open() {
    let dir = tempfile::tempdir().unwrap();
    let gen = dir.path().join("gen-3");
    std::fs::create_dir_all(&gen).unwrap();
    let (ps, vs) = doc("old", 4, 8, 0);
    let mut jsonl = String::new();
    for p in &ps {
        jsonl.push_str(&serde_json::to_string(p).unwrap());
        jsonl.push('\n');
    }
    std::fs::write(gen.join("passages.jsonl"), jsonl).unwrap();
    let bytes = |rows: Vec<&Vec<f32>>| -> Vec<u8> {
        rows.iter()
            .flat_map(|v| v.iter().flat_map(|x| x.to_le_bytes()))
            .collect()
    };
    std::fs::write(
        gen.join("vectors.f32"),
        bytes(vs.iter().map(|v| &v.passage).collect()),
    )
    .unwrap();
    let layout = serde_json::json!({"counts": [2, 2, 2, 2], "spans": [[0,4],[4,8],[0,4],[4,8],[0,4],[4,8],[0,4],[4,8]]});
    std::fs::write(gen.join("sentences.json"), layout.to_string()).unwrap();
    let sentences: Vec<&Vec<f32>> = vs
        .iter()
        .flat_map(|v| v.sentences.iter().map(|s| &s.vector))
        .collect();
    std::fs::write(gen.join("sentences.f32"), bytes(sentences)).unwrap();
    let manifest = serde_json::json!({"format_version": 1, "model": model(8), "generation": 3, "passages": 4, "documents": 1});
    std::fs::write(dir.path().join("manifest.json"), manifest.to_string()).unwrap();

    let s = LocalStore::open(dir.path(), &model(8))
        .unwrap()
        .snapshot()
        .unwrap();
    assert_eq!(s.len(), 4);
    assert_eq!(
        s.sentences(&[s.find("old#2").unwrap().unwrap()]).unwrap()[0].len(),
        2
    );
    assert_eq!(dense_ids(s.as_ref(), &vs[1].passage, 1), ["old#2"]);
    assert_eq!(
        s.lexical("passage", 10, &DocFilter::All)
            .unwrap()
            .hits
            .len(),
        4
    );
    assert!(!gen.exists());
    let v: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("manifest.json")).unwrap()).unwrap();
    assert_eq!(v["format_version"], 2);
}

#[test]
fn two_graph_segments_search_as_one() {
    // Two graph segments: the second is walked with the first's k-th best score as its floor,
    // which must not cost it the results it holds above that floor.
    let dir = tempfile::tempdir().unwrap();
    let docs = vec![
        doc("a", EXACT_BELOW + 100, 16, 0),
        doc("b", EXACT_BELOW + 300, 16, 50_000),
    ];
    let store = open(dir.path(), 16);
    for d in &docs {
        store.apply(Write::Upsert(vec![d.clone()])).unwrap();
    }
    let s = store.snapshot().unwrap();
    let mut shared = 0;
    let mut from_each = [0, 0];
    for i in 0..40 {
        // Queries near passages of either segment.
        let q = docs[i % 2].1[i * 97].passage.clone();
        let got = ids(s.as_ref(), &s.nearest(&q, 10, Filter::default()).unwrap());
        let want = exact(&docs, &q, 10);
        assert_eq!(got.len(), 10);
        assert_eq!(got[0], want[0]);
        shared += got.iter().filter(|g| want.contains(g)).count();
        for g in &got {
            from_each[usize::from(g.starts_with("b#"))] += 1;
        }
    }
    assert!(shared >= 390, "recall@10 {}", shared as f32 / 400.0);
    assert!(from_each[0] > 0 && from_each[1] > 0, "{from_each:?}");
}

#[test]
fn a_filter_passing_many_passages_walks_the_graph_and_finds_them() {
    // 120 documents of 80 passages: a filter naming 40 or 84 of them passes a third or 70% of
    // the passages, beyond what is scanned (3,098 here), so the graph is walked with the filter
    // (refused nodes crossed, never scored); one naming 2 is scanned. Each must return only
    // passing passages, and nearly the exact filtered top 10.
    let dir = tempfile::tempdir().unwrap();
    let docs: Vec<_> = (0..120)
        .map(|d| doc(&format!("d{d}"), 80, 8, d * 1000))
        .collect();
    let store = open(dir.path(), 8);
    store.apply(Write::Upsert(docs.clone())).unwrap();
    let s = store.snapshot().unwrap();
    for named in [40usize, 84, 2] {
        let passing: Vec<_> = docs.iter().take(named).cloned().collect();
        let filter = DocFilter::ids((0..named).map(|d| format!("d{d}")));
        let mut shared = 0;
        for i in 0..20 {
            let q = unit(7_000_000 + i, 8);
            let got = ids(
                s.as_ref(),
                &s.nearest(&q, 10, Filter::docs(&filter)).unwrap(),
            );
            assert_eq!(got.len(), 10);
            assert!(got
                .iter()
                .all(|id| filter.accepts(id.split('#').next().unwrap())));
            let want = exact(&passing, &q, 10);
            shared += got.iter().filter(|g| want.contains(g)).count();
        }
        assert!(shared >= 190, "{named} documents: {shared} of 200 exact");
    }
}

#[test]
fn a_merge_grows_the_largest_graph_and_finds_as_a_fresh_build_would() {
    // A graph segment with 5% of it deleted, then four segments large enough for the planner to
    // merge all five: the merged segment grows the first one's graph (renumbered without the
    // deleted documents) by the others' passages; searches must still match the exact scan.
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path(), 16);
    let mut live: Vec<_> = (0..60)
        .map(|d| doc(&format!("big{d}"), 80, 16, d * 1000))
        .collect();
    store.apply(Write::Upsert(live.clone())).unwrap();
    for d in [7, 14, 21] {
        store.apply(Write::Delete(format!("big{d}"))).unwrap();
    }
    live.retain(|(p, _)| !["big7", "big14", "big21"].contains(&p[0].doc.as_str()));
    for w in 0..4 {
        let batch: Vec<_> = (0..10)
            .map(|d| {
                doc(
                    &format!("w{w}d{d}"),
                    80,
                    16,
                    100_000 + w * 20_000 + d * 1000,
                )
            })
            .collect();
        store.apply(Write::Upsert(batch.clone())).unwrap();
        live.extend(batch);
    }
    store.settle();
    for s in [
        store.snapshot().unwrap(),
        open(dir.path(), 16).snapshot().unwrap(),
    ] {
        assert_eq!(s.len(), live.len() * 80);
        let mut shared = 0;
        for i in 0..40 {
            let q = live[i * 3 % live.len()].1[i].passage.clone();
            let got = ids(s.as_ref(), &s.nearest(&q, 10, Filter::default()).unwrap());
            let want = exact(&live, &q, 10);
            assert_eq!(got[0], want[0]);
            shared += got.iter().filter(|g| want.contains(g)).count();
        }
        assert!(shared >= 390, "recall@10 {}", shared as f32 / 400.0);
    }
    let segments = std::fs::read_dir(dir.path())
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with("seg-"))
        .count();
    assert_eq!(segments, 1);
}
