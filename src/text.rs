//! Small text rules shared by several layers, each stated once: what counts as a CJK ideograph,
//! which languages texts are in, and how rare a term is (BM25's IDF).

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

/// Characters of each text given to the language detector: plenty for a sure verdict on prose,
/// and it keeps detection near 0.1 ms a text.
const DETECT_CHARS: usize = 400;

/// The languages `texts` are detected in (whatlang, on each one's first 400 characters), with
/// how many texts each: most common first, a tie in the order first seen. Texts whose language
/// cannot be told are not counted.
pub fn languages<'a>(texts: impl IntoIterator<Item = &'a str>) -> Vec<(whatlang::Lang, usize)> {
    let mut counts: Vec<(whatlang::Lang, usize)> = Vec::new();
    for t in texts {
        let head = match t.char_indices().nth(DETECT_CHARS) {
            Some((i, _)) => &t[..i],
            None => t,
        };
        if let Some(lang) = whatlang::detect_lang(head) {
            match counts.iter_mut().find(|c| c.0 == lang) {
                Some(c) => c.1 += 1,
                None => counts.push((lang, 1)),
            }
        }
    }
    // A stable sort: equal counts keep the order first seen.
    counts.sort_by_key(|c| std::cmp::Reverse(c.1));
    counts
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
