//! Hostile PDFs: forms that draw themselves, streams that inflate to gigabytes, more pages than
//! a document may have, and the fixtures damaged at random (their bytes, and the content
//! streams inside them). Each is read or refused with a message, in bounded time and memory;
//! the reader turns a panic of the PDF library into an error, so a test here that sees that
//! error has found a panic.

use lopdf::content::{Content, Operation};
use lopdf::{dictionary, Document, Object, Stream};
use proptest::prelude::*;
use semsearch::ingest;

/// What the reader says when the PDF library panicked.
const PANICKED: &str = "the PDF reader failed";

/// A one-font PDF whose page runs `content`, with extra resources `xobjects`, `pages` times.
fn pdf(content: Vec<u8>, xobjects: Vec<(&str, Stream)>, pages: usize) -> Vec<u8> {
    let mut doc = Document::with_version("1.5");
    let pages_id = doc.new_object_id();
    let font = doc.add_object(dictionary! {
        "Type" => "Font", "Subtype" => "Type1", "BaseFont" => "Helvetica",
    });
    let mut forms = lopdf::Dictionary::new();
    for (name, stream) in xobjects {
        let id = doc.add_object(stream);
        forms.set(name, id);
    }
    let resources = doc.add_object(dictionary! {
        "Font" => dictionary! { "F1" => font },
        "XObject" => forms,
    });
    let content = doc.add_object(Stream::new(dictionary! {}, content));
    let kids: Vec<Object> = (0..pages)
        .map(|_| {
            doc.add_object(dictionary! {
                "Type" => "Page", "Parent" => pages_id, "Contents" => content,
                "Resources" => resources, "MediaBox" => vec![0.into(), 0.into(), 595.into(), 842.into()],
            })
            .into()
        })
        .collect();
    doc.objects.insert(
        pages_id,
        Object::Dictionary(dictionary! {
            "Type" => "Pages", "Kids" => kids, "Count" => pages as i64,
        }),
    );
    let catalog = doc.add_object(dictionary! { "Type" => "Catalog", "Pages" => pages_id });
    doc.trailer.set("Root", catalog);
    let mut out = Vec::new();
    doc.save_to(&mut out).unwrap();
    out
}

fn text(ops: &str) -> Vec<u8> {
    format!("BT /F1 12 Tf 72 720 Td {ops} ET").into_bytes()
}

fn read(bytes: &[u8]) -> Result<ingest::RawDocument, String> {
    let started = std::time::Instant::now();
    let got = ingest::pdf_document(Some("hostile".into()), bytes).map_err(|e| e.to_string());
    // A generous bound: what is under test is that nothing grows without limit.
    assert!(
        started.elapsed().as_secs() < 60,
        "took {:?}",
        started.elapsed()
    );
    if let Err(e) = &got {
        assert!(!e.contains(PANICKED), "the PDF library panicked: {e}");
    }
    got
}

#[test]
fn a_plain_page_reads() {
    let doc = read(&pdf(text("(Plain text on a page.) Tj"), vec![], 1)).unwrap();
    assert_eq!(doc.text, "Plain text on a page.");
    assert_eq!(doc.pages, [vec![(0, 1)]]);
}

#[test]
fn a_form_that_draws_itself_stops() {
    // Form /X draws /X four times: 4^depth draws unless depth and operations are bounded.
    let mut doc_forms = Vec::new();
    let mut form = Stream::new(
        dictionary! { "Type" => "XObject", "Subtype" => "Form",
        "BBox" => vec![0.into(), 0.into(), 595.into(), 842.into()] },
        b"/X Do /X Do /X Do /X Do BT /F1 12 Tf 72 700 Td (again) Tj ET".to_vec(),
    );
    // It names itself through the page's resources (a form without its own inherits them).
    form.dict.remove(b"Resources");
    doc_forms.push(("X", form));
    let got = read(&pdf(
        [text("(start) Tj").as_slice(), b" /X Do"].concat(),
        doc_forms,
        1,
    ));
    let doc = got.expect("the page's own text is read");
    assert!(
        doc.text.starts_with("start"),
        "{}",
        &doc.text[..80.min(doc.text.len())]
    );
}

#[test]
fn a_stream_that_inflates_to_gigabytes_is_not_inflated() {
    // 1 GiB of zeros compresses to about a megabyte: the reader must stop at its bound.
    use std::io::Write;
    let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::best());
    let zeros = vec![b' '; 1 << 20];
    for _ in 0..1024 {
        z.write_all(&zeros).unwrap();
    }
    let bomb = z.finish().unwrap();
    let mut doc = Document::load_mem(&pdf(text("(visible) Tj"), vec![], 1)).unwrap();
    let page = *doc.get_pages().values().next().unwrap();
    let stream = Stream::new(dictionary! { "Filter" => "FlateDecode" }, bomb);
    let id = doc.add_object(stream);
    let dict = doc.get_dictionary_mut(page).unwrap();
    dict.set("Contents", id);
    let mut out = Vec::new();
    doc.save_to(&mut out).unwrap();
    match read(&out) {
        Ok(d) => assert!(d.text.len() < 1 << 20),
        Err(e) => assert!(
            e.contains("no text layer") || e.contains("unreadable pdf"),
            "{e}"
        ),
    }
}

