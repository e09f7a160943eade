//! HTML to text blocks, one per block element, headings as Markdown headings so the splitter
//! sees them; scripts, styles and navigation are dropped outright.
//!
//! A page is input from anyone who can reach the service, so depth is guarded twice. The walk
//! over the parsed tree is iterative, with an explicit stack: a recursive walk let 100,000
//! nested `<div>`s overflow the thread's stack and abort the whole process. And the parser
//! (html5ever), which keeps its open elements on the heap, still scans them per tag, so its time
//! grows with the square of the depth (measured: 10,000 levels 0.5 s, 30,000 levels 4.2 s,
//! 100,000 levels 45 s on this 2-core machine); a page nested deeper than [`MAX_DEPTH`] is
//! refused before parsing. Real pages nest a few dozen levels.

use ego_tree::NodeRef;
use scraper::{Html, Node};

use super::IngestError;

/// Deepest element nesting accepted: far beyond any real page (browsers stop nesting the DOM at
/// 512), shallow enough that parsing stays under a second.
pub const MAX_DEPTH: usize = 10_000;

/// Elements that never have content, so never nest.
const VOID: &[&str] = &[
    "area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "param", "source",
    "track", "wbr", "keygen",
];

/// Elements whose end tag is usually left out (the parser closes them at the next sibling), so
/// an unclosed run of them is not nesting.
const IMPLIED_END: &[&str] = &[
    "p", "li", "dt", "dd", "tr", "td", "th", "option", "optgroup", "rb", "rt", "rtc", "rp",
    "thead", "tbody", "tfoot", "colgroup", "caption", "html", "head", "body",
];

/// An estimate of the element nesting of `html` from its tags alone, stopping as soon as it
/// passes `limit`. It errs high, never low: every start tag of a non-void element opens a level
/// (even inside comments and scripts, where a page rarely holds thousands of tags), and an end
/// tag closes levels only when an element of its name is open, as the parser does (a stray
/// `</x>` closes nothing).
pub fn nesting_depth(html: &str, limit: usize) -> usize {
    // ASCII lower-casing keeps byte offsets, so tag names compare without case.
    let lower = html.to_ascii_lowercase();
    let b = lower.as_bytes();
    let mut open: Vec<&str> = Vec::new();
    let mut counts: std::collections::HashMap<&str, usize> = std::collections::HashMap::new();
    let (mut i, mut max) = (0, 0);
    while let Some(at) = lower[i..].find('<') {
        let lt = i + at;
        let closing = b.get(lt + 1) == Some(&b'/');
        let start = lt + 1 + usize::from(closing);
        let end = b[start..]
            .iter()
            .position(|c| !c.is_ascii_alphanumeric())
            .map_or(b.len(), |n| start + n);
        i = end.max(lt + 1);
        if end == start {
            continue;
        }
        let name = &lower[start..end];
        if VOID.contains(&name) || IMPLIED_END.contains(&name) {
            continue;
        }
        if closing {
            if counts.get(name).is_some_and(|&n| n > 0) {
                // Pops up to and including the innermost open element of this name.
                while let Some(top) = open.pop() {
                    *counts.entry(top).or_default() -= 1;
                    if top == name {
                        break;
                    }
                }
            }
        } else {
            // `<div/>` opens a div too: HTML ignores the slash on non-void elements.
            open.push(name);
            *counts.entry(name).or_default() += 1;
            max = max.max(open.len());
            if max > limit {
                return max;
            }
        }
    }
    max
}

/// Elements whose whole subtree is page machinery, never article text.
const SKIPPED: &[&str] = &[
    "script", "style", "noscript", "nav", "template", "svg", "iframe", "form",
];

/// Elements that end the current text block before and after their content.
const BLOCKS: &[&str] = &[
    "p",
    "div",
    "section",
    "article",
    "header",
    "footer",
    "li",
    "br",
    "tr",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "blockquote",
    "pre",
    "figcaption",
    "table",
    "ul",
    "ol",
    "aside",
    "main",
    "title",
];

