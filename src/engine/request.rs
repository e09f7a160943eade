//! The one search request every edge builds (HTTP, CLI, MCP, eval) and the one place it is
//! validated, so that every caller gets the same limits and the same messages.

use crate::config::{
    DEFAULT_K, DEFAULT_MIN_RELEVANCE, MAX_GROUP_SIZE, MAX_K, MAX_QUERY_CHARS, MAX_WINDOW,
};
use crate::error::{Error, Result};
use crate::index::{Condition, DocFilter};
pub use crate::search::Mode;

/// A question to search (or answer) with its options. Build with [`SearchRequest::new`] and the
/// setters; the engine validates it before any work is done.
#[derive(Debug, Clone, PartialEq)]
pub struct SearchRequest {
    query: String,
    k: usize,
    mode: Mode,
    filter: Condition,
    min_relevance: f32,
    offset: usize,
    group_size: Option<usize>,
}

impl SearchRequest {
    /// A hybrid search for `query`, [`DEFAULT_K`] results, over every document.
    pub fn new(query: impl Into<String>) -> Self {
        SearchRequest {
            query: query.into(),
            k: DEFAULT_K,
            mode: Mode::Hybrid,
            filter: Condition::all(),
            min_relevance: DEFAULT_MIN_RELEVANCE,
            offset: 0,
            group_size: None,
        }
    }

    /// Results of the ranking skipped before the `k` returned (pages: see
    /// [`crate::search::page`]).
    pub fn offset(mut self, offset: usize) -> Self {
        self.offset = offset;
        self
    }

    /// At most `n` passages per document (`group_by: "doc"`); None: no grouping.
    pub fn group_size(mut self, n: Option<usize>) -> Self {
        self.group_size = n;
        self
    }

    /// The part of the ranking asked for.
    pub fn window(&self) -> crate::search::page::Window {
        crate::search::page::Window {
            offset: self.offset,
            k: self.k,
            group_size: self.group_size,
        }
    }

    /// The same request for another question.
    pub fn with_query(mut self, query: impl Into<String>) -> Self {
        self.query = query.into();
        self
    }

    /// Results to return (1..=[`MAX_K`]).
    pub fn k(mut self, k: usize) -> Self {
        self.k = k;
        self
    }

    /// Retrieval mode.
    pub fn mode(mut self, mode: Mode) -> Self {
        self.mode = mode;
        self
    }

    /// Restricts results to one document (filtered before the top-k cut); None: every
    /// document.
    pub fn doc(mut self, doc: Option<String>) -> Self {
        self.filter = doc.map_or_else(Condition::all, Condition::doc);
        self
    }

    /// Restricts results to the documents `docs` accepts (filtered inside the search, before
    /// the top-k cut: one search however many documents it names).
    pub fn docs(mut self, docs: DocFilter) -> Self {
        self.filter = docs.into();
        self
    }

    /// Narrows the request to the documents `scope` passes too (what its caller may read).
    pub fn within(mut self, scope: Condition) -> Self {
        self.filter = scope.and(std::mem::replace(&mut self.filter, Condition::all()));
        self
    }

    /// Restricts results to the documents that pass `filter` (resolved against the snapshot
    /// searched, then filtered inside the search like [`Self::docs`]).
    pub fn filter(mut self, filter: Condition) -> Self {
        self.filter = filter;
        self
    }

    /// Relevance (0..=1) the best passage must reach for the question to count as answered
    /// (`found`); default [`DEFAULT_MIN_RELEVANCE`].
    pub fn min_relevance(mut self, min: Option<f32>) -> Self {
        self.min_relevance = min.unwrap_or(DEFAULT_MIN_RELEVANCE);
        self
    }

    /// The relevance threshold of `found`.
    pub fn relevance_threshold(&self) -> f32 {
        self.min_relevance
    }

    /// The question, trimmed.
    pub fn query(&self) -> &str {
        self.query.trim()
    }

    /// Results asked for.
    pub fn limit(&self) -> usize {
        self.k
    }

    /// The mode.
    pub fn retrieval_mode(&self) -> Mode {
        self.mode
    }

    /// The document filter.
    pub fn condition(&self) -> &Condition {
        &self.filter
    }

    /// Checks the request: a question of 1..=[`MAX_QUERY_CHARS`] characters, `k` in range, a
    /// filter of at most [`crate::config::MAX_FILTER_DOCS`] documents.
    pub fn validate(&self) -> Result<()> {
        let q = self.query();
        if q.is_empty() {
            return Err(Error::invalid("query must not be empty"));
        }
        if q.chars().count() > MAX_QUERY_CHARS {
            return Err(Error::invalid(format!(
                "query longer than {MAX_QUERY_CHARS} characters"
            )));
        }
        self.filter.validate().map_err(Error::invalid)?;
        if !(0.0..=1.0).contains(&self.min_relevance) {
            return Err(Error::invalid("min_relevance must be between 0 and 1"));
        }
        validate_k(self.k)?;
        if self.offset + self.k > MAX_WINDOW {
            return Err(Error::invalid(format!(
                "offset + k must be at most {MAX_WINDOW} (got {})",
                self.offset + self.k
            )));
        }
        match self.group_size {
            Some(g) if !(1..=MAX_GROUP_SIZE).contains(&g) => Err(Error::invalid(format!(
                "group_size must be between 1 and {MAX_GROUP_SIZE}"
            ))),
            _ => Ok(()),
        }
    }
}

/// Checks a result count.
pub fn validate_k(k: usize) -> Result<()> {
    if !(1..=MAX_K).contains(&k) {
        return Err(Error::invalid(format!("k must be between 1 and {MAX_K}")));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validation_messages() {
        let msg = |r: SearchRequest| r.validate().unwrap_err().to_string();
        assert_eq!(msg(SearchRequest::new("  ")), "query must not be empty");
        assert_eq!(
            msg(SearchRequest::new("x".repeat(MAX_QUERY_CHARS + 1))),
            "query longer than 2000 characters"
        );
        assert_eq!(
            msg(SearchRequest::new("q").k(0)),
            "k must be between 1 and 100"
        );
        assert!(SearchRequest::new(" 太湖 ").k(MAX_K).validate().is_ok());
        assert_eq!(SearchRequest::new(" 太湖 ").query(), "太湖");
        assert_eq!(SearchRequest::new("q").limit(), DEFAULT_K);
        assert_eq!(
            msg(SearchRequest::new("q").min_relevance(Some(1.5))),
            "min_relevance must be between 0 and 1"
        );
        assert_eq!(
            msg(SearchRequest::new("q").k(10).offset(495)),
            "offset + k must be at most 500 (got 505)"
        );
        assert_eq!(
            msg(SearchRequest::new("q").group_size(Some(0))),
            "group_size must be between 1 and 20"
        );
        assert!(SearchRequest::new("q")
            .min_relevance(Some(f32::NAN))
            .validate()
            .is_err());
    }

    #[test]
    fn modes_parse() {
        assert_eq!(Mode::parse("dense").unwrap(), Mode::Dense);
        assert!(Mode::parse("magic")
            .unwrap_err()
            .to_string()
            .contains("unknown mode"));
    }
}
