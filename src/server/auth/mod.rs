//! Authorisation: the one step every route passes through, placed on the router by what the
//! route needs ([`Need`]), not repeated in handlers. It finds the request's key, refuses what
//! the key may not do (401 without a known key, 403 outside its scope, 429 past its quota:
//! all before any engine work), and hands the handler an [`Access`]: whose request it is and
//! the filter every read of it is narrowed by, inside the search like any filter.
//!
//! Without keys every route is open. `SEMSEARCH_API_KEY` alone guards writes (and Dify's
//! `/retrieval`); reads need a key once the key file holds a `read` key.

pub mod keys;
pub mod limit;

use std::sync::{Arc, RwLock};

use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Json;

pub use keys::{Action, KeyRing, DEFAULT_COLLECTION};

use super::error::ApiError;
use crate::api::DifyError;
use crate::index::Condition;

/// What a route needs of the request's key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Need {
    /// Nothing: the page's shell, health, the API description.
    Open,
    /// A `read` key once reads are guarded.
    Read,
    /// A `write` key once any key is set.
    Write,
    /// An `admin` key once any key is set.
    Admin,
    /// Dify's `/retrieval`: a `read` key once any key is set (Dify always sends one), refusals
    /// in Dify's error shape.
    Retrieval,
}

/// Who a request is and what it may read; every handler that reads narrows by it.
#[derive(Debug, Clone)]
pub struct Access {
    who: Arc<str>,
    filter: Option<Arc<Condition>>,
    key: Option<Arc<keys::Key>>,
}

impl Access {
    /// A request without a key, where none is needed: reads everything.
    pub fn anonymous() -> Self {
        Access {
            who: "anonymous".into(),
            filter: None,
            key: None,
        }
    }

    /// A request of `who` reading only what `filter` passes.
    pub fn filtered(who: &str, filter: Condition) -> Self {
        Access {
            who: who.into(),
            filter: Some(Arc::new(filter)),
            key: None,
        }
    }

    /// True when this request may address `collection` (a request without a key may address
    /// any: it got this far only where no key is needed).
    pub fn covers(&self, collection: &str) -> bool {
        self.key.as_ref().is_none_or(|k| k.covers(collection))
    }

    /// The key's name (`anonymous` without one), for logs.
    pub fn who(&self) -> &str {
        &self.who
    }

    /// The documents this request may read.
    pub fn scope(&self) -> Condition {
        self.filter
            .as_deref()
            .cloned()
            .unwrap_or_else(Condition::all)
    }

    /// `c`, narrowed to what this request may read.
    pub fn within(&self, c: Condition) -> Condition {
        self.scope().and(c)
    }

    /// True when the request may read every document.
    pub fn reads_all(&self) -> bool {
        self.filter.is_none()
    }
}

/// The keys of a server, replaced whole when the key file is reloaded (a request keeps the
/// set it started with).
#[derive(Debug, Clone, Default)]
pub struct Keys(Arc<RwLock<Arc<KeyRing>>>);

impl Keys {
    /// The keys of `ring`.
    pub fn new(ring: KeyRing) -> Self {
        Keys(Arc::new(RwLock::new(Arc::new(ring))))
    }