/// Markdown heading level of an element (0 for none).
fn heading_level(name: &str) -> usize {
    match name {
        "h1" => 1,
        "h2" => 2,
        "h3" => 3,
        "h4" | "h5" | "h6" => 4,
        _ => 0,
    }
}

/// One step of the walk: visit a node, or close a block element after its children.
enum Step<'a> {
    Enter(NodeRef<'a, Node>),
    Leave { level: usize },
}

/// Text blocks of an HTML page, in document order. The `<title>` ("Article - Site") comes out
/// as the first block; the chrome rules decide what it is.
pub fn blocks(html: &str) -> Result<Vec<String>, IngestError> {
    read(html).map(|(blocks, _)| blocks)
}

/// An HTML page's text [`blocks`] and what its `<meta>` tags state ([`super::meta::html`]),
/// from one parse.
pub fn read(html: &str) -> Result<(Vec<String>, super::meta::Stated), IngestError> {
    let depth = nesting_depth(html, MAX_DEPTH);
    if depth > MAX_DEPTH {
        return Err(IngestError::TooDeep { limit: MAX_DEPTH });
    }
    let page = Html::parse_document(html);
    let stated = super::meta::html(&page);
    let mut out = Vec::new();
    let mut current = String::new();
    let mut stack = vec![Step::Enter(page.tree.root())];
    while let Some(step) = stack.pop() {
        let node = match step {
            Step::Leave { level } => {
                if level > 0 && !current.is_empty() {
                    current = format!("{} {}", "#".repeat(level), current.trim());
                }
                flush(&mut out, &mut current);
                continue;
            }
            Step::Enter(node) => node,
        };
        match node.value() {
            Node::Text(t) => {
                let mut words = t.split_whitespace().peekable();
                if words.peek().is_some() && !current.is_empty() && !current.ends_with(' ') {
                    current.push(' ');
                }
                for (i, w) in words.enumerate() {
                    if i > 0 {
                        current.push(' ');
                    }
                    current.push_str(w);
                }
            }
            Node::Element(e) => {
                let name = e.name();
                if SKIPPED.contains(&name) {
                    continue;
                }
                if BLOCKS.contains(&name) {
                    flush(&mut out, &mut current);
                    stack.push(Step::Leave {
                        level: heading_level(name),
                    });
                }
                push_children(&mut stack, node);
            }
            _ => push_children(&mut stack, node),
        }
    }
    flush(&mut out, &mut current);
    Ok((out, stated))
}

/// Children go on the stack last first, so they pop in document order.
fn push_children<'a>(stack: &mut Vec<Step<'a>>, node: NodeRef<'a, Node>) {
    let at = stack.len();
    stack.extend(node.children().map(Step::Enter));
    stack[at..].reverse();
}

fn flush(out: &mut Vec<String>, current: &mut String) {
    let t = current.trim();
    if !t.is_empty() {
        out.push(t.to_string());
    }
    current.clear();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn depth_counts_nesting_not_tags() {
        assert_eq!(nesting_depth("<div><div><p>a</div></div>", 100), 2);
        assert_eq!(nesting_depth("<div></div><div></div>", 100), 1);
        assert_eq!(nesting_depth("<p>a<p>b<li>c<br><img src=x>", 100), 0);
        // Errs high inside comments; a stray end tag closes nothing.
        assert_eq!(nesting_depth("<!-- <div><div> --><span/>", 100), 3);
        assert_eq!(nesting_depth("<DIV></x><div></x><Div>", 100), 3);
        assert_eq!(nesting_depth("<b><i>x</b><b>", 100), 2);
        let deep = "<div>".repeat(50);
        assert_eq!(nesting_depth(&deep, 10), 11, "stops past the limit");
        assert_eq!(nesting_depth("a < b and <", 10), 0);
    }

    #[test]
    fn too_deep_is_refused_and_deep_enough_is_read() {
        let page = |n: usize| format!("{}深层的文字。{}", "<div>".repeat(n), "</div>".repeat(n));
        assert!(matches!(
            blocks(&page(MAX_DEPTH + 1)),
            Err(IngestError::TooDeep { .. })
        ));
        assert_eq!(blocks(&page(5_000)).unwrap(), ["深层的文字。"]);
    }
}
