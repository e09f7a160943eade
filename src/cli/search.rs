//! `semsearch search`: top passages, optionally with the answer sentence.

use std::path::{Path, PathBuf};

use semsearch::api;
use semsearch::config::{DEFAULT_INDEX_DIR, DEFAULT_K};
use semsearch::engine::{Engine, Mode, Options, SearchRequest};

use super::args::{load_embedder, FusionArgs};
use super::output::print_hits;

/// Flags of `search`.
#[derive(clap::Args)]
pub struct Args {
    /// The question.
    question: String,
    /// Index folder.
    #[arg(long, default_value = DEFAULT_INDEX_DIR)]
    index: PathBuf,
    /// Passages to return (1..100).
    #[arg(short, default_value_t = DEFAULT_K)]
    k: usize,
    /// Retrieval mode: hybrid, dense or lexical.
    #[arg(long, default_value = "hybrid")]
    mode: String,
    /// Restrict to one document.
    #[arg(long)]
    doc: Option<String>,
    /// Print JSON.
    #[arg(long)]
    json: bool,
    /// Also pick the answer sentence (`"answer"` in the JSON).
    #[arg(long)]
    answer: bool,
    #[command(flatten)]
    fusion: FusionArgs,
}

pub fn run(model: &Path, args: Args) -> anyhow::Result<()> {
    let req = SearchRequest::new(args.question.as_str())
        .k(args.k)
        .mode(Mode::parse(&args.mode)?)
        .doc(args.doc.clone());
    req.validate()?;
    let mut options = Options::default();
    args.fusion.apply(&mut options)?;
    let engine = Engine::open_existing(load_embedder(model)?, &args.index, options)?;
    if !args.answer {
        print_hits(&engine.search(&req)?, args.json);
        return Ok(());
    }
    let asked = engine.ask(&req)?;
    let answer = asked.answer.as_ref().map(api::Answer::from);
    if args.json {
        println!(
            "{}",
            serde_json::json!({ "results": api::hits(&asked.hits), "answer": answer })
        );
    } else {
        match &answer {
            Some(a) => println!("answer: {} ({}, {:.3})\n", a.text, a.passage_id, a.score),
            None => println!("answer: none\n"),
        }
        print_hits(&asked.hits, false);
    }
    Ok(())
}
