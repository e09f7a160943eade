//! Cutting a clean article into passages along its own structure.
//!
//! Chinese policy documents number sections 一、二、… and clauses 1. 2. … or （一）（二）…;
//! Markdown has `#` headings. A passage is one clause or paragraph, carrying its section heading
//! and clause number. A clause too long for the model is cut at sentence ends (。！？；.!?) into
//! chunks that fit, never inside a sentence unless that sentence alone is too long.

use super::Document;

/// A passage before it has an id: metadata and its span in [`Document::text`].
#[derive(Debug, Clone, PartialEq)]
pub struct Draft {
    /// Heading text of the enclosing section.
    pub section: Option<String>,
    /// Clause number ("13", "三").
    pub clause: Option<String>,
    /// Passage text.
    pub text: String,
    /// Start, in characters, in the document's clean text.
    pub start: usize,
    /// End (exclusive), in characters.
    pub end: usize,
    /// Page (1-based) the passage starts on, for a paginated document.
    pub page: Option<u32>,
}

/// Characters a cut of an over-long sentence starts from: more than any model window holds
/// (512 tokens are rarely more than 3,000 characters of even Latin text).
const CUT_WINDOW: usize = 4096;

const CN_NUMERALS: &str = "一二三四五六七八九十百零〇";

/// `一、准确把握…` → the heading; also `第一章 …`/`第一部分 …`.
pub fn section_heading(line: &str) -> Option<&str> {
    let t = line.trim();
    let numeral_len: usize = t
        .chars()
        .take_while(|c| CN_NUMERALS.contains(*c))
        .map(char::len_utf8)
        .sum();
    if numeral_len > 0 && t[numeral_len..].starts_with('、') {
        return Some(t);
    }
    if let Some(rest) = t.strip_prefix('第') {
        let n: usize = rest
            .chars()
            .take_while(|c| CN_NUMERALS.contains(*c) || c.is_ascii_digit())
            .map(char::len_utf8)
            .sum();
        if n > 0
            && ["章", "部分", "篇", "节"]
                .iter()
                .any(|s| rest[n..].starts_with(s))
            && t.chars().count() <= 60
        {
            return Some(t);
        }
    }
    None
}

/// `13.加快…` → "13"; `（二）坚持…` → "二"; `4.2%…` is not a clause.
pub fn clause_number(line: &str) -> Option<String> {
    let t = line.trim();
    let digits: usize = t.chars().take_while(|c| c.is_ascii_digit()).count();
    if (1..=3).contains(&digits) {
        let mut rest = t[digits..].chars();
        if let (Some(sep), Some(next)) = (rest.next(), rest.next()) {
            if matches!(sep, '.' | '．' | '、') && !next.is_ascii_digit() {
                return Some(t[..digits].to_string());
            }
        }
    }
    for (open, close) in [('（', '）'), ('(', ')')] {
        if let Some(rest) = t.strip_prefix(open) {
            let n: usize = rest
                .chars()
                .take_while(|c| CN_NUMERALS.contains(*c))
                .map(char::len_utf8)
                .sum();
            if n > 0 && rest[n..].starts_with(close) {
                return Some(rest[..n].to_string());
            }
        }
    }
    None
}

