//! What the HTTP edge refuses or adds before and after any route: requests for a host the server
//! does not answer to (DNS rebinding: a web page whose name resolves to 127.0.0.1 must not read
//! or write through the operator's browser), error answers that are not JSON (axum's own 405,
//! 413, 415, rejections...), and the security headers of every answer.

use axum::body::to_bytes;
use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::error::ApiError;
use super::state::AppState;

/// The host names answered when nothing else is configured: loopback only.
pub const LOOPBACK: [&str; 3] = ["localhost", "127.0.0.1", "::1"];

/// The host of `url` (`http://host:port/...`), lower-case, without port or IPv6 brackets.
pub fn host_of(url: &str) -> Option<String> {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let authority = rest.split(['/', '?', '#']).next()?;
    let authority = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    strip_port(authority).filter(|h| !h.is_empty())
}

/// `host[:port]` or `[v6][:port]` without the port, lower-case.
fn strip_port(authority: &str) -> Option<String> {
    let host = if let Some(v6) = authority.strip_prefix('[') {
        v6.split_once(']')?.0
    } else {
        authority.split(':').next()?
    };
    Some(host.to_ascii_lowercase())
}

/// The host names answered: loopback, the public URL's host, and `extra` (from
/// `SEMSEARCH_ALLOWED_HOSTS`; `*` answers any host).
pub fn allowed_hosts(public_url: &str, extra: &[String]) -> Vec<String> {
    let mut hosts: Vec<String> = LOOPBACK.iter().map(|h| h.to_string()).collect();
    hosts.extend(host_of(public_url));
    hosts.extend(extra.iter().map(|h| h.trim().to_ascii_lowercase()));
    hosts.retain(|h| !h.is_empty());
    hosts.sort();
    hosts.dedup();
    hosts
}

/// Middleware: a request naming another host is a 403 `forbidden_host`. A request without a
/// `Host` (not HTTP/1.1 from a browser, so not a rebinding attack) is served.
pub async fn check_host(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let named = req
        .headers()
        .get(header::HOST)
        .map(|h| h.to_str().ok().and_then(strip_port))
        .or_else(|| req.uri().authority().map(|a| strip_port(a.as_str())));
    match named {
        None => next.run(req).await,
        Some(Some(host)) if state.answers_host(&host) => next.run(req).await,
        Some(_) => ApiError::new(
            StatusCode::FORBIDDEN,
            "forbidden_host",
            "this server does not answer to that host name: set SEMSEARCH_PUBLIC_URL or \
             SEMSEARCH_ALLOWED_HOSTS to serve it",
        )
        .into_response(),
    }
}

/// Largest error body kept as the message of the JSON error that replaces it.
const MAX_ERROR_TEXT: usize = 2048;

/// Middleware: every error answer is the JSON error body, and every answer carries the security
/// headers (pages also a content security policy).
pub async fn harden(req: Request, next: Next) -> Response {
    let mcp = req.uri().path().starts_with("/mcp");
    let mut resp = next.run(req).await;
    let status = resp.status();
    let is_json = resp
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if (status.is_client_error() || status.is_server_error()) && !is_json {
        let (parts, body) = resp.into_parts();
        let text = to_bytes(body, MAX_ERROR_TEXT)
            .await
            .map(|b| String::from_utf8_lossy(&b).trim().to_string())
            .unwrap_or_default();
        let message = if text.is_empty() {
            status.canonical_reason().unwrap_or("error").to_lowercase()
        } else {
            text
        };
        let mut json = if mcp {
            json_rpc_error(status, &message)
        } else {
            ApiError::new(status, code_of(status), message).into_response()
        };
        // Allow (405) and the like stay.
        for (name, value) in parts.headers.iter() {
            if name != header::CONTENT_TYPE && name != header::CONTENT_LENGTH {
                json.headers_mut().insert(name.clone(), value.clone());
            }
        }
        resp = json;
    }
    let is_html = resp
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/html"));
    let h = resp.headers_mut();
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    if is_html {
        // The page is one file with its script and style inline, and talks only to this server.
        h.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(
                "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; \
                 connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'self'; \
                 frame-ancestors 'none'",
            ),
        );
    }
    resp
}

/// An error of the MCP transport as JSON-RPC says it (clients read `error.code`): a body that is
/// not JSON is a parse error (-32700, 400), anything else an invalid request (-32600).
fn json_rpc_error(status: StatusCode, message: &str) -> Response {
    let (status, code, what) = if message.starts_with("fail to deserialize") {
        (StatusCode::BAD_REQUEST, -32700, "Parse error")
    } else {
        (status, -32600, "Invalid Request")
    };
    let body = serde_json::json!({
        "jsonrpc": "2.0",
        "id": null,
        "error": {"code": code, "message": format!("{what}: {message}")},
    });
    (status, axum::Json(body)).into_response()
}

/// The stable code of an error status that no handler produced.
fn code_of(status: StatusCode) -> &'static str {
    match status.as_u16() {
        400 => "invalid_request",
        404 => "not_found",
        405 => "method_not_allowed",
        408 => "timeout",
        413 => "payload_too_large",
        414 => "uri_too_long",
        415 => "unsupported_media_type",
        422 => "invalid_request",
        431 => "headers_too_large",
        503 => "unavailable",
        s if s >= 500 => "internal",
        _ => "invalid_request",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_of_urls_and_headers() {
        assert_eq!(
            host_of("http://Example.org:8080/x").as_deref(),
            Some("example.org")
        );
        assert_eq!(host_of("https://[::1]:8080").as_deref(), Some("::1"));
        assert_eq!(host_of("http://user@host").as_deref(), Some("host"));
        assert_eq!(host_of("http://:80"), None);
        assert_eq!(strip_port("LOCALHOST:1").as_deref(), Some("localhost"));
        assert_eq!(strip_port("[::1]").as_deref(), Some("::1"));
        let hosts = allowed_hosts("http://search.example:80", &["Other.example ".into()]);
        assert!(hosts.contains(&"search.example".to_string()));
        assert!(hosts.contains(&"other.example".to_string()));
        assert!(hosts.contains(&"127.0.0.1".to_string()));
    }
}
