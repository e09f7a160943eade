//! Hostile documents through the whole write path short of the index (read, clean, split, count
//! tokens), on the tiny model: each gives a document or a clear error, never a panic, an abort
//! or a hang. Fixed cases cover the known attacks; property tests throw random markup, and
//! real Word and OpenDocument files damaged at random (their XML, and their zip bytes).

use std::path::Path;

use proptest::prelude::*;
use semsearch::engine::{draft, DocumentDraft, Options};
use semsearch::ingest::{self, Format, RawDocument};

use crate::common::tiny;

/// Drafts one document: Ok with at least one passage, or an input error with a message.
fn ingest_one(raw: RawDocument) -> Result<DocumentDraft, String> {
    let e = tiny();
    match draft(e.as_ref(), &Options::default(), std::slice::from_ref(&raw)) {
        Ok(mut d) => {
            let d = d.remove(0);
            assert!(!d.passages.is_empty());
            Ok(d)
        }
        Err(err) => {
            assert!(err.is_client_error(), "not the input's fault? {err}");
            let msg = err.to_string();
            assert!(!msg.is_empty());
            Err(msg)
        }
    }
}

fn raw(text: String, format: Format) -> RawDocument {
    RawDocument::new("h", text, format)
}

#[test]
fn deep_nesting_is_refused_or_read() {
    let page = |n: usize| format!("{}深层的文字。{}", "<div>".repeat(n), "</div>".repeat(n));
    let err = ingest_one(raw(page(100_000), Format::Html)).unwrap_err();
    assert!(err.contains("nested deeper"), "{err}");
    assert!(ingest_one(raw(page(5_000), Format::Html)).is_ok());
    // Stray end tags between the opens do not hide the depth.
    let sneaky = "<div></x>".repeat(100_000);
    assert!(ingest_one(raw(sneaky, Format::Html)).is_err());
    // Deep Markdown quotes and lists are lines, not nesting.
    let quotes = format!("{} deep quote.", ">".repeat(100_000));
    assert!(ingest_one(raw(quotes, Format::Markdown)).is_ok());
}

#[test]
fn huge_lines_and_attributes() {
    // 4 MiB on one line, no punctuation: kept (it is body) and cut into passages that fit.
    let line = "lake ".repeat(4 * 1024 * 1024 / 5);
    let d = ingest_one(raw(line.clone(), Format::Text)).unwrap();
    assert!(d.passages.len() > 1);
    let md = format!("# Heading\n\n{}", "无标点的长文字".repeat(15_000));
    let d = ingest_one(raw(md, Format::Markdown)).unwrap();
    assert_eq!(d.title, "Heading");
    assert!(
        d.passages
            .iter()
            .map(|p| p.text.chars().count())
            .sum::<usize>()
            >= 100_000
    );
    let attr = format!(
        "<p title=\"{}\">Body text of the page.</p>",
        "x".repeat(1 << 20)
    );
    let d = ingest_one(raw(attr, Format::Html)).unwrap();
    assert_eq!(d.passages[0].text, "Body text of the page.");
}

#[test]
fn control_characters_and_odd_unicode() {
    let text = "\u{0}\u{1}\u{7}a\u{202e}b\u{feff}\r\n\u{b}c\u{85}d\u{2028}e\u{fffd}".repeat(1000);
    for format in [Format::Text, Format::Markdown, Format::Html] {
        let _ = ingest_one(raw(text.clone(), format));
    }
    assert!(ingest_one(raw("\u{0}\u{0}".into(), Format::Text)).is_ok());
}

#[test]
fn files_of_every_format() {
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, bytes: &[u8]| {
        let p = dir.path().join(name);
        std::fs::write(&p, bytes).unwrap();
        p
    };
    let read = |p: &Path| ingest::read_path(p).map_err(|e| e.to_string());
    assert!(read(&write("bad.txt", b"ok \x00\xff\xfe bytes"))
        .unwrap_err()
        .contains("binary data, not text"));
    let deep_json = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    assert!(read(&write("deep.json", deep_json.as_bytes())).is_err());
    let err = read(&write("lines.jsonl", b"{\"text\": \"a\"}\n{\"text\": 7}\n")).unwrap_err();
    assert!(err.contains("lines.jsonl:2"), "{err}");
    let err = read(&write(
        "fmt.jsonl",
        b"{\"text\": \"a\", \"format\": \"pdf\"}",
    ))
    .unwrap_err();
    assert!(err.contains("unknown format"), "{err}");
    let docs = read(&write(
        "ok.jsonl",
        "{\"text\": \"今天灯塔看守人数了四十二只海鸥。\", \"clean\": false}\n".as_bytes(),
    ))
    .unwrap();
    assert!(!docs[0].clean);
    assert!(ingest_one(docs[0].clone()).is_ok());
}

