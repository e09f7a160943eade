//! `semsearch serve`: the HTTP service over one index.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context;
use semsearch::config::{DEFAULT_ADDR, DEFAULT_INDEX_DIR};
use semsearch::embed::Embedder;
use semsearch::engine::Options;
use semsearch::server::metrics::{Metrics, Timed};
use semsearch::server::{self, AppState};

use super::args::{load_embedder, EmbedderArgs, FusionArgs, PassageArgs, StoreArgs};

/// Flags of `serve`.
#[derive(clap::Args)]
pub struct Args {
    /// Index folder (created on the first write if missing).
    #[arg(long, default_value = DEFAULT_INDEX_DIR)]
    index: PathBuf,
    #[command(flatten)]
    store: StoreArgs,
    /// Address to listen on.
    #[arg(long, default_value = DEFAULT_ADDR)]
    addr: String,
    #[command(flatten)]
    passages: PassageArgs,
    #[command(flatten)]
    fusion: FusionArgs,
    /// Where `POST /backups` puts backups of a local index [default: the index folder's
    /// name + `.backups`, beside it].
    #[arg(long, env = "SEMSEARCH_BACKUP_DIR")]
    backup_dir: Option<PathBuf>,
    /// Key file: which keys may read, write or administer, over which documents, at which
    /// rate (see the README); reloaded on SIGHUP. A `read` key in it makes every read need a
    /// key.
    #[arg(long, env = "SEMSEARCH_KEYS")]
    keys: Option<PathBuf>,
    /// Where write tasks are queued, one folder per collection [default: the index folder's
    /// name + `.tasks`, beside it].
    #[arg(long, env = "SEMSEARCH_TASKS_DIR")]
    tasks_dir: Option<PathBuf>,
    /// Serve `/metrics` without a key even when reads need one (for a scraper that sends
    /// none; the metrics hold counts and timings, no text).
    #[arg(long, env = "SEMSEARCH_OPEN_METRICS")]
    open_metrics: bool,
    #[command(flatten)]
    embedder: EmbedderArgs,
}

