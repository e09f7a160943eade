//! A tiny randomly initialised model of the real architecture (XLM-R shaped: 32 wide, 4 heads,
//! a 28-word word-level vocabulary, a 16-token window), for tests that need a real encoder and
//! tokenizer but no particular ranking: unit tests of padding, batching and pooling, and
//! integration tests of the HTTP API and the command line that check shapes and errors.
//! [`write_model_dir`] saves it as an ordinary model folder, loadable with `--model`.
//!
//! Weights come from a seeded SplitMix64 generator, so a seed always gives the same model and
//! the library needs no random-number crate.

use std::collections::HashMap;
use std::path::Path;

use candle_core::{Device, Tensor};
use tokenizers::models::wordlevel::WordLevel;
use tokenizers::pre_tokenizers::whitespace::Whitespace;
use tokenizers::processors::template::TemplateProcessing;
use tokenizers::Tokenizer;

use super::bert::{Encoder, Weights, WORD_Q4_NAME};
use super::{EmbedError, ModelConfig, TextEmbedder};
use crate::kernels::q4;

/// The vocabulary: special tokens, the prefixes' words, and a few content words.
pub const WORDS: &[&str] = &[
    "<s>", "<pad>", "</s>", "<unk>", "query", ":", "passage", "the", "lake", "tai", "safe",
    "summer", "years", "suzhou", "plan", "five", "year", "clause", "river", "city", "a", "b", "c",
    "d", "e", "f", "g", "h",
];

/// Seed of the model [`embedder`] and [`write_model_dir`] make.
const SEED: u64 = 7;

/// The configuration, with `layers` encoder layers.
pub fn config(layers: usize) -> ModelConfig {
    serde_json::from_value(serde_json::json!({
        "model_type": "xlm-roberta", "hidden_size": 32, "num_hidden_layers": layers,
        "num_attention_heads": 4, "intermediate_size": 64, "max_position_embeddings": 18,
        "type_vocab_size": 1, "layer_norm_eps": 1e-5, "pad_token_id": 1, "vocab_size": WORDS.len(),
        "query_prefix": "query : ", "passage_prefix": "passage : "
    }))
    .expect("the tiny configuration is valid")
}

/// A word-level tokenizer over [`WORDS`] that wraps texts in `<s>`...`</s>` like XLM-R's.
pub fn tokenizer() -> Tokenizer {
    let vocab = WORDS
        .iter()
        .enumerate()
        .map(|(i, w)| (w.to_string(), i as u32))
        .collect();
    let model = WordLevel::builder()
        .vocab(vocab)
        .unk_token("<unk>".into())
        .build()
        .expect("the tiny vocabulary is valid");
    let mut tok = Tokenizer::new(model);
    tok.with_pre_tokenizer(Some(Whitespace {}));
    tok.with_post_processor(Some(
        TemplateProcessing::builder()
            .try_single("<s> $A </s>")
            .expect("template")
            .special_tokens(vec![("<s>", 0), ("</s>", 2)])
            .build()
            .expect("template"),
    ));
    tok
}

/// SplitMix64: a tiny, well-mixed generator; plenty for test weights.
struct SplitMix(u64);

impl SplitMix {
    /// Uniform in [-1, 1).
    fn next(&mut self) -> f32 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^= z >> 31;
        (z >> 40) as f32 / (1u64 << 23) as f32 - 1.0
    }
}

