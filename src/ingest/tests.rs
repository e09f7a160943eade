//! Chrome stripping and splitting on the real scraped corpus and two other scraped shapes.

use super::split::{clause_number, section_heading, sentences, split, Draft};
use super::*;

const CORPUS: &str =
    include_str!("../../tests/fixtures/corpus/suzhou-15th-five-year-plan-proposal.txt");
const ENGLISH: &str = include_str!("../../tests/fixtures/scraped/english-news.txt");
const MARKDOWN: &str = include_str!("../../tests/fixtures/scraped/markdown-blog.md");

fn raw(text: &str, format: Format) -> RawDocument {
    RawDocument::new("d", text, format)
}

#[test]
fn corpus_chrome_is_stripped_and_title_kept() {
    let d = clean(&raw(CORPUS, Format::Text)).unwrap();
    assert_eq!(
        d.title,
        "中共苏州市委关于制定苏州市国民经济和社会发展第十五个五年规划的建议"
    );
    for chrome in [
        "j9",
        "当前位置",
        "更新时间",
        "(图1)",
        "信息中心",
        "News Center",
        "扫一扫",
        "热线电话",
        "Copyright",
        "ICP",
        "0536",
    ] {
        assert!(
            !d.text.contains(chrome),
            "chrome {chrome:?} left in the text"
        );
    }
    let lines: Vec<&str> = d.text.lines().collect();
    assert!(
        lines[0].starts_with("(二〇二五年十二月十七日"),
        "{}",
        lines[0]
    );
    assert!(lines
        .last()
        .unwrap()
        .starts_with("全市上下要更加紧密地团结"));
    assert!(lines.iter().any(|l| l.starts_with("一、准确把握")));
    // Every numbered clause survives (the scrape itself lost clause 52: 59 of 60 are there).
    let clauses: Vec<String> = lines.iter().filter_map(|l| clause_number(l)).collect();
    assert_eq!(clauses.len(), 59);
    assert!(!clauses.contains(&"52".to_string()));
    assert_eq!(clauses.last().unwrap(), "60");
}

#[test]
fn english_news_page() {
    let d = clean(&raw(ENGLISH, Format::Text)).unwrap();
    assert_eq!(d.title, "City Council Approves New Flood Defence Plan");
    let lines: Vec<&str> = d.text.lines().collect();
    assert_eq!(lines.len(), 3, "{lines:#?}");
    assert!(lines[0].starts_with("The city council voted"));
    assert!(lines[1].starts_with("The plan, which costs"));
    assert!(lines[2].starts_with("Opposition members"));
}

#[test]
fn markdown_blog_page() {
    let d = clean(&raw(MARKDOWN, Format::Markdown)).unwrap();
    assert_eq!(d.title, "Building a Search Service in Rust");
    let lines: Vec<&str> = d.text.lines().collect();
    assert_eq!(
        lines,
        [
            "Search services answer questions by finding the passages that contain the answer. This post shows the main parts.",
            "## Tokenization",
            "Text is cut into tokens before it is embedded. Chinese needs a segmenter because words are not separated by spaces.",
            "## Indexing",
            "Vectors go into an approximate nearest neighbour index. The index is saved atomically so that a crash never corrupts it.",
        ]
    );
    let passages = split(&d, &|t: &str| t.chars().count() <= 400);
    assert_eq!(passages.len(), 3);
    assert_eq!(passages[0].section, None);
    assert_eq!(passages[1].section.as_deref(), Some("Tokenization"));
    assert_eq!(passages[2].section.as_deref(), Some("Indexing"));
}

#[test]
fn html_page() {
    let html = "<html><head><title>Flood plan - Gazette</title><script>var x=1;</script></head><body>\
        <nav><a href='/'>Home</a> &gt; <a>News</a></nav><h1>Flood plan approved</h1>\
        <p>The city council voted on Tuesday to approve a ten-year flood defence plan, officials said.</p>\
        <h2>Costs</h2><p>The plan costs an estimated 120 million pounds, according to the budget.</p>\
        <footer>© 2025 Gazette. All rights reserved.</footer></body></html>";
    let d = clean(&raw(html, Format::Html)).unwrap();
    assert!(!d.text.contains("var x"));
    assert!(!d.text.contains("Gazette. All"));
    let passages = split(
        &Document {
            markdown: true,
            ..d.clone()
        },
        &|_| true,
    );
    assert_eq!(passages.len(), 2, "{passages:#?}");
    assert_eq!(passages[1].section.as_deref(), Some("Costs"));
}

