//! `semsearch mcp`: the MCP server over stdio, for clients that start it as a subprocess. Only
//! protocol goes to stdout; logs go to stderr.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use semsearch::config::{DEFAULT_ADDR, DEFAULT_INDEX_DIR};
use semsearch::engine::Options;
use semsearch::mcp::McpServer;

use super::args::load_embedder;
use super::args::StoreArgs;

/// Flags of `mcp`.
#[derive(clap::Args)]
pub struct Args {
    /// Index folder (must exist).
    #[arg(long, default_value = DEFAULT_INDEX_DIR)]
    index: PathBuf,
    #[command(flatten)]
    store: StoreArgs,
}

pub fn run(model: &Path, args: Args) -> anyhow::Result<()> {
    use rmcp::ServiceExt;
    let engine = Arc::new(args.store.open(
        load_embedder(model)?,
        &args.index,
        false,
        Options::default().calibrated(model)?,
    )?);
    // Passage URLs point at the HTTP server that would serve this index.
    let public = std::env::var("SEMSEARCH_PUBLIC_URL")
        .ok()
        .filter(|u| !u.is_empty())
        .unwrap_or_else(|| format!("http://{DEFAULT_ADDR}"));
    let server = McpServer::new(engine, &public);
    tokio::runtime::Runtime::new()?.block_on(async move {
        let running = server.serve(rmcp::transport::stdio()).await?;
        running.waiting().await?;
        anyhow::Ok(())
    })
}
