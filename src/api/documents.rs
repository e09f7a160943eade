//! Adding, listing and deleting documents.

use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::Document;
use crate::ingest::{Format, RawDocument};

/// Query of `GET /documents`.
#[derive(Deserialize, IntoParams, Default)]
#[serde(deny_unknown_fields)]
pub struct DocumentParams {
    /// Only documents this filter passes: the JSON of `/search`'s `filter`, URL-encoded.
    pub filter: Option<String>,
    /// Metadata fields to count values of, comma-separated (at most 16), or `*` for every
    /// field the passing documents carry.
    pub facets: Option<String>,
}

/// Answer of `GET /documents`.
#[derive(Serialize, ToSchema)]
pub struct DocumentList {
    /// Documents the filter passes, in id order.
    pub documents: Vec<Document>,
    /// The counts asked for with `facets`, in the order asked (most widely held first for `*`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub facets: Option<Vec<Facet>>,
}

/// The values of one metadata field over the passing documents.
#[derive(Serialize, ToSchema)]
pub struct Facet {
    /// The metadata key.
    pub field: String,
    /// Its most common values, most documents first (at most 50; list fields count each item).
    pub values: Vec<FacetValue>,
    /// Distinct values in all (more than `values` lists when it was cut).
    pub distinct: usize,
    /// Passing documents without the field.
    pub missing: usize,
}

/// One value of a facet.
#[derive(Serialize, ToSchema)]
pub struct FacetValue {
    /// The value, as stored (string, number or boolean).
    #[schema(value_type = Object)]
    pub value: serde_json::Value,
    /// Documents holding it.
    pub documents: usize,
    /// Their passages.
    pub passages: usize,
}

impl From<crate::engine::facets::Facet> for Facet {
    fn from(f: crate::engine::facets::Facet) -> Self {
        Facet {
            field: f.field,
            values: f
                .values
                .into_iter()
                .map(|v| FacetValue {
                    value: v.value,
                    documents: v.documents,
                    passages: v.passages,
                })
                .collect(),
            distinct: f.distinct,
            missing: f.missing,
        }
    }
}

/// Body of `POST /documents`.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewDocument {
    /// Id; a document with this id is replaced. When absent, an unused id is derived from the
    /// title (never replacing anything).
    pub doc: Option<String>,
    /// Title (found in the text when absent).
    pub title: Option<String>,
    /// Body.
    pub text: String,
    /// `text` (default), `markdown` or `html`.
    pub format: Option<String>,
    /// Strip web-page chrome (menus, footers, adverts) before splitting (default true); send
    /// false for text known to be clean, such as FAQ entries or notes.
    pub clean: Option<bool>,
    /// Metadata: an object of strings, numbers, booleans, dates (RFC 3339 or `YYYY-MM-DD`
    /// strings) and lists of strings; at most 64 keys of at most 64 bytes, strings of at most
    /// 1024 bytes, lists of at most 64 items. Returned with every passage and matched by filters.
    #[schema(value_type = Option<Object>)]
    pub metadata: Option<serde_json::Value>,
}

impl TryFrom<NewDocument> for RawDocument {
    type Error = crate::ingest::IngestError;
    fn try_from(d: NewDocument) -> Result<Self, Self::Error> {
        Ok(RawDocument {
            // Not trimmed: an id is checked as sent (ingest::check_doc_id), never rewritten.
            doc: d.doc.filter(|s| !s.is_empty()),
            title: d.title,
            text: d.text,
            format: Format::parse(d.format.as_deref().unwrap_or("text"))?,
            clean: d.clean.unwrap_or(true),
            metadata: crate::index::Metadata::from_json(d.metadata.unwrap_or_default())
                .map_err(crate::ingest::IngestError::Metadata)?,
            pages: Vec::new(),
        })
    }
}

/// Body of `PATCH /documents/{doc}`.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DocumentPatch {
    /// Changes to the document's metadata (a JSON merge patch: a key set to null is removed,
    /// any other is set; keys not named stay). Nothing is re-embedded.
    #[schema(value_type = Object)]
    pub metadata: serde_json::Map<String, serde_json::Value>,
}

/// Answer of `DELETE /documents/{doc}`.
#[derive(Serialize, ToSchema)]
pub struct Deleted {
    /// Document id.
    pub doc: String,
    /// Passages removed.
    pub deleted: usize,
}

/// Body of `POST /backups`.
#[derive(Deserialize, ToSchema, Default)]
#[serde(deny_unknown_fields)]
pub struct NewBackup {
    /// The backup's folder name under the server's backup folder: 1-64 of `A-Z a-z 0-9 . _ -`,
    /// not starting with a dot (default `backup-<unix milliseconds>`).
    #[serde(default)]
    pub name: Option<String>,
}

/// Answer of `POST /backups`.
#[derive(Serialize, ToSchema)]
pub struct Backup {
    /// Its folder name.
    pub name: String,
    /// Its folder on the server (serve it with `--index`, or move it into place, to restore).
    pub path: String,
    /// The index generation it holds: every write acknowledged before the request.
    pub generation: u64,
    /// Documents in it.
    pub documents: usize,
    /// Passages in it.
    pub passages: usize,
}

/// Answer of `GET /stats`: what the index holds.
#[derive(Serialize, ToSchema)]
pub struct Stats {
    /// Documents.
    pub documents: usize,
    /// Passages.
    pub passages: usize,
    /// Passages read to estimate `languages` (an even sample of at most 256).
    pub sampled: usize,
    /// Languages of the sampled passages, most common first.
    pub languages: Vec<LanguageShare>,
}

/// One language of an index.
#[derive(Serialize, ToSchema)]
pub struct LanguageShare {
    /// ISO 639-3 code (`cmn` for Mandarin Chinese, `eng` for English).
    pub code: &'static str,
    /// English name.
    pub name: &'static str,
    /// Share of the sampled passages, 0..1.
    pub share: f32,
}

impl From<crate::engine::Stats> for Stats {
    fn from(s: crate::engine::Stats) -> Self {
        Stats {
            documents: s.documents,
            passages: s.passages,
            sampled: s.sampled,
            languages: s
                .languages
                .into_iter()
                .map(|(code, name, share)| LanguageShare { code, name, share })
                .collect(),
        }
    }
}
