//! Extractive answers: the sentence of the top passages that best answers the question.
//!
//! A sentence's score mixes its embedding's cosine with the question (meaning, across
//! languages) and the share of the question's terms it contains (exact names and numbers the
//! embedding blurs), a bonus for holding a number when the question asks for one, and a prior
//! for the passage's rank strong enough that the answer comes from the best evidence unless a
//! lower passage's sentence is clearly better. Pure scoring lives in [`pick`], so it is tested
//! with hand-made numbers.

use std::collections::HashMap;

use crate::embed::{Embedder, TextKind};
use crate::error::Result;
use crate::index::{Key, Passage, Snapshot};
use crate::ingest::split;
use crate::kernels::dot;
use crate::search::relevance::{asks_for_number, has_number};
use crate::text::{idf, is_cjk};

/// The chosen sentence.
#[derive(Debug, Clone, PartialEq)]
pub struct Answer {
    /// The sentence.
    pub text: String,
    /// Passage it comes from.
    pub passage_id: String,
    /// Combined score.
    pub score: f32,
    /// Start (characters) within the passage text.
    pub start: usize,
    /// End (characters, exclusive) within the passage text.
    pub end: usize,
}

/// A candidate sentence with what the scorer needs.
#[derive(Debug, Clone)]
pub struct Candidate {
    /// Passage id.
    pub passage_id: String,
    /// Rank of its passage in the results (0 = first).
    pub passage_rank: usize,
    /// Sentence text.
    pub text: String,
    /// Span within the passage text (characters).
    pub start: usize,
    /// End of the span.
    pub end: usize,
    /// Cosine between the question and the sentence embeddings.
    pub cosine: f32,
}

/// Weight of term overlap against cosine (answer@1 on 120 CMRC questions, plain overlap:
/// 0.35 -> 0.658, 0.6 -> 0.667, 1.0 -> 0.675, 1.5 -> 0.675). On all 1002 CMRC trial questions,
/// IDF-weighted overlap ([`weighted_overlap`]) took answer@1 from 0.670 to 0.688.
pub const OVERLAP_WEIGHT: f32 = 1.0;
/// Score taken off per passage rank: the answer comes from the best-ranked evidence unless a
/// lower passage's sentence is clearly better (a generic "分布在…" sentence of another article
/// no longer answers "where does this fish live?"). answer@1 by penalty (CMRC 2018 trial):
/// 0.01 -> 0.715, 0.05 -> 0.718, 0.1 -> 0.720, 0.3 -> 0.722; XQuAD zh 0.776 -> 0.792 and
/// zh <- en 0.516 -> 0.550 with this, the number bonus and the splitter's brackets together.
pub const RANK_PENALTY: f32 = 0.3;
/// Added to a sentence that holds a number when the question asks for one (多少, 哪一年, how
/// many, when...): such a question is answered by a sentence holding a quantity or a date, not
/// by the one that best repeats its words. CMRC answer@1 0.689 -> 0.695 (0.15: 0.692; keeping
/// only sentences with a number: 0.690).
pub const NUMBER_BONUS: f32 = 0.3;

/// Question terms: CJK character bigrams and lower-cased Latin words/numbers.
pub fn terms(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut word = String::new();
    let mut prev_cjk: Option<char> = None;
    for c in text.chars() {
        let cjk = is_cjk(c);
        if cjk {
            if let Some(p) = prev_cjk {
                out.push(format!("{p}{c}"));
            }
            prev_cjk = Some(c);
        } else {
            prev_cjk = None;
        }
        if c.is_alphanumeric() && !cjk {
            word.extend(c.to_lowercase());
        } else if !word.is_empty() {
            out.push(std::mem::take(&mut word));
        }
    }
    if !word.is_empty() {
        out.push(word);
    }
    const STOP: &[&str] = &[
        "the", "a", "an", "of", "to", "in", "is", "are", "what", "how", "which", "and", "for",
        "will", "be", "does", "do", "did", "has", "have", "many", "much", "什么", "多少", "哪些",
        "怎么", "如何",
    ];
    out.retain(|t| !STOP.contains(&t.as_str()));
    out.sort();
    out.dedup();
    out
}

/// Weight of each question term: BM25's IDF over the candidate sentences, so that a term every
/// candidate shares (the topic, e.g. the city's name) counts for little and a rare one (a name,
/// a number) for much. Terms no candidate has get weight 0: they cannot tell candidates apart.
pub fn term_weights(question_terms: &[String], candidates: &[Candidate]) -> Vec<f32> {
    let n = candidates.len() as f32;
    let lower: Vec<String> = candidates.iter().map(|c| c.text.to_lowercase()).collect();
    question_terms
        .iter()
        .map(|t| {
            let df = lower.iter().filter(|s| s.contains(t.as_str())).count() as f32;
            if df == 0.0 {
                0.0
            } else {
                idf(n, df)
            }
        })
        .collect()
}

