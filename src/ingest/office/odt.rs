//! OpenDocument text (`.odt`, what LibreOffice writes): `text:h` headings with their outline
//! level, `text:p` paragraphs, table rows one line of cells, notes after the body. Headers and
//! footers belong to the master pages in `styles.xml` and are never read; tracked deletions are
//! skipped.

use quick_xml::events::Event;
use quick_xml::name::ResolveResult;
use quick_xml::NsReader;

use super::{
    attr, dc_title, entity, into_cell, one_line, push_block, row_line, unreadable, Blocks,
    Extracted, Package, MAX_NESTING, TITLE,
};
use crate::ingest::IngestError;

const TEXT: &str = "urn:oasis:names:tc:opendocument:xmlns:text:1.0";
const TABLE: &str = "urn:oasis:names:tc:opendocument:xmlns:table:1.0";

/// Most spaces one `text:s` stands for (its count is the file's to choose).
const MAX_SPACES: usize = 64;

/// Reads an `.odt` file.
pub fn read(bytes: &[u8]) -> Result<Extracted, IngestError> {
    let mut pkg = Package::open(bytes, "odt")?;
    let xml = pkg.required("content.xml")?;
    let mut out = Blocks::default();
    walk(&xml, &mut out)?;
    for note in std::mem::take(&mut out.notes) {
        push_block(&mut out.text, None, &note);
    }
    let title = pkg.part("meta.xml")?.as_deref().and_then(dc_title);
    Ok(Extracted {
        title: title.or(out.title),
        text: out.text,
    })
}

enum Frame {
    Para(String, Option<usize>),
    Row(Vec<String>),
    Cell(String),
    /// A note: its citation, then its body's paragraphs.
    Note(String),
    Citation,
}

pub(super) fn walk(xml: &str, out: &mut Blocks) -> Result<(), IngestError> {
    let mut reader = NsReader::from_str(xml);
    let mut stack: Vec<Frame> = Vec::new();
    let mut skip = 0usize;
    loop {
        let (ns, event) = reader
            .read_resolved_event()
            .map_err(|e| unreadable("odt", format!("XML: {e}")))?;
        let space = match ns {
            ResolveResult::Bound(n) if n.as_ref() == TEXT => Some(TEXT),
            ResolveResult::Bound(n) if n.as_ref() == TABLE => Some(TABLE),
            _ => None,
        };
        match event {
            Event::Start(e) => {
                let name = e.local_name();
                if skip > 0 || (space == Some(TEXT) && name.as_ref() == "tracked-changes") {
                    skip += 1;
                    continue;
                }
                let frame = match (space, name.as_ref()) {
                    (Some(TEXT), "h") => {
                        let level = attr(&e, "outline-level").and_then(|l| l.parse().ok());
                        Frame::Para(String::new(), Some(level.unwrap_or(1)))
                    }
                    (Some(TEXT), "p") => {
                        let title = attr(&e, "style-name").is_some_and(|s| s == "Title");
                        Frame::Para(String::new(), title.then_some(TITLE))
                    }
                    (Some(TEXT), "note") => Frame::Note(String::new()),
                    (Some(TEXT), "note-citation") => Frame::Citation,
                    (Some(TABLE), "table-row") => Frame::Row(Vec::new()),
                    (Some(TABLE), "table-cell") => Frame::Cell(String::new()),
                    _ => continue,
                };
                if stack.len() >= MAX_NESTING {
                    return Err(IngestError::TooDeep { limit: MAX_NESTING });
                }
                stack.push(frame);
            }
            Event::Empty(e) if skip == 0 && space == Some(TEXT) => match e.local_name().as_ref() {
                "s" => {
                    let n = attr(&e, "c").and_then(|c| c.parse().ok()).unwrap_or(1);
                    text(&mut stack, &" ".repeat(usize::min(n, MAX_SPACES)));
                }
                "tab" | "line-break" => text(&mut stack, " "),
                _ => {}
            },
            Event::Text(t) if skip == 0 => text(&mut stack, &t.xml10_content()),
            Event::GeneralRef(r) if skip == 0 => text(&mut stack, &entity(&r).unwrap_or_default()),
            Event::End(e) => {
                if skip > 0 {
                    skip -= 1;
                    continue;
                }
                let ends = matches!(
                    (space, e.local_name().as_ref()),
                    (Some(TEXT), "h" | "p" | "note" | "note-citation")
                        | (Some(TABLE), "table-row" | "table-cell")
                );
                if ends {
                    close(&mut stack, out);
                }
            }
            Event::Eof => break,
            _ => {}
        }
    }
    Ok(())
}

/// Text goes to the innermost paragraph, or to the citation being read.
fn text(stack: &mut [Frame], s: &str) {
    match stack
        .iter_mut()
        .rev()
        .find(|f| matches!(f, Frame::Para(..) | Frame::Citation))
    {
        Some(Frame::Para(t, _)) => t.push_str(s),
        Some(Frame::Citation) => {
            // The citation's number, kept by the note (and marked in the paragraph).
            if let Some(Frame::Note(c)) =
                stack.iter_mut().rev().find(|f| matches!(f, Frame::Note(_)))
            {
                c.push_str(s.trim());
            }
        }
        _ => {}
    }
}

fn close(stack: &mut Vec<Frame>, out: &mut Blocks) {
    let (text, level) = match stack.pop() {
        Some(Frame::Para(t, l)) => (t, l),
        Some(Frame::Cell(t)) => {
            if let Some(Frame::Row(cells)) = stack.last_mut() {
                cells.push(one_line(&t));
            }
            return;
        }
        Some(Frame::Row(cells)) => (row_line(cells), None),
        Some(Frame::Citation) => {
            // Mark the note in the paragraph that cites it.
            let cited = stack.iter().rev().find_map(|f| match f {
                Frame::Note(c) => Some(c.clone()),
                _ => None,
            });
            if let (Some(c), Some(Frame::Para(t, _))) = (cited, outer_para(stack)) {
                t.push_str(&format!("[{c}]"));
            }
            return;
        }
        Some(Frame::Note(_)) | None => return,
    };
    match stack.last_mut() {
        Some(Frame::Cell(cell)) => into_cell(cell, &text),
        Some(Frame::Note(c)) => {
            let line = one_line(&text);
            if !line.is_empty() {
                out.notes.push(format!("[{c}] {line}"));
            }
        }
        _ => out.block(level, &text),
    }
}

/// The paragraph a note sits in: the nearest paragraph below the innermost note.
fn outer_para(stack: &mut [Frame]) -> Option<&mut Frame> {
    let note = stack.iter().rposition(|f| matches!(f, Frame::Note(_)))?;
    stack[..note]
        .iter_mut()
        .rev()
        .find(|f| matches!(f, Frame::Para(..)))
}
