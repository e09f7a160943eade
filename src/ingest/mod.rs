//! Documents in: read files of several formats, strip the page chrome a web scrape carries, and
//! cut the article along its own structure into passages ([`split`]).
//!
//! Everything here takes input from anyone who can reach the service, so nothing may panic,
//! recurse with the input's depth, or take time that grows faster than the input: HTML is
//! walked iteratively ([`html`]), and the tests feed hostile documents of every format.

pub mod chrome;
pub mod decode;
mod files;
pub mod html;
pub mod meta;
pub mod office;
pub mod pdf;
pub mod split;

use std::path::PathBuf;

pub use files::{
    decode_text, office_document, pdf_document, read_bytes, read_path, read_tree, Refused,
};

/// What can be wrong with a document; all but [`IngestError::Io`] are the input's fault.
#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    /// An unknown `format`.
    #[error("unknown format {0:?} (expected text, markdown or html)")]
    Format(String),
    /// A document id that cannot be used.
    #[error("{0}")]
    DocId(String),
    /// A title that cannot be used.
    #[error("{0}")]
    Title(String),
    /// Metadata that cannot be stored (see `index::Metadata::parse`).
    #[error("{0}")]
    Metadata(String),
    /// Two documents with one id in a single ingest.
    #[error("two documents with id {0:?} in one ingest")]
    DuplicateId(String),
    /// HTML nested deeper than any real page.
    #[error("HTML nested deeper than {limit} elements")]
    TooDeep {
        /// The deepest nesting accepted.
        limit: usize,
    },
    /// A document with more passages or sentences than one write takes.
    #[error(
        "document {doc} has {found} {what}, more than the {limit} one document may have: split it"
    )]
    TooLarge {
        /// The document.
        doc: String,
        /// `passages` or `sentences`.
        what: &'static str,
        /// How many it has.
        found: usize,
        /// The most allowed.
        limit: usize,
    },
    /// Nothing left to index.
    #[error("document {0} has no text left after cleaning")]
    NoText(String),
    /// Bytes that are not text in any encoding, or name an unknown one.
    #[error("{at}: {source}")]
    Undecodable {
        /// The file or request.
        at: String,
        /// Why.
        #[source]
        source: decode::DecodeError,
    },
    /// A document format semsearch does not read, named.
    #[error("{0}")]
    Unsupported(String),
    /// A damaged or hostile file of a format semsearch reads.
    #[error("unreadable {format} document: {detail}")]
    Unreadable {
        /// `docx`, `odt`...
        format: &'static str,
        /// What is wrong.
        detail: String,
    },
    /// JSON or JSONL that does not hold documents.
    #[error("{at}: {detail}")]
    Json {
        /// File (and line, for JSONL).
        at: String,
        /// What the parser said.
        detail: String,
    },
    /// A file could not be read.
    #[error("{path}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
}

impl IngestError {
    /// True when the input is at fault (not the machine).
    pub fn is_input(&self) -> bool {
        !matches!(self, IngestError::Io { .. })
    }
}

type Result<T, E = IngestError> = std::result::Result<T, E>;

/// Checks a document id, the one rule for writes and deletes alike (nothing is trimmed or
/// rewritten, so an id never silently names another document): non-empty, at most
/// [`MAX_DOC_ID_BYTES`](crate::config::MAX_DOC_ID_BYTES), no control characters, no
/// surrounding whitespace, in Unicode NFC form, and free of the characters passage ids and URLs
/// use.
pub fn check_doc_id(id: &str) -> Result<()> {
    use unicode_normalization::UnicodeNormalization;
    let max = crate::config::MAX_DOC_ID_BYTES;
    let refuse = |why: &str| {
        let shown: String = id.chars().take(40).collect();
        Err(IngestError::DocId(format!("document id {shown:?}: {why}")))
    };
    if id.trim().is_empty() {
        return Err(IngestError::DocId("document id must not be empty".into()));
    }
    if id.len() > max {
        return refuse(&format!("longer than {max} bytes ({})", id.len()));
    }
    if id.chars().any(char::is_control) {
        return refuse("must not contain control characters");
    }
    if id.trim() != id {
        return refuse("must not start or end with whitespace");
    }
    if id.contains('#') || id.contains('/') {
        return refuse("must not contain '#' or '/'");
    }
    if !id.nfc().eq(id.chars()) {
        return refuse("must be in Unicode NFC form");
    }
    Ok(())
}

