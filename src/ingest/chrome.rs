//! Page chrome stripping for scraped articles.
//!
//! A scrape carries the site around the article: a header with the site name and menu, a
//! breadcrumb ("current location"), a date/counter line, image captions, adverts dropped between
//! paragraphs, and a footer (hotline, address, copyright, registration number). The rules here
//! recognise those *kinds* of line by their shape, in Chinese and English, never by this or that
//! site's strings: a breadcrumb has separators between short items, a meta line has a date and a
//! counter label, a caption names a figure, a footer starts at the first copyright/contact line
//! near the end, a promo is a short unpunctuated line that repeats or repeats the site's brand.
//! Everything before the first body paragraph except the title (and a parenthesised dateline) is
//! header.
//!
//! Stripping never removes a document's only content: a one-line note or FAQ entry looks like a
//! header line (short, no body paragraph after it), so when the rules would leave nothing, the
//! lines that no rule names as chrome of a specific kind are kept instead.

use regex::Regex;
use std::sync::LazyLock;

/// Result of stripping: the title found (if any) and the lines kept, in order.
#[derive(Debug, Clone, PartialEq)]
pub struct Stripped {
    /// The article title.
    pub title: Option<String>,
    /// Body lines.
    pub lines: Vec<String>,
}

static BREADCRUMB: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)^(当前位置|您的位置|您现在的位置|所在位置|位置|you are here|home\s*[>»›/])|\s[>»›]\s|[>»›]{1}.*[>»›]").unwrap()
});
static META: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?i)(更新时间|发布时间|发布日期|发表时间|时间[:：]|来源[:：]|作者[:：]|点击(次数|量|数)|浏览(次数|量)|阅读(次数|量)|字号|posted on|published|updated[:\s]|\bviews?\b|min read|\bby\s+[A-Z])",
    )
    .unwrap()
});
static DATE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"\d{4}\s*[-/.年]\s*\d{1,2}|\b(jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*\.?\s+\d{1,2}").unwrap()
});
static CAPTION: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)([(（]\s*(图|圖|photo|image|figure|fig\.?)\s*\d*\s*[)）]\s*$)|^(图|圖)\s*\d+|^(photo|image|figure|fig\.|picture|credit)\s*\d*\s*[:：]|^!\[[^\]]*\]\([^)]*\)$").unwrap()
});
static FOOTER: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?i)(copyright|©|版权所有|all rights reserved|icp备|备案号|公网安备|热线电话|服务热线|联系电话|联系我们|contact us|privacy policy|terms of (use|service)|扫一扫|扫码关注|关注我们|follow us on)",
    )
    .unwrap()
});
static PROMO: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)^(advertisement|sponsored|ad|广告|推广|赞助)$|^(\*|_)?(sponsored|advertisement)\b|subscribe (to|now)|sign up for our|newsletter|订阅|下载app|点击(进入|查看|这里)|click here|read more:|related:|推荐阅读|相关阅读|share (this|on)|分享到").unwrap()
});
static SENTENCE_PUNCT: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"[。！？；，,.!?;:：]").unwrap());

fn chars(s: &str) -> usize {
    s.chars().count()
}

/// Characters from which a line is body whatever its punctuation: chrome lines (menus, bylines,
/// footers, adverts) are short, and a long unpunctuated line is text someone wrote that way.
const LONG_LINE: usize = 200;

/// A line that reads as prose: long enough and punctuated, a complete sentence, or long.
fn is_body(line: &str) -> bool {
    let n = chars(line);
    if n >= LONG_LINE {
        return true;
    }
    let punct = SENTENCE_PUNCT.find_iter(line).count();
    let sentence = n >= 20 && line.ends_with(['。', '！', '？', '.', '!', '?', '”', '"']);
    (n >= 40 && punct >= 2) || (n >= 80 && punct >= 1) || sentence
}

fn is_breadcrumb(line: &str) -> bool {
    chars(line) <= 80 && BREADCRUMB.is_match(line) && !is_body(line)
}

fn is_meta(line: &str) -> bool {
    chars(line) <= 100
        && META.is_match(line)
        && (DATE.is_match(line) || chars(line) <= 40)
        && !is_body(line)
}

fn is_caption(line: &str) -> bool {
    chars(line) <= 120 && CAPTION.is_match(line)
}

fn is_footer(line: &str) -> bool {
    chars(line) <= 160 && FOOTER.is_match(line)
}

fn is_promo(line: &str) -> bool {
    chars(line) <= 60
        && PROMO.is_match(line.trim_matches(|c: char| c == '*' || c == '_' || c == '[' || c == ']'))
}

/// Site-name lines join parts with separators ("Article - Site", "Site | Section") or call
/// themselves the official site.
fn is_site_name(line: &str) -> bool {
    !is_body(line)
        && (line.contains(" - ")
            || line.contains(" | ")
            || line.contains(" – ")
            || line.contains("官方网站")
            || line.contains("官网"))
}

