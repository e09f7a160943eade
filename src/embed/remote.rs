//! Embedding on another machine: an OpenAI-compatible `/v1/embeddings` (another semsearch,
//! vLLM, Infinity, text-embeddings-inference's OpenAI route) or text-embeddings-inference's own
//! `/embed`, serving the same model as the local folder.
//!
//! The local folder still gives the model's identity (so an index is never mixed across models),
//! its tokenizer (token counts for chunking, and the windows of a text longer than the model
//! reads, cut here exactly where the local encoder cuts them) and its prefixes (`query: `,
//! `passage: `), which are put in the texts sent: servers of e5 models expect them there. At
//! start a few probe texts are embedded both ways; a remote whose vectors differ (another model,
//! or one that adds its own prefix) is refused before anything is written.
//!
//! Requests carry up to `batch` texts, up to `concurrency` at once. A refused connection, a
//! timeout, 429 and 5xx are retried with exponential back-off (honouring `Retry-After`) until
//! `retry_for` has passed, so a remote restarted mid-ingest costs a pause, not the ingest; any
//! other answer fails the call with the remote's own message.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::{normalize, EmbedError, Embedded, Embedder, ModelId, Result, TextEmbedder, TextKind};

/// How to reach the remote embedder.
#[derive(Debug, Clone)]
pub struct RemoteConfig {
    /// `http(s)://host:port[/v1/embeddings | /embed]`; a URL without a path means
    /// `/v1/embeddings`.
    pub url: String,
    /// Sent as `Authorization: Bearer <key>`.
    pub key: Option<String>,
    /// The `model` field of OpenAI-style requests [default: the folder's `_name_or_path`].
    pub model: Option<String>,
    /// Requests in flight at once.
    pub concurrency: usize,
    /// Texts per request.
    pub batch: usize,
    /// How long one request is retried before the call fails.
    pub retry_for: Duration,
    /// Time limit of one request.
    pub timeout: Duration,
}

impl RemoteConfig {
    /// `url` with the defaults: 4 requests at once, 32 texts each, retried for 2 minutes, 120 s
    /// per request.
    pub fn new(url: impl Into<String>) -> Self {
        RemoteConfig {
            url: url.into(),
            key: None,
            model: None,
            concurrency: 4,
            batch: 32,
            retry_for: Duration::from_secs(120),
            timeout: Duration::from_secs(120),
        }
    }
}

/// The two request shapes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Api {
    /// `{"input": [...], "model": ...}` → `{"data": [{"embedding": [...], "index": i}]}`.
    OpenAi,
    /// text-embeddings-inference: `{"inputs": [...]}` → `[[...], ...]`.
    Tei,
}

/// An [`Embedder`] whose vectors come from a remote server of the local folder's model.
pub struct RemoteEmbedder {
    local: TextEmbedder,
    cfg: RemoteConfig,
    url: String,
    api: Api,
    model: String,
    agent: ureq::Agent,
}

/// Texts to check the remote with: a question and passages in the corpus's two languages.
const PROBES: [(&str, TextKind); 3] = [
    ("太湖连续多少年实现安全度夏？", TextKind::Query),
    (
        "推进公共交通优先发展，完善城市轨道交通网络。",
        TextKind::Passage,
    ),
    (
        "Semantic search finds passages by what they mean.",
        TextKind::Passage,
    ),
];

/// Least cosine between the local and the remote vector of a probe: the same model on another
/// precision (int8 here, f16 on a GPU) stays above 0.99; another model, or a doubled prefix,
/// falls well below.
const MIN_PROBE_COSINE: f32 = 0.99;

/// Longest pause between two attempts.
const MAX_PAUSE: Duration = Duration::from_secs(8);

/// Why an attempt failed.
enum Failure {
    /// Worth trying again (unreachable, timed out, overloaded, restarting).
    Retry {
        why: String,
        after: Option<Duration>,
    },
    /// An answer that will not change (bad key, bad request, wrong shape).
    Fatal(String),
}