/// Checks a title given with a document: at most
/// [`MAX_TITLE_BYTES`](crate::config::MAX_TITLE_BYTES).
pub fn check_title(title: &str) -> Result<()> {
    let max = crate::config::MAX_TITLE_BYTES;
    if title.len() > max {
        return Err(IngestError::Title(format!(
            "title longer than {max} bytes ({})",
            title.len()
        )));
    }
    Ok(())
}

/// `title` with control characters as spaces and cut to
/// [`MAX_TITLE_BYTES`](crate::config::MAX_TITLE_BYTES) at a character boundary.
fn bounded_title(title: &str) -> String {
    let mut out = String::with_capacity(title.len().min(crate::config::MAX_TITLE_BYTES));
    for c in title.chars() {
        let c = if c.is_control() { ' ' } else { c };
        if out.len() + c.len_utf8() > crate::config::MAX_TITLE_BYTES {
            break;
        }
        out.push(c);
    }
    out
}

/// Input formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    /// Plain text, one paragraph per line (or blank-line separated).
    Text,
    /// Markdown.
    Markdown,
    /// HTML.
    Html,
}

impl Format {
    /// Parses `text|markdown|html`.
    pub fn parse(s: &str) -> Result<Self> {
        match s.to_ascii_lowercase().as_str() {
            "text" | "txt" | "plain" => Ok(Format::Text),
            "markdown" | "md" => Ok(Format::Markdown),
            "html" | "htm" => Ok(Format::Html),
            other => Err(IngestError::Format(other.to_string())),
        }
    }
}

/// A document before cleaning: what a file or an API call hands over (and what a queued task
/// keeps on disk).
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct RawDocument {
    /// Document id (a file's stem); None for an API document without one, which gets an unused
    /// id derived from its title when written.
    pub doc: Option<String>,
    /// Title, when the source gives one; otherwise found in the text.
    pub title: Option<String>,
    /// Body.
    pub text: String,
    /// How to read `text`.
    pub format: Format,
    /// Strip web-page chrome; false for text known to be clean (notes, FAQ entries, records).
    pub clean: bool,
    /// Metadata, checked ([`crate::index::Metadata::parse`]); stored with the document.
    pub metadata: crate::index::Metadata,
    /// For a paginated source (PDF): the pages of each block of `text`, one entry per block;
    /// `text` is then Markdown of one line per block. Empty otherwise.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub pages: Vec<BlockPages>,
}

impl RawDocument {
    /// A document to clean, with an id.
    pub fn new(doc: impl Into<String>, text: impl Into<String>, format: Format) -> Self {
        RawDocument {
            doc: Some(doc.into()),
            title: None,
            text: text.into(),
            format,
            clean: true,
            metadata: Default::default(),
            pages: Vec::new(),
        }
    }

    /// How messages name this document: its id, or its title.
    pub fn label(&self) -> String {
        match (&self.doc, &self.title) {
            (Some(d), _) => format!("{d:?}"),
            (None, Some(t)) => format!("titled {t:?}"),
            (None, None) => "without id or title".into(),
        }
    }
}

/// A cleaned document ready to split.
#[derive(Debug, Clone, PartialEq)]
pub struct Document {
    /// Title.
    pub title: String,
    /// Clean text: one block (heading or paragraph) per line.
    pub text: String,
    /// Whether lines of `text` may be Markdown headings.
    pub markdown: bool,
    /// What the file states about itself ([`meta`]) under what the client sent, which wins.
    pub metadata: crate::index::Metadata,
    /// The pages of each line of `text`, when the source has pages; else empty.
    pub pages: Vec<BlockPages>,
}

/// The pages a block (a line of clean text) of a paginated document lies on: (character offset
/// in the line, page from there on), first `(0, the page it starts on)`, offsets increasing.
pub type BlockPages = Vec<(u32, u32)>;

