//! Office documents (`.docx`, `.odt`): a zip of XML parts, read with bounds, since a few
//! kilobytes of zip can inflate to gigabytes. Each format's reader ([`docx`], [`odt`]) walks its
//! XML as a stream of events with an explicit stack, so nesting depth costs no recursion.

pub mod docx;
pub mod odt;

use std::io::{Cursor, Read};

use super::IngestError;

/// Most bytes one part (e.g. `word/document.xml`) may inflate to; the whole document's text is
/// bounded far below this by the passage limits, so only a bomb reaches it.
pub const MAX_PART_BYTES: u64 = 64 << 20;

/// Deepest nesting of the containers a reader tracks (paragraphs in table cells in tables...).
pub const MAX_NESTING: usize = 64;

/// The first bytes of an OLE2 compound file: legacy `.doc`, `.xls`, `.ppt`.
const OLE2_MAGIC: [u8; 8] = [0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1];

/// Text and title of an office document; `text` is Markdown (headings as `#` lines, one block
/// per paragraph).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Extracted {
    /// The document's own title (document properties), when set.
    pub title: Option<String>,
    /// Markdown text.
    pub text: String,
}

/// An open zip package.
pub struct Package<'a> {
    zip: zip::ZipArchive<Cursor<&'a [u8]>>,
    format: &'static str,
}

impl<'a> Package<'a> {
    /// Opens `bytes` as the zip of a `format` document (`docx`, `odt`), refusing a legacy binary
    /// file with a message that names it.
    pub fn open(bytes: &'a [u8], format: &'static str) -> Result<Self, IngestError> {
        if bytes.starts_with(&OLE2_MAGIC) {
            return Err(IngestError::Unsupported(
                "a legacy binary Office file (.doc, OLE2): save it as .docx".into(),
            ));
        }
        let zip = zip::ZipArchive::new(Cursor::new(bytes))
            .map_err(|e| unreadable(format, format!("not a zip package: {e}")))?;
        Ok(Package { zip, format })
    }

    /// The text of part `name`, None when the package has no such part; an error when it
    /// inflates beyond [`MAX_PART_BYTES`] or is not UTF-8.
    pub fn part(&mut self, name: &str) -> Result<Option<String>, IngestError> {
        let format = self.format;
        let file = match self.zip.by_name(name) {
            Ok(f) => f,
            Err(zip::result::ZipError::FileNotFound) => return Ok(None),
            Err(e) => return Err(unreadable(format, format!("{name}: {e}"))),
        };
        let mut out = Vec::new();
        // The header's size may lie; the bound is on what inflating actually produces.
        file.take(MAX_PART_BYTES + 1)
            .read_to_end(&mut out)
            .map_err(|e| unreadable(format, format!("{name}: {e}")))?;
        if out.len() as u64 > MAX_PART_BYTES {
            return Err(unreadable(
                format,
                format!("{name} inflates beyond {} MiB", MAX_PART_BYTES >> 20),
            ));
        }
        String::from_utf8(out)
            .map(Some)
            .map_err(|_| unreadable(format, format!("{name} is not UTF-8 XML")))
    }

    /// Like [`Package::part`], for a part the format requires.
    pub fn required(&mut self, name: &str) -> Result<String, IngestError> {
        self.part(name)?
            .ok_or_else(|| unreadable(self.format, format!("no {name} in the package")))
    }
}

/// A damaged or hostile document of `format`.
pub fn unreadable(format: &'static str, detail: String) -> IngestError {
    IngestError::Unreadable { format, detail }
}

/// Reads the value of entity reference `&name;` inside text: a character reference or one of
/// XML's five named entities (documents declare no others).
pub fn entity(r: &quick_xml::events::BytesRef<'_>) -> Option<String> {
    if let Ok(Some(c)) = r.resolve_char_ref() {
        return Some(c.to_string());
    }
    quick_xml::escape::resolve_predefined_entity(&r.xml10_content()).map(str::to_string)
}

/// The value of attribute `local` (any namespace prefix) of `e`.
pub fn attr(e: &quick_xml::events::BytesStart<'_>, local: &str) -> Option<String> {
    e.attributes().flatten().find_map(|a| {
        (a.key.local_name().as_ref() == local)
            .then(|| {
                a.normalized_value(quick_xml::XmlVersion::Implicit1_0)
                    .ok()
                    .map(|v| v.into_owned())
            })
            .flatten()
    })
}

/// Appends a block to Markdown text: a heading of `level` (1-6) or a paragraph; empty blocks
/// are dropped and inner line breaks become spaces, so a block stays one line.
pub fn push_block(out: &mut String, level: Option<usize>, text: &str) {
    let line = one_line(text);
    if line.is_empty() {
        return;
    }
    if !out.is_empty() {
        out.push_str("\n\n");
    }
    if let Some(level) = level {
        out.push_str(&"#".repeat(level.clamp(1, 6)));
        out.push(' ');
    }
    out.push_str(&line);
}

/// Text on one line, runs of whitespace as one space.
pub fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The level a paragraph in the `Title` style is given: the document's title, not a section.
pub const TITLE: usize = 0;

/// What a reader has made of a document so far.
#[derive(Debug, Default)]
pub struct Blocks {
    /// Markdown blocks.
    pub text: String,
    /// Notes to put after the body (OpenDocument keeps them inside paragraphs).
    pub notes: Vec<String>,
    /// The first paragraph in the `Title` style.
    pub title: Option<String>,
}

impl Blocks {
    /// A finished paragraph or table row outside any cell or note: the title, a heading or a
    /// paragraph.
    pub fn block(&mut self, level: Option<usize>, text: &str) {
        if level != Some(TITLE) {
            push_block(&mut self.text, level, text);
        } else if self.title.is_none() {
            self.title = Some(one_line(text)).filter(|t| !t.is_empty());
        }
    }
}

/// A table row as one line: its non-empty cells joined by ` | `.
pub fn row_line(cells: Vec<String>) -> String {
    cells
        .into_iter()
        .filter(|c| !c.is_empty())
        .collect::<Vec<_>>()
        .join(" | ")
}

/// Adds a paragraph (or an inner table's row) to the text of the cell holding it.
pub fn into_cell(cell: &mut String, text: &str) {
    if !cell.is_empty() {
        cell.push(' ');
    }
    cell.push_str(text);
}

/// The title in a package's Dublin Core properties (`dc:title`), if any.
pub fn dc_title(xml: &str) -> Option<String> {
    let mut reader = quick_xml::Reader::from_str(xml);
    let mut inside = false;
    let mut title = String::new();
    loop {
        match reader.read_event().ok()? {
            quick_xml::events::Event::Start(e) if e.local_name().as_ref() == "title" => {
                inside = true
            }
            quick_xml::events::Event::End(e) if e.local_name().as_ref() == "title" => break,
            quick_xml::events::Event::Text(t) if inside => title.push_str(&t.xml10_content()),
            quick_xml::events::Event::GeneralRef(r) if inside => {
                title.push_str(&entity(&r).unwrap_or_default())
            }
            quick_xml::events::Event::Eof => break,
            _ => {}
        }
    }
    let title = title.trim().to_string();
    (!title.is_empty()).then_some(title)
}

#[cfg(test)]
mod tests;
