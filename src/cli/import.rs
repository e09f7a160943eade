//! `semsearch import`: copy another store's documents, vectors included, into this one: a local
//! index into PostgreSQL to scale out, or back. Nothing is re-embedded.

use std::path::{Path, PathBuf};

use semsearch::config::DEFAULT_INDEX_DIR;
use semsearch::engine::{Engine, Options};
use semsearch::index::{Access, Location};

use super::args::{load_embedder, EmbedderArgs, StoreArgs};
use super::output::bar;

/// Flags of `import`.
#[derive(clap::Args)]
pub struct Args {
    /// The store to copy from: a local index folder or a postgres:// URL.
    #[arg(long)]
    from: String,
    /// Index folder to copy into (created if missing).
    #[arg(long, default_value = DEFAULT_INDEX_DIR)]
    index: PathBuf,
    #[command(flatten)]
    store: StoreArgs,
}

pub fn run(model: &Path, args: Args) -> anyhow::Result<()> {
    let embedder = load_embedder(model, &EmbedderArgs::default())?;
    let from = Location::parse(&args.from);
    let source = semsearch::index::open(&from, embedder.id(), Access::Existing)?;
    let to = args.store.name(&args.index);
    anyhow::ensure!(
        to != from.name(),
        "--from and the destination are the same store"
    );
    let engine: Engine = args
        .store
        .open(embedder, &args.index, true, Options::default())?;
    let from = source.snapshot()?;
    let pb = bar(0, "", "documents");
    let started = std::time::Instant::now();
    let done = engine.import(from.as_ref(), &|done, total| {
        pb.set_length(total as u64);
        pb.set_position(done as u64);
    })?;
    pb.finish_and_clear();
    println!(
        "imported {} document(s), {} passage(s) into {to} in {:.1} s ({} unchanged)",
        done.documents,
        done.passages,
        started.elapsed().as_secs_f64(),
        done.unchanged
    );
    Ok(())
}