pub fn run(model: &Path, args: Args) -> anyhow::Result<()> {
    let mut options = Options::default();
    args.passages.apply(&mut options)?;
    args.fusion.apply(&mut options, model)?;
    let metrics = Metrics::new();
    let embedder: Arc<dyn Embedder> = Arc::new(Timed::new(
        load_embedder(model, &args.embedder)?,
        metrics.embed_seconds.clone(),
    ));
    let engine = Arc::new(
        args.store
            .open(embedder.clone(), &args.index, true, options.clone())?,
    );
    let collections =
        args.store
            .collections(&args.index, embedder.clone(), options.clone(), true)?;
    let names: Vec<String> = collections.list().into_iter().map(|(n, _)| n).collect();
    tracing::info!(
        "collections: default{}",
        names.iter().map(|n| format!(", {n}")).collect::<String>()
    );
    let snap = engine.snapshot()?;
    tracing::info!(
        "index {}: {} documents, {} passages; embedding in {:?} on {:?} kernels",
        args.store.name(&args.index),
        snap.documents()?.len(),
        snap.len(),
        semsearch::kernels::precision(),
        semsearch::kernels::isa()
    );
    let api_key = std::env::var("SEMSEARCH_API_KEY")
        .ok()
        .filter(|k| !k.is_empty());
    let ring = semsearch::server::auth::KeyRing::load(args.keys.as_deref(), api_key.as_deref())
        .map_err(anyhow::Error::msg)?;
    log_keys(&ring, &args.addr);
    let public = std::env::var("SEMSEARCH_PUBLIC_URL")
        .ok()
        .filter(|u| !u.is_empty())
        .unwrap_or_else(|| format!("http://{}", args.addr));
    let hosts: Vec<String> = std::env::var("SEMSEARCH_ALLOWED_HOSTS")
        .unwrap_or_default()
        .split(',')
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .collect();
    let backups = args.store.store.is_none().then(|| {
        args.backup_dir.clone().unwrap_or_else(|| {
            let mut name = args.index.file_name().unwrap_or_default().to_os_string();
            name.push(".backups");
            args.index.with_file_name(name)
        })
    });
    let max_upload = match std::env::var("SEMSEARCH_MAX_UPLOAD_MB") {
        Ok(v) if !v.trim().is_empty() => v
            .trim()
            .parse::<usize>()
            .ok()
            .filter(|mb| (1..=4096).contains(mb))
            .map(|mb| mb << 20)
            .with_context(|| format!("SEMSEARCH_MAX_UPLOAD_MB={v:?}: expected 1 to 4096"))?,
        _ => semsearch::config::MAX_UPLOAD_BYTES,
    };
    let mut state = AppState::new(engine, metrics, None);
    if args.open_metrics {
        state.metrics_need = server::Need::Open;
        tracing::info!("/metrics is open: it needs no key");
    }
    let tasks_dir = args.tasks_dir.clone().unwrap_or_else(|| {
        let mut name = args.index.file_name().unwrap_or_default().to_os_string();
        name.push(".tasks");
        args.index.with_file_name(name)
    });
    let state = state
        .with_tasks(tasks_dir.clone())
        .with_keys(ring)
        .with_collections(collections)
        .with_max_upload_bytes(max_upload)
        .with_public_url(&public)
        .with_allowed_hosts(&hosts)
        .with_backup_dir(backups);
    tracing::info!("answering to hosts {:?}", state.allowed_hosts);
    // Every collection's queue opened now: tasks an earlier process left queued run again.
    if let Some(queues) = &state.queues {
        queues
            .of(server::auth::DEFAULT_COLLECTION, &state.engine)
            .with_context(|| format!("opening the task queue in {}", tasks_dir.display()))?;
        for (name, engine) in state.collections.list() {
            queues
                .of(&name, &engine)
                .with_context(|| format!("opening the task queue of {name}"))?;
        }
    }
    let runtime = tokio::runtime::Runtime::new()?;
    if let Some(file) = args.keys.clone() {
        runtime.spawn(reload_keys_on_hangup(
            state.keys.clone(),
            file,
            api_key,
            args.addr.clone(),
        ));
    }
    let served = runtime
        .block_on(server::serve(state, &args.addr))
        .with_context(|| format!("serving on {}", args.addr));
    // A write still running past the shutdown grace was not acknowledged; a crash at any point
    // of a write loses nothing, so the process need not wait for it.
    runtime.shutdown_timeout(std::time::Duration::from_secs(1));
    served
}

/// Says in the log what is open to anyone who reaches the server, and what needs a key.
fn log_keys(ring: &semsearch::server::auth::KeyRing, addr: &str) {
    if ring.is_empty() {
        tracing::warn!(
            "no keys (SEMSEARCH_API_KEY, --keys): reads and writes are open to anyone who can reach {addr}"
        );
    } else if !ring.guards_reads() {
        tracing::warn!(
            "{} key(s), none of them a read key: writes need a key, reads are open to anyone who can reach {addr}",
            ring.len()
        );
    } else {
        tracing::info!("{} key(s): reads and writes need a key", ring.len());
    }
}

/// Reloads the key file on SIGHUP; a file that does not load leaves the keys as they were.
async fn reload_keys_on_hangup(
    keys: semsearch::server::auth::Keys,
    file: PathBuf,
    api_key: Option<String>,
    addr: String,
) {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let Ok(mut hangups) = signal(SignalKind::hangup()) else {
            tracing::warn!("cannot listen for SIGHUP: the key file is read once");
            return;
        };
        while hangups.recv().await.is_some() {
            match semsearch::server::auth::KeyRing::load(Some(&file), api_key.as_deref()) {
                Ok(ring) => {
                    tracing::info!("SIGHUP: key file {} reloaded", file.display());
                    log_keys(&ring, &addr);
                    keys.replace(ring);
                }
                Err(e) => tracing::error!("SIGHUP: {e}; the keys stay as they were"),
            }
        }
    }
    #[cfg(not(unix))]
    let _ = (keys, file, api_key, addr);
}
