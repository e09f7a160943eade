//! HTML to text blocks, one per block element, headings as Markdown headings so the splitter
//! sees them; scripts, styles and navigation are dropped outright.
//!
//! The walk over the parsed tree is iterative, with an explicit stack: a page is input from
//! anyone who can reach the service, and a recursive walk let 100,000 nested `<div>`s overflow
//! the thread's stack and abort the whole process. The parser itself (html5ever) keeps its open
//! elements on the heap, so depth costs memory, never stack.

use ego_tree::NodeRef;
use scraper::{Html, Node};

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
pub fn blocks(html: &str) -> Vec<String> {
    let page = Html::parse_document(html);
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
    out
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
