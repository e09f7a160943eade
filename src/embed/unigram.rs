//! A compact Unigram (SentencePiece) model for the `tokenizers` pipeline: the same Viterbi
//! segmentation as `tokenizers::models::unigram::Unigram`, over a vocabulary held as one sorted
//! byte buffer instead of a trie of hash maps.
//!
//! XLM-R's vocabulary has 250,002 pieces. `tokenizers` keeps them three times (a `Vec` of
//! strings, a `HashMap` from string to id, and a byte trie whose every node is a `HashMap`), which
//! measured ~296 MB resident, over half of `semsearch serve`'s memory. Here the pieces are
//! concatenated in sorted order (~2 MB) with an index of offsets; a prefix search narrows a range
//! of the sorted pieces byte by byte with two binary searches. The normalizer, pre-tokenizer,
//! added tokens and post-processor stay those of `tokenizers`, read from the same
//! tokenizer.json, so only the model is replaced; `tests/it/tokenizer.rs` checks ids and offsets
//! against `tokenizers` on every evaluation text.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use tokenizers::models::unigram::UnigramTrainer;
use tokenizers::{
    AddedToken, DecoderWrapper, Model, NormalizerWrapper, PostProcessorWrapper,
    PreTokenizerWrapper, Token, TokenizerImpl,
};

/// `tokenizers`' penalty below the lowest piece score for an unknown character.
const UNK_PENALTY: f64 = 10.0;

/// A tokenizer whose model is a [`Unigram`].
pub type LeanTokenizer = TokenizerImpl<
    Unigram,
    NormalizerWrapper,
    PreTokenizerWrapper,
    PostProcessorWrapper,
    DecoderWrapper,
>;

/// The Unigram vocabulary: pieces, scores, the unknown piece.
pub struct Unigram {
    /// Every piece's bytes, in sorted order, back to back.
    bytes: Vec<u8>,
    /// Per sorted position: start of its piece in `bytes` (one more entry marks the end).
    starts: Vec<u32>,
    /// Per sorted position: the piece's id.
    ids: Vec<u32>,
    /// Per id: its sorted position.
    position: Vec<u32>,
    /// Per id: its score.
    scores: Vec<f64>,
    unk: u32,
    min_score: f64,
}

impl Unigram {
    /// The model of `vocab` (pieces and scores, by id). A piece listed twice resolves to its
    /// last id, as in `tokenizers`.
    pub fn new(vocab: Vec<(String, f64)>, unk: u32) -> Result<Self, String> {
        if unk as usize >= vocab.len() {
            return Err(format!(
                "unk_id {unk} outside a vocabulary of {}",
                vocab.len()
            ));
        }
        let mut order: Vec<u32> = (0..vocab.len() as u32).collect();
        // Sorted by bytes, later ids first among equal pieces, so dedup keeps the last id.
        order.sort_by(|&a, &b| {
            vocab[a as usize]
                .0
                .as_bytes()
                .cmp(vocab[b as usize].0.as_bytes())
                .then(b.cmp(&a))
        });
        order.dedup_by(|a, b| vocab[*a as usize].0 == vocab[*b as usize].0);
        let total: usize = order.iter().map(|&i| vocab[i as usize].0.len()).sum();
        let mut bytes = Vec::with_capacity(total);
        let mut starts = Vec::with_capacity(order.len() + 1);
        let mut position = vec![u32::MAX; vocab.len()];
        for (pos, &id) in order.iter().enumerate() {
            starts.push(bytes.len() as u32);
            bytes.extend_from_slice(vocab[id as usize].0.as_bytes());
            position[id as usize] = pos as u32;
        }
        starts.push(bytes.len() as u32);
        // An id whose piece is listed again later points at that later entry's position.
        for (id, (piece, _)) in vocab.iter().enumerate() {
            if position[id] == u32::MAX {
                position[id] = order
                    .binary_search_by(|&o| vocab[o as usize].0.as_bytes().cmp(piece.as_bytes()))
                    .map(|p| p as u32)
                    .unwrap_or(0);
            }
        }
        let min_score = vocab.iter().map(|v| v.1).fold(f64::INFINITY, f64::min);
        let scores = vocab.iter().map(|v| v.1).collect();
        Ok(Unigram {
            bytes,
            starts,
            ids: order,
            position,
            scores,
            unk,
            min_score,
        })
    }

    fn piece(&self, pos: usize) -> &[u8] {
        &self.bytes[self.starts[pos] as usize..self.starts[pos + 1] as usize]
    }

