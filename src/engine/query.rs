//! A question as the encoder reads it: its first [`QUERY_TOKENS`] tokens. A question is a few
//! dozen tokens, and an encoder pass grows faster than its length, so a 2,000-character paste
//! read whole would cost on every search what ingesting a page does. The cut is the engine's,
//! not the embedder's: `/v1/embeddings` still reads a query the model's whole window.

use super::Engine;
use crate::config::QUERY_TOKENS;
use crate::embed::TextKind;
use crate::error::Result;

/// The longest beginning of `text` (whole characters) that `fits`, or the empty text: a binary
/// search, each step asking `fits` once.
pub(super) fn longest_head(text: &str, fits: &dyn Fn(&str) -> Result<bool>) -> Result<String> {
    if text.is_empty() || fits(text)? {
        return Ok(text.to_string());
    }
    let chars: Vec<char> = text.chars().collect();
    let (mut lo, mut hi) = (0, chars.len() - 1);
    while lo < hi {
        let mid = (lo + hi).div_ceil(2);
        let head: String = chars[..mid].iter().collect();
        if fits(&head)? {
            lo = mid;
        } else {
            hi = mid - 1;
        }
    }
    Ok(chars[..lo].iter().collect())
}

impl Engine {
    /// True when the encoder reads `question` whole (at most [`QUERY_TOKENS`] tokens).
    pub(super) fn read_whole(&self, question: &str) -> Result<bool> {
        let specials = 2;
        Ok(self.embedder.count_tokens(question, TextKind::Query)? <= QUERY_TOKENS + specials)
    }

    /// Embeds a question with the model's query prefix, read over its first [`QUERY_TOKENS`].
    pub fn embed_query(&self, query: &str) -> Result<Vec<f32>> {
        Ok(self.embed_queries(&[query])?.remove(0))
    }

    /// [`Engine::embed_query`] for several questions, in shared forward passes.
    pub fn embed_queries(&self, queries: &[&str]) -> Result<Vec<Vec<f32>>> {
        let heads: Vec<String> = queries
            .iter()
            .map(|q| longest_head(q, &|h| self.read_whole(h)))
            .collect::<Result<_>>()?;
        let refs: Vec<&str> = heads.iter().map(String::as_str).collect();
        Ok(self.embedder.embed(&refs, TextKind::Query)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_longest_head_that_fits() {
        let within = |n: usize| move |h: &str| Ok(h.chars().count() <= n);
        assert_eq!(
            longest_head("太湖连续18年", &within(100)).unwrap(),
            "太湖连续18年"
        );
        assert_eq!(
            longest_head("太湖连续18年", &within(4)).unwrap(),
            "太湖连续"
        );
        assert_eq!(longest_head("太湖连续18年", &within(0)).unwrap(), "");
        assert_eq!(longest_head("", &within(0)).unwrap(), "");
        assert_eq!(longest_head("", &|_| Ok(false)).unwrap(), "");
        for n in 0..12 {
            let head = longest_head("abcdefghij", &within(n)).unwrap();
            assert_eq!(head.len(), n.min(10), "{n}");
        }
    }
}
