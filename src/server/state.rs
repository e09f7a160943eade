//! What every request shares: the engine, metrics, the keys, the in-flight bound, and the
//! low-priority pool that writes run on.

use std::sync::Arc;

use tokio::sync::Semaphore;

use super::error::ApiError;
use super::metrics::Metrics;
use crate::config::MAX_IN_FLIGHT;
use crate::engine::Engine;

/// Shared by all requests.
#[derive(Clone)]
pub struct AppState {
    /// The engine.
    pub engine: Arc<Engine>,
    /// Metrics.
    pub metrics: Metrics,
    /// The keys requests are checked against (see [`super::auth`]).
    pub keys: super::auth::Keys,
    /// The collection `engine` is (`default` for the index the server was started on).
    pub collection: Arc<str>,
    /// The server's other collections.
    pub collections: Arc<super::collections::Collections>,
    /// Base of the URLs results carry (`SEMSEARCH_PUBLIC_URL`, else the bind address).
    pub public_url: String,
    /// Host names requests may name (`Host`): loopback, the public URL's, and any configured.
    pub allowed_hosts: Arc<Vec<String>>,
    extra_hosts: Vec<String>,
    /// Where `POST /backups` writes (none: the route refuses).
    pub backup_dir: Option<std::path::PathBuf>,
    /// Held while a backup runs: one at a time.
    pub backup_running: Arc<tokio::sync::Mutex<()>>,
    /// Largest file a `POST /documents` upload may send (JSON bodies keep `MAX_BODY_BYTES`).
    pub max_upload_bytes: usize,
    /// The failure of the last write while none has succeeded since (`/healthz` shows it).
    pub last_write_error: Arc<std::sync::Mutex<Option<crate::api::WriteFailure>>>,
    permits: Arc<Semaphore>,
    writes: Arc<rayon::ThreadPool>,
    /// The collections' write task queues (none: writes are only synchronous).
    pub queues: Option<Arc<super::queues::Queues>>,
    /// What `/metrics` needs: a read key (the default) or nothing (`serve --open-metrics`, for
    /// a scraper on a private network that sends no key).
    pub metrics_need: super::auth::Need,
    /// The `default` collection's state, when this is another collection's.
    root: Option<Arc<AppState>>,
}

impl AppState {
    /// State over `engine`; `api_key` (`SEMSEARCH_API_KEY`), when set, is an admin key.
    pub fn new(engine: Arc<Engine>, metrics: Metrics, api_key: Option<String>) -> Self {
        let ring = super::auth::KeyRing::open().with_admin(api_key.as_deref());
        AppState {
            engine,
            metrics,
            keys: super::auth::Keys::new(ring),
            collection: super::auth::DEFAULT_COLLECTION.into(),
            collections: Arc::new(super::collections::Collections::unsupported()),
            public_url: String::new(),
            allowed_hosts: Arc::new(super::edge::allowed_hosts("", &[])),
            extra_hosts: Vec::new(),
            backup_dir: None,
            backup_running: Arc::new(tokio::sync::Mutex::new(())),
            max_upload_bytes: crate::config::MAX_UPLOAD_BYTES,
            last_write_error: Arc::new(std::sync::Mutex::new(None)),
            permits: Arc::new(Semaphore::new(MAX_IN_FLIGHT)),
            writes: Arc::new(write_pool()),
            metrics_need: super::auth::Need::Read,
            queues: None,
            root: None,
        }
    }

    /// The same state with result URLs under `base` (no trailing slash needed).
    pub fn with_public_url(mut self, base: &str) -> Self {
        self.public_url = base.trim_end_matches('/').to_string();
        self.allowed_hosts = Arc::new(super::edge::allowed_hosts(
            &self.public_url,
            &self.extra_hosts,
        ));
        self
    }

    /// The same state also answering to `hosts` (`*`: any host, for a server behind a proxy
    /// that checks names itself).
    pub fn with_allowed_hosts(mut self, hosts: &[String]) -> Self {
        self.extra_hosts = hosts.to_vec();
        self.allowed_hosts = Arc::new(super::edge::allowed_hosts(
            &self.public_url,
            &self.extra_hosts,
        ));
        self
    }

    /// The same state checking requests against `ring` (a key file's keys and
    /// `SEMSEARCH_API_KEY`; see [`super::auth::KeyRing::load`]).
    pub fn with_keys(mut self, ring: super::auth::KeyRing) -> Self {
        self.keys = super::auth::Keys::new(ring);
        self
    }

    /// The same state serving `collections` besides `default`.
    pub fn with_collections(mut self, collections: super::collections::Collections) -> Self {
        self.collections = Arc::new(collections);
        self
    }

    /// The state of collection `name` (its `engine`): the same keys, bounds, pool and metrics,
    /// result URLs under `/collections/<name>`.
    pub fn for_collection(&self, name: &str, engine: Arc<Engine>) -> Self {
        let root = self.root();
        let mut s = root.clone();
        s.root = Some(Arc::new(root));
        s.engine = engine;
        s.collection = name.into();
        s.public_url = format!("{}/collections/{name}", s.public_url);
        s.backup_dir = s.backup_dir.as_ref().map(|d| d.join(name));
        s
    }

    /// The path this collection's routes start with: empty for `default` (the root),
    /// `/collections/<name>` for another.
    pub fn path_base(&self) -> String {
        if self.root.is_some() {
            format!("/collections/{}", self.collection)
        } else {
            String::new()
        }
    }

    /// The `default` collection's state, from any collection's.
    fn root(&self) -> AppState {
        self.root
            .as_deref()
            .cloned()
            .unwrap_or_else(|| self.clone())
    }