impl RemoteEmbedder {
    /// Connects to `cfg.url` for the model of `local`, and refuses it unless its vectors for
    /// the probe texts match the local encoder's.
    pub fn connect(local: TextEmbedder, cfg: RemoteConfig) -> Result<Self> {
        let bad = |m: String| EmbedError::Remote(format!("{}: {m}", cfg.url));
        let (url, api) = endpoint(&cfg.url).map_err(bad)?;
        if cfg.concurrency == 0 || cfg.batch == 0 {
            return Err(bad("concurrency and batch must be at least 1".into()));
        }
        let model = cfg.model.clone().unwrap_or_else(|| {
            let n = &local.config().name_or_path;
            if n.is_empty() {
                local.id().name.clone()
            } else {
                n.clone()
            }
        });
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(cfg.timeout))
            .max_idle_connections_per_host(cfg.concurrency.max(1))
            .build()
            .new_agent();
        let remote = RemoteEmbedder {
            local,
            cfg,
            url,
            api,
            model,
            agent,
        };
        remote.probe()?;
        Ok(remote)
    }

    /// The URL requests go to.
    pub fn url(&self) -> &str {
        &self.url
    }

    fn probe(&self) -> Result<()> {
        for (text, kind) in PROBES {
            let mine = self.local.embed(&[text], kind)?.remove(0);
            let theirs = self.embed(&[text], kind)?.remove(0);
            if theirs.len() != mine.len() {
                return Err(EmbedError::Remote(format!(
                    "{} answers {}-dimensional vectors; {} has {} dimensions: another model",
                    self.url,
                    theirs.len(),
                    self.local.id().name,
                    mine.len()
                )));
            }
            let cos: f32 = mine.iter().zip(&theirs).map(|(a, b)| a * b).sum();
            if cos < MIN_PROBE_COSINE {
                return Err(EmbedError::Remote(format!(
                    "{} does not embed like {}: cosine {cos:.3} on the probe {text:?} (at \
                     least {MIN_PROBE_COSINE} expected). Is it serving another model, or adding \
                     its own prefix? semsearch sends the model's prefixes itself.",
                    self.url,
                    self.local.id().name
                )));
            }
            tracing::debug!(url = %self.url, cosine = cos, "remote embedder probe");
        }
        Ok(())
    }

    /// The texts to send for `text` and their weights: the text with its prefix, or, beyond the
    /// model's window, each window of it (the first with the prefix), weighted by its tokens,
    /// as the local encoder reads it. A query is read over its first window only.
    fn windows(&self, text: &str, kind: TextKind) -> Result<Vec<(String, f64)>> {
        let window = self.local.config().max_tokens() - 2;
        let (ids, offsets) = self.local.content(&[text], kind, true)?.remove(0);
        let prefix = self.local.prefix(kind);
        if ids.len() <= window {
            return Ok(vec![(format!("{prefix}{text}"), ids.len().max(1) as f64)]);
        }
        // Character offsets to byte offsets, with the text's end.
        let bytes: Vec<usize> = text
            .char_indices()
            .map(|(b, _)| b)
            .chain([text.len()])
            .collect();
        let at = |token: usize| -> usize {
            offsets
                .get(token)
                .map_or(text.len(), |&(a, _)| bytes[a.min(bytes.len() - 1)])
        };
        let count = if kind == TextKind::Query {
            1
        } else {
            ids.len().div_ceil(window)
        };
        Ok((0..count)
            .map(|w| {
                let (start, end) = (w * window, ((w + 1) * window).min(ids.len()));
                let (a, b) = (if w == 0 { 0 } else { at(start) }, at(end));
                let body = text.get(a..b.max(a)).unwrap_or_default();
                let head = if w == 0 { prefix } else { "" };
                (format!("{head}{body}"), (end - start).max(1) as f64)
            })
            .collect())
    }

    /// Vectors of `inputs`, in order: requests of `batch` texts, `concurrency` at once.
    fn fetch(&self, inputs: &[String]) -> Result<Vec<Vec<f32>>> {
        let chunks: Vec<&[String]> = inputs.chunks(self.cfg.batch).collect();
        if chunks.len() == 1 {
            return self.post(chunks[0]);
        }
        let next = AtomicUsize::new(0);
        let failed = AtomicBool::new(false);
        // Per chunk: its answer once a thread has one.
        type Slot = Option<Result<Vec<Vec<f32>>>>;
        let out: Mutex<Vec<Slot>> = Mutex::new((0..chunks.len()).map(|_| None).collect());
        std::thread::scope(|s| {
            for _ in 0..self.cfg.concurrency.min(chunks.len()) {
                s.spawn(|| loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= chunks.len() || failed.load(Ordering::Relaxed) {
                        break;
                    }
                    let r = self.post(chunks[i]);
                    if r.is_err() {
                        failed.store(true, Ordering::Relaxed);
                    }
                    out.lock().unwrap_or_else(|e| e.into_inner())[i] = Some(r);
                });
            }
        });
        let mut vectors = Vec::with_capacity(inputs.len());
        for r in out.into_inner().unwrap_or_else(|e| e.into_inner()) {
            match r {
                Some(r) => vectors.extend(r?),
                // Not sent because another request failed: that failure is returned above.
                None => continue,
            }
        }
        if vectors.len() != inputs.len() {
            return Err(EmbedError::Remote(format!(
                "{}: {} vectors for {} texts",
                self.url,
                vectors.len(),
                inputs.len()
            )));
        }
        Ok(vectors)
    }

    /// One request, retried while the failure may pass.
    fn post(&self, texts: &[String]) -> Result<Vec<Vec<f32>>> {
        let start = Instant::now();
        let mut pause = Duration::from_millis(250);
        let mut attempt = 0;
        loop {
            attempt += 1;
            match self.attempt(texts) {
                Ok(v) => return Ok(v),
                Err(Failure::Fatal(m)) => {
                    return Err(EmbedError::Remote(format!("{}: {m}", self.url)))
                }
                Err(Failure::Retry { why, after }) => {
                    let wait = after.unwrap_or(pause).min(MAX_PAUSE);
                    if start.elapsed() + wait > self.cfg.retry_for {
                        return Err(EmbedError::Remote(format!(
                            "{}: {why}; gave up after {attempt} attempts in {:.0} s",
                            self.url,
                            start.elapsed().as_secs_f64()
                        )));
                    }
                    tracing::warn!(url = %self.url, attempt, "remote embedder: {why}; retrying in {:.1} s", wait.as_secs_f64());
                    std::thread::sleep(wait);
                    pause = (pause * 2).min(MAX_PAUSE);
                }
            }
        }
    }

    fn attempt(&self, texts: &[String]) -> std::result::Result<Vec<Vec<f32>>, Failure> {
        let body = match self.api {
            Api::OpenAi => serde_json::json!({
                "input": texts,
                "model": self.model,
                "encoding_format": "float",
            }),
            Api::Tei => {
                serde_json::json!({ "inputs": texts, "normalize": true, "truncate": false })
            }
        };
        let mut req = self.agent.post(&self.url);
        if let Some(k) = &self.cfg.key {
            req = req.header("authorization", format!("Bearer {k}"));
        }
        let mut resp = match req.send_json(&body) {
            Ok(r) => r,
            Err(e) => return Err(classify(e)),
        };
        let status = resp.status().as_u16();
        let after = resp
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(Duration::from_secs);
        let text = resp
            .body_mut()
            .with_config()
            .limit(256 << 20)
            .read_to_string()
            .map_err(classify)?;
        if status == 429 || status == 408 || status >= 500 {
            return Err(Failure::Retry {
                why: format!("HTTP {status} {}", excerpt(&text)),
                after,
            });
        }
        if status != 200 {
            return Err(Failure::Fatal(format!("HTTP {status} {}", excerpt(&text))));
        }
        let vectors = parse(self.api, &text).map_err(Failure::Fatal)?;
        if vectors.len() != texts.len() {
            return Err(Failure::Fatal(format!(
                "{} vectors for {} texts",
                vectors.len(),
                texts.len()
            )));
        }
        Ok(vectors)
    }
}

