//! `semsearch mcp`: the MCP server over stdio, for clients that start it as a subprocess. Only
//! protocol goes to stdout; logs go to stderr.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use semsearch::config::{DEFAULT_ADDR, DEFAULT_INDEX_DIR};
use semsearch::engine::Options;
use semsearch::mcp::McpServer;
use semsearch::server::auth::DEFAULT_COLLECTION;

use super::args::StoreArgs;
use super::args::{load_embedder, EmbedderArgs};

/// Flags of `mcp`.
#[derive(clap::Args)]
pub struct Args {
    /// Index folder (must exist).
    #[arg(long, default_value = DEFAULT_INDEX_DIR)]
    index: PathBuf,
    #[command(flatten)]
    store: StoreArgs,
    /// Serve this collection of the index (a folder under `<index>.collections/`) instead of
    /// the index itself (`default`). Tools may name another with their `collection` argument.
    #[arg(long, env = "SEMSEARCH_COLLECTION")]
    collection: Option<String>,
    #[command(flatten)]
    embedder: EmbedderArgs,
}

pub fn run(model: &Path, args: Args) -> anyhow::Result<()> {
    use rmcp::ServiceExt;
    let embedder = load_embedder(model, &args.embedder)?;
    let options = Options::default().calibrated(model)?;
    let engine =
        Arc::new(
            args.store
                .open(embedder.clone(), &args.index, false, options.clone())?,
        );
    // Passage URLs point at the HTTP server that would serve this index.
    let public = std::env::var("SEMSEARCH_PUBLIC_URL")
        .ok()
        .filter(|u| !u.is_empty())
        .unwrap_or_else(|| format!("http://{DEFAULT_ADDR}"));
    // The index's collections, when it is a folder; opened, never created, by a reader.
    // The store's collections; opened, never created, by a reader.
    let collections =
        args.store
            .collections(&args.index, embedder.clone(), options.clone(), false)?;
    let collections = Arc::new(collections);
    let base = public.trim_end_matches('/').to_string();
    let resolve: semsearch::mcp::Resolver = Arc::new(move |name: &str| {
        if name == DEFAULT_COLLECTION {
            return Some((engine.clone(), base.clone()));
        }
        let c = collections.get(name)?;
        Some((c.engine.clone(), format!("{base}/collections/{name}")))
    });
    let serving = args.collection.as_deref().unwrap_or(DEFAULT_COLLECTION);
    let Some((engine, url)) = resolve(serving) else {
        anyhow::bail!(
            "no collection {serving:?} in {} (see GET /collections)",
            args.index.display()
        );
    };
    let server = McpServer::new(engine, &url).with_collections(resolve);
    tokio::runtime::Runtime::new()?.block_on(async move {
        let running = server.serve(rmcp::transport::stdio()).await?;
        running.waiting().await?;
        anyhow::Ok(())
    })
}
