//! `semsearch ingest`: read, check and split every input first; only then open the index (which
//! may be large, or built with another model) and embed.

use std::path::{Path, PathBuf};

use anyhow::Context;
use semsearch::config::DEFAULT_INDEX_DIR;
use semsearch::engine::{self, Options};

use super::args::{load_embedder, EmbedderArgs, PassageArgs, StoreArgs};
use super::output::bar;

/// Passages embedded between commits: about a minute of embedding on two cores, so an
/// interrupted ingest loses at most that.
const COMMIT_PASSAGES: usize = 512;

/// Flags of `ingest`.
#[derive(clap::Args)]
pub struct Args {
    /// Files or folders (read recursively) to ingest.
    #[arg(required = true)]
    paths: Vec<PathBuf>,
    /// Index folder.
    #[arg(long, default_value = DEFAULT_INDEX_DIR)]
    index: PathBuf,
    #[command(flatten)]
    store: StoreArgs,
    /// Keep every line: skip page-chrome stripping (for text known to be clean).
    #[arg(long)]
    no_clean: bool,
    /// Leave documents whose id the index already holds as they are (no re-embedding), instead
    /// of replacing them.
    #[arg(long)]
    skip_existing: bool,
    /// Metadata for every document read, `key=value` (repeatable): a value that reads as JSON
    /// (a number, `true`, `["a","b"]`) is that value, any other is text. It is added to the
    /// metadata a JSON record carries, replacing a key of the same name.
    #[arg(long = "meta", value_name = "KEY=VALUE")]
    meta: Vec<String>,
    #[command(flatten)]
    passages: PassageArgs,
    #[command(flatten)]
    embedder: EmbedderArgs,
}

pub fn run(model: &Path, args: Args) -> anyhow::Result<()> {
    let mut options = Options::default();
    args.passages.apply(&mut options)?;
    let (mut raws, mut refused) = (Vec::new(), Vec::new());
    for p in &args.paths {
        let (docs, set_aside) =
            semsearch::ingest::read_tree(p).with_context(|| format!("reading {}", p.display()))?;
        raws.extend(docs);
        refused.extend(set_aside);
    }
    if !refused.is_empty() {
        // Read first, said first: the files that will not be in the index, before the wait.
        eprintln!(
            "refused {} file(s), the others are ingested:",
            refused.len()
        );
        for r in &refused {
            eprintln!("  {}  {}", r.path.display(), r.error);
        }
    }
    if args.no_clean {
        raws.iter_mut().for_each(|r| r.clean = false);
    }
    if !args.meta.is_empty() {
        let patch = args
            .meta
            .iter()
            .map(|a| semsearch::index::metadata::parse_assignment(a))
            .collect::<Result<serde_json::Map<_, _>, _>>()
            .map_err(anyhow::Error::msg)?;
        for r in &mut raws {
            r.metadata = r
                .metadata
                .patched(patch.clone())
                .map_err(|e| anyhow::anyhow!("--meta: {e}"))?;
        }
    }
    let embedder = load_embedder(model, &args.embedder)?;
    let mut drafts = engine::draft(embedder.as_ref(), &options, &raws)?;
    let engine = args.store.open(embedder, &args.index, true, options)?;
    let mut skipped = 0;
    if args.skip_existing {
        let snap = engine.snapshot()?;
        let before = drafts.len();
        let mut kept = Vec::with_capacity(before);
        for d in drafts {
            if !d
                .doc
                .as_deref()
                .map_or(Ok(false), |id| snap.has_document(id))?
            {
                kept.push(d);
            }
        }
        drafts = kept;
        skipped = before - drafts.len();
    }
    let total: usize = drafts.iter().map(|d| d.passages.len()).sum();
    let documents = drafts.len();
    let pb = bar(
        total as u64,
        &format!("0/{documents} documents"),
        "passages",
    );
    let mut done = Vec::new();
    // Committed batch by batch: an interrupted run keeps what it committed, and the next run
    // skips those documents (same passages) without embedding them again.
    let mut batch = Vec::new();
    let mut batch_passages = 0;
    let mut drafts = drafts.into_iter().peekable();
    while let Some(d) = drafts.next() {
        batch_passages += d.passages.len();
        batch.push(d);
        if batch_passages >= COMMIT_PASSAGES || drafts.peek().is_none() {
            done.extend(engine.ingest_drafts(std::mem::take(&mut batch), &|n| pb.inc(n as u64))?);
            batch_passages = 0;
            pb.set_message(format!("{}/{documents} documents", done.len()));
        }
    }
    pb.finish_and_clear();
    let snap = engine.snapshot()?;
    let unchanged = done.iter().filter(|d| d.unchanged).count();
    let written: Vec<_> = done.iter().filter(|d| !d.unchanged).collect();
    let mut notes = String::new();
    if skipped > 0 {
        notes.push_str(&format!(", skipped {skipped} already indexed"));
    }
    if unchanged > 0 {
        notes.push_str(&format!(", {unchanged} unchanged"));
    }
    println!(
        "ingested {} document(s), {} passage(s) into {}{notes} (index now: {} documents, {} passages)",
        written.len(),
        written.iter().map(|d| d.passages).sum::<usize>(),
        args.store.name(&args.index),
        snap.documents()?.len(),
        snap.len()
    );
    if !refused.is_empty() {
        // Repeated under the progress, where the eye is at the end; the exit status says it too.
        eprintln!("refused (not ingested):");
        for r in &refused {
            eprintln!("  {}  {}", r.path.display(), r.error);
        }
        anyhow::bail!("{} file(s) refused, listed above", refused.len());
    }
    Ok(())
}
