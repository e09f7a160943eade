//! A PDF font as text extraction needs it: how its string bytes split into character codes,
//! what each code means in Unicode, and how far each one advances.
//!
//! Meaning comes first from the font's `ToUnicode` map and simple encodings (lopdf reads
//! those), then from the predefined CJK CMaps Chinese producers name instead of embedding a map
//! (`UniGB-UCS2-H`, `GBK-EUC-H`, `B5pc-H`...), whose codes are UTF-16, GB18030 or Big5
//! themselves. Widths only place characters, so where a font gives none an estimate by
//! character class serves.

use lopdf::{Dictionary, Document, Encoding, Object};

/// How the bytes of a string split into codes, and what the codes mean when no `ToUnicode` map
/// says.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Codes {
    /// One byte per code (simple fonts).
    One,
    /// Two bytes per code (Identity-H and other composite fonts with a map).
    Two,
    /// UTF-16BE codes (`Uni*-UCS2-*`, `Uni*-UTF16-*`).
    Utf16,
    /// GB 2312 / GBK / GB18030 codes: one byte below 0x80, else two (four for GB18030's
    /// four-byte form).
    Gb,
    /// Big5 codes: one byte below 0x80, else two.
    Big5,
}

/// What a font needs to turn shown strings into characters and advances.
pub struct Font<'a> {
    codes: Codes,
    encoding: Option<Encoding<'a>>,
    widths: Widths,
    /// Spaces in this font are the single byte 32 (word spacing `Tw` applies to them).
    simple: bool,
}

/// Advance widths in thousandths of the font size.
enum Widths {
    /// Simple font: `Widths` from `FirstChar`.
    Simple { first: u32, widths: Vec<f32> },
    /// Composite font: `W` ranges by CID (CID = code for Identity), `DW` otherwise.
    Cid {
        default: f32,
        ranges: Vec<(u32, u32, f32)>,
        identity: bool,
    },
    /// No widths given, as the standard 14 fonts may do: their metrics by character when the
    /// font is one of them ([`super::standard14`]), else estimated.
    Standard {
        table: Option<&'static [u16; 256]>,
        mono: bool,
    },
}

/// Most `W` entries read from one font: a CJK font lists at most some 30,000 CIDs.
const MAX_WIDTH_RANGES: usize = 65_536;

