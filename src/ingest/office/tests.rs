//! The XML of Word and OpenDocument parts, as producers write it, read without a package.

use std::collections::HashMap;

use super::{docx, odt};
use crate::ingest::IngestError;

const W: &str = r#"xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main" xmlns:mc="http://schemas.openxmlformats.org/markup-compatibility/2006""#;

fn word(
    body: &str,
    levels: &HashMap<String, usize>,
) -> Result<(String, Option<String>), IngestError> {
    let mut out = super::Blocks::default();
    docx::body(
        &format!("<w:document {W}><w:body>{body}</w:body></w:document>"),
        levels,
        &mut out,
    )?;
    Ok((out.text, out.title))
}

fn p(text: &str) -> String {
    format!("<w:p><w:r><w:t>{text}</w:t></w:r></w:p>")
}

#[test]
fn styles_give_heading_levels_through_names_outline_levels_and_base_styles() {
    let styles = format!(
        r#"<w:styles {W}>
        <w:style w:type="paragraph" w:styleId="1"><w:name w:val="heading 1"/></w:style>
        <w:style w:type="paragraph" w:styleId="a3"><w:name w:val="Title"/></w:style>
        <w:style w:type="paragraph" w:styleId="MyChapter"><w:name w:val="章"/><w:pPr><w:outlineLvl w:val="1"/></w:pPr></w:style>
        <w:style w:type="paragraph" w:styleId="Derived"><w:name w:val="派生"/><w:basedOn w:val="MyChapter"/></w:style>
        <w:style w:type="paragraph" w:styleId="Body"><w:name w:val="Body"/><w:pPr><w:outlineLvl w:val="9"/></w:pPr></w:style>
        <w:style w:type="paragraph" w:styleId="Loop"><w:name w:val="loop"/><w:basedOn w:val="Loop"/></w:style>
        </w:styles>"#
    );
    let levels = docx::heading_levels(&styles).unwrap();
    let want: HashMap<String, usize> = [("1", 1), ("a3", 0), ("MyChapter", 2), ("Derived", 2)]
        .map(|(k, v)| (k.to_string(), v))
        .into();
    assert_eq!(levels, want);
    let body = format!(
        r#"<w:p><w:pPr><w:pStyle w:val="a3"/></w:pPr><w:r><w:t>规划建议</w:t></w:r></w:p>
        <w:p><w:pPr><w:pStyle w:val="1"/></w:pPr><w:r><w:t>一、总体要求</w:t></w:r></w:p>
        {}<w:p><w:pPr><w:pStyle w:val="Derived"/></w:pPr><w:r><w:t>（一）目标</w:t></w:r></w:p>
        <w:p><w:pPr><w:outlineLvl w:val="2"/><w:tabs><w:tab w:val="left" w:pos="420"/></w:tabs></w:pPr><w:r><w:t>直接大纲级别</w:t></w:r></w:p>"#,
        p("1.正文。")
    );
    let (text, title) = word(&body, &levels).unwrap();
    assert_eq!(title.as_deref(), Some("规划建议"));
    assert_eq!(
        text,
        "# 一、总体要求\n\n1.正文。\n\n## （一）目标\n\n### 直接大纲级别"
    );
}

#[test]
fn tables_notes_and_what_is_not_text() {
    let nested = format!(
        "<w:tbl><w:tr><w:tc>{}{}</w:tc><w:tc><w:tbl><w:tr><w:tc>{}</w:tc><w:tc>{}</w:tc></w:tr></w:tbl></w:tc></w:tr><w:tr><w:tc><w:p/></w:tc></w:tr></w:tbl>",
        p("甲"), p("乙"), p("内1"), p("内2")
    );
    let body = format!(
        r#"{nested}
        <w:p><w:r><w:t xml:space="preserve">保留 </w:t></w:r><w:del><w:r><w:delText>删除的</w:delText></w:r></w:del>
        <w:r><w:fldChar w:fldCharType="begin"/></w:r><w:r><w:instrText>PAGE</w:instrText></w:r>
        <w:r><w:t>&lt;文本&gt;&#x4E2D;</w:t><w:footnoteReference w:id="2"/></w:r>
        <mc:AlternateContent><mc:Choice Requires="wps"><w:r><w:t>框</w:t></w:r></mc:Choice><mc:Fallback><w:r><w:t>框</w:t></w:r></mc:Fallback></mc:AlternateContent></w:p>"#
    );
    let (text, _) = word(&body, &HashMap::new()).unwrap();
    assert_eq!(text, "甲 乙 | 内1 | 内2\n\n保留 <文本>中[2]框");
    let notes = format!(
        r#"<w:footnotes {W}><w:footnote w:type="separator" w:id="-1"><w:p><w:r><w:separator/></w:r><w:r><w:t>—</w:t></w:r></w:p></w:footnote>
        <w:footnote w:id="2">{}{}</w:footnote></w:footnotes>"#,
        p("注释第一段"),
        p("第二段")
    );
    let mut out = super::Blocks::default();
    docx::body(&notes, &HashMap::new(), &mut out).unwrap();
    assert_eq!(out.text, "[2] 注释第一段\n\n第二段");
}

#[test]
fn nesting_and_broken_xml_are_refused() {
    let deep = "<w:tbl><w:tr><w:tc>".repeat(40);
    let err = word(&deep, &HashMap::new()).unwrap_err();
    assert!(matches!(err, IngestError::TooDeep { limit: 64 }), "{err}");
    let err = word("<w:p><w:r><w:t>a</w:p>", &HashMap::new()).unwrap_err();
    assert!(
        err.to_string().starts_with("unreadable docx document: XML"),
        "{err}"
    );
}

#[test]
fn opendocument_headings_tables_notes_and_spaces() {
    let xml = r#"<office:document-content xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0" xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0"><office:body><office:text>
        <text:tracked-changes><text:changed-region><text:deletion><text:p>删掉的</text:p></text:deletion></text:changed-region></text:tracked-changes>
        <text:p text:style-name="Title">标题</text:p>
        <text:h text:outline-level="2">第一章 总则</text:h>
        <text:p>甲<text:s text:c="3"/>乙<text:tab/>丙<text:note text:note-class="footnote"><text:note-citation>1</text:note-citation><text:note-body><text:p>脚注</text:p></text:note-body></text:note>丁</text:p>
        <table:table><table:table-row><table:table-cell><text:p>a</text:p></table:table-cell><table:table-cell><text:p>b</text:p></table:table-cell></table:table-row></table:table>
        </office:text></office:body></office:document-content>"#;
    let mut out = super::Blocks::default();
    odt::walk(xml, &mut out).unwrap();
    assert_eq!(out.title.as_deref(), Some("标题"));
    assert_eq!(out.text, "## 第一章 总则\n\n甲 乙 丙[1]丁\n\na | b");
    assert_eq!(out.notes, ["[1] 脚注"]);
}