impl Embedder for RemoteEmbedder {
    fn id(&self) -> &ModelId {
        self.local.id()
    }

    fn embed(&self, texts: &[&str], kind: TextKind) -> Result<Vec<Vec<f32>>> {
        let mut inputs = Vec::with_capacity(texts.len());
        let mut owners = Vec::with_capacity(texts.len());
        for (i, t) in texts.iter().enumerate() {
            for (input, weight) in self.windows(t, kind)? {
                inputs.push(input);
                owners.push((i, weight));
            }
        }
        let vectors = self.fetch(&inputs)?;
        let dim = self.dim();
        let mut sums = vec![vec![0f64; dim]; texts.len()];
        for ((i, weight), v) in owners.into_iter().zip(vectors) {
            if v.len() != dim {
                return Err(EmbedError::Remote(format!(
                    "{}: a {}-dimensional vector, {dim} expected",
                    self.url,
                    v.len()
                )));
            }
            // A remote answers normalised vectors, not the raw window means the local encoder
            // averages: a text over several windows gets the token-weighted mean of its
            // normalised window vectors, close to the local vector but not equal to it.
            let norm = v.iter().map(|x| (*x as f64).powi(2)).sum::<f64>().sqrt();
            let norm = if norm > 0.0 { norm } else { 1.0 };
            for (a, x) in sums[i].iter_mut().zip(v) {
                *a += weight * x as f64 / norm;
            }
        }
        Ok(sums.iter().map(|s| normalize(s)).collect())
    }

