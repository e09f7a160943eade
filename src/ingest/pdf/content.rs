//! A page's content stream run just far enough to know where each character lands: the text
//! and graphics state operators, text shown by `Tj`/`TJ`/`'`/`"`, and form XObjects drawn by
//! `Do`. Everything else (paths, images, colour) is skipped.
//!
//! A hostile page is bounded three ways: the bytes a stream may inflate to, the operations run
//! (forms drawing forms count against one budget) and the depth of forms and saved states.

use std::collections::HashMap;

use lopdf::content::{Content, Operation};
use lopdf::{Dictionary, Document, Object, ObjectId};

use super::fonts::Font;

/// One character placed on the page, in default user space (points, y up).
#[derive(Debug, Clone, PartialEq)]
pub struct Glyph {
    /// What it shows (a ligature may be several characters; empty is dropped before this).
    pub text: String,
    /// Origin.
    pub x: f32,
    /// Baseline.
    pub y: f32,
    /// Advance along the baseline.
    pub width: f32,
    /// Font size as drawn (the text size scaled by both matrices).
    pub size: f32,
}

/// Bounds on one page's content.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Bytes any stream may inflate to.
    pub stream_bytes: usize,
    /// Operations run per page, forms included.
    pub operations: usize,
    /// Forms inside forms.
    pub form_depth: usize,
    /// Glyphs kept per page.
    pub glyphs: usize,
}

/// `q` nested deeper than this is treated as the deepest level (real pages use a handful).
const MAX_SAVED_STATES: usize = 256;

type Matrix = [f32; 6];

const IDENTITY: Matrix = [1.0, 0.0, 0.0, 1.0, 0.0, 0.0];

/// `a` then `b` (row vectors, as PDF composes them).
fn mul(a: &Matrix, b: &Matrix) -> Matrix {
    [
        a[0] * b[0] + a[1] * b[2],
        a[0] * b[1] + a[1] * b[3],
        a[2] * b[0] + a[3] * b[2],
        a[2] * b[1] + a[3] * b[3],
        a[4] * b[0] + a[5] * b[2] + b[4],
        a[4] * b[1] + a[5] * b[3] + b[5],
    ]
}

#[derive(Clone)]
struct State {
    ctm: Matrix,
    font: Option<Vec<u8>>,
    size: f32,
    char_spacing: f32,
    word_spacing: f32,
    scale: f32,
    leading: f32,
    rise: f32,
}

impl Default for State {
    fn default() -> Self {
        State {
            ctm: IDENTITY,
            font: None,
            size: 0.0,
            char_spacing: 0.0,
            word_spacing: 0.0,
            scale: 1.0,
            leading: 0.0,
            rise: 0.0,
        }
    }
}

/// Runs the content of page `page` of `doc` and returns its glyphs in drawing order.
pub fn page_glyphs(doc: &Document, page: ObjectId, limits: Limits) -> Vec<Glyph> {
    let mut run = Run {
        doc,
        limits,
        ops_left: limits.operations,
        glyphs: Vec::new(),
        fonts: HashMap::new(),
    };
    let Ok(content) = doc.get_page_content_with_limit(page, limits.stream_bytes) else {
        return Vec::new();
    };
    let resources = page_resources(doc, page);
    run.stream(&content, &resources, State::default(), 0);
    run.glyphs
}

/// The page's resources, inherited ones merged under its own.
fn page_resources(doc: &Document, page: ObjectId) -> Dictionary {
    let mut out = Dictionary::new();
    if let Ok((own, inherited)) = doc.get_page_resources(page) {
        for id in inherited.iter().rev() {
            if let Ok(d) = doc.get_dictionary(*id) {
                merge(&mut out, d);
            }
        }
        if let Some(d) = own {
            merge(&mut out, d);
        }
    }
    out
}

fn merge(into: &mut Dictionary, d: &Dictionary) {
    for (k, v) in d.iter() {
        into.set(k.clone(), v.clone());
    }
}

