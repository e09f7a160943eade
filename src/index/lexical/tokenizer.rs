//! The tokenizer of the lexical index. It segments with jieba in search mode (compounds also
//! yield their parts, so 人工智能 matches 智能), lower-cases, drops punctuation, and keeps a
//! number with its percent sign as one extra token (4.2% as well as 4.2). English and mixed text
//! go through the same path: jieba passes Latin words through whole.

use std::sync::LazyLock;

use jieba_rs::Jieba;
use tantivy::tokenizer::{PreTokenizedString, Token, TokenStream, Tokenizer};

static JIEBA: LazyLock<Jieba> = LazyLock::new(Jieba::new);

/// Loads jieba's dictionary on another thread (about 200 ms), so that the first write or
/// lexical search after an open does not pay for it (measured at 100k passages: the first
/// 20-passage add took 220 ms, the next ones 12-18 ms).
pub fn warm_up() {
    let _ = std::thread::Builder::new()
        .name("semsearch-jieba".into())
        .spawn(|| LazyLock::force(&JIEBA));
}

/// Terms of `text` as the lexical index sees them.
pub fn tokenize(text: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let words = JIEBA.cut_for_search(text, true);
    for (i, w) in words.iter().enumerate() {
        let t = w.trim();
        if t.is_empty() || t.chars().all(|c| !c.is_alphanumeric()) {
            continue;
        }
        let lower = t.to_lowercase();
        // "4.2%" as one token: also index the bare number, so "4.2" finds it.
        if let Some(num) = lower
            .strip_suffix(['%', '％'])
            .filter(|n| !n.is_empty() && n.chars().all(|c| c.is_ascii_digit() || c == '.'))
        {
            out.push(num.to_string());
        }
        let numeric = lower.chars().all(|c| c.is_ascii_digit() || c == '.');
        if numeric && words.get(i + 1).is_some_and(|n| *n == "%" || *n == "％") {
            out.push(format!("{lower}%"));
        }
        out.push(lower);
    }
    out
}

/// Distinct terms a query is searched with, at most: a question has a few dozen, and each term
/// is one postings list to walk, so a 2,000-character paste would otherwise cost hundreds of
/// lists on every store.
pub const MAX_QUERY_TERMS: usize = 64;

/// The distinct terms of a query, the first [`MAX_QUERY_TERMS`] in text order, sorted.
pub fn query_terms(query: &str) -> Vec<String> {
    let mut seen = std::collections::HashSet::new();
    let mut terms: Vec<String> = tokenize(query)
        .into_iter()
        .filter(|t| seen.insert(t.clone()))
        .take(MAX_QUERY_TERMS)
        .collect();
    terms.sort();
    terms
}

/// The tantivy tokenizer wrapping [`tokenize`].
#[derive(Clone, Default)]
pub struct JiebaTokenizer;

/// Tokens of one text.
pub struct JiebaStream {
    tokens: Vec<Token>,
    next: usize,
}

impl Tokenizer for JiebaTokenizer {
    type TokenStream<'a> = JiebaStream;
    fn token_stream<'a>(&'a mut self, text: &'a str) -> JiebaStream {
        let tokens = tokenize(text)
            .into_iter()
            .enumerate()
            .map(|(position, text)| Token {
                offset_from: 0,
                offset_to: 0,
                position,
                text,
                position_length: 1,
            })
            .collect();
        JiebaStream { tokens, next: 0 }
    }
}

impl TokenStream for JiebaStream {
    fn advance(&mut self) -> bool {
        self.next += 1;
        self.next <= self.tokens.len()
    }
    fn token(&self) -> &Token {
        &self.tokens[self.next - 1]
    }
    fn token_mut(&mut self) -> &mut Token {
        &mut self.tokens[self.next - 1]
    }
}

/// The same tokens as [`JiebaTokenizer`] would make, handed to tantivy ready-made.
pub(crate) fn pre_tokenized(list: &[String]) -> PreTokenizedString {
    PreTokenizedString {
        text: String::new(),
        tokens: list
            .iter()
            .enumerate()
            .map(|(position, t)| Token {
                offset_from: 0,
                offset_to: 0,
                position,
                text: t.clone(),
                position_length: 1,
            })
            .collect(),
    }
}
