//! Relevance: how well a passage answers a question, in 0..1, so that one threshold means the
//! same for every question, language and mode (the raw ranking scores do not: hybrid scores
//! are reciprocal-rank sums, and e5 cosines sit higher for Chinese questions than for English
//! ones whatever they ask).
//!
//! Two pieces of evidence, both measured on the dev sets (see `semsearch eval --unanswerable`):
//! - **Contrast**: the passage's dense score minus the question's *background*, the mean dense
//!   score of an even sample of the library's passages. An off-topic question scores every
//!   passage about alike; a question the library answers lifts a few passages well above the
//!   rest. (On the bundled corpus: off-topic questions 0.018-0.033, answerable ones
//!   0.030-0.079.) A logistic maps contrast to 0..1.
//! - **Expected answer type**: a question that asks for a number or a date (多少, 哪一年,
//!   how many, when...) is not answered by a passage whose best-matching sentence holds no
//!   number; such a passage's relevance is halved. This is what tells "how much will pensions
//!   rise?" (the plan says they will be adjusted, with no amount) from an answerable question
//!   on the same clause.

use crate::index::{Key, Passage, Snapshot, StoreError};

use super::dense::{self, Scored};

/// Passages in the background sample: the mean of 256 scores is stable to about 0.002, a tenth
/// of the contrast between answerable and off-topic questions, for under a millisecond.
pub const BACKGROUND_PASSAGES: usize = 256;
/// The logistic that maps contrast to relevance. It is tuned to one model's cosines (e5-small's
/// are the defaults), so a model folder can carry its own (`search::calibration`).
#[derive(Debug, Clone, Copy, PartialEq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Curve {
    /// Contrast at which relevance is 0.5, the default threshold (e5-small: 0.032).
    pub centre: f32,
    /// Contrast per unit of the logistic's argument (e5-small: 0.008, so relevance is 0.12 at
    /// 0.016 and 0.88 at 0.048).
    pub spread: f32,
}

impl Default for Curve {
    fn default() -> Self {
        Curve {
            centre: 0.032,
            spread: 0.008,
        }
    }
}
/// Factor on the relevance of a passage without a number, for a question that asks for one.
const NO_NUMBER: f32 = 0.5;

/// Relevance of passages to one question.
#[derive(Debug, Clone)]
pub struct Judge {
    curve: Curve,
    background: f32,
    wants_number: bool,
}

impl Judge {
    /// The judge of `question` (embedded as `q`) over `snap`, on `curve`.
    pub fn new(
        snap: &dyn Snapshot,
        question: &str,
        q: &[f32],
        curve: Curve,
    ) -> Result<Self, StoreError> {
        let sample = snap.sample(BACKGROUND_PASSAGES)?;
        let background = if sample.is_empty() {
            0.0
        } else {
            dense::scores(snap, q, &sample)?
                .iter()
                .map(|s| s.score)
                .sum::<f32>()
                / sample.len() as f32
        };
        Ok(Judge {
            curve,
            background,
            wants_number: asks_for_number(question),
        })
    }

    /// The question's background (mean dense score of the sample).
    pub fn background(&self) -> f32 {
        self.background
    }

    /// Relevance (0..1) of the passages `keys`, whose records are `passages` (same order).
    pub fn relevance(
        &self,
        snap: &dyn Snapshot,
        q: &[f32],
        keys: &[Key],
        passages: &[Passage],
    ) -> Result<Vec<f32>, StoreError> {
        let scored = dense::scores(snap, q, keys)?;
        Ok(scored
            .iter()
            .zip(passages)
            .map(|(s, p)| self.judge(s, p))
            .collect())
    }

    fn judge(&self, s: &Scored, p: &Passage) -> f32 {
        let contrast = s.score - self.background;
        let c = self.curve;
        let mut r = 1.0 / (1.0 + (-(contrast - c.centre) / c.spread).exp());
        if self.wants_number && !has_number(&best_sentence(p, s.best)) {
            r *= NO_NUMBER;
        }
        r
    }
}

/// The passage's sentence nearest to the question (the whole text when it has no sentences).
fn best_sentence(p: &Passage, best: Option<(u32, u32)>) -> String {
    match best {
        Some((start, end)) => p
            .text
            .chars()
            .skip(start as usize)
            .take(end.saturating_sub(start) as usize)
            .collect(),
        None => p.text.clone(),
    }
}

/// Words that ask for a quantity, a date or a duration.
const NUMBER_CUES_ZH: [&str; 15] = [
    "多少",
    "几个",
    "几年",
    "几次",
    "几项",
    "百分之几",
    "哪一年",
    "哪年",
    "什么时候",
    "何时",
    "多长",
    "多久",
    "多大",
    "多高",
    "多远",
];
const NUMBER_CUES_EN: [&str; 12] = [
    "how many",
    "how much",
    "what percentage",
    "what percent",
    "how long",
    "what year",
    "which year",
    "how old",
    "how far",
    "how big",
    "how high",
    "by when",
];

/// True when `question` asks for a number, a date or a duration.
pub fn asks_for_number(question: &str) -> bool {
    let lower = question.to_lowercase();
    NUMBER_CUES_ZH.iter().any(|c| question.contains(c))
        || NUMBER_CUES_EN.iter().any(|c| lower.contains(c))
        || lower
            .split(|c: char| !c.is_alphanumeric())
            .next()
            .is_some_and(|w| w == "when")
}

/// True when `text` holds a number other than a leading clause number ("16." in
/// "16.加快建设...").
pub fn has_number(text: &str) -> bool {
    let t = text.trim_start();
    // ASCII digits are one byte each, so `digits` is also a byte offset.
    let digits = t.chars().take_while(|c| c.is_ascii_digit()).count();
    let body = match t[digits..].strip_prefix(['.', '、', '．']) {
        Some(rest) if digits > 0 => rest,
        _ => t,
    };
    body.chars()
        .any(|c| c.is_ascii_digit() || ('０'..='９').contains(&c) || c == '%' || c == '％')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn questions_that_ask_for_numbers() {
        for q in [
            "苏州计划在哪一年实现碳达峰？",
            "苏州普惠托育每个月收费多少钱？",
            "How many hospital beds will Suzhou add by 2030?",
            "When will the airport open?",
            "By what percentage will PM2.5 be cut?",
        ] {
            assert!(asks_for_number(q), "{q}");
        }
        for q in [
            "化解基层矛盾要坚持什么经验？",
            "How will unmanned aerial vehicles be controlled?",
            "Whenever",
        ] {
            assert!(!asks_for_number(q), "{q}");
        }
    }

    #[test]
    fn clause_numbers_are_not_numbers() {
        assert!(!has_number("16.加快建设现代化基础设施体系。"));
        assert!(!has_number("49、积极稳妥推进和实现碳达峰。"));
        assert!(has_number("太湖苏州辖区连续18年安全度夏"));
        assert!(has_number("全社会研发投入强度4.2%以上"));
        assert!(has_number("到２０２７年"));
        assert!(!has_number("地区生产总值稳居全国城市第六"));
        assert!(!has_number("7．推进"));
        assert!(has_number("7．推进3项"));
        assert!(!has_number(""));
        assert!(!has_number("、"));
    }
}
