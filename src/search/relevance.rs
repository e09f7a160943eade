//! Relevance: how well a passage answers a question, in 0..1, so that one threshold means the
//! same for every question, language and mode (the raw ranking scores do not: hybrid scores
//! are reciprocal-rank sums, and e5 cosines sit higher for Chinese questions than for English
//! ones whatever they ask).
//!
//! Two pieces of evidence, both measured on the dev sets (see `semsearch eval --unanswerable`):
//! - **Contrast**: the passage's dense score minus the question's *background* for the
//!   passage's script, the mean dense score of the library's passages in that script (an even
//!   sample, split into Chinese and other text). An off-topic question scores every passage
//!   about alike; a question the library answers lifts a few passages well above the rest. (On
//!   the bundled corpus: off-topic questions 0.018-0.033, answerable ones 0.030-0.079.) Per
//!   script, because the model scores same-language pairs higher whatever they say: in a
//!   library of Chinese and English documents an English question's unrelated English
//!   passages sat as high as the Chinese clause that answers it, and one mean for both ranked
//!   them above it (library eval, dense recall@5 0.79 with one mean, 0.92 per script). A
//!   logistic maps contrast to 0..1.
//! - **Expected answer type**: a question that asks for a number or a date (多少, 哪一年,
//!   how many, when...) is not answered by a passage whose best-matching sentence holds no
//!   number; such a passage's relevance is halved. This is what tells "how much will pensions
//!   rise?" (the plan says they will be adjusted, with no amount) from an answerable question
//!   on the same clause.

use crate::index::{Key, Passage, Snapshot, StoreError};
use crate::text::cjk_share;

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
/// Share of CJK characters from which a passage counts as Chinese text.
pub const CJK_PASSAGE: f32 = 0.3;
/// Sampled passages a script needs before its own mean is believed; with fewer, the whole
/// sample's mean stands in (a handful of scores is too noisy a background).
pub const MIN_SCRIPT_SAMPLE: usize = 16;

/// A question's background: the mean dense score of the sample's Chinese passages, of its
/// other passages, and of all of them.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Background {
    /// Over the Chinese passages (the whole sample's mean when they are too few).
    pub chinese: f32,
    /// Over the others (likewise).
    pub other: f32,
    /// Over the whole sample.
    pub all: f32,
    /// True when both scripts have a background of their own: the library mixes them, and a
    /// dense ranking must be read against each passage's script.
    pub mixed: bool,
}

impl Background {
    /// The background of scores `(score, chinese)` of a sample.
    pub fn of(scores: &[(f32, bool)]) -> Self {
        let mean = |it: &mut dyn Iterator<Item = f32>| {
            let (sum, n) = it.fold((0.0, 0usize), |(s, n), x| (s + x, n + 1));
            (n > 0).then(|| (sum / n as f32, n))
        };
        let all = mean(&mut scores.iter().map(|s| s.0)).map_or(0.0, |m| m.0);
        let part = |chinese: bool| {
            mean(&mut scores.iter().filter(|s| s.1 == chinese).map(|s| s.0))
                .filter(|m| m.1 >= MIN_SCRIPT_SAMPLE)
                .map(|m| m.0)
        };
        let (chinese, other) = (part(true), part(false));
        Background {
            chinese: chinese.unwrap_or(all),
            other: other.unwrap_or(all),
            all,
            mixed: chinese.is_some() && other.is_some(),
        }
    }

    /// The background of a passage with this text.
    pub fn for_text(&self, text: &str) -> f32 {
        if cjk_share(text) >= CJK_PASSAGE {
            self.chinese
        } else {
            self.other
        }
    }
}

/// Relevance of passages to one question.
#[derive(Debug, Clone)]
pub struct Judge {
    curve: Curve,
    background: Background,
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
        let (sample, shares): (Vec<Key>, Vec<f32>) =
            snap.sample_cjk(BACKGROUND_PASSAGES)?.into_iter().unzip();
        let scores = dense::scores(snap, q, &sample)?;
        let chinese = shares.iter().map(|&share| share >= CJK_PASSAGE);
        let sampled: Vec<(f32, bool)> = scores.iter().map(|s| s.score).zip(chinese).collect();
        let background = Background::of(&sampled);
        Ok(Judge {
            curve,
            background,
            wants_number: asks_for_number(question),
        })
    }

    /// The question's background.
    pub fn background(&self) -> Background {
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
        let contrast = s.score - self.background.for_text(&p.text);
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
    fn each_script_has_its_own_background() {
        let mut sample: Vec<(f32, bool)> = (0..20).map(|_| (0.8, true)).collect();
        sample.extend((0..20).map(|_| (0.7, false)));
        let b = Background::of(&sample);
        assert!((b.chinese - 0.8).abs() < 1e-6 && (b.other - 0.7).abs() < 1e-6);
        assert!((b.all - 0.75).abs() < 1e-6);
        assert_eq!(b.for_text("太湖苏州辖区连续18年安全度夏"), b.chinese);
        assert_eq!(b.for_text("Lake Tai stayed safe for 18 summers"), b.other);
        // Too few English passages: the whole sample's mean stands in.
        let few = Background::of(&sample[..25]);
        assert!((few.other - few.all).abs() < 1e-6 && (few.chinese - 0.8).abs() < 1e-6);
        assert!(b.mixed && !few.mixed);
        assert_eq!(Background::of(&[]), Background::default());
    }

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