    fn embed_spans(
        &self,
        texts: &[&str],
        spans: &[Vec<(usize, usize)>],
        kind: TextKind,
    ) -> Result<Embedded> {
        if spans.iter().any(|s| !s.is_empty()) {
            return Err(EmbedError::Remote(
                "sentence vectors pooled from the passage's pass (late) need the local \
                 encoder; a remote embedder embeds sentences separately (the default)"
                    .into(),
            ));
        }
        Ok(Embedded {
            texts: self.embed(texts, kind)?,
            spans: vec![Vec::new(); texts.len()],
        })
    }

    fn count_tokens(&self, text: &str, kind: TextKind) -> Result<usize> {
        self.local.count_tokens(text, kind)
    }
    fn prefix(&self, kind: TextKind) -> &str {
        self.local.prefix(kind)
    }
}

/// The request URL and its shape: a path ending in `/embed` is text-embeddings-inference's own
/// route, an empty path means `/v1/embeddings`, anything else is taken as OpenAI-compatible.
fn endpoint(url: &str) -> std::result::Result<(String, Api), String> {
    let rest = url
        .strip_prefix("http://")
        .or_else(|| url.strip_prefix("https://"))
        .ok_or("the embedder URL must start with http:// or https://")?;
    let url = url.trim_end_matches('/').to_string();
    let has_path = rest.trim_end_matches('/').contains('/');
    Ok(if !has_path {
        (format!("{url}/v1/embeddings"), Api::OpenAi)
    } else if url.ends_with("/embed") {
        (url, Api::Tei)
    } else {
        (url, Api::OpenAi)
    })
}

fn classify(e: ureq::Error) -> Failure {
    use ureq::Error as E;
    match e {
        E::Io(_) | E::Timeout(_) | E::Protocol(_) | E::ConnectionFailed | E::HostNotFound => {
            Failure::Retry {
                why: e.to_string(),
                after: None,
            }
        }
        other => Failure::Fatal(other.to_string()),
    }
}

/// The vectors of an answer, in input order.
fn parse(api: Api, text: &str) -> std::result::Result<Vec<Vec<f32>>, String> {
    let shape = |e: serde_json::Error| format!("unexpected answer ({e}): {}", excerpt(text));
    match api {
        Api::Tei => serde_json::from_str(text).map_err(shape),
        Api::OpenAi => {
            #[derive(serde::Deserialize)]
            struct Item {
                index: usize,
                embedding: Vec<f32>,
            }
            #[derive(serde::Deserialize)]
            struct Answer {
                data: Vec<Item>,
            }
            let mut a: Answer = serde_json::from_str(text).map_err(shape)?;
            a.data.sort_by_key(|i| i.index);
            if a.data.iter().enumerate().any(|(n, i)| n != i.index) {
                return Err("answer indexes are not 0..n".into());
            }
            Ok(a.data.into_iter().map(|i| i.embedding).collect())
        }
    }
}

/// The start of a body, for messages.
fn excerpt(text: &str) -> String {
    let t: String = text.chars().take(300).collect();
    t.trim().to_string()
}

#[cfg(test)]
mod tests;
