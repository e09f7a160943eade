//! PDF documents with a text layer, read with lopdf: each page's content run to place its
//! characters ([`content`], [`fonts`]), lines put in reading order ([`layout`]), running
//! headers, footers and page numbers dropped ([`chrome`]), and lines joined into paragraphs
//! that know the page they start on. The outline (bookmarks), when there is one, marks the
//! headings that give passages their sections.
//!
//! lopdf was chosen over pdf-extract, pdf_oxide and oxidize-pdf on the fixtures of
//! `tests/fixtures/pdf` (see `make.py` there): it alone decoded reportlab's `STSong-Light`
//! text (UniGB-UCS2-H, no ToUnicode map) fully, builds in a fraction of pdf_oxide's time, bounds
//! what streams inflate to, and opens owner-password files; layout is ours in any case.

pub mod chrome;
pub mod content;
pub mod fonts;
pub mod layout;
mod standard14;

use lopdf::{Document, LoadOptions, Object};

use super::{office::one_line, split, IngestError};
use layout::Line;

/// Pages read from one PDF; a longer one is refused.
pub const MAX_PAGES: usize = 5_000;

/// Bytes any one stream of a PDF may inflate to.
const MAX_STREAM_BYTES: usize = 64 << 20;

/// Bounds on each page's content.
const LIMITS: content::Limits = content::Limits {
    stream_bytes: MAX_STREAM_BYTES,
    operations: 2_000_000,
    form_depth: 8,
    glyphs: 200_000,
};

/// A paragraph or heading of a PDF and the page (1-based) it starts on.
#[derive(Debug, Clone, PartialEq)]
pub struct Block {
    /// Heading level (from the outline), or None for a paragraph.
    pub level: Option<usize>,
    /// Text on one line.
    pub text: String,
    /// Page it starts on.
    pub page: u32,
    /// Where later pages begin inside `text`: (character offset, page), in order.
    pub turns: Vec<(u32, u32)>,
}

/// What a PDF holds.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Extracted {
    /// The document's title (its information dictionary), when set.
    pub title: Option<String>,
    /// Paragraphs and headings in reading order.
    pub blocks: Vec<Block>,
    /// Pages read.
    pub pages: usize,
}

fn unreadable(detail: impl Into<String>) -> IngestError {
    IngestError::Unreadable {
        format: "pdf",
        detail: detail.into(),
    }
}

/// Reads a PDF: its text in reading order, without page chrome. A PDF without a text layer, a
/// password-protected one (an owner password alone is no obstacle) and a damaged one are
/// refused with messages that say which.
pub fn read(bytes: &[u8]) -> Result<Extracted, IngestError> {
    // lopdf is not known to panic on hostile files, but a panic inside a parser must not take
    // the caller down: it becomes the file's error.
    std::panic::catch_unwind(|| read_inner(bytes))
        .unwrap_or_else(|_| Err(unreadable("the PDF reader failed on this file")))
}

fn read_inner(bytes: &[u8]) -> Result<Extracted, IngestError> {
    if !bytes[..bytes.len().min(1024)]
        .windows(5)
        .any(|w| w == b"%PDF-")
    {
        return Err(unreadable("not a PDF file (no %PDF- header)"));
    }
    let options = LoadOptions {
        max_decompressed_size: Some(MAX_STREAM_BYTES),
        ..LoadOptions::default()
    };
    let doc = Document::load_mem_with_options(bytes, options).map_err(|e| match e {
        lopdf::Error::Decryption(_) | lopdf::Error::InvalidPassword => encrypted(),
        e => unreadable(e.to_string()),
    })?;
    if doc.is_encrypted() {
        return Err(encrypted());
    }
    let ids: Vec<lopdf::ObjectId> = doc.get_pages().into_values().collect();
    if ids.len() > MAX_PAGES {
        return Err(unreadable(format!(
            "{} pages, more than the {MAX_PAGES} one document may have: split it",
            ids.len()
        )));
    }
    let mut pages: Vec<chrome::Page> = ids
        .iter()
        .map(|&id| {
            let (bottom, top) = page_box(&doc, id);
            chrome::Page {
                lines: layout::lines(&content::page_glyphs(&doc, id, LIMITS)),
                bottom,
                top,
            }
        })
        .collect();
    if pages.iter().all(|p| p.lines.is_empty()) {
        return Err(unreadable(
            "no text layer (scanned document?): run OCR on it first",
        ));
    }
    chrome::strip(&mut pages);
    let ordered: Vec<Vec<Line>> = pages.into_iter().map(|p| layout::order(p.lines)).collect();
    let mut blocks = paragraphs(&ordered);
    mark_headings(&doc, &mut blocks);
    Ok(Extracted {
        title: title(&doc),
        blocks,
        pages: ids.len(),
    })
}

fn encrypted() -> IngestError {
    unreadable("encrypted: it opens only with a password; save a copy without one")
}