/// Latin/digit brand tokens of the site name ("j9", "example"), used to spot promos for the site.
fn brand_tokens(site: &str) -> Vec<String> {
    site.split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|t| t.len() >= 2 && t.chars().any(|c| c.is_ascii_alphabetic()))
        .map(|t| t.to_ascii_lowercase())
        .filter(|t| {
            !matches!(
                t.as_str(),
                "com" | "www" | "cn" | "net" | "org" | "html" | "the" | "and"
            )
        })
        .collect()
}

fn is_heading(line: &str, markdown: bool) -> bool {
    (markdown && line.starts_with('#')) || super::split::section_heading(line).is_some()
}

/// Strips chrome from `blocks` (one trimmed line per block).
pub fn strip(blocks: &[String], markdown: bool) -> Stripped {
    let lines: Vec<&str> = blocks
        .iter()
        .map(|b| b.trim())
        .filter(|b| !b.is_empty())
        .collect();
    let n = lines.len();
    let mut keep = vec![true; n];

    // Footer: from the first footer line in the last 40% of the page to the end.
    let tail_start = n * 3 / 5;
    if let Some(f) = (tail_start..n).find(|&i| is_footer(lines[i])) {
        keep[f..].iter_mut().for_each(|k| *k = false);
        // Short unpunctuated lines right before the footer are its widgets ("Follow us", logos).
        let mut i = f;
        while i > 0
            && !is_body(lines[i - 1])
            && chars(lines[i - 1]) <= 20
            && !is_heading(lines[i - 1], markdown)
        {
            i -= 1;
            keep[i] = false;
        }
    }

    // Header: everything before the first body paragraph, except the title and a dateline.
    let body_start = (0..n)
        .find(|&i| is_body(lines[i]) && !is_meta(lines[i]))
        .unwrap_or(n);
    let mut title: Option<String> = None;
    let brands: Vec<String> = lines
        .iter()
        .take(body_start.min(3))
        .filter(|l| is_site_name(l))
        .flat_map(|l| brand_tokens(l))
        .collect();
    let mut header_heading = None;
    for i in 0..body_start {
        let l = lines[i];
        let candidate = !is_breadcrumb(l)
            && !is_meta(l)
            && !is_caption(l)
            && !is_site_name(l)
            && !is_promo(l)
            && chars(l) >= 6;
        if markdown && l.starts_with("# ") && title.is_none() {
            title = Some(l.trim_start_matches('#').trim().to_string());
            keep[i] = false;
            continue;
        }
        if is_heading(l, markdown) && !l.starts_with("# ") {
            // A section heading above the first paragraph belongs to the body.
            header_heading.get_or_insert(i);
            continue;
        }
        let dateline =
            (l.starts_with('(') || l.starts_with('（')) && (l.ends_with(')') || l.ends_with('）'));
        if dateline && !is_caption(l) {
            continue;
        }
        keep[i] = false;
        if candidate && !markdown && title.as_ref().is_none_or(|t| chars(l) > chars(t)) {
            title = Some(l.to_string());
        }
    }
    if title.is_none() {
        // "Article title - Site name": the longest part is the article.
        if let Some(site) = lines.iter().take(body_start).find(|l| is_site_name(l)) {
            title = site
                .replace(" | ", " - ")
                .split(" - ")
                .max_by_key(|p| chars(p))
                .map(|p| p.trim().to_string());
        }
    }

    // Repeated short unpunctuated lines are boilerplate (adverts, share bars).
    let mut counts = std::collections::HashMap::new();
    for l in &lines {
        *counts.entry(*l).or_insert(0usize) += 1;
    }
    for i in body_start..n {
        let l = lines[i];
        if !keep[i] || is_heading(l, markdown) {
            continue;
        }
        let short = chars(l) <= 30 && !SENTENCE_PUNCT.is_match(l);
        let repeated = short && counts[l] >= 2;
        let brand = short && {
            let low = l.to_ascii_lowercase();
            brands.iter().any(|b| low.contains(b.as_str()))
        };
        if is_breadcrumb(l)
            || is_meta(l)
            || is_caption(l)
            || is_promo(l)
            || repeated
            || brand
            || title.as_deref() == Some(l)
        {
            keep[i] = false;
        }
    }
    if !keep.contains(&true) {
        // Nothing reads as an article: a short note, not a page. Keep what is not chrome of a
        // named kind, and failing that, everything.
        let named = |l: &str| {
            is_breadcrumb(l) || is_meta(l) || is_caption(l) || is_footer(l) || is_promo(l)
        };
        for (k, l) in keep.iter_mut().zip(&lines) {
            *k = !named(l);
        }
        if !keep.contains(&true) {
            keep.iter_mut().for_each(|k| *k = true);
        }
    }
    Stripped {
        title,
        lines: lines
            .iter()
            .zip(&keep)
            .filter(|(_, k)| **k)
            .map(|(l, _)| l.to_string())
            .collect(),
    }
}