/// The page at character `at` of a block whose pages are `pages`.
pub fn page_at(pages: &BlockPages, at: usize) -> Option<u32> {
    pages
        .iter()
        .take_while(|(o, _)| *o as usize <= at)
        .last()
        .or(pages.first())
        .map(|p| p.1)
}

/// Longest title taken from a document's first line when nothing else names it, in characters.
const FIRST_LINE_TITLE_CHARS: usize = 60;

/// Cleans a raw document: format conversion, then chrome stripping (unless `raw.clean` is off).
/// Front matter and `<meta>` tags give metadata and a title ([`meta`]).
pub fn clean(raw: &RawDocument) -> Result<Document> {
    let (blocks, stated) = match raw.format {
        Format::Html => html::read(&raw.text)?,
        Format::Text => (
            raw.text
                .lines()
                .map(|l| l.trim().to_string())
                .filter(|l| !l.is_empty())
                .collect(),
            meta::Stated::default(),
        ),
        // A paginated document's blocks are its own lines: no front matter to read.
        Format::Markdown if !raw.pages.is_empty() => {
            (markdown_blocks(&raw.text), meta::Stated::default())
        }
        Format::Markdown => {
            let (stated, body) = meta::front_matter(&raw.text);
            (markdown_blocks(body), stated)
        }
    };
    // Pages stay only while blocks and pages pair one to one (so always, unless chrome
    // stripping, which a paginated document skips, removed some).
    let pages = if !raw.clean && raw.pages.len() == blocks.len() {
        raw.pages.clone()
    } else {
        Vec::new()
    };
    // The client's keys over the file's: `parse` cannot fail on what `Stated` keeps, and
    // `patched` checks the merged count.
    let metadata = crate::index::Metadata::parse(stated.metadata)
        .and_then(|m| {
            m.patched(
                raw.metadata
                    .iter()
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect(),
            )
        })
        .map_err(IngestError::Metadata)?;
    let markdown = raw.format == Format::Markdown;
    let cleaned = if raw.clean {
        chrome::strip(&blocks, markdown)
    } else {
        chrome::Stripped {
            title: None,
            lines: blocks,
        }
    };
    let first_line = || {
        cleaned.lines.first().map(|l| {
            l.trim_start_matches('#')
                .trim()
                .chars()
                .take(FIRST_LINE_TITLE_CHARS)
                .collect::<String>()
        })
    };
    let title = raw
        .title
        .clone()
        .filter(|t| !t.trim().is_empty())
        .or(stated.title.filter(|t| !t.is_empty()))
        .or(cleaned.title.clone())
        .or(raw.doc.clone())
        .or_else(first_line)
        .unwrap_or_else(|| "untitled".into());
    Ok(Document {
        title: bounded_title(&title),
        text: cleaned.lines.join("\n"),
        markdown,
        metadata,
        pages,
    })
}

/// Markdown blocks: paragraphs wrapped over several lines are joined; headings, list items,
/// rules, quotes and images stand alone.
fn markdown_blocks(text: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut para = String::new();
    let flush = |para: &mut String, out: &mut Vec<String>| {
        if !para.is_empty() {
            out.push(std::mem::take(para));
        }
    };
    for line in text.lines() {
        let t = line.trim();
        if t.is_empty() {
            flush(&mut para, &mut out);
            continue;
        }
        // A line that starts a block of its own (heading, list item, rule) is never joined.
        let starts_block = t.starts_with('#')
            || t.starts_with("- ")
            || t.starts_with("* ")
            || t.starts_with("---")
            || t.starts_with('>')
            || t.starts_with("![")
            || split::clause_number(t).is_some()
            || split::section_heading(t).is_some();
        if starts_block || para.is_empty() {
            flush(&mut para, &mut out);
            para.push_str(t);
            if starts_block {
                flush(&mut para, &mut out);
            }
        } else {
            para.push(' ');
            para.push_str(t);
        }
    }
    flush(&mut para, &mut out);
    out
}

#[cfg(test)]
mod tests;
