//! The compact Unigram model gives exactly what `tokenizers` gives: ids and character offsets of
//! every text of the evaluation sets and the corpus, in both languages of the default model,
//! plus inputs chosen to reach the edges (added tokens typed as text, unknown characters, empty
//! and whitespace-only strings).

use semsearch::embed::unigram;
use tokenizers::Tokenizer;

use crate::common::{fixture, model_dir};

fn texts() -> Vec<String> {
    let mut out = Vec::new();
    for set in [
        "cmrc2018_trial.json",
        "xquad.en.json",
        "xquad.zh.json",
        "xquad.ro.json",
    ] {
        let data: serde_json::Value =
            serde_json::from_slice(&std::fs::read(fixture(&format!("eval/{set}"))).unwrap())
                .unwrap();
        for article in data["data"].as_array().unwrap() {
            for p in article["paragraphs"].as_array().unwrap() {
                out.push(p["context"].as_str().unwrap().to_string());
                for qa in p["qas"].as_array().unwrap() {
                    out.push(qa["question"].as_str().unwrap().to_string());
                }
            }
        }
    }
    let corpus =
        std::fs::read_to_string(fixture("corpus/suzhou-15th-five-year-plan-proposal.txt")).unwrap();
    out.extend(corpus.lines().map(str::to_string));
    out.extend(
        [
            "",
            "   ",
            "<s> hello </s> <mask> <unk> <pad>",
            "passage: <unk><unk>x",
            "𝔘𝔫𝔦𝔠𝔬𝔡𝔢 ﬁ ＡＢＣ１２３ ① ㈱ ﾊﾝｶｸ",
            "emoji 🦀🦀 and zwj 👩‍👩‍👧 and combining é",
            "\u{7}\u{0}control\tchars\r\n",
            "ⅷ ⅸ Ⅻ ½ ㎞ ℃",
            "a\u{200b}b\u{feff}c",
            "ꙮ𒀀𓀀 rare scripts 𐌰𐌱",
        ]
        .map(String::from),
    );
    out
}

#[test]
fn compact_unigram_matches_tokenizers_exactly() {
    let path = model_dir("multilingual-e5-small").join("tokenizer.json");
    let json = std::fs::read_to_string(&path).unwrap();
    let full: Tokenizer = json.parse().unwrap();
    let lean = unigram::load(&json).unwrap().expect("a Unigram tokenizer");
    let texts = texts();
    assert!(texts.len() > 5000, "{} texts", texts.len());
    let mut tokens = 0;
    for t in &texts {
        for special in [false, true] {
            let a = full.encode_char_offsets(t.as_str(), special).unwrap();
            let b = lean.encode_char_offsets(t.as_str(), special).unwrap();
            assert_eq!(a.get_ids(), b.get_ids(), "ids of {t:?}");
            assert_eq!(a.get_offsets(), b.get_offsets(), "offsets of {t:?}");
            tokens += a.get_ids().len();
        }
    }
    eprintln!("{} texts, {tokens} tokens: identical", texts.len());
    // The same pieces back and forth.
    for id in [0, 3, 5, 1000, 250_000, 250_001] {
        let piece = full.id_to_token(id).unwrap();
        assert_eq!(lean.id_to_token(id).as_deref(), Some(piece.as_str()));
        assert_eq!(lean.token_to_id(&piece), Some(id));
    }
    assert_eq!(lean.get_vocab_size(true), full.get_vocab_size(true));
}

#[test]
fn other_tokenizers_are_left_to_tokenizers() {
    // m3e-small is a BERT WordPiece tokenizer: not ours to replace.
    let json = std::fs::read_to_string(model_dir("m3e-small").join("tokenizer.json")).unwrap();
    assert!(unigram::load(&json).unwrap().is_none());
    assert!(unigram::load("{").is_err());
}