/// Sentences of `text` with their char offsets; the end punctuation stays with its sentence.
/// A '.' ends a sentence only before whitespace or the end (so 4.2% and e.g. URLs stay whole),
/// and not after an initial or a short abbreviation ("S.G. Tallentyre", "John H. McArthur",
/// "Dr. Apgar", "U.S. Soccer"). Nothing ends inside brackets or quotes opened in the sentence
/// (a quoted definition of several sentences, "（学名：…；…）") unless they stay open for
/// [`MAX_ENCLOSED`] characters (a stray opening mark must not swallow the text).
pub fn sentences(text: &str) -> Vec<(usize, usize)> {
    let chars: Vec<char> = text.chars().collect();
    let mut out = Vec::new();
    let mut start = 0;
    let mut i = 0;
    let mut open: Vec<(char, usize)> = Vec::new();
    while i < chars.len() {
        let c = chars[i];
        let mut closed = false;
        if let Some(close) = closing_mark(c) {
            open.push((close, i));
        } else if open.last().is_some_and(|&(close, _)| close == c) {
            open.pop();
            closed = true;
        }
        if open.first().is_some_and(|&(_, at)| i - at > MAX_ENCLOSED) {
            open.clear();
        }
        let end = match c {
            // A quotation that ends its own sentence ends the one around it: 他说：“好。”
            _ if closed && open.is_empty() && i > 0 && FULL_STOPS.contains(&chars[i - 1]) => true,
            _ if !open.is_empty() => false,
            c if FULL_STOPS.contains(&c) || matches!(c, '；' | ';') => true,
            '.' => {
                chars.get(i + 1).is_none_or(|n| n.is_whitespace())
                    && !abbreviation(&chars[start..i])
            }
            _ => false,
        };
        if end {
            // Closing quotes and brackets belong to the sentence they close.
            let mut j = i + 1;
            while j < chars.len()
                && matches!(chars[j], '”' | '’' | '"' | '\'' | '）' | ')' | '」' | '』')
            {
                j += 1;
            }
            push_trimmed(&chars, start, j, &mut out);
            start = j;
            i = j;
            continue;
        }
        i += 1;
    }
    push_trimmed(&chars, start, chars.len(), &mut out);
    out
}

/// Marks that end a sentence wherever they stand outside brackets and quotes.
const FULL_STOPS: [char; 5] = ['。', '！', '？', '!', '?'];

/// Longest stretch (characters) a bracket or quote may hold a sentence open.
pub const MAX_ENCLOSED: usize = 400;

/// The mark that closes `c`, when `c` opens a bracket or a quote. ASCII quotes are left out:
/// the same mark opens and closes them, so a stray one would hold every later sentence open.
fn closing_mark(c: char) -> Option<char> {
    Some(match c {
        '“' => '”',
        '‘' => '’',
        '（' => '）',
        '(' => ')',
        '「' => '」',
        '『' => '』',
        '《' => '》',
        '【' => '】',
        _ => return None,
    })
}

/// True when the word before a '.' is an initial ("H") or one of a few title and country
/// abbreviations, so the '.' does not end the sentence.
fn abbreviation(before: &[char]) -> bool {
    const SHORT: &[&str] = &[
        "dr", "mr", "mrs", "ms", "st", "jr", "sr", "prof", "no", "vs", "u.s",
    ];
    let from = before
        .iter()
        .rposition(|c| !(c.is_ascii_alphabetic() || *c == '.'))
        .map_or(0, |i| i + 1);
    let word: String = before[from..].iter().collect();
    let initials = !word.is_empty()
        && word
            .split('.')
            .all(|p| p.len() == 1 && p.chars().all(|c| c.is_ascii_uppercase()));
    initials || SHORT.contains(&word.to_ascii_lowercase().as_str())
}

fn push_trimmed(chars: &[char], mut a: usize, mut b: usize, out: &mut Vec<(usize, usize)>) {
    while a < b && chars[a].is_whitespace() {
        a += 1;
    }
    while b > a && chars[b - 1].is_whitespace() {
        b -= 1;
    }
    if b > a {
        out.push((a, b));
    }
}

/// Splits `doc` into passages. `fits` says whether a text fits the model's window (the caller
/// counts tokens with the real tokenizer; tests count characters).
pub fn split(doc: &Document, fits: &dyn Fn(&str) -> bool) -> Vec<Draft> {
    let mut out = split_lines(doc, fits);
    drop_inconsistent_sections(&mut out);
    out
}

/// The value of a Chinese numeral up to 99 (`十二` = 12).
fn cn_number(s: &str) -> Option<u32> {
    let digit = |c: char| {
        "零一二三四五六七八九"
            .find(c)
            .map(|i| (i / '一'.len_utf8()) as u32)
    };
    let c: Vec<char> = s.chars().collect();
    match c.as_slice() {
        [d] if *d == '十' => Some(10),
        [d] => digit(*d),
        ['十', u] => Some(10 + digit(*u)?),
        [t, '十'] => Some(10 * digit(*t)?),
        [t, '十', u] => Some(10 * digit(*t)? + digit(*u)?),
        _ => None,
    }
}