    /// Calls `found(length, id)` for every piece that is a prefix of `text`, shortest first.
    fn prefixes(&self, text: &[u8], mut found: impl FnMut(usize, u32)) {
        let (mut lo, mut hi) = (0, self.ids.len());
        for (d, &b) in text.iter().enumerate() {
            // Within [lo, hi) every piece starts with text[..d], so pieces of length d come
            // first, then the rest ordered by their byte d.
            lo = self.partition(lo, hi, |p| p.len() <= d || p[d] < b);
            hi = self.partition(lo, hi, |p| p[d] <= b);
            if lo == hi {
                return;
            }
            if self.piece(lo).len() == d + 1 {
                found(d + 1, self.ids[lo]);
            }
        }
    }

    /// The first sorted position in `lo..hi` whose piece fails `pred` (which must hold for a
    /// prefix of the range and fail for the rest).
    fn partition(&self, mut lo: usize, mut hi: usize, pred: impl Fn(&[u8]) -> bool) -> usize {
        while lo < hi {
            let mid = (lo + hi) / 2;
            if pred(self.piece(mid)) {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        lo
    }

    fn lookup(&self, piece: &str) -> Option<u32> {
        let b = piece.as_bytes();
        let (mut lo, mut hi) = (0, self.ids.len());
        while lo < hi {
            let mid = (lo + hi) / 2;
            match self.piece(mid).cmp(b) {
                std::cmp::Ordering::Less => lo = mid + 1,
                std::cmp::Ordering::Greater => hi = mid,
                std::cmp::Ordering::Equal => return Some(self.ids[mid]),
            }
        }
        None
    }

    /// The best segmentation of `text` (Viterbi over piece scores; a character no piece starts
    /// with is unknown, and runs of unknowns are one token), as `tokenizers` computes it.
    fn segment(&self, text: &str) -> Vec<(u32, usize, usize)> {
        #[derive(Clone, Copy)]
        struct Best {
            id: u32,
            score: f64,
            from: Option<usize>,
        }
        let size = text.len();
        let unk_score = self.min_score - UNK_PENALTY;
        let mut best = vec![
            Best {
                id: 0,
                score: 0.0,
                from: None
            };
            size + 1
        ];
        let bytes = text.as_bytes();
        for (start, c) in text.char_indices() {
            let here = best[start].score;
            let mblen = c.len_utf8();
            let mut single = false;
            self.prefixes(&bytes[start..], |len, id| {
                let candidate = self.scores[id as usize] + here;
                let target = &mut best[start + len];
                if target.from.is_none() || candidate > target.score {
                    *target = Best {
                        id,
                        score: candidate,
                        from: Some(start),
                    };
                }
                single |= len == mblen;
            });
            if !single {
                let candidate = unk_score + here;
                let target = &mut best[start + mblen];
                if target.from.is_none() || candidate > target.score {
                    *target = Best {
                        id: self.unk,
                        score: candidate,
                        from: Some(start),
                    };
                }
            }
        }
        let mut out = Vec::new();
        let mut end = size;
        let mut unk_end = None;
        while end > 0 {
            let node = best[end];
            let start = node.from.expect("every position is reachable");
            if node.id == self.unk {
                unk_end.get_or_insert(end);
            } else {
                if let Some(e) = unk_end.take() {
                    out.push((self.unk, end, e));
                }
                out.push((node.id, start, end));
            }
            end = start;
        }
        if let Some(e) = unk_end {
            out.push((self.unk, 0, e));
        }
        out.reverse();
        // A fused run of unknowns is looked up as a whole (it may spell a piece, e.g. "<unk>").
        out.into_iter()
            .map(|(id, a, b)| {
                if id == self.unk {
                    (self.lookup(&text[a..b]).unwrap_or(self.unk), a, b)
                } else {
                    (id, a, b)
                }
            })
            .collect()
    }
}

impl Model for Unigram {
    type Trainer = UnigramTrainer;

    fn tokenize(&self, sequence: &str) -> tokenizers::Result<Vec<Token>> {
        Ok(self
            .segment(sequence)
            .into_iter()
            .map(|(id, a, b)| Token::new(id, sequence[a..b].to_string(), (a, b)))
            .collect())
    }

    fn token_to_id(&self, token: &str) -> Option<u32> {
        self.lookup(token)
    }

    fn id_to_token(&self, id: u32) -> Option<String> {
        let pos = *self.position.get(id as usize)? as usize;
        Some(String::from_utf8_lossy(self.piece(pos)).into_owned())
    }

    fn get_vocab(&self) -> HashMap<String, u32> {
        (0..self.position.len() as u32)
            .filter_map(|id| Some((self.id_to_token(id)?, id)))
            .collect()
    }

    fn get_vocab_size(&self) -> usize {
        self.position.len()
    }

    fn save(&self, _folder: &Path, _prefix: Option<&str>) -> tokenizers::Result<Vec<PathBuf>> {
        Err("the compact Unigram model is read-only".into())
    }

    fn get_trainer(&self) -> UnigramTrainer {
        UnigramTrainer::default()
    }
}

/// The parts of tokenizer.json a [`LeanTokenizer`] is built from.
#[derive(Deserialize)]
struct File {
    #[serde(default)]
    added_tokens: Vec<Added>,
    normalizer: Option<NormalizerWrapper>,
    pre_tokenizer: Option<PreTokenizerWrapper>,
    post_processor: Option<PostProcessorWrapper>,
    decoder: Option<DecoderWrapper>,
    model: ModelPart,
}

#[derive(Deserialize)]
struct ModelPart {
    #[serde(rename = "type")]
    kind: Option<String>,
    unk_id: Option<u32>,
    #[serde(default)]
    byte_fallback: bool,
    #[serde(default)]
    vocab: serde_json::Value,
}

#[derive(Deserialize)]
struct Added {
    content: String,
    #[serde(default)]
    single_word: bool,
    #[serde(default)]
    lstrip: bool,
    #[serde(default)]
    rstrip: bool,
    #[serde(default = "yes")]
    normalized: bool,
    #[serde(default)]
    special: bool,
    id: u32,
}

fn yes() -> bool {
    true
}

/// The tokenizer of `json` (a tokenizer.json) with a compact [`Unigram`] model, or None when its
/// model is not a plain Unigram (another kind, or byte fallback) and `tokenizers` should load it.
pub fn load(json: &str) -> Result<Option<LeanTokenizer>, String> {
    let file: File = serde_json::from_str(json).map_err(|e| e.to_string())?;
    let m = file.model;
    let (Some("Unigram"), false, Some(unk)) = (m.kind.as_deref(), m.byte_fallback, m.unk_id) else {
        return Ok(None);
    };
    let vocab: Vec<(String, f64)> = serde_json::from_value(m.vocab).map_err(|e| e.to_string())?;
    let mut tok = LeanTokenizer::new(Unigram::new(vocab, unk)?);
    tok.with_normalizer(file.normalizer)
        .map_err(|e| e.to_string())?
        .with_pre_tokenizer(file.pre_tokenizer)
        .with_post_processor(file.post_processor)
        .with_decoder(file.decoder);
    let mut added = file.added_tokens;
    added.sort_by_key(|a| a.id);
    for a in added {
        let token = AddedToken::from(a.content, a.special)
            .single_word(a.single_word)
            .lstrip(a.lstrip)
            .rstrip(a.rstrip)
            .normalized(a.normalized);
        if a.special {
            tok.add_special_tokens([token]).map_err(|e| e.to_string())?;
        } else {
            tok.add_tokens([token]).map_err(|e| e.to_string())?;
        }
    }
    Ok(Some(tok))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn model() -> Unigram {
        let vocab = [
            ("<unk>", 0.0),
            ("a", -1.0),
            ("ab", -1.5),
            ("abc", -4.0),
            ("b", -1.0),
            ("c", -1.0),
            ("bc", -1.2),
            ("ab", -0.1),
        ];
        Unigram::new(vocab.iter().map(|(p, s)| (p.to_string(), *s)).collect(), 0).unwrap()
    }

    #[test]
    fn prefixes_are_found_shortest_first() {
        let m = model();
        let mut got = Vec::new();
        m.prefixes(b"abcd", |len, id| got.push((len, id)));
        // "ab" is listed twice: the later id (7) wins.
        assert_eq!(got, [(1, 1), (2, 7), (3, 3)]);
        assert_eq!(m.lookup("ab"), Some(7));
        assert_eq!(m.lookup("abcd"), None);
        assert_eq!(m.id_to_token(6).as_deref(), Some("bc"));
    }

    #[test]
    fn viterbi_picks_the_best_path_and_fuses_unknowns() {
        let m = model();
        // ab (-0.1) + c (-1.0) = -1.1 beats a + bc (-2.2) and abc (-4.0).
        assert_eq!(m.segment("abc"), [(7, 0, 2), (5, 2, 3)]);
        // x and y are unknown: one fused token, then "a".
        assert_eq!(m.segment("xya"), [(0, 0, 2), (1, 2, 3)]);
        assert_eq!(m.segment(""), []);
    }
}
