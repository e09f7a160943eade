//! From placed glyphs to lines in reading order.
//!
//! Glyphs on one baseline are cut into lines wherever a gap wider than a word space opens, so
//! the two halves of a two-column row are two lines. Lines that follow each other down a page
//! and overlap across it form blocks (a column's paragraph or more); blocks are put in reading
//! order by Breuel's rule (High Performance Document Layout Analysis, 2003): a block comes
//! before another that it overlaps horizontally and is above, and before one entirely to its
//! right unless a block between them in height spans both (a full-width heading between two
//! column sections).

use super::content::Glyph;
use super::fonts::wide;

/// A run of text on one baseline.
#[derive(Debug, Clone, PartialEq)]
pub struct Line {
    /// Text, words separated by single spaces.
    pub text: String,
    /// Left edge.
    pub x0: f32,
    /// Right edge.
    pub x1: f32,
    /// Baseline (y up).
    pub y: f32,
    /// Font size.
    pub size: f32,
    /// Left edge of the block the line is in (set by [`order`]).
    pub block_x0: f32,
    /// Right edge of that block.
    pub block_x1: f32,
    /// Index of that block on its page.
    pub block: usize,
}

/// A gap wider than this many font sizes ends a line: word spaces, even justified ones, are
/// narrower, and column gutters wider.
const LINE_GAP: f32 = 1.2;

/// A gap wider than this many font sizes between two glyphs is a word space.
const WORD_GAP: f32 = 0.12;

/// Most blocks ordered by Breuel's rule on one page (cubic in the count); a page with more is
/// read top to bottom, left to right.
const MAX_ORDERED_BLOCKS: usize = 300;

/// Lines of a page's glyphs, top to bottom and left to right (not yet in reading order).
pub fn lines(glyphs: &[Glyph]) -> Vec<Line> {
    let mut idx: Vec<usize> = (0..glyphs.len()).collect();
    idx.sort_by(|&a, &b| glyphs[b].y.total_cmp(&glyphs[a].y));
    let mut rows: Vec<Vec<&Glyph>> = Vec::new();
    for i in idx {
        let g = &glyphs[i];
        match rows.last_mut() {
            Some(row) if (row[0].y - g.y).abs() <= (0.3 * row[0].size.max(g.size)).max(1.0) => {
                row.push(g)
            }
            _ => rows.push(vec![g]),
        }
    }
    let mut out = Vec::new();
    for mut row in rows {
        row.sort_by(|a, b| a.x.total_cmp(&b.x));
        let mut line: Option<Line> = None;
        for g in row {
            let size = g.size.max(0.1);
            if let Some(l) = line.as_mut() {
                let gap = g.x - l.x1;
                // The same glyph drawn twice in place (fake bold, shadows) is one glyph.
                let repeat = gap < -0.5 * g.width && l.text.ends_with(g.text.as_str());
                if repeat {
                    continue;
                }
                if gap <= LINE_GAP * size {
                    let last = l.text.chars().last().unwrap_or(' ');
                    let first = g.text.chars().next().unwrap_or(' ');
                    if gap > WORD_GAP * size
                        && !last.is_whitespace()
                        && !first.is_whitespace()
                        && !wide(last)
                        && !wide(first)
                    {
                        l.text.push(' ');
                    }
                    l.text.push_str(&g.text);
                    l.x1 = l.x1.max(g.x + g.width);
                    continue;
                }
                out.extend(finish(line.take()));
            }
            line = Some(Line {
                text: g.text.clone(),
                x0: g.x,
                x1: g.x + g.width,
                y: g.y,
                size,
                block_x0: 0.0,
                block_x1: 0.0,
                block: 0,
            });
        }
        out.extend(finish(line));
    }
    out
}

/// A line with its spaces normalised, or nothing if it holds only spaces.
fn finish(line: Option<Line>) -> Option<Line> {
    let mut l = line?;
    l.text = l.text.split_whitespace().collect::<Vec<_>>().join(" ");
    (!l.text.is_empty()).then_some(l)
}

struct Block {
    lines: Vec<Line>,
    x0: f32,
    x1: f32,
    top: f32,
    bottom: f32,
}

fn overlap(a0: f32, a1: f32, b0: f32, b1: f32) -> bool {
    a0.max(b0) < a1.min(b1)
}

