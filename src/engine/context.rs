//! A prompt-ready context for a chatbot (`POST /context`): the passages that answer the
//! conversation's last question, with the passages next to each, merged per document where they
//! touch, near-duplicates dropped, each document's best block before any document's second,
//! cut to a token budget counted with the model's own tokenizer,
//! and numbered for citation.

use std::collections::{BTreeSet, HashMap};

use super::conversation::{Message, Strategy};
use super::{is_found, Engine, SearchRequest};
use crate::embed::TextKind;
use crate::error::{Error, Result};
use crate::index::{Passage, PassageId};

use crate::config::{CONTEXT_TOKENS as TOKEN_BUDGET, MAX_NEIGHBOURS};

/// One numbered source of a context.
#[derive(Debug, Clone)]
pub struct Citation {
    /// Its number, `[n]` in the text.
    pub n: usize,
    /// The passage that was found (the block may hold its neighbours too).
    pub passage: Passage,
    /// Start of the block in the document, in characters.
    pub start: usize,
    /// End of the block (exclusive).
    pub end: usize,
    /// Relevance of the best hit in the block.
    pub relevance: f32,
}

/// A context for a prompt.
#[derive(Debug, Clone)]
pub struct Context {
    /// True when a passage reached the threshold; the text is empty otherwise.
    pub found: bool,
    /// The question searched (with the conversation's context when it had one).
    pub query_used: String,
    /// Blocks of text, each headed by its `[n]`.
    pub text: String,
    /// The sources, in order.
    pub citations: Vec<Citation>,
}

/// A run of adjacent passages of one document.
struct Block {
    doc: String,
    ordinals: Vec<usize>,
    hit: Passage,
    relevance: f32,
}

/// Ordinal of a passage in its document (`doc#n`).
fn ordinal(p: &Passage) -> Option<usize> {
    PassageId::parts(&p.id)
        .filter(|(doc, _)| *doc == p.doc)
        .map(|(_, n)| n)
}

/// Characters shared as a share of the shorter text's character bigrams: near-duplicates (a
/// clause repeated on a page) score close to 1.
fn overlap(a: &str, b: &str) -> f32 {
    let grams = |s: &str| -> BTreeSet<(char, char)> {
        let c: Vec<char> = s.chars().filter(|c| !c.is_whitespace()).collect();
        c.windows(2).map(|w| (w[0], w[1])).collect()
    };
    let (ga, gb) = (grams(a), grams(b));
    let small = ga.len().min(gb.len()).max(1);
    ga.intersection(&gb).count() as f32 / small as f32
}

/// Blocks sharing this much of their bigrams with an earlier block are dropped.
const NEAR_DUPLICATE: f32 = 0.9;