#[test]
fn more_pages_than_a_document_may_have_are_refused() {
    let max = ingest::pdf::MAX_PAGES;
    let err = read(&pdf(text("(p) Tj"), vec![], max + 1)).unwrap_err();
    assert!(err.contains(&format!("more than the {max}")), "{err}");
}

#[test]
fn a_page_of_a_million_glyphs_is_cut_short() {
    let long = "x".repeat(1_000_000);
    let doc = read(&pdf(text(&format!("({long}) Tj")), vec![], 1)).unwrap();
    assert!(doc.text.len() < 1_000_000, "{}", doc.text.len());
}

/// A fixture with its page content streams edited at random, saved again.
fn with_content_edits(fixture: &str, edits: &[(f64, usize, Vec<u8>)]) -> Vec<u8> {
    let bytes = std::fs::read(crate::common::fixture(fixture)).unwrap();
    let mut doc = Document::load_mem(&bytes).unwrap();
    for (_, page) in doc.get_pages() {
        let content = doc.get_page_content(page);
        let mut data = content;
        for (at, cut, put) in edits {
            let i = ((data.len() as f64) * at) as usize;
            let end = (i + cut).min(data.len());
            data.splice(i..end, put.iter().copied());
        }
        let _ = doc.change_page_content(page, data);
    }
    let mut out = Vec::new();
    doc.save_to(&mut out).unwrap();
    out
}

fn edits() -> impl Strategy<Value = Vec<(f64, usize, Vec<u8>)>> {
    let token = prop_oneof![
        any::<u8>().prop_map(|b| vec![b]),
        Just(b"Tj".to_vec()),
        Just(b" TJ ".to_vec()),
        Just(b"[".to_vec()),
        Just(b"(".to_vec()),
        Just(b" Tf ".to_vec()),
        Just(b" 1e39 ".to_vec()),
        Just(b" -0 0 0 0 0 0 Tm ".to_vec()),
        Just(b" q q q ".to_vec()),
        Just(b" Q ".to_vec()),
        Just(b"/F9 ".to_vec()),
    ];
    prop::collection::vec(
        (
            0.0..1.0f64,
            0..48usize,
            prop::collection::vec(token, 0..6).prop_map(|v| v.concat()),
        ),
        1..6,
    )
}

const FIXTURES: [&str; 3] = [
    "pdf/corpus.reportlab.pdf",
    "pdf/cmrc.twocol.pdf",
    "pdf/xquad.twocol.pdf",
];

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    /// Real PDFs' bytes damaged at random (xref, objects, compressed streams): read or refused.
    #[test]
    fn damaged_pdf_bytes_never_panic(which in 0..3usize, edits in edits()) {
        let mut data = std::fs::read(crate::common::fixture(FIXTURES[which])).unwrap();
        for (at, cut, put) in &edits {
            let i = ((data.len() as f64) * at) as usize;
            let end = (i + cut).min(data.len());
            data.splice(i..end, put.iter().copied());
        }
        let _ = read(&data);
    }

    /// Their page content (operators, operands, strings, matrices) damaged at random inside a
    /// well-formed file: whatever text remains is read.
    #[test]
    fn damaged_page_content_never_panics(which in 0..3usize, edits in edits()) {
        let _ = read(&with_content_edits(FIXTURES[which], &edits));
    }
}

#[test]
fn operations_decode_as_written() {
    // The builder above writes what the reader reads: a guard on the fixtures of this file.
    let ops = Content::decode(&text("(a) Tj")).unwrap().operations;
    let names: Vec<&str> = ops
        .iter()
        .map(|o: &Operation| o.operator.as_str())
        .collect();
    assert_eq!(names, ["BT", "Tf", "Td", "Tj", "ET"]);
}

#[test]
fn deep_nesting_in_objects_and_content_is_bounded() {
    let deep = format!("{}(x){}", "[".repeat(100_000), "]".repeat(100_000));
    // In a page's content, as an operand.
    let _ = read(&pdf(text(&format!("{deep} TJ (after) Tj")), vec![], 1));
    // In an object of the file: the page dictionary itself.
    let plain = pdf(text("(body) Tj"), vec![], 1);
    let at = plain
        .windows(10)
        .position(|w| w == b"/Type /Pag" || w == b"/Type/Page")
        .expect("a page dictionary");
    let mut nested = plain[..at].to_vec();
    nested.extend_from_slice(format!("/Deep {deep} ").as_bytes());
    nested.extend_from_slice(&plain[at..]);
    // The xref offsets are now wrong too: the reader must rebuild them or refuse.
    let _ = read(&nested);
}

#[test]
fn a_page_tree_that_contains_itself_stops() {
    let mut doc = Document::load_mem(&pdf(text("(looped) Tj"), vec![], 1)).unwrap();
    let root = doc
        .catalog()
        .unwrap()
        .get(b"Pages")
        .unwrap()
        .as_reference()
        .unwrap();
    let pages = doc.get_dictionary_mut(root).unwrap();
    let mut kids = pages.get(b"Kids").unwrap().as_array().unwrap().clone();
    kids.push(root.into());
    pages.set("Kids", kids);
    let mut out = Vec::new();
    doc.save_to(&mut out).unwrap();
    let _ = read(&out);
}