struct Run<'a> {
    doc: &'a Document,
    limits: Limits,
    ops_left: usize,
    glyphs: Vec<Glyph>,
    /// Fonts by their dictionary's object id, read once per page.
    fonts: HashMap<ObjectId, Font<'a>>,
}

fn num(o: &Object) -> f32 {
    match o {
        Object::Integer(i) => *i as f32,
        Object::Real(r) if r.is_finite() => *r,
        _ => 0.0,
    }
}

impl<'a> Run<'a> {
    fn stream(&mut self, content: &[u8], resources: &Dictionary, start: State, depth: usize) {
        let mut state = start;
        let mut saved: Vec<State> = Vec::new();
        let mut tm = IDENTITY;
        let mut tlm = IDENTITY;
        for op in Content::decode_iter(content) {
            let Ok(Operation { operator, operands }) = op else {
                break;
            };
            if self.ops_left == 0 || self.glyphs.len() >= self.limits.glyphs {
                return;
            }
            self.ops_left -= 1;
            let n = |i: usize| operands.get(i).map(num).unwrap_or(0.0);
            match operator.as_str() {
                "q" if saved.len() < MAX_SAVED_STATES => saved.push(state.clone()),
                "Q" => {
                    if let Some(s) = saved.pop() {
                        state = s;
                    }
                }
                "cm" => state.ctm = mul(&[n(0), n(1), n(2), n(3), n(4), n(5)], &state.ctm),
                "BT" => {
                    tm = IDENTITY;
                    tlm = IDENTITY;
                }
                "Tf" => {
                    state.font = operands
                        .first()
                        .and_then(|o| o.as_name().ok())
                        .map(<[u8]>::to_vec);
                    state.size = n(1);
                }
                "Tc" => state.char_spacing = n(0),
                "Tw" => state.word_spacing = n(0),
                "Tz" => state.scale = n(0) / 100.0,
                "TL" => state.leading = n(0),
                "Ts" => state.rise = n(0),
                "Td" | "TD" => {
                    if operator == "TD" {
                        state.leading = -n(1);
                    }
                    tlm = mul(&[1.0, 0.0, 0.0, 1.0, n(0), n(1)], &tlm);
                    tm = tlm;
                }
                "Tm" => {
                    tlm = [n(0), n(1), n(2), n(3), n(4), n(5)];
                    tm = tlm;
                }
                "T*" => {
                    tlm = mul(&[1.0, 0.0, 0.0, 1.0, 0.0, -state.leading], &tlm);
                    tm = tlm;
                }
                "Tj" | "'" | "\"" => {
                    if operator != "Tj" {
                        if operator == "\"" {
                            state.word_spacing = n(0);
                            state.char_spacing = n(1);
                        }
                        tlm = mul(&[1.0, 0.0, 0.0, 1.0, 0.0, -state.leading], &tlm);
                        tm = tlm;
                    }
                    if let Some(Ok(s)) = operands.last().map(Object::as_str) {
                        self.show(s, resources, &state, &mut tm);
                    }
                }
                "TJ" => {
                    let Some(Ok(items)) = operands.first().map(Object::as_array) else {
                        continue;
                    };
                    for item in items {
                        match item {
                            Object::String(s, _) => self.show(s, resources, &state, &mut tm),
                            o => {
                                let tx = -num(o) / 1000.0 * state.size * state.scale;
                                tm = mul(&[1.0, 0.0, 0.0, 1.0, tx, 0.0], &tm);
                            }
                        }
                    }
                }
                "Do" if depth < self.limits.form_depth => {
                    if let Some(name) = operands.first().and_then(|o| o.as_name().ok()) {
                        self.form(name, resources, &state, depth);
                    }
                }
                _ => {}
            }
        }
    }

