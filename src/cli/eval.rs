//! `semsearch eval`: recall and MRR on a SQuAD file (fresh in-memory index) or on
//! question/evidence pairs against an existing index; one JSON line per mode.

use std::path::{Path, PathBuf};

use semsearch::config::{DEFAULT_INDEX_DIR, EVAL_K, MAX_K};
use semsearch::engine::{Engine, Mode, Options};
use semsearch::eval;

use super::args::{load_embedder, EmbedderArgs, FusionArgs, PassageArgs, StoreArgs};
use super::output::bar;

/// Flags of `eval`.
#[derive(clap::Args)]
pub struct Args {
    /// SQuAD v1 file: builds a fresh in-memory index, one document per paragraph.
    #[arg(
        long,
        conflicts_with_all = ["qa", "unanswerable", "followups", "related"],
        required_unless_present_any = ["qa", "unanswerable", "followups", "related"]
    )]
    squad: Option<PathBuf>,
    /// JSONL of {question} the index does not answer: reports the share abstained (`found:
    /// false`) and, with --qa, the share of those questions still answered with an evidence
    /// passage in the top 5.
    #[arg(long)]
    unanswerable: Option<PathBuf>,
    /// With --squad: abstention instead of recall. The index holds the odd-numbered articles
    /// only; questions about the others must be answered "not found", questions about its own
    /// articles found with their paragraph in the top 5.
    #[arg(long, requires = "squad")]
    held_out: bool,
    /// JSONL of conversations (`{"turns": [{"question", "evidence"}...]}`) asked turn by turn
    /// against --index: recall of first and later turns, later turns also asked alone.
    #[arg(long, conflicts_with_all = ["qa", "unanswerable"])]
    followups: Option<PathBuf>,
    /// JSON grouping of one document's clauses by topic (`{"doc", "chapters": [[1, 2], ...]}`):
    /// the share of each clause's first three related clauses on its topic, against --index.
    #[arg(long, conflicts_with_all = ["qa", "unanswerable", "followups"])]
    related: Option<PathBuf>,
    /// Relevance threshold for --unanswerable and --held-out (default: the server's).
    #[arg(long)]
    min_relevance: Option<f32>,
    /// Questions for --squad from a parallel file (same articles and paragraphs); repeat it to
    /// ask several sets, e.g. each language of XQuAD, of one index (one report per set and mode).
    #[arg(long, requires = "squad")]
    questions: Vec<PathBuf>,
    /// JSONL of {question, evidence} asked against --index.
    #[arg(long)]
    qa: Option<PathBuf>,
    /// Index folder for --qa.
    #[arg(long, default_value = DEFAULT_INDEX_DIR)]
    index: PathBuf,
    #[command(flatten)]
    store: StoreArgs,
    /// Retrieval mode: hybrid, dense or lexical.
    #[arg(long, default_value = "hybrid")]
    mode: String,
    /// Depth of the ranking.
    #[arg(short, default_value_t = EVAL_K)]
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
    #[command(flatten)]
    fusion: FusionArgs,
    #[command(flatten)]
    embedder: EmbedderArgs,
}

pub fn run(model: &Path, args: Args) -> anyhow::Result<()> {
    let modes = if args.compare {
        vec![Mode::Hybrid, Mode::Dense, Mode::Lexical]
    } else {
        vec![Mode::parse(&args.mode)?]
    };
    anyhow::ensure!(
        (EVAL_K..=MAX_K).contains(&args.k),
        "-k must be between {EVAL_K} and {MAX_K} (recall@10 needs 10)"
    );
    let mut options = Options::default();
    args.fusion.apply(&mut options, model)?;
    args.passages.apply(&mut options)?;
    let embedder = load_embedder(model, &args.embedder)?;
    let min = args
        .min_relevance
        .unwrap_or(semsearch::config::DEFAULT_MIN_RELEVANCE);
    anyhow::ensure!(
        (0.0..=1.0).contains(&min),
        "--min-relevance must be between 0 and 1"
    );
    anyhow::ensure!(
        args.min_relevance.is_none() || args.unanswerable.is_some() || args.held_out,
        "--min-relevance applies to --unanswerable and --held-out"
    );
    if args.held_out {
        anyhow::ensure!(
            !args.compare && !args.answers,
            "--held-out reports abstention, not recall: drop --compare and --answers"
        );
        let squad = args.squad.as_deref().expect("clap requires --squad");
        let engine = Engine::open(embedder, None, options)?;
        let pb = bar(0, "", "");
        anyhow::ensure!(
            args.questions.len() <= 1,
            "--held-out takes one --questions file"
        );
        let report = eval::squad_abstention(
            &engine,
            squad,
            args.questions.first().map(PathBuf::as_path),
            min,
            &|what, done, total| {
                pb.set_message(what.to_string());
                pb.set_length(total as u64);
                pb.set_position(done as u64);
            },
        )?;
        pb.finish_and_clear();
        println!("{}", serde_json::to_string(&report)?);
        return Ok(());
    }
    if let Some(file) = &args.related {
        anyhow::ensure!(
            !args.compare && !args.answers && !args.passages.is_set(),
            "--related takes --index only"
        );
        let engine = args.store.open(embedder, &args.index, false, options)?;
        println!("{}", serde_json::to_string(&eval::related(&engine, file)?)?);
        return Ok(());
    }
    if let Some(file) = &args.followups {
        anyhow::ensure!(
            !args.compare && !args.answers && !args.passages.is_set(),
            "--followups takes --index and -k only"
        );
        let engine = args.store.open(embedder, &args.index, false, options)?;
        let report = eval::followups(&engine, file, args.k)?;
        println!("{}", serde_json::to_string(&report)?);
        return Ok(());
    }
    if let Some(un) = &args.unanswerable {
        anyhow::ensure!(
            !args.compare && !args.answers && !args.passages.is_set(),
            "--unanswerable takes --qa, --index and --min-relevance only"
        );
        let engine = args.store.open(embedder, &args.index, false, options)?;
        let report = eval::abstention(&engine, un, args.qa.as_deref(), min)?;
        println!("{}", serde_json::to_string(&report)?);
        return Ok(());
    }
    let reports = if let Some(squad) = &args.squad {
        // A fresh in-memory index, or with --store an empty database (to compare the stores).
        let engine = if args.store.store.is_some() {
            let engine = args.store.open(embedder, &args.index, true, options)?;
            anyhow::ensure!(
                engine.snapshot()?.is_empty(),
                "eval --squad --store needs an empty store: it ingests the set's paragraphs"
            );
            engine
        } else {
            Engine::open(embedder, None, options)?
        };
        let pb = bar(0, "", "");
        let questions: Vec<&Path> = args.questions.iter().map(PathBuf::as_path).collect();
        let r = eval::squad(
            &engine,
            squad,
            &questions,
            &modes,
            args.k,
            args.answers,
            &|what, done, total| {
                pb.set_message(what.to_string());
                pb.set_length(total as u64);
                pb.set_position(done as u64);
            },
        )?;
        pb.finish_and_clear();
        r
    } else {
        anyhow::ensure!(
            !args.passages.is_set(),
            "--max-passage-tokens and --embed-heading shape the index --squad builds; \
             with --qa the index exists already"
        );
        anyhow::ensure!(!args.answers, "--answers needs --squad (gold answers)");
        let qa = args.qa.as_deref().expect("clap requires --squad or --qa");
        let engine = args.store.open(embedder, &args.index, false, options)?;
        eval::qa(&engine, qa, &modes, args.k)?
    };
    for report in reports {
        println!("{}", serde_json::to_string(&report)?);
    }
    Ok(())
}