impl<'a> Font<'a> {
    /// Reads font dictionary `dict` of `doc`; `limit` bounds the bytes any of its streams
    /// (a `ToUnicode` map) may inflate to.
    pub fn new(doc: &'a Document, dict: &'a Dictionary, limit: usize) -> Font<'a> {
        let subtype = dict
            .get(b"Subtype")
            .and_then(Object::as_name)
            .unwrap_or(b"");
        let has_to_unicode = dict.get(b"ToUnicode").is_ok();
        let encoding_name = dict
            .get(b"Encoding")
            .and_then(Object::as_name)
            .map(|n| String::from_utf8_lossy(n).into_owned())
            .unwrap_or_default();
        let encoding = dict.get_font_encoding_with_limit(doc, limit).ok();
        if subtype == b"Type0" {
            let codes = match predefined(&encoding_name) {
                Some(c) if !has_to_unicode => c,
                _ if encoding_name.starts_with("Uni") && encoding_name.contains("UCS2") => {
                    Codes::Utf16
                }
                _ => Codes::Two,
            };
            let descendant = dict
                .get(b"DescendantFonts")
                .and_then(|o| doc.dereference(o).map(|(_, o)| o))
                .and_then(Object::as_array)
                .ok()
                .and_then(|a| a.first())
                .and_then(|o| doc.dereference(o).ok())
                .and_then(|(_, o)| o.as_dict().ok());
            let widths = cid_widths(doc, descendant, encoding_name.starts_with("Identity"));
            return Font {
                codes,
                encoding,
                widths,
                simple: false,
            };
        }
        Font {
            codes: Codes::One,
            encoding,
            widths: simple_widths(doc, dict),
            simple: true,
        }
    }

    /// Splits `bytes` into codes: each code's bytes, in order.
    pub fn codes<'b>(&self, bytes: &'b [u8]) -> Vec<&'b [u8]> {
        let mut out = Vec::with_capacity(bytes.len());
        let mut i = 0;
        while i < bytes.len() {
            let b = bytes[i];
            let n = match self.codes {
                Codes::One => 1,
                Codes::Two => 2,
                Codes::Utf16 if (0xD8..0xDC).contains(&b) => 4,
                Codes::Utf16 => 2,
                Codes::Gb if b < 0x80 => 1,
                Codes::Gb if bytes.get(i + 1).is_some_and(|n| (0x30..=0x39).contains(n)) => 4,
                Codes::Gb | Codes::Big5 if b >= 0x80 => 2,
                Codes::Gb | Codes::Big5 => 1,
            };
            let end = (i + n).min(bytes.len());
            out.push(&bytes[i..end]);
            i = end;
        }
        out
    }

    /// What code `code` shows, empty when nothing says.
    pub fn text(&self, code: &[u8]) -> String {
        let decoded = match self.codes {
            Codes::Gb => Some(encoding_rs::GB18030.decode_without_bom_handling(code).0),
            Codes::Big5 => Some(encoding_rs::BIG5.decode_without_bom_handling(code).0),
            Codes::Utf16 => Some(encoding_rs::UTF_16BE.decode_without_bom_handling(code).0),
            Codes::One | Codes::Two => None,
        };
        if let Some(d) = decoded {
            return d.into_owned();
        }
        match &self.encoding {
            Some(e) => e.bytes_to_string(code).unwrap_or_default(),
            None if self.simple => code.iter().map(|&b| b as char).collect(),
            None => String::new(),
        }
    }

    /// True when `code` is the single-byte space that word spacing applies to.
    pub fn is_word_space(&self, code: &[u8]) -> bool {
        self.simple && code == [32]
    }

    /// Advance of `code` showing `text`, in thousandths of the font size.
    pub fn width(&self, code: &[u8], text: &str) -> f32 {
        let number = code.iter().fold(0u32, |n, &b| (n << 8) | b as u32);
        match &self.widths {
            Widths::Simple { first, widths } => number
                .checked_sub(*first)
                .and_then(|i| widths.get(i as usize))
                .copied()
                .filter(|w| *w > 0.0)
                .unwrap_or_else(|| estimate(text, false)),
            Widths::Cid {
                default,
                ranges,
                identity,
            } => {
                if *identity {
                    // Sorted by first CID; the nearest range starting at or below holds it, if any.
                    let i = ranges.partition_point(|r| r.0 <= number);
                    return match i.checked_sub(1).map(|i| ranges[i]) {
                        Some((_, last, w)) if number <= last => w,
                        _ => *default,
                    };
                }
                // Without the CMap the CID is unknown, but the CJK collections agree on ASCII:
                // printable ASCII is CIDs 1-95 (proportional or half-width); nearly all else,
                // ideographs and CJK punctuation such as “ ” alike, is full-width.
                let mut chars = text.chars();
                match (chars.next(), chars.next()) {
                    (Some(c @ ' '..='~'), None) => {
                        let cid = c as u32 - 0x1F;
                        let i = ranges.partition_point(|r| r.0 <= cid);
                        match i.checked_sub(1).map(|i| ranges[i]) {
                            Some((_, last, w)) if cid <= last => w,
                            _ => *default / 2.0,
                        }
                    }
                    _ => *default,
                }
            }
            Widths::Standard { table, mono } => match table {
                Some(t) if !*mono => text
                    .chars()
                    .map(|c| {
                        win_ansi(c)
                            .map(|b| t[b as usize] as f32)
                            .filter(|w| *w > 0.0)
                            .unwrap_or_else(|| estimate(c.encode_utf8(&mut [0; 4]), false))
                    })
                    .sum(),
                _ => estimate(text, *mono),
            },
        }
    }
}

/// The code scheme of a predefined CMap named as a composite font's encoding.
fn predefined(name: &str) -> Option<Codes> {
    if name.starts_with("Uni") && (name.contains("UCS2") || name.contains("UTF16")) {
        return Some(Codes::Utf16);
    }
    if name.starts_with("GB") {
        return Some(Codes::Gb);
    }
    if name.starts_with("B5") || name.starts_with("ETen") || name.starts_with("HKscs") {
        return Some(Codes::Big5);
    }
    None
}

/// True for characters set full-width (CJK ideographs, kana, hangul, full-width forms).
pub fn wide(c: char) -> bool {
    matches!(c as u32,
        0x1100..=0x11FF | 0x2E80..=0x9FFF | 0xA960..=0xA97F | 0xAC00..=0xD7FF
        | 0xF900..=0xFAFF | 0xFE30..=0xFE4F | 0xFF00..=0xFF60 | 0xFFE0..=0xFFE6
        | 0x20000..=0x3FFFF)
}