impl Engine {
    /// The context for a conversation: `template` gives k, the document filter and the
    /// threshold; `max_tokens` bounds the text; `neighbours` passages on each side of a hit are
    /// added.
    pub fn context(
        &self,
        messages: &[Message],
        template: &SearchRequest,
        max_tokens: usize,
        neighbours: usize,
    ) -> Result<Context> {
        if !TOKEN_BUDGET.contains(&max_tokens) {
            return Err(Error::invalid(format!(
                "max_tokens must be between {} and {}",
                TOKEN_BUDGET.start(),
                TOKEN_BUDGET.end()
            )));
        }
        if neighbours > MAX_NEIGHBOURS {
            return Err(Error::invalid(format!(
                "neighbours must be between 0 and {MAX_NEIGHBOURS}"
            )));
        }
        // One state read throughout: the hits, their neighbours and the blocks agree.
        let snap = self.snapshot()?;
        let (hits, query_used) =
            self.search_conversation(snap.as_ref(), messages, template, Strategy::default())?;
        let min = template.relevance_threshold();
        if !is_found(&hits, min) {
            return Ok(Context {
                found: false,
                query_used,
                text: String::new(),
                citations: Vec::new(),
            });
        }
        let passage = |doc: &str, n: usize| -> Result<Option<Passage>> {
            Ok(match snap.find(&PassageId::format(doc, n))? {
                Some(k) => Some(snap.passage(k)?),
                None => None,
            })
        };
        // Passages wanted per document, and the hit each came from (best first).
        let mut blocks: Vec<Block> = Vec::new();
        let mut taken: HashMap<(String, usize), usize> = HashMap::new();
        for h in hits.iter().filter(|h| h.relevance >= min) {
            let Some(n) = ordinal(&h.passage) else {
                continue;
            };
            let doc = h.passage.doc.clone();
            if taken.contains_key(&(doc.clone(), n)) {
                continue;
            }
            let lo = n.saturating_sub(neighbours).max(1);
            let mut wanted: Vec<usize> = Vec::new();
            for m in lo..=n + neighbours {
                if m == n || snap.find(&PassageId::format(&doc, m))?.is_some() {
                    wanted.push(m);
                }
            }
            // Joins a block of the same document it touches, else starts one.
            let touching = blocks.iter().position(|b| {
                b.doc == doc
                    && wanted
                        .iter()
                        .any(|m| b.ordinals.iter().any(|o| o.abs_diff(*m) <= 1))
            });
            let i = match touching {
                Some(i) => i,
                None => {
                    blocks.push(Block {
                        doc: doc.clone(),
                        ordinals: Vec::new(),
                        hit: h.passage.clone(),
                        relevance: h.relevance,
                    });
                    blocks.len() - 1
                }
            };
            for m in wanted {
                if !blocks[i].ordinals.contains(&m) {
                    blocks[i].ordinals.push(m);
                }
                taken.insert((doc.clone(), m), i);
            }
            blocks[i].ordinals.sort_unstable();
        }
        // Every document's best block before any document's second: under a tight budget,
        // more of one long document never crowds out another that reached the threshold.
        let blocks = in_turns(blocks, |b| b.doc.as_str());
        let mut text = String::new();
        let mut citations: Vec<Citation> = Vec::new();
        let mut kept_texts: Vec<String> = Vec::new();
        let mut used = 0;
        for b in blocks {
            let mut parts: Vec<Passage> = Vec::new();
            for &m in &b.ordinals {
                parts.extend(passage(&b.doc, m)?);
            }
            let Some((first, last)) = parts.first().zip(parts.last()) else {
                continue;
            };
            let body: String = parts
                .iter()
                .map(|p| p.text.as_str())
                .collect::<Vec<_>>()
                .join("\n");
            if kept_texts
                .iter()
                .any(|k| overlap(k, &body) >= NEAR_DUPLICATE)
            {
                continue;
            }
            let n = citations.len() + 1;
            let head = label(n, &b.hit.title, &parts);
            let chunk = format!("{head}\n{body}\n\n");
            let cost = self.embedder.count_tokens(&chunk, TextKind::Passage)?;
            if used + cost > max_tokens {
                // The hit's own passage alone, when its neighbours do not fit.
                let head = label(n, &b.hit.title, std::slice::from_ref(&b.hit));
                let alone = format!("{head}\n{}\n\n", b.hit.text);
                let cost = self.embedder.count_tokens(&alone, TextKind::Passage)?;
                if used + cost > max_tokens {
                    continue;
                }
                used += cost;
                text.push_str(&alone);
                kept_texts.push(b.hit.text.clone());
                citations.push(Citation {
                    n,
                    start: b.hit.start,
                    end: b.hit.end,
                    passage: b.hit,
                    relevance: b.relevance,
                });
                continue;
            }
            used += cost;
            text.push_str(&chunk);
            citations.push(Citation {
                n,
                start: first.start,
                end: last.end,
                passage: b.hit,
                relevance: b.relevance,
            });
            kept_texts.push(body);
        }
        Ok(Context {
            found: true,
            query_used,
            text: text.trim_end().to_string(),
            citations,
        })
    }
}

/// `items` (best first) reordered in turns: the first of each document, in their order, then the
/// second of each, and so on.
fn in_turns<T>(items: Vec<T>, doc: impl Fn(&T) -> &str) -> Vec<T> {
    let mut seen: HashMap<String, usize> = HashMap::new();
    let mut ranked: Vec<(usize, usize, T)> = items
        .into_iter()
        .enumerate()
        .map(|(i, item)| {
            let turn = seen.entry(doc(&item).to_string()).or_default();
            *turn += 1;
            (*turn, i, item)
        })
        .collect();
    ranked.sort_by_key(|&(turn, i, _)| (turn, i));
    ranked.into_iter().map(|(_, _, item)| item).collect()
}

/// A block's head: its number, its document's title, and the clauses of the text it holds (a
/// block with the clause before the hit's begins with that clause's text, so it names both:
/// a model citing the block names the clause it read).
fn label(n: usize, title: &str, parts: &[Passage]) -> String {
    let mut clauses: Vec<&str> = Vec::new();
    for c in parts.iter().filter_map(|p| p.clause.as_deref()) {
        if !clauses.contains(&c) {
            clauses.push(c);
        }
    }
    match clauses.as_slice() {
        [] => format!("[{n}] {title}"),
        [c] => format!("[{n}] {title} (clause {c})"),
        many => format!("[{n}] {title} (clauses {})", many.join(", ")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn part(clause: Option<&str>) -> Passage {
        Passage::of_clause("plan", clause)
    }

    #[test]
    fn every_document_has_its_turn_before_any_has_a_second() {
        let hits = vec![("a", 1), ("a", 2), ("a", 3), ("b", 4), ("c", 5), ("b", 6)];
        let order: Vec<i32> = in_turns(hits, |h| h.0).into_iter().map(|h| h.1).collect();
        assert_eq!(order, [1, 4, 5, 2, 6, 3]);
        let one: Vec<(&str, i32)> = vec![("a", 1), ("a", 2)];
        assert_eq!(in_turns(one.clone(), |h| h.0), one);
    }

    #[test]
    fn a_block_names_every_clause_it_holds() {
        let two = [part(Some("47")), part(Some("48")), part(Some("48"))];
        assert_eq!(label(1, "Plan", &two), "[1] Plan (clauses 47, 48)");
        assert_eq!(label(2, "Plan", &two[1..]), "[2] Plan (clause 48)");
        assert_eq!(label(3, "Plan", &[part(None)]), "[3] Plan");
    }
}
