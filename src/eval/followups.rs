//! `semsearch eval --followups`: multi-turn conversations asked turn by turn, with the
//! conversation so far, against the same turns asked alone.

use std::path::Path;
use std::time::Instant;

use serde::{Deserialize, Serialize};

use super::{first_hit, normalize, read_jsonl, report, QaLine};
use crate::config::DEFAULT_MIN_RELEVANCE;
use crate::engine::{is_found, Engine, Mode, SearchRequest};
use crate::error::{Error, Result};

/// Recall at the top of one list of turns.
#[derive(Debug, Clone, Serialize)]
pub struct TurnScores {
    /// Turns asked.
    pub turns: usize,
    /// Share with the evidence at rank 1.
    #[serde(rename = "recall@1")]
    pub recall_1: f64,
    /// Share with the evidence in the top 5.
    #[serde(rename = "recall@5")]
    pub recall_5: f64,
    /// Mean reciprocal rank of the evidence (0 beyond 10).
    #[serde(rename = "mrr@10")]
    pub mrr_10: f64,
    /// Share the search calls found (a passage at the default relevance threshold): what
    /// `/context` answers with a context rather than `found: false`.
    pub found: f64,
    /// Share found with the evidence in the top 5.
    #[serde(rename = "answered@5")]
    pub answered_5: f64,
}

/// One turn asked: the evidence's rank, and whether the search found an answer.
type Turn = (Option<usize>, bool);

impl TurnScores {
    fn of(turns: &[Turn]) -> Self {
        let ranks: Vec<Option<usize>> = turns.iter().map(|t| t.0).collect();
        let r = report(Mode::Hybrid, 0, &ranks, Instant::now());
        let n = turns.len().max(1) as f64;
        let share = |f: &dyn Fn(&Turn) -> bool| turns.iter().filter(|t| f(t)).count() as f64 / n;
        TurnScores {
            turns: turns.len(),
            recall_1: r.recall_1,
            recall_5: r.recall_5,
            mrr_10: r.mrr_10,
            found: share(&|t| t.1),
            answered_5: share(&|t| t.1 && t.0.is_some_and(|r| r <= 5)),
        }
    }
}

/// `semsearch eval --followups`: recall per turn of multi-turn conversations.
#[derive(Debug, Clone, Serialize)]
pub struct FollowupReport {
    /// Conversations.
    pub conversations: usize,
    /// Turns in all.
    pub turns: usize,
    /// First turns (no conversation yet).
    pub first: TurnScores,
    /// Later turns, asked with the conversation (the default: one question with the recent
    /// messages before it).
    pub later: TurnScores,
    /// Later turns asked alone: the baseline.
    pub later_current_turn_only: TurnScores,
    /// Later turns by the other strategy: the turn alone and with its context, fused.
    pub later_fused: TurnScores,
    /// Wall time.
    pub seconds: f64,
}

#[derive(Deserialize)]
struct Conversation {
    turns: Vec<QaLine>,
}

/// Asks every turn of every conversation in `file` (JSONL `{"turns": [{question, evidence}]}`)
/// with the conversation so far: earlier questions as user messages, the evidence of their
/// answers as assistant messages.
pub fn followups(engine: &Engine, file: &Path, k: usize) -> Result<FollowupReport> {
    use crate::engine::{Message, Role, Strategy};
    let started = Instant::now();
    let convs: Vec<Conversation> = read_jsonl(file)?;
    if engine.snapshot()?.is_empty() {
        return Err(Error::invalid("the index is empty: ingest documents first"));
    }
    let (mut first, mut later, mut alone, mut fused) = (vec![], vec![], vec![], vec![]);
    let template = SearchRequest::new("").k(k);
    for c in &convs {
        let mut messages: Vec<Message> = Vec::new();
        for (i, turn) in c.turns.iter().enumerate() {
            messages.push(Message {
                role: Role::User,
                content: turn.question.clone(),
            });
            let ev = normalize(&turn.evidence);
            let rank = |strategy| -> Result<Turn> {
                let snap = engine.snapshot()?;
                let (hits, _) =
                    engine.search_conversation(snap.as_ref(), &messages, &template, strategy)?;
                let found = is_found(&hits[..hits.len().min(5)], DEFAULT_MIN_RELEVANCE);
                let rank = first_hit(&hits, |h| normalize(&h.passage.text).contains(&ev));
                Ok((rank, found))
            };
            if i == 0 {
                first.push(rank(Strategy::default())?);
            } else {
                later.push(rank(Strategy::default())?);
                alone.push(rank(Strategy::CurrentTurn)?);
                fused.push(rank(Strategy::Fused)?);
            }
            messages.push(Message {
                role: Role::Assistant,
                content: turn.evidence.clone(),
            });
        }
    }
    Ok(FollowupReport {
        conversations: convs.len(),
        turns: first.len() + later.len(),
        first: TurnScores::of(&first),
        later: TurnScores::of(&later),
        later_current_turn_only: TurnScores::of(&alone),
        later_fused: TurnScores::of(&fused),
        seconds: started.elapsed().as_secs_f64(),
    })
}