/// Random weights for `cfg` under the names the loader expects; with `q4_words`, the word
/// table in Q4_0 like the converted default model's.
pub fn weights(cfg: &ModelConfig, seed: u64, q4_words: bool) -> HashMap<String, Tensor> {
    let mut rng = SplitMix(seed);
    let dev = Device::Cpu;
    let mut map = HashMap::new();
    let mut rand = |shape: &[usize], scale: f32, base: f32| {
        let n: usize = shape.iter().product();
        let v: Vec<f32> = (0..n).map(|_| base + scale * rng.next()).collect();
        Tensor::from_vec(v, shape, &dev).expect("shape matches")
    };
    let (h, ff) = (cfg.hidden_size, cfg.intermediate_size);
    let word = rand(&[cfg.vocab_size, h], 1.0, 0.0);
    if q4_words {
        let values = word
            .flatten_all()
            .and_then(|t| t.to_vec1::<f32>())
            .expect("f32 table");
        let blocks = q4::quantize(&values);
        let t = Tensor::from_vec(blocks, (cfg.vocab_size, q4::row_bytes(h)), &dev)
            .expect("shape matches");
        map.insert(WORD_Q4_NAME.to_string(), t);
    } else {
        map.insert("embeddings.word_embeddings.weight".into(), word);
    }
    map.insert(
        "embeddings.position_embeddings.weight".into(),
        rand(&[cfg.max_position_embeddings, h], 0.5, 0.0),
    );
    map.insert(
        "embeddings.token_type_embeddings.weight".into(),
        rand(&[cfg.type_vocab_size, h], 0.1, 0.0),
    );
    map.insert("embeddings.LayerNorm.weight".into(), rand(&[h], 0.1, 1.0));
    map.insert("embeddings.LayerNorm.bias".into(), rand(&[h], 0.1, 0.0));
    for l in 0..cfg.num_hidden_layers {
        let p = format!("encoder.layer.{l}");
        for (name, rows, cols) in [
            ("attention.self.query", h, h),
            ("attention.self.key", h, h),
            ("attention.self.value", h, h),
            ("attention.output.dense", h, h),
            ("intermediate.dense", ff, h),
            ("output.dense", h, ff),
        ] {
            map.insert(format!("{p}.{name}.weight"), rand(&[rows, cols], 0.3, 0.0));
            map.insert(format!("{p}.{name}.bias"), rand(&[rows], 0.1, 0.0));
        }
        for name in ["attention.output.LayerNorm", "output.LayerNorm"] {
            map.insert(format!("{p}.{name}.weight"), rand(&[h], 0.1, 1.0));
            map.insert(format!("{p}.{name}.bias"), rand(&[h], 0.1, 0.0));
        }
    }
    map
}

/// The tiny model with `layers` layers, in memory.
pub fn embedder(layers: usize, q4_words: bool) -> TextEmbedder {
    let cfg = config(layers);
    let weights = Weights::from_tensors(weights(&cfg, SEED, q4_words));
    let encoder = Encoder::new(&cfg, weights).expect("the tiny weights fit the configuration");
    TextEmbedder::from_parts(Path::new("tiny"), cfg, tokenizer(), encoder)
        .expect("the tiny tokenizer has two special tokens")
}

/// Saves the two-layer tiny model (Q4 word table) as a model folder: `config.json`,
/// `tokenizer.json`, `model.safetensors`.
pub fn write_model_dir(dir: &Path) -> Result<(), EmbedError> {
    write_model_dir_seeded(dir, SEED)
}

/// [`write_model_dir`] with other weights (`seed`): another model of the same shape, for tests
/// that must tell two models apart.
pub fn write_model_dir_seeded(dir: &Path, seed: u64) -> Result<(), EmbedError> {
    std::fs::create_dir_all(dir).map_err(|e| EmbedError::io(dir, e))?;
    let cfg = config(2);
    let body = serde_json::to_vec_pretty(&cfg).expect("a config serializes");
    let path = dir.join("config.json");
    std::fs::write(&path, body).map_err(|e| EmbedError::io(&path, e))?;
    let path = dir.join("tokenizer.json");
    tokenizer()
        .save(&path, false)
        .map_err(|e| EmbedError::model(&path, format!("cannot save the tokenizer: {e}")))?;
    candle_core::safetensors::save(&weights(&cfg, seed, true), dir.join("model.safetensors"))?;
    Ok(())
}