/// Number of an ordinal section heading (`三、…` → 3).
fn heading_ordinal(heading: &str) -> Option<u32> {
    cn_number(heading.split('、').next()?)
}

/// Sections numbered 一、二、… are kept only when the numbers run 1, 2, … N with N ≥ 2: a
/// numbered list of one, or one with gaps, means headings were lost (the bundled corpus's
/// scrape kept 一、 and lost the rest, which labelled all 60 clauses with section 一), and an
/// empty section is better than a wrong one.
fn drop_inconsistent_sections(drafts: &mut [Draft]) {
    let mut seen: Vec<u32> = Vec::new();
    for d in drafts.iter() {
        if let Some(n) = d.section.as_deref().and_then(heading_ordinal) {
            if seen.last() != Some(&n) {
                seen.push(n);
            }
        }
    }
    let consistent = seen.len() >= 2 && seen.iter().zip(1..).all(|(&n, i)| n == i);
    if seen.is_empty() || consistent {
        return;
    }
    for d in drafts.iter_mut() {
        if d.section.as_deref().and_then(heading_ordinal).is_some() {
            d.section = None;
        }
    }
}

fn split_lines(doc: &Document, fits: &dyn Fn(&str) -> bool) -> Vec<Draft> {
    let mut out = Vec::new();
    let mut section: Option<String> = None;
    let mut offset = 0; // char offset of the current line in doc.text
    for (number, line) in doc.text.split('\n').enumerate() {
        let pages = doc.pages.get(number);
        let page = |a: usize| pages.and_then(|p| super::page_at(p, a));
        let len = line.chars().count();
        let line_start = offset;
        offset += len + 1;
        let t = line.trim();
        if t.is_empty() {
            continue;
        }
        if doc.markdown && t.starts_with('#') {
            section = Some(t.trim_start_matches('#').trim().to_string());
            continue;
        }
        if let Some(h) = section_heading(t) {
            section = Some(h.to_string());
            continue;
        }
        let lead = line.chars().take_while(|c| c.is_whitespace()).count();
        let clause = clause_number(t);
        let base = line_start + lead;
        let text_chars: Vec<char> = t.chars().collect();
        let piece = |a: usize, b: usize| -> String { text_chars[a..b].iter().collect() };
        if fits(t) {
            out.push(Draft {
                section: section.clone(),
                clause,
                text: t.to_string(),
                start: base,
                end: base + text_chars.len(),
                page: page(0),
            });
            continue;
        }
        // Too long: greedy packing of whole sentences.
        let mut chunk: Option<(usize, usize)> = None;
        let emit = |a: usize, b: usize, out: &mut Vec<Draft>| {
            out.push(Draft {
                section: section.clone(),
                clause: clause.clone(),
                text: piece(a, b),
                start: base + a,
                end: base + b,
                page: page(a),
            });
        };
        for (a, b) in sentences(t) {
            if let Some((ca, _)) = chunk {
                if fits(&piece(ca, b)) {
                    chunk = Some((ca, b));
                    continue;
                }
                let (ca, cb) = chunk.take().expect("chunk");
                emit(ca, cb, &mut out);
            }
            if fits(&piece(a, b)) {
                chunk = Some((a, b));
            } else {
                // One sentence alone is too long: cut it by characters, halving until it fits.
                // Halving starts at most CUT_WINDOW characters in, so that a megabyte without
                // punctuation costs a few tokenizer calls per chunk, not a megabyte's worth.
                let mut s = a;
                while s < b {
                    let mut e = b.min(s + CUT_WINDOW);
                    while e > s + 1 && !fits(&piece(s, e)) {
                        e = s + (e - s) / 2;
                    }
                    emit(s, e, &mut out);
                    s = e;
                }
            }
        }
        if let Some((ca, cb)) = chunk {
            emit(ca, cb, &mut out);
        }
    }
    out
}
