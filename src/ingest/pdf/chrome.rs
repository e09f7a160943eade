//! Page chrome in a PDF: running headers, footers and page numbers, which the page draws on
//! every page around the text. A line near the top or bottom edge is chrome when the same line
//! (digits aside, so "第 3 页" and "第 4 页" are one line) is near an edge on at least half the
//! pages, or when it is a page number alone.

use std::collections::HashMap;

use super::layout::Line;

/// How far from the top or bottom edge chrome lies, as a share of the page's height.
const BAND: f32 = 0.12;

/// A page's lines and the vertical extent of its page box.
pub struct Page {
    /// Lines, in any order.
    pub lines: Vec<Line>,
    /// Bottom of the page box.
    pub bottom: f32,
    /// Top of the page box.
    pub top: f32,
}

impl Page {
    fn in_band(&self, l: &Line) -> bool {
        let band = BAND * (self.top - self.bottom).abs().max(1.0);
        l.y > self.top - band || l.y < self.bottom + band
    }
}

/// The line with digits as `#`, without spaces, lower-case: what repeats from page to page.
fn key(text: &str) -> String {
    text.chars()
        .filter(|c| !c.is_whitespace())
        .map(|c| {
            if c.is_numeric() {
                '#'
            } else {
                c.to_lowercase().next().unwrap_or(c)
            }
        })
        .collect::<String>()
        // Runs of digits count as one, so page 9 and page 10 match.
        .split('#')
        .filter(|s| !s.is_empty())
        .collect::<Vec<_>>()
        .join("#")
}

/// True for a page number alone: "3", "- 3 -", "第 3 页", "Page 3 of 10", "3 / 10".
pub fn page_number(text: &str) -> bool {
    let lower = text.to_lowercase();
    let rest: String = lower
        .replace("page", "")
        .replace("of", "")
        .chars()
        .filter(|c| !c.is_whitespace() && !"-–—/|.·第页共()[]".contains(*c))
        .collect();
    !rest.is_empty() && rest.chars().count() <= 8 && rest.chars().all(|c| c.is_ascii_digit())
}

/// Removes the chrome lines of `pages`; returns how many went.
pub fn strip(pages: &mut [Page]) -> usize {
    let mut seen: HashMap<String, usize> = HashMap::new();
    for p in pages.iter() {
        let mut keys: Vec<String> = p
            .lines
            .iter()
            .filter(|l| p.in_band(l))
            .map(|l| key(&l.text))
            .collect();
        keys.sort();
        keys.dedup();
        for k in keys {
            *seen.entry(k).or_default() += 1;
        }
    }
    let n = pages.len();
    let repeated = |k: &str| seen.get(k).is_some_and(|&c| c >= 2 && 2 * c >= n);
    let mut removed = 0;
    for p in pages.iter_mut() {
        let before = p.lines.len();
        let lines = std::mem::take(&mut p.lines);
        p.lines = lines
            .into_iter()
            .filter(|l| !(p.in_band(l) && (repeated(&key(&l.text)) || page_number(&l.text))))
            .collect();
        removed += before - p.lines.len();
    }
    removed
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(text: &str, y: f32) -> Line {
        Line {
            text: text.into(),
            x0: 50.0,
            x1: 300.0,
            y,
            size: 10.0,
            block_x0: 0.0,
            block_x1: 0.0,
            block: 0,
        }
    }

    #[test]
    fn page_numbers_are_recognised_in_the_usual_forms() {
        for t in ["3", "- 3 -", "第 3 页", "Page 3 of 10", "3 / 10", "— 12 —"] {
            assert!(page_number(t), "{t}");
        }
        for t in ["2025年", "Chapter 3", "3. Goals", "第三章"] {
            assert!(!page_number(t), "{t}");
        }
    }

    #[test]
    fn repeated_edge_lines_go_and_body_lines_stay() {
        let page = |n: usize| Page {
            lines: vec![
                line("中共苏州市委文件", 800.0),
                line(&format!("本文第{n}段正文"), 400.0),
                line("重复的正文行", 380.0),
                line(&format!("印发 第 {n} 页"), 30.0),
            ],
            bottom: 0.0,
            top: 842.0,
        };
        let mut pages: Vec<Page> = (1..=3).map(page).collect();
        assert_eq!(strip(&mut pages), 6);
        for (i, p) in pages.iter().enumerate() {
            let texts: Vec<&str> = p.lines.iter().map(|l| l.text.as_str()).collect();
            assert_eq!(
                texts,
                [format!("本文第{}段正文", i + 1).as_str(), "重复的正文行"]
            );
        }
    }
}