/// Puts a page's lines (as [`lines`] returns them) in reading order, each knowing its block.
pub fn order(lines: Vec<Line>) -> Vec<Line> {
    let mut blocks: Vec<Block> = Vec::new();
    for l in lines {
        // The block whose last line sits right above this one, across the same stretch.
        let host = blocks.iter_mut().rev().find(|b| {
            let last = b.lines.last().expect("blocks are never empty");
            let step = last.y - l.y;
            step > 0.0
                && step <= 2.0 * last.size.max(l.size)
                && overlap(b.x0, b.x1, l.x0, l.x1)
                && (last.size - l.size).abs() <= 0.2 * last.size
        });
        match host {
            Some(b) => {
                b.x0 = b.x0.min(l.x0);
                b.x1 = b.x1.max(l.x1);
                b.bottom = l.y;
                b.lines.push(l);
            }
            None => blocks.push(Block {
                x0: l.x0,
                x1: l.x1,
                top: l.y,
                bottom: l.y,
                lines: vec![l],
            }),
        }
    }
    let sequence = reading_order(&blocks);
    let mut out = Vec::new();
    for (n, &i) in sequence.iter().enumerate() {
        let b = &blocks[i];
        let right = right_edge(&blocks, &sequence, n);
        for l in &b.lines {
            let mut l = l.clone();
            l.block_x0 = b.x0;
            l.block_x1 = right;
            l.block = n;
            out.push(l);
        }
    }
    out
}

/// The right edge of the column block `sequence[n]` is in: its own, or for a block of one line
/// (whose edge says nothing: it is as wide as it is) that of the nearest block of several lines
/// across the same stretch, so a short one-line paragraph is seen to end short.
fn right_edge(blocks: &[Block], sequence: &[usize], n: usize) -> f32 {
    let b = &blocks[sequence[n]];
    if b.lines.len() > 1 {
        return common_right(b);
    }
    let near = |&&i: &&usize| {
        let c = &blocks[i];
        c.lines.len() > 1 && overlap(c.x0, c.x1, b.x0, b.x1)
    };
    sequence[n + 1..]
        .iter()
        .find(near)
        .or_else(|| sequence[..n].iter().rev().find(near))
        .map_or(b.x1, |&i| common_right(&blocks[i]))
}

/// The right edge most of a block's lines reach (the largest among equals): its full lines'
/// edge, which a line whose width was overestimated (a font without usable widths) does not
/// move.
fn common_right(b: &Block) -> f32 {
    let near = |x: f32| {
        b.lines
            .iter()
            .filter(|l| (l.x1 - x).abs() <= 0.5 * l.size)
            .count()
    };
    b.lines
        .iter()
        .map(|l| (near(l.x1), l.x1))
        .max_by(|a, b| a.0.cmp(&b.0).then(a.1.total_cmp(&b.1)))
        .map_or(b.x1, |(_, x)| x)
}

/// Breuel's partial order, made total by a topological sort that takes the topmost (then
/// leftmost) block whose predecessors are all placed.
fn reading_order(blocks: &[Block]) -> Vec<usize> {
    let n = blocks.len();
    let by_position = |a: &usize, b: &usize| {
        blocks[*b]
            .top
            .total_cmp(&blocks[*a].top)
            .then(blocks[*a].x0.total_cmp(&blocks[*b].x0))
    };
    if n > MAX_ORDERED_BLOCKS {
        let mut all: Vec<usize> = (0..n).collect();
        all.sort_by(by_position);
        return all;
    }
    let before = |a: &Block, b: &Block| -> bool {
        if overlap(a.x0, a.x1, b.x0, b.x1) {
            return a.top > b.top;
        }
        if a.x1 <= b.x0 {
            let (hi, lo) = (a.top.max(b.top), a.bottom.min(b.bottom));
            return !blocks.iter().any(|c| {
                let between = c.top < hi && c.top > lo;
                between && overlap(c.x0, c.x1, a.x0, a.x1) && overlap(c.x0, c.x1, b.x0, b.x1)
            });
        }
        false
    };
    let mut preds = vec![0usize; n];
    let mut succ: Vec<Vec<usize>> = vec![Vec::new(); n];
    for a in 0..n {
        for b in 0..n {
            if a != b && before(&blocks[a], &blocks[b]) && !before(&blocks[b], &blocks[a]) {
                preds[b] += 1;
                succ[a].push(b);
            }
        }
    }
    let mut placed = vec![false; n];
    let mut out = Vec::with_capacity(n);
    while out.len() < n {
        // A cycle (which the rule should not make) is broken by position.
        let next = (0..n)
            .filter(|&i| !placed[i] && preds[i] == 0)
            .min_by(by_position)
            .or_else(|| (0..n).filter(|&i| !placed[i]).min_by(by_position))
            .expect("an unplaced block remains");
        placed[next] = true;
        out.push(next);
        for &s in &succ[next] {
            preds[s] = preds[s].saturating_sub(1);
        }
    }
    out
}
