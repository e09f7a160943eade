//! Small text rules shared by several layers, each stated once: what counts as a CJK ideograph,
//! and how rare a term is (BM25's IDF).

/// True for a CJK unified ideograph: the basic block (U+4E00..U+9FFF) and Extension A
/// (U+3400..U+4DBF, rare characters that still appear in names and places). The later
/// extensions lie outside the Basic Multilingual Plane and do not occur in the text we serve.
pub fn is_cjk(c: char) -> bool {
    ('\u{4e00}'..='\u{9fff}').contains(&c) || ('\u{3400}'..='\u{4dbf}').contains(&c)
}

/// Share of letters that are CJK ideographs (0 for text without letters).
pub fn cjk_share(text: &str) -> f32 {
    let (mut cjk, mut letters) = (0usize, 0usize);
    for c in text.chars() {
        if is_cjk(c) {
            cjk += 1;
            letters += 1;
        } else if c.is_alphabetic() {
            letters += 1;
        }
    }
    if letters == 0 {
        0.0
    } else {
        cjk as f32 / letters as f32
    }
}

/// BM25's inverse document frequency of a term found in `df` of `n` documents (Lucene's form,
/// `ln(1 + (n - df + 0.5) / (df + 0.5))`, never negative): the lexical index weighs the
/// question's terms with it, and the answer picker weighs terms over candidate sentences.
pub fn idf(n: f32, df: f32) -> f32 {
    (1.0 + (n - df + 0.5) / (df + 0.5)).ln()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cjk_ranges() {
        assert!(is_cjk('太') && is_cjk('\u{3400}') && is_cjk('\u{9fff}'));
        assert!(!is_cjk('a') && !is_cjk('。') && !is_cjk('ア'));
        assert!((cjk_share("太湖 Lake") - 2.0 / 6.0).abs() < 1e-6);
        assert_eq!(cjk_share("4.2%"), 0.0);
    }

    #[test]
    fn idf_falls_with_document_frequency() {
        assert!(idf(100.0, 1.0) > idf(100.0, 50.0));
        assert!(idf(100.0, 100.0) > 0.0);
        assert!((idf(1.0, 1.0) - (1.0f32 + 0.5 / 1.5).ln()).abs() < 1e-6);
    }
}
