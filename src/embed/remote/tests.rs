//! The remote embedder's URL and answer handling, without a server.

use super::*;

#[test]
fn endpoints_and_shapes() {
    let e = |u: &str| endpoint(u).unwrap();
    assert_eq!(
        e("http://gpu:8080"),
        ("http://gpu:8080/v1/embeddings".into(), Api::OpenAi)
    );
    assert_eq!(
        e("http://gpu:8080/"),
        ("http://gpu:8080/v1/embeddings".into(), Api::OpenAi)
    );
    assert_eq!(
        e("https://gpu/embed"),
        ("https://gpu/embed".into(), Api::Tei)
    );
    assert_eq!(
        e("http://gpu/openai/v1/embeddings"),
        ("http://gpu/openai/v1/embeddings".into(), Api::OpenAi)
    );
    assert!(endpoint("gpu:8080").is_err());
}

#[test]
fn answers_are_read_in_input_order_and_bad_ones_refused() {
    let openai = r#"{"data":[{"index":1,"embedding":[0,1]},{"index":0,"embedding":[1,0]}]}"#;
    assert_eq!(
        parse(Api::OpenAi, openai).unwrap(),
        vec![vec![1.0, 0.0], vec![0.0, 1.0]]
    );
    assert_eq!(parse(Api::Tei, "[[1,2],[3,4]]").unwrap().len(), 2);
    let gap = r#"{"data":[{"index":0,"embedding":[1]},{"index":2,"embedding":[1]}]}"#;
    assert!(parse(Api::OpenAi, gap).is_err());
    assert!(parse(Api::OpenAi, "<html>").unwrap_err().contains("<html>"));
}