    /// The keys now.
    pub fn current(&self) -> Arc<KeyRing> {
        self.0.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Replaces the keys (the quota state of the old ones goes with them).
    pub fn replace(&self, ring: KeyRing) {
        *self.0.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(ring);
    }
}

/// What a group of routes needs, and of which collection (None: routes about collections
/// themselves, which check the collection they name).
#[derive(Debug, Clone)]
pub struct Gate {
    /// The server's keys.
    pub keys: Keys,
    /// What the routes need.
    pub need: Need,
    /// The collection the routes address.
    pub collection: Option<Arc<str>>,
}

/// Middleware checking what a route needs: placed by the router with
/// `from_fn_with_state(gate, check)`.
pub async fn check(State(gate): State<Gate>, req: Request, next: Next) -> Response {
    admit(gate, req, next).await
}

async fn admit(gate: Gate, mut req: Request, next: Next) -> Response {
    let need = gate.need;
    let ring = gate.keys.current();
    let token = bearer_of(req.headers());
    let key = token.and_then(|t| ring.find(t));
    let anonymous_ok = match need {
        Need::Open => true,
        Need::Read => !ring.guards_reads(),
        Need::Write | Need::Admin | Need::Retrieval => ring.is_empty(),
    };
    let action = match need {
        Need::Open | Need::Read | Need::Retrieval => Action::Read,
        Need::Write => Action::Write,
        Need::Admin => Action::Admin,
    };
    let key = match key {
        Some(k) if k.may(action) && gate.collection.as_deref().is_none_or(|c| k.covers(c)) => k,
        // A key that may not do this is no worse than no key where none is needed.
        _ if anonymous_ok => {
            req.extensions_mut().insert(Access::anonymous());
            return next.run(req).await;
        }
        Some(_) => return refuse(need, Refusal::Scope),
        None if token.is_some() => return refuse(need, Refusal::Unknown),
        None => return refuse(need, Refusal::Missing),
    };
    let admitted = match key.limits.admit() {
        Ok(a) => a,
        Err(r) => {
            tracing::info!(key = %key.name, concurrency = r.concurrency, "quota: 429");
            return too_many(r);
        }
    };
    req.extensions_mut().insert(Access {
        who: key.name.clone(),
        filter: key.filter.clone(),
        key: Some(key.clone()),
    });
    let resp = next.run(req).await;
    drop(admitted);
    resp
}

#[derive(Debug, Clone, Copy)]
enum Refusal {
    Missing,
    Unknown,
    Scope,
}

fn refuse(need: Need, why: Refusal) -> Response {
    if need == Need::Retrieval {
        let (code, msg) = match why {
            Refusal::Missing => (
                1001,
                "Invalid Authorization header format. Expected 'Bearer <api-key>' format.",
            ),
            Refusal::Unknown | Refusal::Scope => (1002, "Authorization failed"),
        };
        let body = DifyError {
            error_code: code,
            error_msg: msg.into(),
        };
        return (StatusCode::FORBIDDEN, Json(body)).into_response();
    }
    let (status, code, msg) = match why {
        Refusal::Missing => (
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "this route needs a key: Authorization: Bearer <key>",
        ),
        Refusal::Unknown => (
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "unknown key: this route needs Authorization: Bearer <key>",
        ),
        Refusal::Scope => (
            StatusCode::FORBIDDEN,
            "forbidden",
            "this key may not do that here",
        ),
    };
    let mut resp = ApiError::new(status, code, msg).into_response();
    if status == StatusCode::UNAUTHORIZED {
        resp.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Bearer realm=\"semsearch\""),
        );
    }
    resp
}

fn too_many(r: limit::Refused) -> Response {
    let msg = if r.concurrency {
        "this key has too many requests in progress; retry shortly"
    } else {
        "this key sends requests faster than its rate; retry after the time in Retry-After"
    };
    let mut resp =
        ApiError::new(StatusCode::TOO_MANY_REQUESTS, "rate_limited", msg).into_response();
    resp.headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from(r.retry_after_secs));
    resp
}

/// The bearer token of a request, if it sends one.
fn bearer_of(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(bearer)
}

/// The token of an `Authorization` value: the scheme is case-insensitive (RFC 9110), spaces
/// around the token are not part of it.
fn bearer(value: &str) -> Option<&str> {
    let (scheme, token) = value.trim_start().split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then_some(token.trim())
        .filter(|t| !t.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bearer_tokens() {
        assert_eq!(bearer("Bearer abc"), Some("abc"));
        assert_eq!(bearer("bearer  abc "), Some("abc"));
        assert_eq!(bearer("Basic abc"), None);
        assert_eq!(bearer("Bearer "), None);
        assert_eq!(bearer("abc"), None);
    }

    #[test]
    fn access_narrows_reads() {
        let a = Access::anonymous();
        assert!(a.reads_all());
        assert_eq!(a.within(Condition::doc("x")), Condition::doc("x"));
        let f = Access::filtered("bot", Condition::doc("pub"));
        assert!(!f.reads_all());
        assert_eq!(
            f.within(Condition::doc("x")),
            Condition::And(vec![Condition::doc("pub"), Condition::doc("x")])
        );
        assert_eq!(f.within(Condition::all()), Condition::doc("pub"));
    }
}
