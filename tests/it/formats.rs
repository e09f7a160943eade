//! The documents people have, read from files real producers wrote (`tests/fixtures/docs`, made
//! by its `make.py` with python-docx, odfpy and Python's codecs): Word and OpenDocument give the
//! same passages as the corpus's text, legacy encodings the same text, hostile packages a clear
//! refusal.

use semsearch::ingest::{self, split, IngestError};

use crate::common::fixture;

fn read_one(rel: &str) -> Result<ingest::RawDocument, IngestError> {
    let mut docs = ingest::read_path(&fixture(rel))?;
    assert_eq!(docs.len(), 1, "{rel}");
    Ok(docs.remove(0))
}

/// Passages as the write path cuts them (a generous window: the split, not the tokenizer, is
/// under test).
fn passages(raw: &ingest::RawDocument) -> Vec<split::Draft> {
    let doc = ingest::clean(raw).unwrap();
    split::split(&doc, &|t: &str| t.chars().count() < 2000)
}

/// (section, clause, text) of each passage: what search, citations and related clauses show.
fn shown(drafts: &[split::Draft]) -> Vec<(Option<String>, Option<String>, String)> {
    drafts
        .iter()
        .map(|d| {
            let section = d
                .section
                .as_ref()
                .map(|s| s.trim_start_matches('#').trim().to_string());
            (section, d.clause.clone(), d.text.clone())
        })
        .collect()
}

#[test]
fn pdfs_give_the_passages_of_the_text_each_on_its_page() {
    let text = passages(&read_one("corpus/suzhou-15th-five-year-plan-proposal.txt").unwrap());
    let plan = "中共苏州市委关于制定苏州市国民经济和社会发展第十五个五年规划的建议";
    for rel in ["pdf/corpus.reportlab.pdf", "pdf/corpus.libreoffice.pdf"] {
        let raw = read_one(rel).unwrap();
        assert_eq!(raw.title.as_deref(), Some(plan), "{rel}");
        let drafts = passages(&raw);
        // The title is a paragraph of the page too; the text file's web page had it apart.
        let body: Vec<split::Draft> = drafts.iter().filter(|d| d.text != plan).cloned().collect();
        let (ours, theirs) = (shown(&body), shown(&text));
        for (i, (a, b)) in ours.iter().zip(&theirs).enumerate() {
            assert_eq!(a, b, "{rel}: passage {i}");
        }
        assert_eq!(ours.len(), theirs.len(), "{rel}");
        assert!(drafts.iter().all(|d| d.page.is_some()), "{rel}");
        let pages: Vec<u32> = drafts.iter().map(|d| d.page.unwrap()).collect();
        assert!(pages.windows(2).all(|w| w[0] <= w[1]), "{rel}: {pages:?}");
        assert!(*pages.last().unwrap() >= 10, "{rel}: {pages:?}");
    }
}

#[test]
fn word_and_opendocument_give_the_passages_of_the_text() {
    let text = passages(&read_one("corpus/suzhou-15th-five-year-plan-proposal.txt").unwrap());
    assert!(text.len() > 60, "{}", text.len());
    for rel in ["docs/corpus.docx", "docs/corpus.odt"] {
        let raw = read_one(rel).unwrap();
        assert_eq!(
            raw.title.as_deref(),
            Some("中共苏州市委关于制定苏州市国民经济和社会发展第十五个五年规划的建议"),
            "{rel}"
        );
        let drafts = passages(&raw);
        let (ours, theirs) = (shown(&drafts), shown(&text));
        for (i, (a, b)) in ours.iter().zip(&theirs).enumerate() {
            assert_eq!(a, b, "{rel}: passage {i}");
        }
        assert_eq!(ours.len(), theirs.len(), "{rel}");
        let clean = ingest::clean(&raw).unwrap().text;
        for chrome in ["中共苏州市委文件", "苏州市委办公室印发", "PAGE"] {
            assert!(
                !clean.contains(chrome),
                "{rel}: {chrome:?} left in the text"
            );
        }
    }
}

#[test]
fn tables_tabs_and_breaks_of_a_word_file() {
    let doc = ingest::clean(&read_one("docs/features.docx").unwrap()).unwrap();
    let lines: Vec<&str> = doc.text.lines().collect();
    assert_eq!(
        lines,
        [
            "## 表格与格式",
            "第一列 第二列 换行之后",
            "指标 | 2025年 | 2030年",
            "地区生产总值 | 2.7万亿元 | 3.5万亿元",
            "常住人口 | 1300万 | 1350万",
            "表格之后的段落。",
        ]
    );
    let drafts = passages(&read_one("docs/features.docx").unwrap());
    assert!(drafts.iter().all(|d| d
        .section
        .as_deref()
        .is_some_and(|s| s.contains("表格与格式"))));
}