/// IDF-weighted share of the question's terms found in `sentence` (weights from
/// [`term_weights`]).
pub fn weighted_overlap(question_terms: &[String], weights: &[f32], sentence: &str) -> f32 {
    let total: f32 = weights.iter().sum();
    if total <= 0.0 {
        return 0.0;
    }
    let lower = sentence.to_lowercase();
    question_terms
        .iter()
        .zip(weights)
        .filter(|(t, _)| lower.contains(t.as_str()))
        .map(|(_, w)| w)
        .sum::<f32>()
        / total
}

/// Extra weight of a focus term (see [`focus_terms`]). answer@1 with and without it: CMRC
/// 0.687 / 0.688, XQuAD zh 0.776 / 0.775; on the corpus it is what makes 化解基层矛盾要坚持什么经验
/// answer with the 枫桥经验 sentence rather than one that repeats 化解 and 矛盾.
pub const FOCUS_BOOST: f32 = 2.0;

/// The words a Chinese question asks for: the two characters after 什么/哪些/哪种/... (什么经验
/// -> 经验). A sentence naming that kind of thing is more likely the answer than one that only
/// repeats the question's other words.
pub fn focus_terms(question: &str) -> Vec<String> {
    const ASK: &[&str] = &["哪一种", "哪一个", "什么", "哪些", "哪个", "哪种", "何种"];
    let chars: Vec<char> = question.chars().collect();
    let cjk = |c: &char| is_cjk(*c);
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let rest: String = chars[i..].iter().take(3).collect();
        if let Some(w) = ASK.iter().find(|w| rest.starts_with(**w)) {
            let after = i + w.chars().count();
            if let Some(pair) = chars.get(after..after + 2).filter(|p| p.iter().all(cjk)) {
                out.push(pair.iter().collect());
            }
            i = after;
        } else {
            i += 1;
        }
    }
    out
}

/// Best candidate for `question`, or None when there is none.
pub fn pick(question: &str, candidates: &[Candidate]) -> Option<Answer> {
    let q_terms = terms(question);
    let mut weights = term_weights(&q_terms, candidates);
    let focus = focus_terms(question);
    for (t, w) in q_terms.iter().zip(weights.iter_mut()) {
        if focus.contains(t) {
            *w *= FOCUS_BOOST;
        }
    }
    let wants_number = asks_for_number(question);
    candidates
        .iter()
        .map(|c| {
            let typed = if wants_number && has_number(&c.text) {
                NUMBER_BONUS
            } else {
                0.0
            };
            let score =
                c.cosine + OVERLAP_WEIGHT * weighted_overlap(&q_terms, &weights, &c.text) + typed
                    - RANK_PENALTY * c.passage_rank as f32;
            (score, c)
        })
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(score, c)| Answer {
            text: c.text.clone(),
            passage_id: c.passage_id.clone(),
            score,
            start: c.start,
            end: c.end,
        })
}

/// Sentence spans, texts and vectors of passages, by passage id, kept across questions
/// (evaluations ask many questions of the same passages). Only for questions asked of one
/// state of the store: a passage rewritten in between would keep its old sentences.
#[derive(Default)]
pub struct SentenceCache(HashMap<String, Vec<CachedSentence>>);

/// A sentence's span in its passage (characters), text and vector.
struct CachedSentence {
    start: usize,
    end: usize,
    text: String,
    vector: Vec<f32>,
}

