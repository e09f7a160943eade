//! `semsearch search`: top passages, optionally with the answer sentence.

use std::path::{Path, PathBuf};

use semsearch::api;
use semsearch::config::{DEFAULT_INDEX_DIR, DEFAULT_K};
use semsearch::engine::{Mode, Options, SearchRequest};
use semsearch::index::Condition;

use super::args::{load_embedder, EmbedderArgs, FusionArgs, StoreArgs};
use super::output::print_hits;

/// Flags of `search`.
#[derive(clap::Args)]
pub struct Args {
    /// The question.
    question: String,
    /// Index folder.
    #[arg(long, default_value = DEFAULT_INDEX_DIR)]
    index: PathBuf,
    #[command(flatten)]
    store: StoreArgs,
    /// Passages to return (1..100).
    #[arg(short, default_value_t = DEFAULT_K)]
    k: usize,
    /// Retrieval mode: hybrid, dense or lexical.
    #[arg(long, default_value = "hybrid")]
    mode: String,
    /// Restrict to one document.
    #[arg(long)]
    doc: Option<String>,
    /// Restrict to the documents a filter accepts: the JSON `filter` of `POST /search`, e.g.
    /// '{"type": "gte", "key": "year", "value": 2025}'.
    #[arg(long, value_name = "JSON")]
    filter: Option<String>,
    /// Print JSON.
    #[arg(long)]
    json: bool,
    /// Also pick the answer sentence (`"answer"` and `"found"` in the JSON).
    #[arg(long)]
    answer: bool,
    /// Relevance (0..1) the best passage must reach for an answer (with --answer).
    #[arg(long)]
    min_relevance: Option<f32>,
    #[command(flatten)]
    fusion: FusionArgs,
    #[command(flatten)]
    embedder: EmbedderArgs,
}

pub fn run(model: &Path, args: Args) -> anyhow::Result<()> {
    let mut filter = args.doc.clone().map_or_else(Condition::all, Condition::doc);
    if let Some(f) = &args.filter {
        let v: serde_json::Value =
            serde_json::from_str(f).map_err(|e| anyhow::anyhow!("--filter is not JSON: {e}"))?;
        filter = filter.and(Condition::parse(&v).map_err(anyhow::Error::msg)?);
    }
    let req = SearchRequest::new(args.question.as_str())
        .k(args.k)
        .mode(Mode::parse(&args.mode)?)
        .filter(filter)
        .min_relevance(args.min_relevance);
    req.validate()?;
    let mut options = Options::default();
    args.fusion.apply(&mut options, model)?;
    let engine = args.store.open(
        load_embedder(model, &args.embedder)?,
        &args.index,
        false,
        options,
    )?;
    if !args.answer {
        print_hits(&engine.search(&req)?, args.json);
        return Ok(());
    }
    let asked = engine.ask(&req)?;
    let answer = asked.answer.as_ref().map(api::Answer::from);
    if args.json {
        println!(
            "{}",
            serde_json::json!({
                "results": api::hits(&asked.hits), "found": asked.found, "answer": answer
            })
        );
    } else {
        match &answer {
            Some(a) => println!("answer: {} ({}, {:.3})\n", a.text, a.passage_id, a.score),
            None if !asked.found => println!(
                "answer: not in the documents (no passage reaches relevance {})\n",
                req.relevance_threshold()
            ),
            None => println!("answer: none\n"),
        }
        print_hits(&asked.hits, false);
    }
    Ok(())
}