/// A width in thousandths of the font size when the font gives none: about Helvetica's.
fn estimate(text: &str, mono: bool) -> f32 {
    text.chars()
        .map(|c| match c {
            _ if mono => 600.0,
            _ if wide(c) => 1000.0,
            ' ' => 278.0,
            'i' | 'j' | 'l' | '.' | ',' | '\'' | '!' | '|' => 240.0,
            'm' | 'w' | 'M' | 'W' => 833.0,
            'A'..='Z' => 667.0,
            _ => 530.0,
        })
        .sum()
}

/// The metrics of the standard font `base` is (or stands in for), if any.
fn standard_table(base: &str) -> Option<&'static [u16; 256]> {
    use super::standard14::*;
    let bold = base.contains("Bold");
    let italic = base.contains("Italic") || base.contains("Oblique");
    if base.starts_with("Times") {
        return Some(match (bold, italic) {
            (false, false) => &TIMES_ROMAN,
            (true, false) => &TIMES_BOLD,
            (false, true) => &TIMES_ITALIC,
            (true, true) => &TIMES_BOLDITALIC,
        });
    }
    if base.starts_with("Helvetica") || base.starts_with("Arial") {
        return Some(if bold { &HELVETICA_BOLD } else { &HELVETICA });
    }
    None
}

/// The WinAnsi (Windows-1252) code of `c`, if it has one.
fn win_ansi(c: char) -> Option<u8> {
    let mut buf = [0u8; 4];
    let (bytes, _, unmappable) = encoding_rs::WINDOWS_1252.encode(c.encode_utf8(&mut buf));
    (!unmappable && bytes.len() == 1).then(|| bytes[0])
}

fn number(o: &Object) -> Option<f32> {
    match o {
        Object::Integer(i) => Some(*i as f32),
        Object::Real(r) => Some(*r),
        _ => None,
    }
}

fn simple_widths(doc: &Document, dict: &Dictionary) -> Widths {
    let first = dict
        .get(b"FirstChar")
        .ok()
        .and_then(number)
        .unwrap_or(0.0)
        .max(0.0) as u32;
    let widths: Vec<f32> = dict
        .get(b"Widths")
        .and_then(|o| doc.dereference(o).map(|(_, o)| o))
        .and_then(Object::as_array)
        .map(|a| {
            a.iter()
                .take(256)
                .map(|o| {
                    doc.dereference(o)
                        .ok()
                        .and_then(|(_, o)| number(o))
                        .unwrap_or(0.0)
                })
                .collect()
        })
        .unwrap_or_default();
    if widths.is_empty() {
        let base = dict
            .get(b"BaseFont")
            .and_then(Object::as_name)
            .unwrap_or(b"");
        let base = String::from_utf8_lossy(base);
        // A subset's name carries a six-letter tag: `ABCDEF+Helvetica`.
        let base = base.rsplit('+').next().unwrap_or_default();
        return Widths::Standard {
            table: standard_table(base),
            mono: base.starts_with("Courier"),
        };
    }
    Widths::Simple { first, widths }
}

fn cid_widths(doc: &Document, font: Option<&Dictionary>, identity: bool) -> Widths {
    let default = font
        .and_then(|f| f.get(b"DW").ok())
        .and_then(number)
        .unwrap_or(1000.0);
    let mut ranges = Vec::new();
    let w = font
        .and_then(|f| f.get(b"W").ok())
        .and_then(|o| doc.dereference(o).ok())
        .and_then(|(_, o)| o.as_array().ok());
    if let Some(w) = w {
        let mut i = 0;
        while i + 1 < w.len() && ranges.len() < MAX_WIDTH_RANGES {
            let Some(start) = number(&w[i]) else { break };
            let start = start.max(0.0) as u32;
            match doc.dereference(&w[i + 1]).map(|(_, o)| o) {
                Ok(Object::Array(list)) => {
                    for (k, o) in list.iter().take(MAX_WIDTH_RANGES).enumerate() {
                        if let Some(v) = number(o) {
                            let c = start.saturating_add(k as u32);
                            ranges.push((c, c, v));
                        }
                    }
                    i += 2;
                }
                Ok(o) => {
                    let (Some(end), Some(v)) = (number(o), w.get(i + 2).and_then(number)) else {
                        break;
                    };
                    ranges.push((start, end.max(0.0) as u32, v));
                    i += 3;
                }
                Err(_) => break,
            }
        }
    }
    ranges.sort_by_key(|r| r.0);
    Widths::Cid {
        default,
        ranges,
        identity,
    }
}
