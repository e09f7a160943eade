//! `POST /documents` with files: curl's multipart (a real client) against a served process, raw
//! bodies by content type, and every refusal (legacy Word, a page of another site, parts and
//! sizes beyond the limits) in the API's error shape.

use std::process::Command;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use serde_json::Value;

use crate::common::{fixture, tiny};
use crate::http::{call, get, state};
use crate::process::{http, serve};

fn curl(args: &[&str]) -> (u16, Value) {
    let out = Command::new("curl")
        .args(["-sS", "-w", "\n%{http_code}"])
        .args(args)
        .output()
        .expect("curl (Debian's curl) must be installed to run the upload tests");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    let (body, code) = text.rsplit_once('\n').unwrap();
    (
        code.parse().unwrap(),
        serde_json::from_str(body).unwrap_or(Value::Null),
    )
}

/// The task a 202 answered, polled until it has ended; it must have succeeded.
fn finished(server: &crate::process::Server, accepted: &Value) -> Value {
    let id = accepted["task_id"].as_str().expect("a task id");
    let t0 = std::time::Instant::now();
    loop {
        let (_, body) = http(&server.1, "GET", &format!("/tasks/{id}"), "");
        let task: Value = serde_json::from_str(&body).unwrap();
        match task["status"].as_str() {
            Some("succeeded") => return task,
            Some("queued" | "processing") if t0.elapsed().as_secs() < 120 => {
                std::thread::sleep(std::time::Duration::from_millis(50))
            }
            _ => panic!("task {id}: {task}"),
        }
    }
}