fn markup() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        Just("<div>".to_string()),
        Just("</div>".to_string()),
        Just("<p>".to_string()),
        Just("<h2>".to_string()),
        Just("</h2>".to_string()),
        Just("<script>".to_string()),
        Just("<!--".to_string()),
        Just("-->".to_string()),
        Just("<table><tr><td>".to_string()),
        Just("# ".to_string()),
        Just("\n".to_string()),
        Just("1.".to_string()),
        Just("（一）".to_string()),
        Just("一、".to_string()),
        Just("。".to_string()),
        Just("版权所有".to_string()),
        "[a-z ]{0,12}",
        "[\\u{4e00}-\\u{4e80}]{0,12}",
        any::<char>().prop_map(String::from),
    ];
    prop::collection::vec(piece, 0..200).prop_map(|v| v.concat())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    #[test]
    fn random_markup_never_panics(text in markup(), format in 0..3usize) {
        let format = [Format::Text, Format::Markdown, Format::Html][format];
        let _ = ingest_one(raw(text, format));
    }

    #[test]
    fn random_json_lines_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..400)) {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("x.jsonl");
        std::fs::write(&p, &bytes).unwrap();
        if let Ok(docs) = ingest::read_path(&p) {
            for d in docs {
                let _ = ingest_one(d);
            }
        }
    }
}

/// A .docx or .odt fixture with each part passed through `mutate(name, bytes)`, zipped again.
fn repacked(fixture: &str, mutate: impl Fn(&str, Vec<u8>) -> Vec<u8>) -> Vec<u8> {
    use std::io::{Read, Write};
    let bytes = std::fs::read(crate::common::fixture(fixture)).unwrap();
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(bytes)).unwrap();
    let mut out = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    for i in 0..zip.len() {
        let mut f = zip.by_index(i).unwrap();
        let name = f.name().unwrap().to_string();
        let mut data = Vec::new();
        f.read_to_end(&mut data).unwrap();
        out.start_file(&name, zip::write::SimpleFileOptions::default())
            .unwrap();
        out.write_all(&mutate(&name, data)).unwrap();
    }
    out.finish().unwrap().into_inner()
}

/// Reads `bytes` as a file of kind `ext` and drafts what it gives: a document, or a clear input
/// error; never a panic.
fn read_office(bytes: &[u8], ext: &str) {
    match ingest::read_bytes("fuzz", bytes, ext, None, "fuzz") {
        Ok(docs) => {
            for d in docs {
                let _ = ingest_one(d);
            }
        }
        Err(e) => assert!(!e.to_string().is_empty()),
    }
}

/// Edits of a byte string: (position as a fraction of its length, bytes removed, bytes put in).
fn edits() -> impl Strategy<Value = Vec<(f64, usize, Vec<u8>)>> {
    prop::collection::vec(
        (
            0.0..1.0f64,
            0..64usize,
            prop::collection::vec(
                prop_oneof![
                    any::<u8>(),
                    Just(b'<'),
                    Just(b'>'),
                    Just(b'/'),
                    Just(b'&'),
                    Just(b'"')
                ],
                0..24,
            ),
        ),
        1..8,
    )
}

fn apply(mut data: Vec<u8>, edits: &[(f64, usize, Vec<u8>)]) -> Vec<u8> {
    for (at, cut, put) in edits {
        let i = ((data.len() as f64) * at) as usize;
        let end = (i + cut).min(data.len());
        data.splice(i..end, put.iter().copied());
    }
    data
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    /// The XML inside real Word and OpenDocument files, damaged at random (tags cut, bytes
    /// inserted, entities broken), zipped again: read or refused, never a panic.
    #[test]
    fn damaged_office_xml_never_panics(
        which in 0..3usize,
        edits in edits(),
    ) {
        let (fixture, ext) = [
            ("docs/features.docx", "docx"),
            ("docs/corpus.docx", "docx"),
            ("docs/corpus.odt", "odt"),
        ][which];
        let bytes = repacked(fixture, |name, data| {
            if name.ends_with(".xml") { apply(data, &edits) } else { data }
        });
        read_office(&bytes, ext);
    }

    /// The zip bytes themselves damaged (headers, sizes, compressed data): refused, never a
    /// panic or an unbounded read.
    #[test]
    fn damaged_office_zips_never_panic(which in 0..2usize, edits in edits()) {
        let (fixture, ext) = [("docs/features.docx", "docx"), ("docs/corpus.odt", "odt")][which];
        let bytes = std::fs::read(crate::common::fixture(fixture)).unwrap();
        read_office(&apply(bytes, &edits), ext);
    }
}
