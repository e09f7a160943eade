//! A passage as clients see it, and the things made of passages.

use serde::Serialize;
use utoipa::ToSchema;

use crate::engine;
use crate::index;

/// A stored passage (PASSAGE without its score).
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Passage {
    /// Stable id: `<doc>#<n>`.
    pub id: String,
    /// Document id.
    pub doc: String,
    /// Document title.
    pub title: String,
    /// Section heading.
    pub section: Option<String>,
    /// Clause number.
    pub clause: Option<String>,
    /// Text.
    pub text: String,
    /// Start offset (characters) in the cleaned document.
    pub start: usize,
    /// End offset (characters, exclusive).
    pub end: usize,
    /// Page (1-based) the passage starts on; only for passages of paginated documents (PDF).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub page: Option<u32>,
    /// Its document's metadata (`{}` when it has none).
    #[schema(value_type = Object)]
    pub metadata: index::Metadata,
}

impl From<&index::Passage> for Passage {
    fn from(p: &index::Passage) -> Self {
        Passage {
            id: p.id.clone(),
            doc: p.doc.clone(),
            title: p.title.clone(),
            section: p.section.clone(),
            clause: p.clause.clone(),
            text: p.text.clone(),
            start: p.start,
            end: p.end,
            page: p.page,
            metadata: p.metadata.clone(),
        }
    }
}

/// A passage with its score: PASSAGE in every list of results.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Hit {
    /// The passage.
    #[serde(flatten)]
    pub passage: Passage,
    /// Ranking value, higher is better: dense, the mean of the cosines of the passage and of its
    /// best sentence to the question; lexical, BM25; hybrid, the fused RRF score; related, cosine.
    pub score: f32,
    /// How well the passage answers the question, 0..1, the same scale in every mode and for
    /// every question: threshold this (0.5 is the default of `found`), not `score`.
    pub relevance: f32,
}

impl From<&engine::Hit> for Hit {
    fn from(h: &engine::Hit) -> Self {
        Hit {
            passage: Passage::from(&h.passage),
            score: h.score,
            relevance: h.relevance,
        }
    }
}

/// Converts a result list.
pub fn hits(hits: &[engine::Hit]) -> Vec<Hit> {
    hits.iter().map(Hit::from).collect()
}

/// The sentence that best answers a question.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Answer {
    /// The sentence.
    pub text: String,
    /// Passage it comes from.
    pub passage_id: String,
    /// Combined score (cosine, term overlap, passage rank).
    pub score: f32,
    /// Start (characters) within the passage text.
    pub start: usize,
    /// End (characters, exclusive) within the passage text.
    pub end: usize,
}

impl From<&crate::search::answer::Answer> for Answer {
    fn from(a: &crate::search::answer::Answer) -> Self {
        Answer {
            text: a.text.clone(),
            passage_id: a.passage_id.clone(),
            score: a.score,
            start: a.start,
            end: a.end,
        }
    }
}

/// A document summary.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Document {
    /// Document id.
    pub doc: String,
    /// Title.
    pub title: String,
    /// Number of passages.
    pub passages: usize,
    /// Metadata (`{}` when it has none).
    #[schema(value_type = Object)]
    pub metadata: index::Metadata,
}

impl From<&index::DocumentInfo> for Document {
    fn from(d: &index::DocumentInfo) -> Self {
        Document {
            doc: d.doc.clone(),
            title: d.title.clone(),
            passages: d.passages,
            metadata: d.metadata.clone(),
        }
    }
}

/// What adding a document did.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Ingested {
    /// Document id (the one given, or the one derived from the title).
    pub doc: String,
    /// Passages stored.
    pub passages: usize,
}

impl From<&engine::Ingested> for Ingested {
    fn from(i: &engine::Ingested) -> Self {
        Ingested {
            doc: i.doc.clone(),
            passages: i.passages,
        }
    }
}