    /// Draws form XObject `name` (images and other XObjects are skipped).
    fn form(&mut self, name: &[u8], resources: &Dictionary, state: &State, depth: usize) {
        let doc = self.doc;
        let Some(stream) = resources
            .get(b"XObject")
            .and_then(|o| doc.dereference(o).map(|(_, o)| o))
            .and_then(Object::as_dict)
            .and_then(|x| x.get(name))
            .and_then(|o| doc.dereference(o).map(|(_, o)| o))
            .and_then(Object::as_stream)
            .ok()
        else {
            return;
        };
        if stream.dict.get(b"Subtype").and_then(Object::as_name).ok() != Some(b"Form") {
            return;
        }
        let Ok(content) = stream.decompressed_content_with_limit(self.limits.stream_bytes) else {
            return;
        };
        let mut inner = state.clone();
        if let Ok(m) = stream.dict.get(b"Matrix").and_then(Object::as_array) {
            if m.len() == 6 {
                let m: Vec<f32> = m.iter().map(num).collect();
                inner.ctm = mul(&[m[0], m[1], m[2], m[3], m[4], m[5]], &state.ctm);
            }
        }
        let own = stream
            .dict
            .get(b"Resources")
            .and_then(|o| doc.dereference(o).map(|(_, o)| o))
            .and_then(Object::as_dict)
            .ok();
        let resources = own.cloned().unwrap_or_else(|| resources.clone());
        self.stream(&content, &resources, inner, depth + 1);
    }

    fn show(&mut self, bytes: &[u8], resources: &Dictionary, state: &State, tm: &mut Matrix) {
        let doc = self.doc;
        let Some(name) = state.font.as_deref() else {
            return;
        };
        let Some((id, dict)) = resources
            .get(b"Font")
            .and_then(|o| doc.dereference(o).map(|(_, o)| o))
            .and_then(Object::as_dict)
            .and_then(|f| f.get(name))
            .and_then(|o| doc.dereference(o))
            .ok()
            .and_then(|(id, o)| o.as_dict().ok().map(|d| (id, d)))
        else {
            return;
        };
        let limit = self.limits.stream_bytes;
        let room = self.limits.glyphs.saturating_sub(self.glyphs.len());
        // A font object of the file is read once per page; a font written inline in the
        // resources (rare) each time it is used.
        match id.and_then(|id| doc.get_dictionary(id).ok().map(|d| (id, d))) {
            Some((id, shared)) => {
                let font = self
                    .fonts
                    .entry(id)
                    .or_insert_with(|| Font::new(doc, shared, limit));
                place(font, bytes, state, tm, &mut self.glyphs, room);
            }
            None => {
                let font = Font::new(doc, dict, limit);
                place(&font, bytes, state, tm, &mut self.glyphs, room);
            }
        }
    }
}

/// Places the codes of `bytes` shown in `font`, advancing the text matrix `tm`; keeps at most
/// `room` glyphs.
fn place(
    font: &Font<'_>,
    bytes: &[u8],
    state: &State,
    tm: &mut Matrix,
    out: &mut Vec<Glyph>,
    room: usize,
) {
    let size = state.size;
    let mut kept = 0;
    for code in font.codes(bytes) {
        let text = font.text(code);
        let advance = font.width(code, &text) / 1000.0 * size;
        let space = if font.is_word_space(code) {
            state.word_spacing
        } else {
            0.0
        };
        let placed = mul(tm, &state.ctm);
        let render = mul(
            &[size * state.scale, 0.0, 0.0, size, 0.0, state.rise],
            &placed,
        );
        let tx = (advance + state.char_spacing + space) * state.scale;
        let end = mul(&[1.0, 0.0, 0.0, 1.0, tx, 0.0], &placed);
        let (x, y) = (render[4], render[5]);
        let drawn = (render[2] * render[2] + render[3] * render[3]).sqrt();
        let text = text.replace(|c: char| c.is_control(), "");
        if !text.is_empty() && drawn.is_finite() && x.is_finite() && y.is_finite() && kept < room {
            out.push(Glyph {
                text,
                x,
                y,
                width: (end[4] - x).abs().min(drawn * 4.0),
                size: drawn,
            });
            kept += 1;
        }
        *tm = mul(&[1.0, 0.0, 0.0, 1.0, tx, 0.0], tm);
    }
}
