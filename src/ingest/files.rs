//! Files in: a file or a folder of them read into raw documents, whatever their format (text,
//! Markdown, HTML, JSON records, Word, OpenDocument, PDF) and text encoding.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::{decode, office, pdf, Format, IngestError, RawDocument, Result};

#[derive(Deserialize)]
struct JsonDoc {
    text: String,
    #[serde(default)]
    doc: Option<String>,
    #[serde(default)]
    title: Option<String>,
    #[serde(default)]
    format: Option<String>,
    #[serde(default)]
    clean: Option<bool>,
    #[serde(default)]
    metadata: Option<serde_json::Value>,
}

/// Extensions read from folders; any other file in a folder is skipped.
const KNOWN: &[&str] = &[
    "txt", "text", "md", "markdown", "html", "htm", "json", "jsonl", "ndjson", "docx", "odt", "pdf",
];

/// A file of a folder that was not read, and why (always the input's fault).
#[derive(Debug)]
pub struct Refused {
    /// The file.
    pub path: PathBuf,
    /// Why.
    pub error: IngestError,
}

/// Reads a file, or every file with a known extension in a folder and its subfolders (in name
/// order), into raw documents; the first file that cannot be read is the error. A file in a
/// folder takes its path below the folder as its id, with `/` as `.` and without the extension
/// (`laws/tax.md` is `laws.tax`).
pub fn read_path(path: &Path) -> Result<Vec<RawDocument>> {
    let (docs, refused) = read_tree(path)?;
    match refused.into_iter().next() {
        Some(r) => Err(r.error),
        None => Ok(docs),
    }
}

/// Like [`read_path`], but a folder's files that cannot be read (damaged, legacy `.doc`,
/// binary...) are set aside with their reasons while the others are read; a file named itself,
/// and a machine fault (a folder or file that cannot be opened), are still errors.
pub fn read_tree(path: &Path) -> Result<(Vec<RawDocument>, Vec<Refused>)> {
    if !path.is_dir() {
        return Ok((read_file(path, None)?, Vec::new()));
    }
    let mut files = Vec::new();
    let mut dirs = vec![path.to_path_buf()];
    while let Some(dir) = dirs.pop() {
        let entries = std::fs::read_dir(&dir).map_err(|e| IngestError::Io {
            path: dir.clone(),
            source: e,
        })?;
        for e in entries.flatten() {
            let p = e.path();
            let ext = p
                .extension()
                .map(|x| x.to_string_lossy().to_ascii_lowercase())
                .unwrap_or_default();
            if p.is_dir() {
                dirs.push(p);
            } else if KNOWN.contains(&ext.as_str()) || ext == "doc" {
                files.push(p);
            }
        }
    }
    files.sort();
    let (mut out, mut refused) = (Vec::new(), Vec::new());
    for f in files {
        let rel = f.strip_prefix(path).unwrap_or(&f).with_extension("");
        let id = rel
            .components()
            .map(|c| c.as_os_str().to_string_lossy().into_owned())
            .collect::<Vec<_>>()
            .join(".");
        match read_file(&f, Some(id)) {
            Ok(docs) => out.extend(docs),
            Err(error) if error.is_input() => refused.push(Refused { path: f, error }),
            Err(error) => return Err(error),
        }
    }
    Ok((out, refused))
}

/// A Word (`.docx`), OpenDocument (`.odt`) or legacy Word (`.doc`, refused) file as a raw
/// document: Markdown, headings as sections, not chrome-stripped (headers and footers are not
/// in the text to begin with).
pub fn office_document(doc: Option<String>, bytes: &[u8], ext: &str) -> Result<RawDocument> {
    let extracted = match ext {
        "docx" => office::docx::read(bytes)?,
        "odt" => office::odt::read(bytes)?,
        // A .docx saved under the old extension is still a zip.
        "doc" if bytes.starts_with(b"PK") => office::docx::read(bytes)?,
        "doc" => {
            return Err(IngestError::Unsupported(
                "a legacy binary Word file (.doc) is not read: save it as .docx".into(),
            ))
        }
        _ => {
            return Err(IngestError::Unsupported(format!(
                "{ext:?} documents are not read (expected .docx or .odt)"
            )))
        }
    };
    Ok(RawDocument {
        doc,
        title: extracted.title,
        text: extracted.text,
        format: Format::Markdown,
        clean: false,
        metadata: Default::default(),
        pages: Vec::new(),
    })
}

/// A PDF as a raw document ([`pdf::read`]): Markdown of one line per paragraph or heading
/// (outline entries as headings), each line's page kept.
pub fn pdf_document(doc: Option<String>, bytes: &[u8]) -> Result<RawDocument> {
    let extracted = pdf::read(bytes)?;
    let mut text = String::new();
    let mut pages = Vec::with_capacity(extracted.blocks.len());
    for b in &extracted.blocks {
        let before = text.len();
        office::push_block(&mut text, b.level, &b.text);
        if text.len() > before {
            let mut turns = vec![(0, b.page)];
            turns.extend(b.turns.iter().copied());
            pages.push(turns);
        }
    }
    tracing::debug!(
        "PDF of {} pages: {} blocks",
        extracted.pages,
        extracted.blocks.len()
    );
    Ok(RawDocument {
        doc,
        title: extracted.title,
        text,
        format: Format::Markdown,
        clean: false,
        metadata: Default::default(),
        pages,
    })
}