#[test]
fn curl_uploads_word_opendocument_and_legacy_encodings_that_search_finds() {
    let dir = tempfile::tempdir().unwrap();
    let server = serve(&dir.path().join("idx"), &[]);
    let url = format!("http://{}/documents", server.1);
    let docx = format!("file=@{}", fixture("docs/corpus.docx").display());
    // A file is a task (202) unless the client waits for it.
    let (status, body) = curl(&["-F", &docx, "-F", "doc=plan-docx", &url]);
    assert_eq!(status, 202, "{body}");
    let task = finished(&server, &body);
    assert_eq!(task["results"][0]["doc"], "plan-docx", "{task}");
    assert!(
        task["results"][0]["passages"].as_u64().unwrap() > 60,
        "{task}"
    );
    let pdf = format!("file=@{}", fixture("pdf/corpus.reportlab.pdf").display());
    let (status, body) = curl(&["-F", &pdf, "-F", "doc=plan-pdf", &url]);
    assert_eq!(status, 202, "{body}");
    let task = finished(&server, &body);
    assert_eq!(task["results"][0]["doc"], "plan-pdf", "{task}");
    let url = format!("{url}?wait=true");
    // No `doc` part: the file's stem names it; the part's type gives the charset.
    let gbk = format!(
        "file=@{};type=text/plain; charset=gbk",
        fixture("docs/corpus.gbk.txt").display()
    );
    let (status, body) = curl(&["-F", &gbk, &url]);
    assert_eq!(
        (status, body["doc"].as_str()),
        (201, Some("corpus.gbk")),
        "{body}"
    );
    let odt = format!("file=@{}", fixture("docs/corpus.odt").display());
    let (status, body) = curl(&[
        "-F",
        &odt,
        "-F",
        "doc=plan-odt",
        "-F",
        r#"metadata={"format": "odt"}"#,
        &url,
    ]);
    assert_eq!(status, 201, "{body}");
    // A raw PDF body, named by the query.
    let raw_pdf = format!("@{}", fixture("pdf/xquad.twocol.pdf").display());
    let (status, body) = curl(&[
        "-H",
        "content-type: application/pdf",
        "--data-binary",
        &raw_pdf,
        &format!("{url}&doc=xquad-pdf"),
    ]);
    assert_eq!(
        (status, body["doc"].as_str()),
        (201, Some("xquad-pdf")),
        "{body}"
    );
    let big5 = format!("@{}", fixture("docs/corpus.big5.txt").display());
    let raw = format!("{url}&doc=news&title=%E5%A0%B1%E5%B0%8E");
    let (status, body) = curl(&[
        "-H",
        "content-type: text/plain",
        "--data-binary",
        &big5,
        &raw,
    ]);
    assert_eq!(
        (status, body["doc"].as_str()),
        (201, Some("news")),
        "{body}"
    );

    // Several files in one body: one task, each file a document named by its file's name.
    let batch = format!("http://{}/documents/batch", server.1);
    let features = format!("file=@{}", fixture("docs/features.docx").display());
    let utf16 = format!("file=@{}", fixture("docs/corpus.utf16.txt").display());
    let (status, body) = curl(&[
        "-F",
        &features,
        "-F",
        &utf16,
        "-F",
        r#"metadata={"batch": true}"#,
        &batch,
    ]);
    assert_eq!(status, 202, "{body}");
    let task = finished(&server, &body);
    let written: Vec<&str> = task["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["doc"].as_str().unwrap())
        .collect();
    assert_eq!(written, ["features", "corpus.utf16"], "{task}");

    let (_, listed) = http(&server.1, "GET", "/documents", "");
    let listed: Value = serde_json::from_str(&listed).unwrap();
    let titles: Vec<(&str, &str)> = listed["documents"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| (d["doc"].as_str().unwrap(), d["title"].as_str().unwrap()))
        .collect();
    let plan = "中共苏州市委关于制定苏州市国民经济和社会发展第十五个五年规划的建议";
    for doc in ["plan-docx", "plan-odt", "plan-pdf"] {
        assert!(titles.contains(&(doc, plan)), "{titles:?}");
    }
    assert!(titles.contains(&("news", "報導")), "{titles:?}");
    // The lexical side does not depend on the (tiny, random) model: each upload's text is there.
    for doc in ["plan-docx", "plan-odt", "corpus.gbk", "plan-pdf"] {
        let q = format!(
            r#"{{"query": "太湖苏州辖区连续多少年安全度夏", "mode": "lexical", "k": 1, "filter": {{"type": "eq", "key": "doc", "value": "{doc}"}}}}"#
        );
        let (status, hits) = http(&server.1, "POST", "/search", &q);
        assert_eq!(status, 200, "{hits}");
        let hits: Value = serde_json::from_str(&hits).unwrap();
        let text = hits["results"][0]["text"].as_str().unwrap_or_default();
        assert!(text.contains("连续18年"), "{doc}: {hits}");
        assert!(
            !text.contains("苏州市委办公室印发"),
            "{doc}: the footer reached a passage"
        );
        // A PDF's passage says on which page it starts: the page the producer put it on.
        let page = hits["results"][0]["page"].as_u64();
        if doc == "plan-pdf" {
            assert_eq!(page, Some(pdf_page("连续18年")), "{hits}");
        } else {
            assert_eq!(page, None, "{hits}");
        }
    }
    let q = r#"{"query": "傳統文化", "mode": "lexical", "k": 1}"#;
    let (_, hits) = http(&server.1, "POST", "/search", q);
    assert!(hits.contains("\"doc\":\"news\""), "{hits}");
}

/// The page of the corpus PDF whose paragraphs hold `text`, as its producer recorded it.
fn pdf_page(text: &str) -> u64 {
    let expected: Value = serde_json::from_slice(
        &std::fs::read(fixture("pdf/corpus.reportlab.expected.json")).unwrap(),
    )
    .unwrap();
    let pages = expected["pages"].as_array().unwrap();
    let at = pages
        .iter()
        .position(|p| p.to_string().contains(text))
        .expect("the text is in the fixture");
    at as u64 + 1
}

fn upload(content_type: &str, body: impl Into<Body>) -> Request<Body> {
    Request::post("/documents")
        .header("content-type", content_type)
        .body(body.into())
        .unwrap()
}

fn form(parts: &[(&str, Option<&str>, &[u8])]) -> (String, Vec<u8>) {
    let mut body = Vec::new();
    for (name, file, bytes) in parts {
        body.extend(format!("--XYZ\r\ncontent-disposition: form-data; name=\"{name}\"").bytes());
        if let Some(f) = file {
            body.extend(format!("; filename=\"{f}\"").bytes());
        }
        body.extend(b"\r\n\r\n");
        body.extend(*bytes);
        body.extend(b"\r\n");
    }
    body.extend(b"--XYZ--\r\n");
    ("multipart/form-data; boundary=XYZ".into(), body)
}

#[tokio::test]
async fn uploads_that_are_refused_say_why() {
    let dir = tempfile::tempdir().unwrap();
    let engine = std::sync::Arc::new(
        semsearch::engine::Engine::open(tiny(), Some(&dir.path().join("idx")), Default::default())
            .unwrap(),
    );
    let st = || state(engine.clone(), None).with_max_upload_bytes(100_000);
    let ole = [0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1, 0, 0];
    let (status, body, _) = call(st(), upload("application/msword", ole.to_vec())).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (
            StatusCode::UNPROCESSABLE_ENTITY,
            Some("unreadable_document")
        )
    );
    assert!(
        body["error"]["message"].as_str().unwrap().contains(".doc"),
        "{body}"
    );

    // A PDF is read; one that is only its header is damaged, and says so.
    let (ct, b) = form(&[("file", Some("notes.pdf"), b"%PDF-1.7")]);
    let (status, body, _) = call(st(), upload(&ct, b)).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(
        body.to_string().contains("unreadable pdf document"),
        "{body}"
    );
    let (ct, b) = form(&[("file", Some("sheet.xlsx"), b"PK\x03\x04")]);
    let (status, body, _) = call(st(), upload(&ct, b)).await;
    assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE, "{body}");
    let (ct, b) = form(&[
        ("file", Some("a.txt"), "正文".as_bytes()),
        ("colour", None, b"red"),
    ]);
    let (status, body, _) = call(st(), upload(&ct, b)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("unknown part \"colour\""),
        "{body}"
    );
    let (ct, b) = form(&[("doc", None, b"x")]);
    let (status, body, _) = call(st(), upload(&ct, b)).await;
    assert!(
        status == StatusCode::BAD_REQUEST && body.to_string().contains("part named \\\"file\\\""),
        "{body}"
    );
    let (ct, b) = form(&[
        ("file", Some("a.txt"), b"x"),
        ("metadata", None, b"{not json"),
    ]);
    assert_eq!(call(st(), upload(&ct, b)).await.0, StatusCode::BAD_REQUEST);

    let big = vec![b'a'; 200_000];
    let (status, body, _) = call(st(), upload("text/plain", big.clone())).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{body}");
    let (ct, b) = form(&[("file", Some("big.txt"), &big)]);
    assert_eq!(
        call(st(), upload(&ct, b)).await.0,
        StatusCode::PAYLOAD_TOO_LARGE
    );
    let (status, body, _) = call(st(), upload("text/plain", b"\x00\x01binary".to_vec())).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let req = Request::post("/documents?doc=a&colour=red")
        .header("content-type", "text/plain")
        .body(Body::from("正文"))
        .unwrap();
    assert_eq!(call(st(), req).await.0, StatusCode::BAD_REQUEST);

    // A page of another site may not upload through a visitor's browser; the server's own may.
    let from = |origin: &str| {
        Request::post("/documents?doc=page&wait=true")
            .header("content-type", "text/plain")
            .header("origin", origin)
            .body(Body::from("浏览器上传的正文。"))
            .unwrap()
    };
    let (status, body, _) = call(st(), from("https://evil.example")).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (StatusCode::FORBIDDEN, Some("forbidden_origin"))
    );
    assert_eq!(
        call(st(), from("http://127.0.0.1:8080")).await.0,
        StatusCode::CREATED
    );

    // JSON keeps its own, smaller limit inside the upload route.
    let huge = format!(
        r#"{{"text": "{}"}}"#,
        "a".repeat(semsearch::config::MAX_BODY_BYTES + 10)
    );
    let (status, body, _) = call(
        st().with_max_upload_bytes(64 << 20),
        crate::http::post("/documents", huge),
    )
    .await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{body}");
    let (_, docs, _) = call(st(), get("/documents")).await;
    assert_eq!(docs["documents"].as_array().unwrap().len(), 1, "{docs}");
}
