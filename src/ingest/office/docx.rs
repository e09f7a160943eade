//! Word `.docx` (Office Open XML): the body's paragraphs in order, heading styles as Markdown
//! headings (so a plan's chapters and clauses keep their structure), each table row one line of
//! cells, footnotes and endnotes after the body. Headers and footers live in parts of their own
//! and are never read; deleted tracked changes (`w:delText`), field codes and the fallback copies
//! of drawings are skipped.

use std::collections::HashMap;

use quick_xml::events::{BytesStart, Event};
use quick_xml::name::ResolveResult;
use quick_xml::NsReader;

use super::{
    attr, dc_title, entity, into_cell, one_line, push_block, row_line, unreadable, Blocks,
    Extracted, Package, MAX_NESTING, TITLE,
};
use crate::ingest::IngestError;

/// WordprocessingML's namespaces: transitional (what Word writes) and strict.
const W: [&str; 2] = [
    "http://schemas.openxmlformats.org/wordprocessingml/2006/main",
    "http://purl.oclc.org/ooxml/wordprocessingml/main",
];

/// Markup compatibility: `mc:Fallback` repeats what `mc:Choice` holds.
const MC: &str = "http://schemas.openxmlformats.org/markup-compatibility/2006";

/// Steps followed along `w:basedOn` to find a style's heading level.
const MAX_STYLE_CHAIN: usize = 10;

/// Reads a `.docx` file.
pub fn read(bytes: &[u8]) -> Result<Extracted, IngestError> {
    let mut pkg = Package::open(bytes, "docx")?;
    let levels = match pkg.part("word/styles.xml")? {
        Some(xml) => heading_levels(&xml)?,
        None => HashMap::new(),
    };
    let mut out = Blocks::default();
    body(&pkg.required("word/document.xml")?, &levels, &mut out)?;
    for part in ["word/footnotes.xml", "word/endnotes.xml"] {
        if let Some(xml) = pkg.part(part)? {
            body(&xml, &levels, &mut out)?;
        }
    }
    let title = pkg.part("docProps/core.xml")?.as_deref().and_then(dc_title);
    Ok(Extracted {
        title: title.or(out.title),
        text: out.text,
    })
}

/// What the walk is inside of.
enum Frame {
    /// A paragraph: its text and heading level.
    Para(String, Option<usize>),
    /// A table row: its cells' text.
    Row(Vec<String>),
    /// A table cell.
    Cell(String),
    /// A note (footnote or endnote): its number, written before its first paragraph.
    Note(Option<String>),
}

/// Appends the blocks of one part (the body, or the notes) to `out`.
pub(super) fn body(
    xml: &str,
    levels: &HashMap<String, usize>,
    out: &mut Blocks,
) -> Result<(), IngestError> {
    let mut reader = NsReader::from_str(xml);
    let mut stack: Vec<Frame> = Vec::new();
    // Inside `w:t`, inside a run, inside skipped markup (a depth, since it may nest).
    let (mut in_text, mut in_run, mut skip) = (false, 0usize, 0usize);
    loop {
        let (ns, event) = reader
            .read_resolved_event()
            .map_err(|e| unreadable("docx", format!("XML: {e}")))?;
        let w = matches!(ns, ResolveResult::Bound(n) if W.contains(&n.as_ref()));
        let mc = matches!(ns, ResolveResult::Bound(n) if n.as_ref() == MC);
        match event {
            Event::Start(e) => {
                let name = e.local_name();
                if skip > 0 || (mc && name.as_ref() == "Fallback") {
                    skip += 1;
                    continue;
                }
                if !w {
                    continue;
                }
                let frame = match name.as_ref() {
                    "p" => Frame::Para(String::new(), None),
                    "tr" => Frame::Row(Vec::new()),
                    "tc" => Frame::Cell(String::new()),
                    "footnote" | "endnote" => {
                        // Separators are notes too, with no text worth keeping.
                        if attr(&e, "type").is_some_and(|t| t != "normal") {
                            skip += 1;
                            continue;
                        }
                        Frame::Note(attr(&e, "id"))
                    }
                    "r" => {
                        in_run += 1;
                        continue;
                    }
                    "t" => {
                        in_text = true;
                        continue;
                    }
                    "pStyle" | "outlineLvl" => {
                        style(&e, name.as_ref(), levels, &mut stack);
                        continue;
                    }
                    _ => continue,
                };
                if stack.len() >= MAX_NESTING {
                    return Err(IngestError::TooDeep { limit: MAX_NESTING });
                }
                stack.push(frame);
            }
            Event::Empty(e) => {
                if skip > 0 || !w {
                    continue;
                }
                let name = e.local_name();
                match name.as_ref() {
                    "pStyle" | "outlineLvl" => style(&e, name.as_ref(), levels, &mut stack),
                    "tab" | "br" | "cr" if in_run > 0 => text(&mut stack, " "),
                    "noBreakHyphen" if in_run > 0 => text(&mut stack, "-"),
                    "footnoteReference" | "endnoteReference" => {
                        if let Some(id) = attr(&e, "id") {
                            text(&mut stack, &format!("[{id}]"));
                        }
                    }
                    _ => {}
                }
            }
            Event::Text(t) if in_text && skip == 0 => text(&mut stack, &t.xml10_content()),
            Event::GeneralRef(r) if in_text && skip == 0 => {
                text(&mut stack, &entity(&r).unwrap_or_default())
            }
            Event::End(e) => {
                if skip > 0 {
                    skip -= 1;
                    continue;
                }
                if !w {
                    continue;
                }
                match e.local_name().as_ref() {
                    "t" => in_text = false,
                    "r" => in_run = in_run.saturating_sub(1),
                    "p" | "tr" | "tc" | "footnote" | "endnote" => close(&mut stack, out),
                    _ => {}
                }
            }
            Event::Eof => break,
            _ => {}
        }
    }
    Ok(())
}

