//! `semsearch backup`: a consistent copy of a local index, also while a server writes to it.

use std::path::PathBuf;

use semsearch::config::DEFAULT_INDEX_DIR;

/// Flags of `backup`.
#[derive(clap::Args)]
pub struct Args {
    /// The index to copy (it may be serving and taking writes).
    #[arg(long, default_value = DEFAULT_INDEX_DIR)]
    index: PathBuf,
    /// The backup's folder; must not exist. Restore by serving it (`--index OUT`) or by moving
    /// it into place while no server uses the old one.
    out: PathBuf,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    anyhow::ensure!(
        semsearch::index::local::exists(&args.index),
        "no index at {} (run semsearch ingest first)",
        args.index.display()
    );
    let started = std::time::Instant::now();
    let info = semsearch::index::local::backup(&args.index, &args.out)?;
    eprintln!(
        "backed up {} documents ({} passages) at generation {} to {} in {:.1} s",
        info.documents,
        info.passages,
        info.generation,
        info.path.display(),
        started.elapsed().as_secs_f64()
    );
    println!("{}", serde_json::to_string(&info)?);
    Ok(())
}