#[test]
fn numbering_rules() {
    assert_eq!(
        section_heading("一、准确把握形势"),
        Some("一、准确把握形势")
    );
    assert_eq!(
        section_heading("十二、加强党的领导"),
        Some("十二、加强党的领导")
    );
    assert_eq!(section_heading("一是经济实力持续提升"), None);
    assert_eq!(clause_number("13.加快建设"), Some("13".into()));
    assert_eq!(clause_number("13．加快建设"), Some("13".into()));
    assert_eq!(clause_number("（二）坚持创新"), Some("二".into()));
    assert_eq!(clause_number("4.2%以上"), None);
    assert_eq!(clause_number("2035年远景"), None);
}

#[test]
fn sentences_keep_punctuation_and_decimals() {
    let t = "投入强度4.2%以上。目标是“更高”！Next one. Last";
    let s: Vec<String> = sentences(t)
        .iter()
        .map(|&(a, b)| t.chars().skip(a).take(b - a).collect())
        .collect();
    assert_eq!(
        s,
        ["投入强度4.2%以上。", "目标是“更高”！", "Next one.", "Last"]
    );
}

#[test]
fn sentences_do_not_end_inside_brackets_quotes_or_after_initials() {
    let split = |t: &str| -> Vec<String> {
        sentences(t)
            .iter()
            .map(|&(a, b)| t.chars().skip(a).take(b - a).collect())
            .collect()
    };
    assert_eq!(
        split("纽西兰鸡毛松（学名：'；英语：Kahikatea）是罗汉松科的植物。树高可达55米。"),
        [
            "纽西兰鸡毛松（学名：'；英语：Kahikatea）是罗汉松科的植物。",
            "树高可达55米。"
        ]
    );
    assert_eq!(
        split("他解释为：“一个人迅速获得财富。通常含义不好。”后来不用了。"),
        [
            "他解释为：“一个人迅速获得财富。通常含义不好。”",
            "后来不用了。"
        ]
    );
    assert_eq!(
        split("他说：“好。”然后走了。"),
        ["他说：“好。”", "然后走了。"]
    );
    assert_eq!(
        split("笔名S.G. Tallentyre写作。主席是John H. McArthur教授。Dr. Apgar wrote it. Done."),
        [
            "笔名S.G. Tallentyre写作。",
            "主席是John H. McArthur教授。",
            "Dr. Apgar wrote it.",
            "Done."
        ]
    );
    // A bracket left open releases the text after MAX_ENCLOSED characters.
    let long = format!(
        "开（{}。后句。",
        "字".repeat(crate::ingest::split::MAX_ENCLOSED + 10)
    );
    assert_eq!(split(&long).len(), 2);
    // The price of reading initials: a sentence that ends in a lone capital runs on.
    assert_eq!(split("Plan A. Plan B."), ["Plan A. Plan B."]);
}

#[test]
fn clauses_carry_section_number_and_offsets() {
    let doc = Document {
        pages: Vec::new(),
        title: "t".into(),
        text:
            "一、总体要求\n1.第一条。内容。\n2.第二条很长。第二句。第三句。\n二、措施\n（一）分条。"
                .into(),
        markdown: false,
        metadata: Default::default(),
    };
    let p = split(&doc, &|t: &str| t.chars().count() <= 9);
    let got: Vec<(Option<&str>, Option<&str>, &str)> = p
        .iter()
        .map(|d| (d.section.as_deref(), d.clause.as_deref(), d.text.as_str()))
        .collect();
    assert_eq!(
        got,
        [
            (Some("一、总体要求"), Some("1"), "1.第一条。内容。"),
            (Some("一、总体要求"), Some("2"), "2.第二条很长。"),
            (Some("一、总体要求"), Some("2"), "第二句。第三句。"),
            (Some("二、措施"), Some("一"), "（一）分条。"),
        ]
    );
    let chars: Vec<char> = doc.text.chars().collect();
    for d in &p {
        assert_eq!(chars[d.start..d.end].iter().collect::<String>(), d.text);
    }
}

