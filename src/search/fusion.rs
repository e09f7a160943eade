//! Fusing the dense and lexical rankings.
//!
//! Reciprocal rank fusion: only the order matters, `score(d) = Σ w_i / (k + rank_i(d))`.
//! Plain RRF trusts both lists equally, which fails when the lexical side knows nothing, e.g. an
//! English question over Chinese passages, where BM25 returns whatever shares a number or a
//! stray word. So the lexical list's weight follows its own evidence: `language_match`, the share
//! of the question's terms that occur in the index at all (raised to a power, so a question in
//! another language, matching only a number, counts for nearly nothing), times `coverage`, the
//! IDF-weighted share of those terms that the best lexical passage contains.
//!
//! The dense list's weight follows its own evidence too: when its top ten cosines lie within a
//! hair of each other, the model cannot tell those passages apart and its order among them is
//! noise, so a clear lexical winner should decide. The weight is the spread between the first
//! and tenth dense scores over [`FusionParams::dense_spread`], clamped to
//! [[`FusionParams::dense_floor`], 1]. Across languages the lexical weight is near zero, so
//! scaling the dense list alone changes nothing there.

use crate::text::cjk_share;

/// Fusion settings.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FusionParams {
    /// RRF's rank offset.
    pub k: f32,
    /// Weight of the dense list.
    pub dense_weight: f32,
    /// Weight of the lexical list at full coverage.
    pub lexical_weight: f32,
    /// Exponent applied to the language match.
    pub language_power: f32,
    /// Spread of the dense top scores (first minus tenth cosine) at and above which the dense
    /// list gets its full weight.
    pub dense_spread: f32,
    /// Least share of the dense weight, however flat its scores.
    pub dense_floor: f32,
}

impl Default for FusionParams {
    /// Defaults chosen on the evaluation sets (seed-qa, CMRC 2018 trial, XQuAD zh and en->zh):
    /// each value sits inside a plateau of equal recall, see ARCHITECTURE.md ("Fusion").
    fn default() -> Self {
        FusionParams {
            k: 60.0,
            dense_weight: 1.0,
            lexical_weight: 1.0,
            language_power: 2.0,
            dense_spread: 0.03,
            dense_floor: 0.2,
        }
    }
}

/// Rank whose dense score, against the first, measures how flat the dense ranking is.
pub const DENSE_SPREAD_RANK: usize = 10;

impl FusionParams {
    /// Dense weight for a dense ranking with these scores, best first.
    pub fn dense_weight_for(&self, scores: &[f32]) -> f32 {
        let spread = match (
            scores.first(),
            scores.get(DENSE_SPREAD_RANK - 1).or(scores.last()),
        ) {
            (Some(top), Some(low)) => top - low,
            _ => return self.dense_weight,
        };
        let trust = if self.dense_spread > 0.0 {
            (spread / self.dense_spread).clamp(self.dense_floor.clamp(0.0, 1.0), 1.0)
        } else {
            1.0
        };
        self.dense_weight * trust
    }

    /// Lexical weight for a query with this language match, best-hit coverage and language
    /// agreement (see [`language_agreement`]).
    pub fn lexical_weight_for(&self, language_match: f32, coverage: f32, agreement: f32) -> f32 {
        self.lexical_weight
            * language_match.clamp(0.0, 1.0).powf(self.language_power)
            * coverage.clamp(0.0, 1.0)
            * agreement.clamp(0.0, 1.0).powi(2)
    }
}

/// 1 when the question is written in the same script mix as the passages the dense side found,
/// near 0 when one is Chinese and the other is not: the languages differ, so shared terms
/// (numbers, stray names) say little.
pub fn script_agreement(query: &str, passages: &[&str]) -> f32 {
    if passages.is_empty() {
        return 1.0;
    }
    let p = passages.iter().map(|t| cjk_share(t)).sum::<f32>() / passages.len() as f32;
    1.0 - (cjk_share(query) - p).abs()
}

/// Letters a question needs before its detected language is believed: a keyword query
/// ("Panthers", "GDP 4.2%") is too short for any detector, and keeps the script rule.
pub const MIN_DETECT_LETTERS: usize = 16;

