//! `semsearch related`: the clauses nearest to a stored passage's clause.

use std::path::{Path, PathBuf};

use semsearch::config::{DEFAULT_INDEX_DIR, DEFAULT_K};
use semsearch::engine::Options;

use super::args::StoreArgs;
use super::args::{load_embedder, EmbedderArgs};
use super::output::print_hits;

/// Flags of `related`.
#[derive(clap::Args)]
pub struct Args {
    /// Passage id (e.g. `suzhou-15th-five-year-plan-proposal#12`).
    id: String,
    /// Index folder.
    #[arg(long, default_value = DEFAULT_INDEX_DIR)]
    index: PathBuf,
    #[command(flatten)]
    store: StoreArgs,
    /// Clauses to return.
    #[arg(short, default_value_t = DEFAULT_K)]
    k: usize,
    /// Also list the other passages of its own clause (outside any clause: the passages right
    /// before and after it).
    #[arg(long)]
    neighbours: bool,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

pub fn run(model: &Path, args: Args) -> anyhow::Result<()> {
    semsearch::engine::validate_k(args.k)?;
    let engine = args.store.open(
        load_embedder(model, &EmbedderArgs::default())?,
        &args.index,
        false,
        Options::default().calibrated(model)?,
    )?;
    print_hits(
        &engine.related(
            &args.id,
            args.k,
            args.neighbours,
            &semsearch::index::Condition::all(),
        )?,
        args.json,
    );
    Ok(())
}