#[test]
fn legacy_encodings_are_decoded() {
    let utf8 = ingest::clean(&read_one("corpus/suzhou-15th-five-year-plan-proposal.txt").unwrap())
        .unwrap()
        .text;
    for rel in ["docs/corpus.gbk.txt", "docs/corpus.utf16.txt"] {
        let text = ingest::clean(&read_one(rel).unwrap()).unwrap().text;
        // The saved copies hold the body without the web page, so they are the text's middle.
        let body = text.lines().skip(1).collect::<Vec<_>>().join("\n");
        assert!(body.len() > 40_000 && utf8.contains(&body), "{rel}");
    }
    let big5 = read_one("docs/corpus.big5.txt").unwrap().text;
    assert!(big5.starts_with("臺灣的國語與閩南語"), "{big5}");
}

#[test]
fn hostile_and_legacy_packages_are_refused_clearly() {
    let err = read_one("docs/bomb.docx").unwrap_err().to_string();
    assert!(err.contains("inflates beyond 64 MiB"), "{err}");
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, bytes: &[u8]| {
        let p = dir.path().join(name);
        std::fs::write(&p, bytes).unwrap();
        ingest::read_path(&p).map(|_| ()).unwrap_err().to_string()
    };
    let ole = [0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1, 0, 0, 0, 0];
    assert!(write("old.doc", &ole).contains("legacy binary Word file (.doc)"));
    assert!(write("renamed.docx", &ole).contains("legacy binary Office file"));
    assert!(write("broken.docx", b"PK\x03\x04 not really").contains("unreadable docx document"));
    let half = &std::fs::read(fixture("docs/corpus.docx")).unwrap()[..30_000];
    assert!(write("half.docx", half).contains("unreadable docx document"));
    assert!(write("binary.txt", b"\x7fELF\x02\x01\x01\x00\x00").contains("binary data, not text"));
}

#[test]
fn a_folder_ingests_what_it_can_and_lists_what_it_refused() {
    let dir = tempfile::tempdir().unwrap();
    let docs = dir.path().join("docs");
    std::fs::create_dir_all(docs.join("sub")).unwrap();
    std::fs::copy(fixture("docs/features.docx"), docs.join("features.docx")).unwrap();
    std::fs::copy(fixture("docs/corpus.big5.txt"), docs.join("sub/news.txt")).unwrap();
    std::fs::write(
        docs.join("old.doc"),
        [0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1],
    )
    .unwrap();
    std::fs::write(docs.join("sub/broken.docx"), b"PK\x03\x04 junk").unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_semsearch"))
        .arg("--model")
        .arg(crate::common::tiny_model_dir())
        .args(["ingest", "--index"])
        .arg(dir.path().join("idx"))
        .arg(&docs)
        .output()
        .unwrap();
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert!(!out.status.success(), "refusals are an error status");
    assert!(stdout.contains("ingested 2 document(s)"), "{stdout}");
    assert!(stderr.contains("refused 2 file(s)"), "{stderr}");
    assert!(
        stderr.contains("old.doc  a legacy binary Word file (.doc)"),
        "{stderr}"
    );
    assert!(
        stderr.contains("broken.docx  unreadable docx document"),
        "{stderr}"
    );
    assert!(
        stderr.contains("error: 2 file(s) refused, listed above"),
        "{stderr}"
    );
}

#[test]
fn a_passage_cut_from_a_paragraph_that_crosses_pages_starts_on_its_own_page() {
    // Cut clauses in chunks of about 120 characters, so some start on a later page than their
    // clause does; lopdf's own per-page text is the oracle of which page holds what.
    let rel = "pdf/corpus.reportlab.pdf";
    let raw = read_one(rel).unwrap();
    let doc = ingest::clean(&raw).unwrap();
    let drafts = split::split(&doc, &|t: &str| t.chars().count() < 120);
    let bytes = std::fs::read(fixture(rel)).unwrap();
    let pdf = lopdf::Document::load_mem(&bytes).unwrap();
    let squash = |s: &str| -> String { s.chars().filter(|c| !c.is_whitespace()).collect() };
    // Without the running header and footer, so a sentence across a page break reads whole.
    let pages: Vec<String> = (1..=pdf.get_pages().len() as u32)
        .map(|p| {
            squash(&pdf.extract_text(&[p]).unwrap())
                .replace("中共苏州市委文件（内部资料）", "")
                .replace(&format!("苏州市委办公室印发第{p}页"), "")
        })
        .collect();
    let mut later = 0;
    for d in &drafts {
        let p = d.page.expect("every PDF passage has a page") as usize;
        let prefix: String = squash(&d.text).chars().take(8).collect();
        let here = pages[p - 1].contains(&prefix);
        let next = pages.get(p).map(String::as_str).unwrap_or_default();
        // Straddling the page break: begins on page p, ends on the next.
        let straddles =
            format!("{}{next}", pages[p - 1]).contains(&prefix) && !next.contains(&prefix);
        assert!(here || straddles, "{rel}: {prefix:?} is not on page {p}");
        if d.clause.is_some()
            && drafts
                .iter()
                .any(|o| o.clause == d.clause && o.page < d.page)
        {
            later += 1;
        }
    }
    assert!(
        later >= 2,
        "only {later} chunks start on a later page than their clause"
    );
}
