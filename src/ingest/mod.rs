//! Documents in: read files of several formats, strip the page chrome a web scrape carries, and
//! cut the article along its own structure into passages ([`split`]).

pub mod chrome;
pub mod split;

use std::path::Path;

use serde::Deserialize;

use crate::error::{Error, Result};

/// Input formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
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
            other => Err(Error::invalid(format!(
                "unknown format {other:?} (expected text, markdown or html)"
            ))),
        }
    }
}

/// A document before cleaning: what a file or an API call hands over.
#[derive(Debug, Clone)]
pub struct RawDocument {
    /// Document id (defaults to the file stem).
    pub doc: String,
    /// Title, when the source gives one; otherwise found in the text.
    pub title: Option<String>,
    /// Body.
    pub text: String,
    /// How to read `text`.
    pub format: Format,
}

/// A cleaned document ready to split.
#[derive(Debug, Clone, PartialEq)]
pub struct Document {
    /// Document id.
    pub doc: String,
    /// Title.
    pub title: String,
    /// Clean text: one block (heading or paragraph) per line.
    pub text: String,
    /// Whether lines of `text` may be Markdown headings.
    pub markdown: bool,
}

/// Cleans a raw document: format conversion, then chrome stripping.
pub fn clean(raw: &RawDocument) -> Document {
    let blocks = match raw.format {
        Format::Html => html_blocks(&raw.text),
        Format::Text => raw
            .text
            .lines()
            .map(|l| l.trim().to_string())
            .filter(|l| !l.is_empty())
            .collect(),
        Format::Markdown => markdown_blocks(&raw.text),
    };
    let cleaned = chrome::strip(&blocks, raw.format == Format::Markdown);
    let title = raw
        .title
        .clone()
        .filter(|t| !t.trim().is_empty())
        .or(cleaned.title)
        .unwrap_or_else(|| raw.doc.clone());
    Document {
        doc: raw.doc.clone(),
        title,
        text: cleaned.lines.join("\n"),
        markdown: raw.format == Format::Markdown,
    }
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

/// Text blocks of an HTML page: headings become Markdown headings so the splitter sees them;
/// scripts, styles and navigation elements are dropped outright.
fn html_blocks(html: &str) -> Vec<String> {
    use scraper::{Html, Node};
    let page = Html::parse_document(html);
    let mut out = Vec::new();
    let mut current = String::new();
    fn walk(node: ego_tree::NodeRef<'_, Node>, out: &mut Vec<String>, current: &mut String) {
        match node.value() {
            Node::Text(t) => {
                let s = t.split_whitespace().collect::<Vec<_>>().join(" ");
                if !s.is_empty() {
                    if !current.is_empty() && !current.ends_with(' ') {
                        current.push(' ');
                    }
                    current.push_str(&s);
                }
            }
            Node::Element(e) => {
                let name = e.name();
                if matches!(
                    name,
                    "script"
                        | "style"
                        | "noscript"
                        | "nav"
                        | "template"
                        | "svg"
                        | "iframe"
                        | "form"
                ) {
                    return;
                }
                let block = matches!(
                    name,
                    "p" | "div"
                        | "section"
                        | "article"
                        | "header"
                        | "footer"
                        | "li"
                        | "br"
                        | "tr"
                        | "h1"
                        | "h2"
                        | "h3"
                        | "h4"
                        | "h5"
                        | "h6"
                        | "blockquote"
                        | "pre"
                        | "figcaption"
                        | "table"
                        | "ul"
                        | "ol"
                        | "aside"
                        | "main"
                        | "title"
                );
                if block {
                    flush_block(out, current);
                }
                let level = match name {
                    "h1" => 1,
                    "h2" => 2,
                    "h3" => 3,
                    "h4" | "h5" | "h6" => 4,
                    _ => 0,
                };
                for child in node.children() {
                    walk(child, out, current);
                }
                if block {
                    if level > 0 && !current.is_empty() {
                        *current = format!("{} {}", "#".repeat(level), current.trim());
                    }
                    flush_block(out, current);
                }
            }
            _ => {
                for child in node.children() {
                    walk(child, out, current);
                }
            }
        }
    }
    fn flush_block(out: &mut Vec<String>, current: &mut String) {
        let t = current.trim();
        if !t.is_empty() {
            out.push(t.to_string());
        }
        current.clear();
    }
    // The <title> is usually "Article - Site": keep it as the first block, chrome rules sort it.
    walk(page.tree.root(), &mut out, &mut current);
    flush_block(&mut out, &mut current);
    out
}

#[derive(Deserialize)]
struct JsonDoc {
    text: String,
    #[serde(default)]
    doc: Option<String>,
    #[serde(default)]
    title: Option<String>,
    #[serde(default)]
    format: Option<String>,
}

/// Reads a file into raw documents: `.txt`, `.md`, `.html`, `.json` (one object or an array),
/// `.jsonl` (one object per line), each object with a `text` field and optional `doc`/`title`.
pub fn read_path(path: &Path) -> Result<Vec<RawDocument>> {
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    let text = String::from_utf8(bytes)
        .map_err(|_| Error::invalid(format!("{}: not valid UTF-8", path.display())))?;
    let stem = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "document".into());
    let ext = path
        .extension()
        .map(|e| e.to_string_lossy().to_ascii_lowercase())
        .unwrap_or_default();
    let one = |format| {
        vec![RawDocument {
            doc: stem.clone(),
            title: None,
            text: text.clone(),
            format,
        }]
    };
    let from_json = |items: Vec<JsonDoc>| -> Result<Vec<RawDocument>> {
        items
            .into_iter()
            .enumerate()
            .map(|(i, d)| {
                Ok(RawDocument {
                    doc: d.doc.unwrap_or_else(|| format!("{stem}-{}", i + 1)),
                    title: d.title,
                    text: d.text,
                    format: d
                        .format
                        .as_deref()
                        .map(Format::parse)
                        .transpose()?
                        .unwrap_or(Format::Text),
                })
            })
            .collect()
    };
    let bad = |e: serde_json::Error| Error::invalid(format!("{}: {e}", path.display()));
    match ext.as_str() {
        "md" | "markdown" => Ok(one(Format::Markdown)),
        "html" | "htm" => Ok(one(Format::Html)),
        "jsonl" | "ndjson" => {
            let items = text
                .lines()
                .filter(|l| !l.trim().is_empty())
                .map(|l| serde_json::from_str::<JsonDoc>(l).map_err(bad))
                .collect::<Result<Vec<_>>>()?;
            from_json(items)
        }
        "json" => {
            let value: serde_json::Value = serde_json::from_str(&text).map_err(bad)?;
            let items = if value.is_array() {
                serde_json::from_value(value).map_err(bad)?
            } else {
                vec![serde_json::from_value(value).map_err(bad)?]
            };
            from_json(items)
        }
        _ => Ok(one(Format::Text)),
    }
}

#[cfg(test)]
mod tests;
