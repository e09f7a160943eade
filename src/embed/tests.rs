//! Unit tests on the tiny randomly initialised XLM-R-shaped model ([`super::tiny`]): fast, and
//! exact enough to check padding, batching, masking, pooling and windowing.

use candle_core::{Device, Tensor};

use super::bert::{Encoder, Weights, WORD_Q4_NAME};
use super::tiny::{
    config as tiny_config, embedder as tiny_embedder, weights as tiny_weights, WORDS,
};
use super::*;
use crate::kernels::{dot, q4};

fn close(a: &[f32], b: &[f32], tol: f32) {
    assert_eq!(a.len(), b.len());
    let diff = a
        .iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0f32, f32::max);
    assert!(diff < tol, "max abs difference {diff}");
}

#[test]
fn vectors_are_normalised_and_sized() {
    let e = tiny_embedder(2, false);
    let v = e.embed(&["the lake", ""], TextKind::Passage).unwrap();
    assert_eq!(v.len(), 2);
    for x in &v {
        assert_eq!(x.len(), 32);
        assert!((dot(x, x) - 1.0).abs() < 1e-5);
    }
}

#[test]
fn padding_does_not_change_a_vector() {
    let e = tiny_embedder(2, false);
    let short = "the lake";
    let alone = e.embed(&[short], TextKind::Query).unwrap();
    // In a batch with a longer text, the short one is padded to the longer one's length.
    let padded = e
        .embed(
            &[short, "the lake tai safe summer years suzhou plan"],
            TextKind::Query,
        )
        .unwrap();
    close(&alone[0], &padded[0], 1e-5);
}

#[test]
fn batch_equals_one_by_one() {
    let e = tiny_embedder(2, true);
    let texts = [
        "a b c",
        "suzhou",
        "the river city plan five year",
        "",
        "lake tai",
    ];
    let batch = e.embed(&texts, TextKind::Passage).unwrap();
    for (t, v) in texts.iter().zip(&batch) {
        close(&e.embed(&[t], TextKind::Passage).unwrap()[0], v, 1e-5);
    }
}

#[test]
fn query_and_passage_prefixes_differ() {
    let e = tiny_embedder(2, false);
    let q = e.embed(&["lake"], TextKind::Query).unwrap();
    let p = e.embed(&["lake"], TextKind::Passage).unwrap();
    assert!(dot(&q[0], &p[0]) < 0.9999);
}

/// With no encoder layers the output is mean(LayerNorm(word + position + type)) over the real
/// tokens only: computed here by hand, independently of the encoder's masking.
#[test]
fn mean_pooling_uses_real_tokens_only() {
    let cfg = tiny_config(0);
    let w = tiny_weights(&cfg, 3, false);
    let enc = Encoder::new(&cfg, Weights::from_tensors(w.clone())).unwrap();
    let rows = |name: &str| w[name].to_vec2::<f32>().unwrap();
    let (word, pos, typ) = (
        rows("embeddings.word_embeddings.weight"),
        rows("embeddings.position_embeddings.weight"),
        rows("embeddings.token_type_embeddings.weight"),
    );
    let g = w["embeddings.LayerNorm.weight"].to_vec1::<f32>().unwrap();
    let b = w["embeddings.LayerNorm.bias"].to_vec1::<f32>().unwrap();
    let seqs: [&[u32]; 2] = [&[0, 7, 8, 2], &[0, 9, 2]];
    let out = enc.forward_mean(&seqs).unwrap();
    for (seq, got) in seqs.iter().zip(&out) {
        let mut mean = vec![0f32; 32];
        for (i, &id) in seq.iter().enumerate() {
            let x: Vec<f32> = (0..32)
                .map(|d| word[id as usize][d] + pos[i + 2][d] + typ[0][d])
                .collect();
            let mu = x.iter().sum::<f32>() / 32.0;
            let var = x.iter().map(|v| (v - mu).powi(2)).sum::<f32>() / 32.0;
            for d in 0..32 {
                mean[d] += ((x[d] - mu) / (var + 1e-5).sqrt() * g[d] + b[d]) / seq.len() as f32;
            }
        }
        close(&mean, got, 1e-4);
    }
}