/// Bottom and top of a page's crop (or media) box, inherited from its parents if need be.
fn page_box(doc: &Document, page: lopdf::ObjectId) -> (f32, f32) {
    let mut dict = doc.get_dictionary(page).ok();
    for _ in 0..32 {
        let Some(d) = dict else { break };
        for key in [b"CropBox".as_slice(), b"MediaBox"] {
            if let Ok(a) = d.get(key).and_then(|o| doc.dereference(o).map(|(_, o)| o)) {
                if let Ok(a) = a.as_array() {
                    let v: Vec<f32> = a.iter().filter_map(|o| o.as_float().ok()).collect();
                    if v.len() == 4 {
                        return (v[1].min(v[3]), v[1].max(v[3]));
                    }
                }
            }
        }
        dict = d
            .get(b"Parent")
            .and_then(Object::as_reference)
            .and_then(|id| doc.get_dictionary(id))
            .ok();
    }
    (0.0, 792.0)
}

/// The title in the information dictionary, if any.
fn title(doc: &Document) -> Option<String> {
    let info = doc
        .trailer
        .get(b"Info")
        .and_then(|o| doc.dereference(o).map(|(_, o)| o))
        .and_then(Object::as_dict)
        .ok()?;
    let t = lopdf::decode_text_string(info.get(b"Title").ok()?).ok()?;
    let t = one_line(&t);
    (!t.is_empty()).then_some(t)
}

/// True when `c` is set without spaces around it (CJK text and full-width punctuation).
fn tight(c: char) -> bool {
    fonts::wide(c) || matches!(c, '\u{3000}'..='\u{303F}')
}

/// Appends line `next` to paragraph text `text`: no space between CJK characters, a word
/// hyphenated at the line end joined again, one space otherwise.
fn join(text: &mut String, next: &str) {
    let last = text.chars().last().unwrap_or(' ');
    let before = text.chars().rev().nth(1).unwrap_or(' ');
    let first = next.chars().next().unwrap_or(' ');
    if last == '-' && before.is_alphabetic() && !tight(before) && first.is_lowercase() {
        text.pop();
    } else if !(tight(last) || tight(first)) {
        text.push(' ');
    }
    text.push_str(next);
}

/// Lines of every page, in reading order, joined into paragraphs.
fn paragraphs(pages: &[Vec<Line>]) -> Vec<Block> {
    let mut out: Vec<Block> = Vec::new();
    let mut prev: Option<&Line> = None;
    for (p, lines) in pages.iter().enumerate() {
        for l in lines {
            let starts = match prev {
                None => true,
                Some(q) => breaks(q, l),
            };
            let page = p as u32 + 1;
            match out.last_mut() {
                Some(b) if !starts => {
                    join(&mut b.text, &l.text);
                    let last = b.turns.last().map_or(b.page, |t| t.1);
                    if page != last {
                        let at = b.text.chars().count() - l.text.chars().count();
                        b.turns.push((at as u32, page));
                    }
                }
                _ => out.push(Block {
                    level: None,
                    text: l.text.clone(),
                    page,
                    turns: Vec::new(),
                }),
            }
            prev = Some(l);
        }
    }
    out
}

/// True when line `l` starts a paragraph after line `q`: a change of font size, an indented
/// first line, a clause number or chapter heading, a wider step down than a line's, or a line
/// that ends short of its column after a sentence's end. A short line that ends mid-sentence
/// (wrapped early before a word that would not fit) goes on in the next line of its block.
fn breaks(q: &Line, l: &Line) -> bool {
    let size = q.size.max(l.size);
    let indented = l.x0 > l.block_x0 + 0.8 * size;
    if (q.size - l.size).abs() > 0.1 * size || indented {
        return true;
    }
    let t = l.text.as_str();
    if split::clause_number(t).is_some() || split::section_heading(t).is_some() {
        return true;
    }
    let same_block = q.block == l.block;
    if same_block && q.y - l.y > 1.9 * size {
        return true;
    }
    let full = q.x1 >= q.block_x1 - 1.5 * size;
    if full {
        return false;
    }
    let ended = q.text.trim_end().ends_with(|c: char| {
        matches!(
            c,
            '。' | '！' | '？' | '；' | '：' | '.' | '!' | '?' | ';' | ':' | '”' | '"' | '）' | ')'
        )
    });
    ended || !same_block
}

/// Marks as headings the paragraphs the outline points at: on the entry's page, the first
/// paragraph that begins with the entry's title.
fn mark_headings(doc: &Document, blocks: &mut [Block]) {
    let Ok(toc) = doc.get_toc() else { return };
    let squash = |s: &str| -> String { s.chars().filter(|c| !c.is_whitespace()).collect() };
    let mut from = 0;
    for entry in toc.toc.iter().take(10_000) {
        let want = squash(&entry.title);
        if want.is_empty() {
            continue;
        }
        let found = blocks[from..]
            .iter()
            .position(|b| b.page as usize >= entry.page && squash(&b.text).starts_with(&want));
        if let Some(i) = found {
            let b = &mut blocks[from + i];
            if b.page as usize == entry.page && b.level.is_none() {
                b.level = Some(entry.level.clamp(1, 6));
                from += i + 1;
            }
        }
    }
}

#[cfg(test)]
mod tests;