    /// The state of collection `name` (`default` included), if it exists.
    pub fn collection_state(&self, name: &str) -> Option<AppState> {
        if name == super::auth::DEFAULT_COLLECTION {
            return Some(self.root());
        }
        let c = self.collections.get(name)?;
        Some(self.for_collection(name, c.engine.clone()))
    }

    /// The same state queueing write tasks in folders under `dir` (one per collection).
    pub fn with_tasks(mut self, dir: std::path::PathBuf) -> Self {
        self.queues = Some(Arc::new(super::queues::Queues::new(
            dir,
            self.writes.clone(),
        )));
        self
    }

    /// This collection's task queue.
    pub(crate) fn tasks(&self) -> Result<Arc<crate::tasks::TaskQueue>, ApiError> {
        let queues = self.queues.as_ref().ok_or_else(|| {
            ApiError::new(
                axum::http::StatusCode::NOT_IMPLEMENTED,
                "no_tasks",
                "this server keeps no task queue: send ?wait=true",
            )
        })?;
        Ok(queues.of(&self.collection, &self.engine)?)
    }

    /// The same state taking uploads of up to `bytes`.
    pub fn with_max_upload_bytes(mut self, bytes: usize) -> Self {
        self.max_upload_bytes = bytes;
        self
    }

    /// The same state taking backups into `dir`.
    pub fn with_backup_dir(mut self, dir: Option<std::path::PathBuf>) -> Self {
        self.backup_dir = dir;
        self
    }

    /// The same state with at most `n` requests doing engine work at once (default
    /// [`MAX_IN_FLIGHT`]).
    pub fn with_max_in_flight(mut self, n: usize) -> Self {
        self.permits = Arc::new(Semaphore::new(n));
        self
    }

    /// The in-flight bound, for services that share it (MCP).
    pub(crate) fn permits(&self) -> Arc<Semaphore> {
        self.permits.clone()
    }

    /// True when a request naming `host` is served.
    pub fn answers_host(&self, host: &str) -> bool {
        self.allowed_hosts.iter().any(|h| h == "*" || h == host)
    }

    /// Where passage `id` can be read on this server: its page, with the passages around it.
    pub fn passage_url(&self, id: &str) -> String {
        crate::api::passage_url(&self.public_url, id)
    }

    /// Runs CPU work off the async threads, or answers 503 when too much is in flight.
    pub(crate) async fn blocking<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Engine) -> crate::Result<T> + Send + 'static,
    ) -> Result<T, ApiError> {
        let permit = self
            .permits
            .clone()
            .try_acquire_owned()
            .map_err(|_| ApiError::overloaded())?;
        let engine = self.engine.clone();
        let out = tokio::task::spawn_blocking(move || {
            let r = f(&engine);
            drop(permit);
            r
        })
        .await
        .map_err(ApiError::internal)?;
        out.map_err(ApiError::from)
    }

    /// [`AppState::blocking`] for writes: the work (cleaning, embedding, index rebuild, save)
    /// runs on the low-priority write pool, so a stream of writes slows searches down as little
    /// as possible.
    pub(crate) async fn blocking_write<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Engine) -> crate::Result<T> + Send + 'static,
    ) -> Result<T, ApiError> {
        let pool = self.writes.clone();
        let out = self.blocking(move |e| pool.install(|| f(e))).await;
        let failure = match &out {
            Ok(_) => None,
            // The service's fault, not the request's, and not a refusal to start.
            Err(e) if e.status.is_server_error() && e.code != "overloaded" => {
                Some(crate::api::WriteFailure {
                    code: e.code.to_string(),
                    message: e.message.clone(),
                    at: std::time::SystemTime::now()
                        .duration_since(std::time::UNIX_EPOCH)
                        .map_or(0, |d| d.as_secs()),
                })
            }
            Err(_) => return out,
        };
        *self
            .last_write_error
            .lock()
            .unwrap_or_else(|e| e.into_inner()) = failure;
        out
    }
}

/// Nice value of write threads: the scheduler then gives a search thread that wakes up the core
/// at once (weights 1024 vs 15) and writes still use every idle cycle. Measured with
/// `scripts/bench-serve.sh` at concurrency 1 under write churn: p50 21.7 ms at nice 0, 20.7 at
/// 10, 16.9 at 19; SCHED_IDLE was no faster and halved write throughput.
const WRITE_NICE: i32 = 19;

/// Stack of a write thread. Parsing and cleaning are iterative, so no input needs a deep stack;
/// this is headroom for the parsers and tantivy, which run on these threads too.
const WRITE_STACK_BYTES: usize = 8 * 1024 * 1024;

/// Threads for writes. Everything they start inherits their priority: the encoder forks onto the
/// pool it runs in, and tantivy's indexing threads are spawned by the writing thread.
fn write_pool() -> rayon::ThreadPool {
    rayon::ThreadPoolBuilder::new()
        .num_threads(std::thread::available_parallelism().map_or(2, |n| n.get()))
        .thread_name(|i| format!("semsearch-write-{i}"))
        .stack_size(WRITE_STACK_BYTES)
        .start_handler(|_| lower_thread_priority(WRITE_NICE))
        .build()
        .expect("the write thread pool starts")
}

/// Lowers the calling thread's CPU priority (Linux keeps a nice value per thread). Failure only
/// costs search latency under write load, so it is logged and ignored.
fn lower_thread_priority(nice: i32) {
    #[cfg(target_os = "linux")]
    {
        // SAFETY: setpriority with PRIO_PROCESS and the caller's thread id changes only this
        // thread's nice value.
        let tid = unsafe { libc::gettid() } as libc::id_t;
        if unsafe { libc::setpriority(libc::PRIO_PROCESS, tid, nice) } != 0 {
            tracing::debug!(
                "cannot lower write thread priority: {}",
                std::io::Error::last_os_error()
            );
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = nice;
}