/// A text longer than the window (16 tokens here) is embedded as the token-weighted mean of its
/// windows; never truncated.
#[test]
fn long_text_is_windowed_not_cut() {
    let e = tiny_embedder(1, false);
    let words: Vec<&str> = WORDS[7..].iter().copied().cycle().take(40).collect();
    let long = words.join(" ");
    let with_tail = format!("{long} river river river");
    let a = e.embed(&[long.as_str()], TextKind::Passage).unwrap();
    let b = e.embed(&[with_tail.as_str()], TextKind::Passage).unwrap();
    assert!(
        dot(&a[0], &b[0]) < 0.99999,
        "tail beyond the window changed nothing"
    );
    // By hand: prefix "passage :" adds 2 tokens, window holds 14 content tokens.
    let ids: Vec<u32> = e
        .content_ids(&[long.as_str()], TextKind::Passage)
        .unwrap()
        .remove(0);
    assert_eq!(ids.len(), 42);
    let seqs: Vec<Vec<u32>> = ids
        .chunks(14)
        .map(|c| [&[0u32][..], c, &[2]].concat())
        .collect();
    let refs: Vec<&[u32]> = seqs.iter().map(|s| s.as_slice()).collect();
    let means = e.encoder.forward_mean(&refs).unwrap();
    let mut acc = vec![0f64; 32];
    for m in &means {
        for (a, v) in acc.iter_mut().zip(m) {
            *a += 14.0 * *v as f64;
        }
    }
    close(&normalize(&acc), &a[0], 1e-5);
}

#[test]
fn a_query_is_read_over_its_first_window() {
    let e = tiny_embedder(1, false);
    let words: Vec<&str> = WORDS[7..].iter().copied().cycle().take(40).collect();
    let long = words.join(" ");
    let with_tail = format!("{long} river river river");
    let a = e.embed(&[long.as_str()], TextKind::Query).unwrap();
    let b = e.embed(&[with_tail.as_str()], TextKind::Query).unwrap();
    close(&a[0], &b[0], 1e-6);
    // The first window alone: the query's first 14 content tokens.
    let ids = e
        .content_ids(&[long.as_str()], TextKind::Query)
        .unwrap()
        .remove(0);
    let first = [&[0u32][..], &ids[..14], &[2]].concat();
    let mean = e
        .encoder
        .forward_mean(&[first.as_slice()])
        .unwrap()
        .remove(0);
    let acc: Vec<f64> = mean.iter().map(|v| *v as f64).collect();
    close(&normalize(&acc), &a[0], 1e-5);
}

#[test]
fn q4_word_table_matches_its_dequantized_dense_table() {
    let cfg = tiny_config(1);
    let mut w = tiny_weights(&cfg, 11, true);
    let q4_enc = Encoder::new(&cfg, Weights::from_tensors(w.clone())).unwrap();
    let blocks = w
        .remove(WORD_Q4_NAME)
        .unwrap()
        .flatten_all()
        .unwrap()
        .to_vec1::<u8>()
        .unwrap();
    let mut dense = vec![0f32; cfg.vocab_size * 32];
    q4::dequantize(&blocks, &mut dense);
    w.insert(
        "embeddings.word_embeddings.weight".into(),
        Tensor::from_vec(dense, (cfg.vocab_size, 32), &Device::Cpu).unwrap(),
    );
    let dense_enc = Encoder::new(&cfg, Weights::from_tensors(w)).unwrap();
    let seq: [&[u32]; 1] = [&[0, 5, 9, 12, 2]];
    close(
        &q4_enc.forward_mean(&seq).unwrap()[0],
        &dense_enc.forward_mean(&seq).unwrap()[0],
        1e-5,
    );
}