/// Text in whatever encoding it was saved in ([`decode`]), the encoding logged; `charset` is
/// what the sender declared, if anything.
pub fn decode_text(at: &str, bytes: &[u8], charset: Option<&str>, html: bool) -> Result<String> {
    let d = decode::decode(bytes, charset, html).map_err(|source| IngestError::Undecodable {
        at: at.to_string(),
        source,
    })?;
    if d.encoding != "UTF-8" || d.replaced {
        tracing::info!(
            "{at}: read as {} ({:?}){}",
            d.encoding,
            d.evidence,
            if d.replaced {
                ", some bytes invalid in it replaced by U+FFFD"
            } else {
                ""
            }
        );
    }
    Ok(d.text)
}

/// Reads one file: `.txt`, `.md`, `.html`, `.json` (one object or an array), `.jsonl` (one
/// object per line), each object with a `text` field and optional `doc`, `title`, `format`,
/// `clean` and `metadata`; `.docx`, `.odt` and `.pdf`. A document without an id takes `id` (the file's
/// stem by default, and its position, for JSON), so ingesting the same file again replaces it.
fn read_file(path: &Path, id: Option<String>) -> Result<Vec<RawDocument>> {
    let bytes = std::fs::read(path).map_err(|e| IngestError::Io {
        path: path.to_path_buf(),
        source: e,
    })?;
    let ext = path
        .extension()
        .map(|e| e.to_string_lossy().to_ascii_lowercase())
        .unwrap_or_default();
    let stem = id.unwrap_or_else(|| {
        path.file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| "document".into())
    });
    read_bytes(&path.display().to_string(), &bytes, &ext, None, &stem)
}

/// Reads the bytes of a file of kind `ext` (its extension, lower-case; anything unknown is
/// text), `at` naming it in messages. Text may be in any encoding [`decode`] knows, `charset`
/// being what the sender declared; documents without an id of their own take `stem`.
pub fn read_bytes(
    at: &str,
    bytes: &[u8],
    ext: &str,
    charset: Option<&str>,
    stem: &str,
) -> Result<Vec<RawDocument>> {
    let stem = stem.to_string();
    if matches!(ext, "docx" | "odt" | "doc") {
        return Ok(vec![office_document(Some(stem), bytes, ext)?]);
    }
    if ext == "pdf" {
        return Ok(vec![pdf_document(Some(stem), bytes)?]);
    }
    let html = matches!(ext, "html" | "htm");
    let text = decode_text(at, bytes, charset, html)?;
    let one = |format| vec![RawDocument::new(stem.clone(), text.clone(), format)];
    let from_json = |items: Vec<JsonDoc>| -> Result<Vec<RawDocument>> {
        items
            .into_iter()
            .enumerate()
            .map(|(i, d)| {
                Ok(RawDocument {
                    doc: Some(d.doc.unwrap_or_else(|| format!("{stem}-{}", i + 1))),
                    title: d.title,
                    text: d.text,
                    format: d
                        .format
                        .as_deref()
                        .map(Format::parse)
                        .transpose()?
                        .unwrap_or(Format::Text),
                    clean: d.clean.unwrap_or(true),
                    metadata: crate::index::Metadata::from_json(d.metadata.unwrap_or_default())
                        .map_err(IngestError::Metadata)?,
                    pages: Vec::new(),
                })
            })
            .collect()
    };
    let bad = |at: String, e: serde_json::Error| IngestError::Json {
        at,
        detail: e.to_string(),
    };
    let whole = || at.to_string();
    match ext {
        "md" | "markdown" => Ok(one(Format::Markdown)),
        "html" | "htm" => Ok(one(Format::Html)),
        "jsonl" | "ndjson" => {
            let items = text
                .lines()
                .enumerate()
                .filter(|(_, l)| !l.trim().is_empty())
                .map(|(n, l)| {
                    serde_json::from_str::<JsonDoc>(l)
                        .map_err(|e| bad(format!("{at}:{}", n + 1), e))
                })
                .collect::<Result<Vec<_>>>()?;
            from_json(items)
        }
        "json" => {
            let value: serde_json::Value =
                serde_json::from_str(&text).map_err(|e| bad(whole(), e))?;
            let items = if value.is_array() {
                serde_json::from_value(value).map_err(|e| bad(whole(), e))?
            } else {
                vec![serde_json::from_value(value).map_err(|e| bad(whole(), e))?]
            };
            from_json(items)
        }
        _ => Ok(one(Format::Text)),
    }
}
