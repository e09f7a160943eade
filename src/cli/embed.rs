//! `semsearch embed`: one JSON vector per stdin line.

use std::io::{BufRead, Write};
use std::path::Path;

use anyhow::Context;
use semsearch::embed::{Embedder, TextEmbedder, TextKind};

/// Flags of `embed`.
#[derive(clap::Args)]
pub struct Args {
    /// Embed as queries (adds the model's query prefix).
    #[arg(long, conflicts_with = "passage")]
    query: bool,
    /// Embed as passages (the default).
    #[arg(long)]
    passage: bool,
}

pub fn run(model: &Path, args: Args) -> anyhow::Result<()> {
    let embedder = TextEmbedder::load(model)
        .with_context(|| format!("loading the model from {}", model.display()))?;
    // Which path ran matters when figures or CPUs are compared (scripts/test-cpu-guard.sh).
    tracing::info!(
        "embedding in {:?} on {:?} kernels",
        semsearch::kernels::precision(),
        semsearch::kernels::isa()
    );
    let kind = if args.query {
        TextKind::Query
    } else {
        TextKind::Passage
    };
    let lines: Vec<String> = std::io::stdin()
        .lock()
        .lines()
        .collect::<Result<_, _>>()
        .context("reading stdin (UTF-8 lines expected)")?;
    let refs: Vec<&str> = lines.iter().map(String::as_str).collect();
    let vectors = embedder.embed(&refs, kind)?;
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    for v in vectors {
        serde_json::to_writer(&mut out, &v)?;
        out.write_all(b"\n")?;
    }
    out.flush()?;
    Ok(())
}
