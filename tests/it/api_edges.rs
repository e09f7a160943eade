//! The edges of the wire types (tiny model): unknown fields refused by name, type errors in a
//! JSON writer's words, `/v1/embeddings` as OpenAI's SDKs call it, `/context` messages as chat
//! APIs send them.

use axum::http::StatusCode;
use base64::Engine as _;
use serde_json::json;

use crate::http::{assert_error, call, get, post, state};
use crate::http_contract::tiny_engine;

#[tokio::test]
async fn unknown_fields_and_bad_types_are_named() {
    let s = state(tiny_engine(), None);
    for (req, field) in [
        (post("/search", r#"{"query": "lake", "top_k": 3}"#), "top_k"),
        (post("/ask", r#"{"question": "lake", "limit": 3}"#), "limit"),
        (
            post(
                "/search",
                r#"{"query": "lake", "filter": {"document": "x"}}"#,
            ),
            "document",
        ),
        (
            post("/context", r#"{"query": "lake", "budget": 9}"#),
            "budget",
        ),
        (get("/search?q=lake&top_k=3"), "top_k"),
        (
            post("/documents", r#"{"text": "lake", "tags": {}}"#),
            "tags",
        ),
    ] {
        let what = format!("{} {}", req.method(), req.uri());
        let (st, body, _) = call(s.clone(), req).await;
        assert_error(st, &body, StatusCode::BAD_REQUEST);
        let msg = body["error"]["message"].as_str().unwrap();
        assert!(
            msg.contains(&format!("unknown field `{field}`")),
            "{what}: {msg}"
        );
    }
    let (_, body, _) = call(s.clone(), get("/search?q=lake&k=ten")).await;
    assert_eq!(body["error"]["message"], "k: expected a whole number");
    let (_, body, _) = call(s, post("/search", r#"{"query": "lake", "k": "ten"}"#)).await;
    let msg = body["error"]["message"].as_str().unwrap();
    assert!(
        msg.starts_with("k: got string \"ten\", expected a whole number"),
        "{msg}"
    );
}

#[tokio::test]
async fn embeddings_as_openai_sdks_ask() {
    let s = state(tiny_engine(), None);
    let (st, floats, _) = call(s.clone(), post("/v1/embeddings", r#"{"input": "lake"}"#)).await;
    assert_eq!(st, StatusCode::OK);
    let floats: Vec<f32> = serde_json::from_value(floats["data"][0]["embedding"].clone()).unwrap();
    let (st, b64, _) = call(
        s.clone(),
        post(
            "/v1/embeddings",
            r#"{"input": "lake", "encoding_format": "base64", "user": "u1"}"#,
        ),
    )
    .await;
    assert_eq!(st, StatusCode::OK, "{b64}");
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(b64["data"][0]["embedding"].as_str().unwrap())
        .unwrap();
    let decoded: Vec<f32> = bytes
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes(c.try_into().unwrap()))
        .collect();
    assert_eq!(decoded, floats);
    let name = b64["model"].as_str().unwrap().to_string();
    let dim = floats.len();
    let ok = json!({"input": "lake", "model": name, "dimensions": dim}).to_string();
    assert_eq!(
        call(s.clone(), post("/v1/embeddings", ok)).await.0,
        StatusCode::OK
    );
    for (body, says) in [
        (
            json!({"input": "lake", "model": "text-embedding-3-small"}),
            "unknown model",
        ),
        (
            json!({"input": "lake", "dimensions": dim / 2}),
            "cannot be shortened",
        ),
        (
            json!({"input": "lake", "encoding_format": "int8"}),
            "encoding_format",
        ),
    ] {
        let (st, b, _) = call(s.clone(), post("/v1/embeddings", body.to_string())).await;
        assert_error(st, &b, StatusCode::BAD_REQUEST);
        assert!(
            b["error"]["message"].as_str().unwrap().contains(says),
            "{b}"
        );
    }
}

#[tokio::test]
async fn context_takes_system_messages_and_content_parts() {
    let s = state(tiny_engine(), None);
    let plain = json!({"messages": [{"role": "user", "content": "lake tai summer"}]});
    let parts = json!({"messages": [
        {"role": "system", "content": "You answer from the documents only."},
        {"role": "developer", "content": [{"type": "text", "text": "Be brief."}]},
        {"role": "user", "content": [
            {"type": "text", "text": "lake tai"},
            {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}},
            {"type": "text", "text": "summer"}
        ]}
    ]});
    let (st, a, _) = call(s.clone(), post("/context", plain.to_string())).await;
    assert_eq!(st, StatusCode::OK, "{a}");
    let (st, b, _) = call(s.clone(), post("/context", parts.to_string())).await;
    assert_eq!(st, StatusCode::OK, "{b}");
    // The system and developer messages stay out of the search; the text parts are the turn.
    assert_eq!(b["query_used"], "lake tai\nsummer");
    let only_system = json!({"messages": [{"role": "system", "content": "hi"}]});
    let (st, c, _) = call(s.clone(), post("/context", only_system.to_string())).await;
    assert_error(st, &c, StatusCode::BAD_REQUEST);
    assert!(
        c["error"]["message"]
            .as_str()
            .unwrap()
            .contains("no user message"),
        "{c}"
    );
    let tool_call = json!({"messages": [
        {"role": "user", "content": "lake"},
        {"role": "assistant", "content": null, "tool_calls": []},
        {"role": "tool", "content": "42", "tool_call_id": "t1"},
        {"role": "user", "content": "summer"}
    ]});
    let (st, d, _) = call(s, post("/context", tool_call.to_string())).await;
    assert_eq!(st, StatusCode::OK, "{d}");
}

#[tokio::test]
async fn mcp_transport_errors_are_json_rpc() {
    use axum::body::Body;
    use axum::http::Request;
    let s = state(tiny_engine(), None);
    let req = |body: &'static str, accept: &'static str| {
        Request::post("/mcp")
            .header("content-type", "application/json")
            .header("accept", accept)
            .header("host", "localhost")
            .body(Body::from(body))
            .unwrap()
    };
    let (st, body, text) = call(
        s.clone(),
        req("{not json", "application/json, text/event-stream"),
    )
    .await;
    assert_eq!(st, StatusCode::BAD_REQUEST, "{text}");
    assert_eq!(body["jsonrpc"], "2.0", "{text}");
    assert_eq!(body["error"]["code"], -32700, "{text}");
    // A request that is JSON but not acceptable to the transport: an invalid request.
    let (st, body, text) = call(s, req("{}", "text/plain")).await;
    assert!(st.is_client_error(), "{text}");
    assert_eq!(body["error"]["code"], -32600, "{text}");
}