#[test]
fn numbered_sections_with_lost_headings_are_left_empty() {
    let doc = |text: &str| Document {
        pages: Vec::new(),
        title: "t".into(),
        text: text.into(),
        markdown: false,
        metadata: Default::default(),
    };
    let sections = |text: &str| -> Vec<Option<String>> {
        split(&doc(text), &|_: &str| true)
            .into_iter()
            .map(|d| d.section)
            .collect()
    };
    // Only 一、 survived: every clause would be labelled with it.
    assert_eq!(
        sections("一、总体要求\n1.第一条。\n2.第二条。\n3.第三条。"),
        [None, None, None]
    );
    // A gap (二 lost).
    assert_eq!(sections("一、甲\n1.a\n三、丙\n2.b"), [None, None]);
    // Consistent numbering is kept, up to 十二.
    let mut text = String::new();
    for (i, n) in [
        "一", "二", "三", "四", "五", "六", "七", "八", "九", "十", "十一", "十二",
    ]
    .iter()
    .enumerate()
    {
        text.push_str(&format!("{n}、节\n{}.条\n", i + 1));
    }
    let got = sections(&text);
    assert_eq!(got.len(), 12);
    assert_eq!(got[11].as_deref(), Some("十二、节"));
    // Headings of another kind are not numbered sections: left as they are.
    assert_eq!(
        sections("第一章 总则\n1.条"),
        [Some("第一章 总则".to_string())]
    );
}

#[test]
fn a_sentence_too_long_alone_is_cut_by_characters() {
    let doc = Document {
        pages: Vec::new(),
        title: "t".into(),
        text: "abcdefghij".into(),
        markdown: false,
        metadata: Default::default(),
    };
    let p: Vec<Draft> = split(&doc, &|t: &str| t.chars().count() <= 4);
    assert!(p.iter().all(|d| d.text.chars().count() <= 4));
    assert_eq!(
        p.iter().map(|d| d.text.as_str()).collect::<String>(),
        "abcdefghij"
    );
}

#[test]
fn corpus_passages_fit_and_have_no_chrome() {
    let d = clean(&raw(CORPUS, Format::Text)).unwrap();
    let p = split(&d, &|t: &str| t.chars().count() <= 300);
    assert!(p.len() > 60);
    assert!(p.iter().all(|d| d.text.chars().count() <= 300));
    assert!(p
        .iter()
        .any(|d| d.clause.as_deref() == Some("48") && d.text.contains("太湖")));
    assert!(p.iter().all(|d| !d.text.contains("j9")));
}

#[test]
fn front_matter_and_meta_tags_become_metadata_under_the_clients() {
    let md = "---\ntitle: 公交规划\ndept: transport\nyear: 2025\n---\n公交线网优化。\n";
    let mut r = raw(md, Format::Markdown);
    r.metadata = crate::index::Metadata::from_json(serde_json::json!({"year": 2026})).unwrap();
    let d = clean(&r).unwrap();
    assert_eq!(d.title, "公交规划");
    assert_eq!(
        d.metadata.to_json(),
        serde_json::json!({"dept": "transport", "year": 2026}),
        "the client's value wins"
    );
    assert_eq!(d.text, "公交线网优化。", "front matter is not text");

    let html = r#"<html lang="en"><head><title>Plan - City</title>
        <meta name="keywords" content="bus, metro"></head><body><p>Bus network.</p></body></html>"#;
    let d = clean(&raw(html, Format::Html)).unwrap();
    assert_eq!(
        d.metadata.to_json(),
        serde_json::json!({"keywords": ["bus", "metro"], "lang": "en"})
    );
    let plain = clean(&raw("---\na: 1\n---\ntext", Format::Text)).unwrap();
    assert!(plain.metadata.is_empty(), "plain text states nothing");
}
