//! Prometheus metrics: requests and latency per route, embedding time, index size.

use std::sync::Arc;
use std::time::Instant;

use prometheus::{
    Encoder, Histogram, HistogramOpts, HistogramVec, IntCounterVec, IntGauge, Opts, Registry,
    TextEncoder,
};

use crate::embed::Result;
use crate::embed::{Embedder, ModelId, TextKind};

use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::Response;

use super::state::AppState;

/// The server's metrics.
#[derive(Clone)]
pub struct Metrics {
    registry: Registry,
    /// Requests by route, method and status.
    pub requests: IntCounterVec,
    /// Request latency by route.
    pub latency: HistogramVec,
    /// Time spent embedding, per call.
    pub embed_seconds: Histogram,
    /// Passages in the index.
    pub passages: IntGauge,
    /// Documents in the index.
    pub documents: IntGauge,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// Registers every metric in a fresh registry.
    pub fn new() -> Self {
        let registry = Registry::new();
        let requests = IntCounterVec::new(
            Opts::new(
                "semsearch_http_requests_total",
                "HTTP requests by route, method and status",
            ),
            &["route", "method", "status"],
        )
        .expect("metric");
        let buckets = vec![
            0.001, 0.0025, 0.005, 0.01, 0.015, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
        ];
        let latency = HistogramVec::new(
            HistogramOpts::new(
                "semsearch_http_request_duration_seconds",
                "HTTP request latency by route",
            )
            .buckets(buckets.clone()),
            &["route"],
        )
        .expect("metric");
        let embed_seconds = Histogram::with_opts(
            HistogramOpts::new("semsearch_embed_seconds", "Time per embedding call")
                .buckets(buckets),
        )
        .expect("metric");
        let passages =
            IntGauge::new("semsearch_index_passages", "Passages in the index").expect("metric");
        let documents =
            IntGauge::new("semsearch_index_documents", "Documents in the index").expect("metric");
        for c in [
            Box::new(requests.clone()) as Box<dyn prometheus::core::Collector>,
            Box::new(latency.clone()),
            Box::new(embed_seconds.clone()),
            Box::new(passages.clone()),
            Box::new(documents.clone()),
        ] {
            registry.register(c).expect("register metric");
        }
        Metrics {
            registry,
            requests,
            latency,
            embed_seconds,
            passages,
            documents,
        }
    }

    /// Prometheus text exposition.
    pub fn render(&self) -> String {
        let mut buf = Vec::new();
        TextEncoder::new()
            .encode(&self.registry.gather(), &mut buf)
            .expect("encode metrics");
        String::from_utf8(buf).unwrap_or_default()
    }
}

/// An embedder that records how long each call takes.
pub struct Timed {
    inner: Arc<dyn Embedder>,
    histogram: Histogram,
}

impl Timed {
    /// Wraps `inner`.
    pub fn new(inner: Arc<dyn Embedder>, histogram: Histogram) -> Self {
        Timed { inner, histogram }
    }
}

impl Embedder for Timed {
    fn id(&self) -> &ModelId {
        self.inner.id()
    }
    fn embed(&self, texts: &[&str], kind: TextKind) -> Result<Vec<Vec<f32>>> {
        let t = Instant::now();
        let r = self.inner.embed(texts, kind);
        self.histogram.observe(t.elapsed().as_secs_f64());
        r
    }
    fn embed_spans(
        &self,
        texts: &[&str],
        spans: &[Vec<(usize, usize)>],
        kind: TextKind,
    ) -> Result<crate::embed::Embedded> {
        let t = Instant::now();
        let r = self.inner.embed_spans(texts, spans, kind);
        self.histogram.observe(t.elapsed().as_secs_f64());
        r
    }
    fn count_tokens(&self, text: &str, kind: TextKind) -> Result<usize> {
        self.inner.count_tokens(text, kind)
    }
    fn prefix(&self, kind: TextKind) -> &str {
        self.inner.prefix(kind)
    }
}

/// Middleware: counts every request by route, method and status, and times it by route.
pub async fn track(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| "unmatched".into());
    // A fixed label set: invented methods must not grow the registry.
    let method = match req.method().as_str() {
        "GET" => "GET",
        "POST" => "POST",
        "PUT" => "PUT",
        "DELETE" => "DELETE",
        "HEAD" => "HEAD",
        "OPTIONS" => "OPTIONS",
        "PATCH" => "PATCH",
        _ => "other",
    };
    let t = Instant::now();
    let resp = next.run(req).await;
    state
        .metrics
        .latency
        .with_label_values(&[&route])
        .observe(t.elapsed().as_secs_f64());
    state
        .metrics
        .requests
        .with_label_values(&[&route, method, resp.status().as_str()])
        .inc();
    resp
}
