//! The PDF reader against the fixtures of `tests/fixtures/pdf` (made by real producers, see
//! `make.py` there): the text recovered, in order, without page chrome, on the right pages.

use std::path::PathBuf;

use unicode_normalization::UnicodeNormalization;

use super::*;

fn fixture(name: &str) -> Vec<u8> {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/pdf")
        .join(name);
    std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// What a fixture holds: its paragraphs by the page they start on (when known), and its chrome.
struct Expected {
    pages: Option<Vec<Vec<String>>>,
    text: Vec<String>,
    chrome: Vec<String>,
}

fn expected(name: &str) -> Expected {
    let json: serde_json::Value =
        serde_json::from_slice(&fixture(&name.replace(".pdf", ".expected.json"))).unwrap();
    let strings = |v: &serde_json::Value| -> Vec<String> {
        v.as_array()
            .unwrap()
            .iter()
            .map(|s| s.as_str().unwrap().to_string())
            .collect()
    };
    let pages: Option<Vec<Vec<String>>> = json["pages"]
        .as_array()
        .map(|ps| ps.iter().map(strings).collect());
    let text = match &pages {
        Some(p) => p.concat(),
        None => strings(&json["text"]),
    };
    Expected {
        pages,
        text,
        chrome: strings(&json["chrome"]),
    }
}

/// Characters compared: NFKC, without whitespace.
fn chars(s: &str) -> Vec<char> {
    s.nfkc().filter(|c| !c.is_whitespace()).collect()
}

/// Character recall and precision of `got` against `want`, in order (longest common
/// subsequence, by diff).
pub(crate) fn recall_precision(want: &str, got: &str) -> (f64, f64) {
    let (w, g) = (chars(want), chars(got));
    let ops = similar::capture_diff_slices(similar::Algorithm::Myers, &w, &g);
    let same: usize = ops
        .iter()
        .map(|op| match op {
            similar::DiffOp::Equal { len, .. } => *len,
            _ => 0,
        })
        .sum();
    (
        same as f64 / w.len().max(1) as f64,
        same as f64 / g.len().max(1) as f64,
    )
}

fn check(name: &str) -> Extracted {
    let got = read(&fixture(name)).unwrap_or_else(|e| panic!("{name}: {e}"));
    let want = expected(name);
    let text: Vec<&str> = got.blocks.iter().map(|b| b.text.as_str()).collect();
    let (recall, precision) = recall_precision(&want.text.join("\n"), &text.join("\n"));
    eprintln!(
        "{name}: {} blocks, recall {recall:.4} precision {precision:.4}",
        text.len()
    );
    assert!(
        recall >= 0.98 && precision >= 0.98,
        "{name}: recall {recall:.4} precision {precision:.4}"
    );
    for c in &want.chrome {
        let c = chars(c).into_iter().collect::<String>();
        for b in &got.blocks {
            let t: String = chars(&b.text).into_iter().collect();
            assert!(!t.contains(&c), "{name}: chrome {c:?} left in {:?}", b.text);
        }
    }
    if let Some(pages) = &want.pages {
        // Every source paragraph starts on its page: the block that holds its beginning says so.
        let mut from = 0;
        for (n, paragraphs) in pages.iter().enumerate() {
            for p in paragraphs {
                let head: String = chars(p).into_iter().take(12).collect();
                let at = got.blocks[from..]
                    .iter()
                    .position(|b| {
                        chars(&b.text)
                            .into_iter()
                            .collect::<String>()
                            .contains(&head)
                    })
                    .unwrap_or_else(|| panic!("{name}: {head:?} not found after block {from}"));
                from += at;
                let page = got.blocks[from].page;
                // A paragraph that begins inside a block (merged with the one before across a
                // page break) belongs to the block's page only if it starts there.
                let starts = chars(&got.blocks[from].text)
                    .into_iter()
                    .collect::<String>()
                    .starts_with(&head);
                if starts {
                    assert_eq!(page as usize, n + 1, "{name}: {head:?}");
                }
            }
        }
        // Pages after the last paragraph start hold only continuations.
        assert!(got.pages >= pages.len(), "{name}");
    }
    got
}

#[test]
fn reportlab_cid_font_without_a_map_reads_in_full_on_its_pages() {
    let got = check("corpus.reportlab.pdf");
    assert!(got
        .title
        .as_deref()
        .is_some_and(|t| t.contains("第十五个五年规划")));
    // The outline's one chapter (the scrape kept only 一、) became a heading.
    let headings: Vec<&Block> = got.blocks.iter().filter(|b| b.level.is_some()).collect();
    assert_eq!(headings.len(), 1);
    assert!(headings[0].text.starts_with("一、准确把握"));
}

#[test]
fn libreoffice_embedded_subsets_read_in_full() {
    check("corpus.libreoffice.pdf");
}

#[test]
fn two_columns_are_read_column_by_column() {
    let cmrc = check("cmrc.twocol.pdf");
    let got = check("xquad.twocol.pdf");
    // Every article title is in the outline, so every one is a heading.
    let headings = |e: &Extracted| -> Vec<String> {
        e.blocks
            .iter()
            .filter(|b| b.level == Some(1))
            .map(|b| b.text.clone())
            .collect()
    };
    assert_eq!(headings(&cmrc).len(), 12, "{:?}", headings(&cmrc));
    assert_eq!(
        headings(&got),
        [
            "Super Bowl 50",
            "Warsaw",
            "Normans",
            "Nikola Tesla",
            "Computational complexity theory",
            "Teacher"
        ]
    );
    // Words pyphen hyphenated at line ends are whole again.
    let all: String = got
        .blocks
        .iter()
        .map(|b| b.text.as_str())
        .collect::<Vec<_>>()
        .join(" ");
    assert!(
        !all.contains("rele- gated") && !all.contains("rele-gated"),
        "{all}"
    );
    assert!(all.contains("relegated"));
}

#[test]
fn a_scan_and_a_locked_file_are_refused_with_their_reasons() {
    let scan = read(&fixture("scanned.pdf")).unwrap_err().to_string();
    assert!(scan.contains("no text layer (scanned document?)"), "{scan}");
    let locked = read(&fixture("locked.pdf")).unwrap_err().to_string();
    assert!(locked.contains("encrypted"), "{locked}");
    let open = read(&fixture("owner-only.pdf")).expect("an owner password alone is no lock");
    assert!(open
        .blocks
        .iter()
        .any(|b| b.text.contains("without typing a password")));
}

#[test]
fn lines_join_without_spaces_in_chinese_and_with_them_in_english() {
    let mut t = "城市".to_string();
    join(&mut t, "更新");
    assert_eq!(t, "城市更新");
    let mut t = "ten-minute walk, rele-".to_string();
    join(&mut t, "gated");
    assert_eq!(t, "ten-minute walk, relegated");
    let mut t = "a well-".to_string();
    join(&mut t, "Known");
    assert_eq!(t, "a well- Known");
    let mut t = "GDP".to_string();
    join(&mut t, "增长");
    assert_eq!(t, "GDP增长");
}

#[test]
fn damaged_bytes_are_an_error_not_a_panic() {
    let good = fixture("xquad.twocol.pdf");
    assert!(read(b"not a pdf").is_err());
    for cut in [10, 100, 1000, good.len() / 2, good.len() - 10] {
        let _ = read(&good[..cut]);
    }
    let mut flipped = good.clone();
    for i in (0..flipped.len()).step_by(97) {
        flipped[i] ^= 0x5a;
    }
    let _ = read(&flipped);
}