/// Whether the question and the passages the dense side found are in one language: 0 when a
/// question of [`MIN_DETECT_LETTERS`] or more, without Chinese characters, is detected in another
/// language than most of those passages; otherwise [`script_agreement`].
///
/// Script alone cannot tell Romanian from English: both are Latin, and a Romanian question's
/// names, numbers and stray short words ("a", "de") match English passages, so BM25 confidently
/// ranks noise (XQuAD ro->en: hybrid recall@1 0.830 against dense 0.876 with the script rule,
/// 0.876 with this one). Detection errs on short questions, mostly by naming a neighbour
/// language with low confidence; believing it anyway cost nothing on any evaluation set
/// (ARCHITECTURE.md, "Fusion"), because the dense list alone is as good there.
pub fn language_agreement(query: &str, passages: &[&str]) -> f32 {
    let script = script_agreement(query, passages);
    let letters = query.chars().filter(|c| c.is_alphabetic()).count();
    // Questions with Chinese characters keep the script rule: it is exact for them, while the
    // detector reads a Chinese question heavy with Latin names ("Sky Digital是什么时候推出的")
    // as some other language.
    if letters < MIN_DETECT_LETTERS || cjk_share(query) > 0.0 {
        return script;
    }
    let Some(asked) = whatlang::detect_lang(query) else {
        return script;
    };
    match majority_language(passages) {
        Some(found) if found != asked => 0.0,
        _ => script,
    }
}

/// The language most of `passages` are detected in (the first one's on a tie).
fn majority_language(passages: &[&str]) -> Option<whatlang::Lang> {
    crate::text::languages(passages.iter().copied())
        .first()
        .map(|c| c.0)
}