/// The candidate sentences of `passages` (ranked best first, each with its key in `snap`, the
/// snapshot they were read from) for a question with vector `q`. Sentence vectors stored with a
/// passage are used as they are (one batched read for all of them); a passage stored without
/// them has its sentences embedded once and cached.
pub fn candidates(
    snap: &dyn Snapshot,
    embedder: &dyn Embedder,
    q: &[f32],
    passages: &[(Key, &Passage)],
    cache: &mut SentenceCache,
) -> Result<Vec<Candidate>> {
    let unread: Vec<(Key, &Passage)> = passages
        .iter()
        .filter(|(_, p)| !cache.0.contains_key(&p.id))
        .copied()
        .collect();
    let keys: Vec<Key> = unread.iter().map(|u| u.0).collect();
    for ((_, p), sentences) in unread.iter().zip(snap.sentences(&keys)?) {
        let chars: Vec<char> = p.text.chars().collect();
        let stored: Vec<CachedSentence> = sentences
            .into_iter()
            .filter(|s| s.start < s.end && s.end as usize <= chars.len())
            .map(|s| {
                let (a, b) = (s.start as usize, s.end as usize);
                CachedSentence {
                    start: a,
                    end: b,
                    text: chars[a..b].iter().collect(),
                    vector: s.vector.to_vec(),
                }
            })
            .collect();
        if !stored.is_empty() {
            cache.0.insert(p.id.clone(), stored);
        }
    }
    let passages: Vec<&Passage> = passages.iter().map(|p| p.1).collect();
    let mut missing: Vec<(String, CachedSentence)> = Vec::new();
    for p in &passages {
        if cache.0.contains_key(&p.id) {
            continue;
        }
        let chars: Vec<char> = p.text.chars().collect();
        for (a, b) in split::sentences(&p.text) {
            missing.push((
                p.id.clone(),
                CachedSentence {
                    start: a,
                    end: b,
                    text: chars[a..b].iter().collect(),
                    vector: Vec::new(),
                },
            ));
        }
        cache.0.insert(p.id.clone(), Vec::new());
    }
    if !missing.is_empty() {
        let texts: Vec<&str> = missing.iter().map(|m| m.1.text.as_str()).collect();
        let vectors = embedder.embed(&texts, TextKind::Passage)?;
        for ((id, mut s), v) in missing.into_iter().zip(vectors) {
            s.vector = v;
            cache.0.get_mut(&id).expect("inserted above").push(s);
        }
    }
    let mut out = Vec::new();
    for (rank, p) in passages.iter().enumerate() {
        for s in &cache.0[&p.id] {
            out.push(Candidate {
                passage_id: p.id.clone(),
                passage_rank: rank,
                text: s.text.clone(),
                start: s.start,
                end: s.end,
                cosine: dot(q, &s.vector),
            });
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cand(id: &str, rank: usize, text: &str, cosine: f32) -> Candidate {
        Candidate {
            passage_id: id.into(),
            passage_rank: rank,
            text: text.into(),
            start: 0,
            end: text.chars().count(),
            cosine,
        }
    }

    #[test]
    fn terms_mix_bigrams_and_words() {
        assert_eq!(
            terms("研发投入 4.2% of GDP"),
            ["2", "4", "gdp", "入4", "发投", "投入", "研发"]
                .map(String::from)
                .to_vec()
                .into_iter()
                .filter(|t| t != "入4")
                .collect::<Vec<_>>()
        );
    }

    #[test]
    fn overlap_breaks_a_near_tie_in_cosine() {
        let cands = [
            cand("p#1", 0, "城市发展迈上新台阶。", 0.80),
            cand("p#2", 1, "太湖苏州辖区连续18年安全度夏。", 0.78),
        ];
        let a = pick("太湖安全度夏多少年", &cands).unwrap();
        assert_eq!(a.passage_id, "p#2");
    }

    #[test]
    fn a_rare_shared_term_outweighs_a_common_one() {
        // Both sentences share one question bigram; 苏州 is in every candidate, 评弹 in one.
        let cands = [
            cand("p#1", 0, "苏州经济发展很快。", 0.70),
            cand("p#2", 0, "振兴评弹等曲艺。", 0.70),
            cand("p#3", 0, "苏州园林很美。", 0.70),
        ];
        let q = terms("苏州评弹");
        let w = term_weights(&q, &cands);
        assert_eq!(q, ["州评", "苏州", "评弹"]);
        assert_eq!(w[0], 0.0, "a term no candidate has cannot tell them apart");
        assert!(w[2] > w[1]);
        assert_eq!(pick("苏州评弹", &cands).unwrap().passage_id, "p#2");
        assert_eq!(weighted_overlap(&q, &w, "无关"), 0.0);
    }

    #[test]
    fn focus_terms_follow_question_words() {
        assert_eq!(focus_terms("化解基层矛盾要坚持什么经验？"), ["经验"]);
        assert_eq!(focus_terms("苏州打算提前布局哪些未来产业？"), ["未来"]);
        assert_eq!(focus_terms("哪一种经验要坚持？"), ["经验"]);
        assert!(focus_terms("What is it?").is_empty());
        assert!(focus_terms("是什么").is_empty());
    }

    #[test]
    fn a_question_asking_for_a_number_is_answered_by_a_sentence_holding_one() {
        let cands = [
            cand("p#1", 0, "东关街是扬州的一条老街，保留多处文物古迹。", 0.86),
            cand("p#1", 0, "东关街全长1122米，宽约5米。", 0.80),
        ];
        assert_eq!(pick("东关街有多长？", &cands).unwrap().text, cands[1].text);
        // Without a number asked for, the nearer sentence stands.
        assert_eq!(
            pick("东关街有什么古迹？", &cands).unwrap().text,
            cands[0].text
        );
    }

    #[test]
    fn cosine_wins_without_shared_terms() {
        let cands = [
            cand("p#1", 0, "Alpha beta.", 0.5),
            cand("p#2", 0, "Gamma delta.", 0.7),
        ];
        assert_eq!(pick("zeta", &cands).unwrap().passage_id, "p#2");
        assert!(pick("zeta", &[]).is_none());
    }
}
