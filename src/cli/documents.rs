//! `semsearch documents`: the documents of an index, optionally those a filter passes, with facet
//! counts: the answer of `GET /documents`, as JSON.

use std::path::{Path, PathBuf};

use semsearch::config::DEFAULT_INDEX_DIR;
use semsearch::engine::facets::FacetFields;
use semsearch::engine::Options;
use semsearch::index::Condition;

use super::args::{load_embedder, EmbedderArgs, StoreArgs};

/// Flags of `documents`.
#[derive(clap::Args)]
pub struct Args {
    /// Index folder.
    #[arg(long, default_value = DEFAULT_INDEX_DIR)]
    index: PathBuf,
    #[command(flatten)]
    store: StoreArgs,
    /// Only documents a filter passes: the JSON `filter` of `POST /search`.
    #[arg(long, value_name = "JSON")]
    filter: Option<String>,
    /// Metadata fields to count the values of, comma-separated (at most 16), or `*` for every
    /// field the passing documents carry.
    #[arg(long, value_name = "FIELDS")]
    facets: Option<String>,
}

pub fn run(model: &Path, args: Args) -> anyhow::Result<()> {
    let filter = match &args.filter {
        None => Condition::all(),
        Some(f) => {
            let v: serde_json::Value = serde_json::from_str(f)
                .map_err(|e| anyhow::anyhow!("--filter is not JSON: {e}"))?;
            Condition::parse(&v).map_err(anyhow::Error::msg)?
        }
    };
    let fields = args
        .facets
        .as_deref()
        .map(FacetFields::parse)
        .transpose()
        .map_err(|e| anyhow::anyhow!("--facets: {e}"))?;
    let engine = args.store.open(
        load_embedder(model, &EmbedderArgs::default())?,
        &args.index,
        false,
        Options::default(),
    )?;
    let (docs, facets) = engine.documents_where(&filter, fields.as_ref())?;
    let wire = semsearch::api::DocumentList {
        documents: docs.iter().map(semsearch::api::Document::from).collect(),
        facets: fields.map(|_| {
            facets
                .into_iter()
                .map(semsearch::api::Facet::from)
                .collect()
        }),
    };
    println!("{}", serde_json::to_string(&wire)?);
    Ok(())
}