/// Late chunking: a piece's vector is the mean of its own tokens from the text's pass, so it
/// equals what pooling those rows of the encoder's output gives; a piece no token falls in takes
/// the text's vector; the texts' own vectors do not change when pieces are asked for.
#[test]
fn late_pieces_pool_their_tokens_from_the_texts_pass() {
    let e = tiny_embedder(2, false);
    let texts = ["the lake tai. suzhou plan", "river city"];
    let spans = vec![vec![(0, 13), (14, 25), (5, 5)], vec![]];
    let out = e.embed_spans(&texts, &spans, TextKind::Passage).unwrap();
    close(
        &out.texts[0],
        &e.embed(&texts[..1], TextKind::Passage).unwrap()[0],
        1e-5,
    );
    close(
        &out.texts[1],
        &e.embed(&texts[1..], TextKind::Passage).unwrap()[0],
        1e-5,
    );
    assert_eq!(out.spans[0].len(), 3);
    assert!(out.spans[1].is_empty());
    close(&out.spans[0][2], &out.texts[0], 1e-6);

    // By hand: the tokens of "suzhou plan" (offsets past the prefix), pooled from the pass.
    let content = e
        .content(&texts[..1], TextKind::Passage, true)
        .unwrap()
        .remove(0);
    let mut seq = vec![e.cls];
    seq.extend(&content.0);
    seq.push(e.sep);
    let hidden = e.encoder.forward_hidden(&[&seq]).unwrap();
    let mine: Vec<usize> = content
        .1
        .iter()
        .enumerate()
        .filter(|(_, &(a, b))| a < 25 && b > 14 && b > a)
        .map(|(j, _)| j + 1)
        .collect();
    assert!(!mine.is_empty());
    let mut mean = vec![0f64; 32];
    for &j in &mine {
        for (m, v) in mean.iter_mut().zip(hidden.token(0, j)) {
            *m += *v as f64;
        }
    }
    close(&out.spans[0][1], &normalize(&mean), 1e-5);
    // The two sentences differ, and each is nearer its own text than the other text is.
    assert!(dot(&out.spans[0][0], &out.spans[0][1]) < 0.9999);
}

/// The trait's default embeds pieces as texts of their own: what `--sentence-vectors separate`
/// stores.
#[test]
fn separate_pieces_are_embedded_as_texts() {
    struct Plain<'a>(&'a TextEmbedder);
    impl Embedder for Plain<'_> {
        fn id(&self) -> &ModelId {
            self.0.id()
        }
        fn embed(&self, texts: &[&str], kind: TextKind) -> Result<Vec<Vec<f32>>> {
            self.0.embed(texts, kind)
        }
        fn count_tokens(&self, text: &str, kind: TextKind) -> Result<usize> {
            self.0.count_tokens(text, kind)
        }
    }
    let e = tiny_embedder(2, false);
    let out = Plain(&e)
        .embed_spans(
            &["the lake tai. suzhou"],
            &[vec![(14, 20)]],
            TextKind::Passage,
        )
        .unwrap();
    close(
        &out.spans[0][0],
        &e.embed(&["suzhou"], TextKind::Passage).unwrap()[0],
        1e-5,
    );
}

/// Queries embedded from many threads at once (sharing passes) get the vectors they get alone.
#[test]
fn concurrent_queries_get_their_own_vectors() {
    let e = std::sync::Arc::new(tiny_embedder(2, false));
    let qs = [
        "the lake",
        "suzhou plan five year",
        "river",
        "city of lakes and rivers",
    ];
    let alone: Vec<Vec<f32>> = qs
        .iter()
        .map(|q| e.embed(&[q], TextKind::Query).unwrap().remove(0))
        .collect();
    let threads: Vec<_> = (0..16)
        .map(|i| {
            let e = e.clone();
            std::thread::spawn(move || {
                let q = qs[i % qs.len()];
                (
                    i % qs.len(),
                    e.embed(&[q], TextKind::Query).unwrap().remove(0),
                )
            })
        })
        .collect();
    for t in threads {
        let (i, v) = t.join().unwrap();
        close(&v, &alone[i], 1e-5);
    }
}
