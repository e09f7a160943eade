//! Engine tests on the tiny model: sentence vectors made at ingest and reused by answers.

use std::sync::atomic::{AtomicUsize, Ordering};

use super::*;
use crate::embed::tests::tiny_embedder;
use crate::embed::{ModelId, TextEmbedder};

/// Counts the texts it embeds.
struct Counting(TextEmbedder, AtomicUsize);

impl Embedder for Counting {
    fn id(&self) -> &ModelId {
        self.0.id()
    }
    fn embed(&self, texts: &[&str], kind: TextKind) -> Result<Vec<Vec<f32>>> {
        self.1.fetch_add(texts.len(), Ordering::SeqCst);
        self.0.embed(texts, kind)
    }
    fn count_tokens(&self, text: &str, kind: TextKind) -> Result<usize> {
        self.0.count_tokens(text, kind)
    }
}

fn passage(n: usize, text: &str) -> Passage {
    Passage {
        id: format!("d#{n}"),
        doc: "d".into(),
        title: "t".into(),
        section: None,
        clause: None,
        text: text.into(),
        start: 0,
        end: text.chars().count(),
    }
}

#[test]
fn passages_get_sentence_vectors_and_answers_reuse_them() {
    let counting = Arc::new(Counting(tiny_embedder(1, false), AtomicUsize::new(0)));
    let engine = Engine::open(counting.clone(), None, Options::default()).unwrap();
    let passages = vec![
        passage(1, "the lake tai. suzhou plan five year."),
        passage(2, "city river summer"),
    ];
    let vectors = engine.embed_passages(&passages, &|_| {}).unwrap();
    // Two passages, then the two sentences of the first; the second is one sentence whose
    // vector is its passage's.
    assert_eq!(counting.1.load(Ordering::SeqCst), 4);
    let spans: Vec<(u32, u32)> = vectors[0]
        .sentences
        .iter()
        .map(|s| (s.start, s.end))
        .collect();
    let want: Vec<(u32, u32)> = ingest::split::sentences(&passages[0].text)
        .into_iter()
        .map(|(a, b)| (a as u32, b as u32))
        .collect();
    assert_eq!(spans, want);
    assert_eq!(spans.len(), 2);
    assert_eq!(vectors[1].sentences.len(), 1);
    assert_eq!(vectors[1].sentences[0].vector, vectors[1].passage);
    let alone = counting
        .0
        .embed(&["suzhou plan five year."], TextKind::Passage)
        .unwrap();
    let got = &vectors[0].sentences[1].vector;
    assert!(crate::embed::dot(got, &alone[0]) > 0.9999);

    engine.add(vec![(passages, vectors)]).unwrap();
    counting.1.store(0, Ordering::SeqCst);
    let (answer, hits) = engine.ask("suzhou plan", 2, Mode::Hybrid).unwrap();
    assert_eq!(hits.len(), 2);
    assert!(answer.is_some());
    // Only the question was embedded.
    assert_eq!(counting.1.load(Ordering::SeqCst), 1);
}