/// Sets the heading level of the paragraph being read from its style or outline level.
fn style(e: &BytesStart<'_>, name: &str, levels: &HashMap<String, usize>, stack: &mut [Frame]) {
    let Some(Frame::Para(_, level)) = stack.last_mut() else {
        return;
    };
    let Some(val) = attr(e, "val") else {
        return;
    };
    if name == "pStyle" {
        if let Some(l) = levels.get(&val) {
            *level = Some(*l);
        }
    } else if let Some(l) = outline_level(&val) {
        *level = Some(l);
    }
}

/// `w:outlineLvl` 0-8 is heading 1-9; 9 is body text.
fn outline_level(val: &str) -> Option<usize> {
    val.parse::<usize>().ok().filter(|l| *l < 9).map(|l| l + 1)
}

/// Adds text to the innermost paragraph (text outside one, which Word never writes, is dropped).
fn text(stack: &mut [Frame], s: &str) {
    if let Some(Frame::Para(t, _)) = stack
        .iter_mut()
        .rev()
        .find(|f| matches!(f, Frame::Para(..)))
    {
        t.push_str(s);
    }
}

/// Ends the innermost frame: a paragraph goes into its cell or out as a block, a cell into its
/// row, a row (cells joined by ` | `) into the cell of an outer table or out as a block.
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
        Some(Frame::Note(_)) | None => return,
    };
    match stack.last_mut() {
        Some(Frame::Cell(cell)) => into_cell(cell, &text),
        Some(Frame::Note(id)) => {
            let marked = match id.take() {
                Some(id) => format!("[{id}] {text}"),
                None => text,
            };
            push_block(&mut out.text, None, &marked);
        }
        _ => out.block(level, &text),
    }
}

/// Heading level of every paragraph style that is a heading: named `heading N` (or `Title`,
/// [`TITLE`]), or with an outline level, directly or through the styles it is based on.
pub(super) fn heading_levels(xml: &str) -> Result<HashMap<String, usize>, IngestError> {
    struct Style {
        level: Option<usize>,
        based_on: Option<String>,
    }
    let mut styles: HashMap<String, Style> = HashMap::new();
    let mut reader = NsReader::from_str(xml);
    let mut current: Option<String> = None;
    loop {
        let (ns, event) = reader
            .read_resolved_event()
            .map_err(|e| unreadable("docx", format!("styles.xml: {e}")))?;
        if !matches!(ns, ResolveResult::Bound(n) if W.contains(&n.as_ref())) {
            if matches!(event, Event::Eof) {
                break;
            }
            continue;
        }
        match event {
            Event::Start(e) | Event::Empty(e) => {
                let name = e.local_name();
                match name.as_ref() {
                    "style" => {
                        current = attr(&e, "styleId");
                        if let Some(id) = &current {
                            styles.insert(
                                id.clone(),
                                Style {
                                    level: None,
                                    based_on: None,
                                },
                            );
                        }
                    }
                    "name" | "basedOn" | "outlineLvl" => {
                        let (Some(id), Some(val)) = (&current, attr(&e, "val")) else {
                            continue;
                        };
                        let Some(s) = styles.get_mut(id) else {
                            continue;
                        };
                        match name.as_ref() {
                            "name" => {
                                let n = val.to_ascii_lowercase();
                                if n == "title" {
                                    s.level = Some(TITLE);
                                } else if let Some(d) = n.strip_prefix("heading ") {
                                    s.level = d.trim().parse().ok().or(s.level);
                                }
                            }
                            "basedOn" => s.based_on = Some(val),
                            _ => s.level = outline_level(&val).or(s.level),
                        }
                    }
                    _ => {}
                }
            }
            Event::End(e) if e.local_name().as_ref() == "style" => current = None,
            Event::Eof => break,
            _ => {}
        }
    }
    let mut levels = HashMap::new();
    for id in styles.keys() {
        let mut at = Some(id);
        for _ in 0..MAX_STYLE_CHAIN {
            let Some(s) = at.and_then(|a| styles.get(a)) else {
                break;
            };
            if let Some(l) = s.level {
                levels.insert(id.clone(), l);
                break;
            }
            at = s.based_on.as_ref();
        }
    }
    Ok(levels)
}