/// Weighted reciprocal rank fusion of ranked key lists; one entry per key, best first (ties
/// keep the order in which keys were first seen).
pub fn rrf<K: Copy + Eq + std::hash::Hash>(lists: &[(&[K], f32)], k: f32) -> Vec<(K, f32)> {
    let mut scores: Vec<(K, f32)> = Vec::new();
    let mut at: std::collections::HashMap<K, usize> = std::collections::HashMap::new();
    for (list, weight) in lists {
        for (rank, key) in list.iter().enumerate() {
            let add = weight / (k + rank as f32 + 1.0);
            match at.get(key) {
                Some(&i) => scores[i].1 += add,
                None => {
                    at.insert(*key, scores.len());
                    scores.push((*key, add));
                }
            }
        }
    }
    // Stable sort keeps first-seen order among equal scores.
    scores.sort_by(|a, b| b.1.total_cmp(&a.1));
    scores
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rrf_merges_and_orders() {
        let dense = [1, 2, 3];
        let lexical = [3, 4, 1];
        let fused = rrf(&[(&dense, 1.0), (&lexical, 1.0)], 60.0);
        let keys: Vec<u32> = fused.iter().map(|f| f.0).collect();
        // 1: 1/61 + 1/63, 3: 1/63 + 1/61 (tie, 1 seen first), 2: 1/62, 4: 1/62 (tie, 2 first)
        assert_eq!(keys, [1, 3, 2, 4]);
        assert!((fused[0].1 - (1.0 / 61.0 + 1.0 / 63.0)).abs() < 1e-6);
    }

    #[test]
    fn zero_weight_list_changes_nothing() {
        let dense = [5, 6, 7];
        let lexical = [7, 8];
        let keys: Vec<u32> = rrf(&[(&dense, 1.0), (&lexical, 0.0)], 60.0)
            .iter()
            .map(|f| f.0)
            .collect();
        assert_eq!(&keys[..3], [5, 6, 7]);
    }

    #[test]
    fn lexical_weight_follows_its_evidence() {
        let p = FusionParams::default();
        assert_eq!(p.lexical_weight_for(0.0, 1.0, 1.0), 0.0);
        assert_eq!(p.lexical_weight_for(1.0, 0.0, 1.0), 0.0);
        assert_eq!(p.lexical_weight_for(1.0, 1.0, 1.0), 1.0);
        assert!((p.lexical_weight_for(0.5, 1.0, 1.0) - 0.25).abs() < 1e-6);
        // Another language: one shared number in ten terms.
        assert!(p.lexical_weight_for(0.1, 1.0, 1.0) < 0.011);
        assert!(p.lexical_weight_for(1.0, 1.0, 0.1) < 0.011);
    }

    #[test]
    fn dense_weight_follows_its_spread() {
        let p = FusionParams::default();
        let ranked = |top: f32, tenth: f32| {
            let mut s: Vec<f32> = (0..9).map(|i| top - i as f32 * 1e-4).collect();
            s.push(tenth);
            s.push(tenth - 0.5);
            s
        };
        // The eleventh score does not count: only the first ten.
        assert_eq!(p.dense_weight_for(&ranked(0.9, 0.8)), 1.0);
        assert!((p.dense_weight_for(&ranked(0.9, 0.885)) - 0.5).abs() < 1e-3);
        assert!((p.dense_weight_for(&ranked(0.9, 0.9)) - 0.2).abs() < 1e-6);
        // Shorter lists use their last score; an empty one keeps the plain weight.
        assert!((p.dense_weight_for(&[0.9, 0.891]) - 0.3).abs() < 1e-3);
        assert_eq!(p.dense_weight_for(&[]), 1.0);
        let off = FusionParams {
            dense_spread: 0.0,
            ..p
        };
        assert_eq!(off.dense_weight_for(&[0.9, 0.9]), 1.0);
    }

    #[test]
    fn flat_dense_scores_let_a_clear_lexical_winner_through() {
        // Dense ranks the answer 11th among near-equal scores; a weak lexical list (weight 0.05)
        // ranks it first.
        let dense: Vec<u32> = (1..=12).collect();
        let lexical: [u32; 3] = [11, 1, 5];
        let p = FusionParams::default();
        let flat: Vec<f32> = (0..12).map(|i| 0.91 - i as f32 * 7e-4).collect();
        let top5 = |wd: f32| -> Vec<u32> {
            rrf(&[(&dense, wd), (&lexical, 0.05)], p.k)
                .iter()
                .take(5)
                .map(|f| f.0)
                .collect()
        };
        assert!(!top5(1.0).contains(&11));
        assert!(top5(p.dense_weight_for(&flat)).contains(&11));
    }

    #[test]
    fn languages_agree_or_not() {
        let english = [
            "Super Bowl 50 was an American football game to determine the champion of the \
             National Football League for the 2015 season.",
            "The Denver Broncos defeated the Carolina Panthers 24-10 to earn their third title.",
        ];
        let same = language_agreement("Which team won the title in the 2015 season?", &english);
        assert!(same > 0.99, "{same}");
        let romanian = "Ce echipă a câștigat titlul în sezonul 2015?";
        assert_eq!(language_agreement(romanian, &english), 0.0);
        let turkish = "2015 sezonunda şampiyonluğu hangi takım kazandı?";
        assert_eq!(language_agreement(turkish, &english), 0.0);
        // Keywords are too short to detect: the script rule decides.
        assert!(language_agreement("Broncos 24-10", &english) > 0.99);
        // Chinese questions keep the script rule, names and all.
        let chinese = ["太湖苏州辖区连续18年安全度夏，Sky Digital 推出了新的平台。"];
        assert!(language_agreement("Sky Digital是什么时候推出的？", &chinese) > 0.5);
        assert!(
            language_agreement("Which year did Sky Digital launch its platform?", &chinese) < 0.5
        );
    }

    #[test]
    fn majority_language_breaks_ties_by_rank() {
        let fr = "Le gouvernement a annoncé hier une nouvelle politique pour les villes.";
        let en = "The government announced a new policy for the cities yesterday.";
        assert_eq!(majority_language(&[en, fr]), Some(whatlang::Lang::Eng));
        assert_eq!(majority_language(&[fr, en, en]), Some(whatlang::Lang::Eng));
        assert_eq!(majority_language(&[]), None);
    }

    #[test]
    fn scripts_agree_or_not() {
        assert!(script_agreement("太湖安全度夏多少年", &["太湖苏州辖区连续18年安全度夏"]) > 0.99);
        assert!(
            script_agreement(
                "How many years has Lake Tai been safe?",
                &["太湖苏州辖区连续18年安全度夏"]
            ) < 0.01
        );
        assert!(script_agreement("What is 4.2%?", &["The rate is 4.2%."]) > 0.99);
    }
}
