//! Flag groups shared by several subcommands, each given only to the subcommands it affects: a
//! flag a command accepts must change what it does.

use std::path::Path;
use std::sync::Arc;

use anyhow::Context;
use semsearch::config::{DEFAULT_MAX_PASSAGE_TOKENS, PASSAGE_TOKENS_RANGE};
use semsearch::embed::{Embedder, RemoteConfig, RemoteEmbedder, SentenceVectors, TextEmbedder};
use semsearch::engine::{Engine, Options};
use semsearch::index::{Access, Location};
use semsearch::search::fusion::FusionParams;
use semsearch::server::collections::{self, Collections};

/// How passages are made: for commands that write (ingest, serve, eval --squad).
#[derive(clap::Args, Clone)]
pub struct PassageArgs {
    /// Most tokens per passage; longer clauses are cut at sentence ends.
    #[arg(long, default_value_t = DEFAULT_MAX_PASSAGE_TOKENS)]
    pub max_passage_tokens: usize,
    /// Embed each passage together with its section heading.
    #[arg(long)]
    pub embed_heading: bool,
    /// Sentence vectors: each sentence embedded on its own (separate), or pooled from its
    /// passage's own pass (late: about half the embedding work, lower recall).
    #[arg(long, value_enum, default_value_t = SentenceVectors::Separate)]
    pub sentence_vectors: SentenceVectors,
}

impl PassageArgs {
    /// Checked values into `options`.
    pub fn apply(&self, options: &mut Options) -> anyhow::Result<()> {
        anyhow::ensure!(
            PASSAGE_TOKENS_RANGE.contains(&self.max_passage_tokens),
            "--max-passage-tokens must be between {} and {}",
            PASSAGE_TOKENS_RANGE.start(),
            PASSAGE_TOKENS_RANGE.end()
        );
        options.max_passage_tokens = self.max_passage_tokens;
        options.embed_heading = self.embed_heading;
        options.sentence_vectors = self.sentence_vectors;
        Ok(())
    }

    /// True when a flag differs from its default.
    pub fn is_set(&self) -> bool {
        self.max_passage_tokens != DEFAULT_MAX_PASSAGE_TOKENS
            || self.embed_heading
            || self.sentence_vectors != SentenceVectors::Separate
    }
}

/// How hybrid search fuses its rankings: for commands that search (search, serve, eval).
#[derive(clap::Args, Clone)]
pub struct FusionArgs {
    /// Hybrid fusion: RRF rank offset.
    #[arg(long, default_value_t = FusionParams::default().k)]
    pub rrf_k: f32,
    /// Hybrid fusion: weight of the lexical list at full evidence (dense weight is 1).
    #[arg(long, default_value_t = FusionParams::default().lexical_weight)]
    pub lexical_weight: f32,
    /// Hybrid fusion: exponent on the share of question terms known to the index.
    #[arg(long, default_value_t = FusionParams::default().language_power)]
    pub language_power: f32,
    /// Hybrid fusion: spread of the dense top-10 cosines below which the dense list is trusted
    /// less (0 turns this off) [default: the model's calibration, 0.03 for e5-small]
    #[arg(long)]
    pub dense_spread: Option<f32>,
}

impl FusionArgs {
    /// The calibration of the model in `model` (its relevance curve and dense spread), then the
    /// checked flags, into `options`.
    pub fn apply(&self, options: &mut Options, model: &Path) -> anyhow::Result<()> {
        *options = options.clone().calibrated(model)?;
        let finite_non_negative = |v: f32, name: &str| {
            anyhow::ensure!(v.is_finite() && v >= 0.0, "{name} must be a number >= 0");
            Ok(())
        };
        finite_non_negative(self.rrf_k, "--rrf-k")?;
        finite_non_negative(self.lexical_weight, "--lexical-weight")?;
        finite_non_negative(self.language_power, "--language-power")?;
        let dense_spread = self.dense_spread.unwrap_or(options.fusion.dense_spread);
        finite_non_negative(dense_spread, "--dense-spread")?;
        options.fusion = FusionParams {
            k: self.rrf_k,
            lexical_weight: self.lexical_weight,
            language_power: self.language_power,
            dense_spread,
            ..options.fusion
        };
        Ok(())
    }
}

/// Where vectors are computed: for the commands that embed (ingest, serve, search, mcp, eval).
#[derive(clap::Args, Clone, Default)]
pub struct EmbedderArgs {
    /// Embed on a server of the same model instead of this CPU: an OpenAI-compatible
    /// `/v1/embeddings` URL (another `semsearch serve`, text-embeddings-inference, vLLM,
    /// Infinity) or text-embeddings-inference's `/embed`. The model folder is still read (its
    /// tokenizer and identity, and a start-up check that the remote's vectors match).
    #[arg(long, env = "SEMSEARCH_EMBEDDER", value_name = "URL")]
    embedder: Option<String>,
    /// Key for the remote embedder (sent as `Authorization: Bearer`).
    #[arg(long, env = "SEMSEARCH_EMBEDDER_KEY", hide_env_values = true)]
    embedder_key: Option<String>,
    /// `model` of OpenAI-style requests to the remote [default: the folder's `_name_or_path`,
    /// e.g. intfloat/multilingual-e5-small].
    #[arg(long, value_name = "NAME")]
    embedder_model: Option<String>,
    /// Requests to the remote embedder in flight at once [default: 4].
    #[arg(long, value_name = "N")]
    embedder_concurrency: Option<usize>,
    /// Seconds a failing request to the remote embedder (unreachable, 429, 5xx) is retried
    /// before the command fails [default: 120].
    #[arg(long, value_name = "SECONDS")]
    embedder_retry: Option<u64>,
}

/// Loads the model folder, and connects to the remote embedder when one is given.
pub fn load_embedder(dir: &Path, remote: &EmbedderArgs) -> anyhow::Result<Arc<dyn Embedder>> {
    let e = TextEmbedder::load(dir)
        .with_context(|| format!("loading the model from {}", dir.display()))?;
    let Some(url) = &remote.embedder else {
        tracing::debug!(
            model = %dir.display(),
            precision = ?e.precision(),
            kernels = ?semsearch::kernels::isa(),
            "model loaded"
        );
        return Ok(Arc::new(e));
    };
    let mut cfg = RemoteConfig::new(url.clone());
    cfg.key = remote.embedder_key.clone();
    cfg.model = remote.embedder_model.clone();
    if let Some(n) = remote.embedder_concurrency {
        cfg.concurrency = n;
    }
    if let Some(s) = remote.embedder_retry {
        cfg.retry_for = std::time::Duration::from_secs(s);
    }
    let r = RemoteEmbedder::connect(e, cfg)?;
    tracing::info!(url = r.url(), "embedding on the remote embedder");
    Ok(Arc::new(r))
}

/// How a command opens stores: writers create a missing one, readers never do.
fn access(create: bool) -> Access {
    if create {
        Access::Create
    } else {
        Access::Existing
    }
}

/// Where the passages live: the local index folder, or a shared PostgreSQL store.
#[derive(clap::Args, Clone)]
pub struct StoreArgs {
    /// Shared store instead of the local index: a PostgreSQL URL with pgvector
    /// (`postgres://user:password@host:5432/db`); see README, "Scaling out".
    #[arg(long, env = "SEMSEARCH_STORE")]
    pub store: Option<String>,
}

impl StoreArgs {
    /// The engine over `--store` when given, else over the local index `index`; `create` makes
    /// a missing one (writers), otherwise it must exist (readers never create).
    pub fn open(
        &self,
        embedder: Arc<dyn Embedder>,
        index: &Path,
        create: bool,
        options: Options,
    ) -> anyhow::Result<Engine> {
        let access = access(create);
        Ok(Engine::open_at(
            embedder,
            &self.location(index)?,
            access,
            options,
        )?)
    }

    /// Where the store is: `--store` when given (a database), else the index folder.
    pub fn location(&self, index: &Path) -> anyhow::Result<Location> {
        let Some(url) = self.store.as_deref().filter(|s| !s.is_empty()) else {
            return Ok(Location::Folder(index.to_path_buf()));
        };
        let at = Location::parse(url);
        anyhow::ensure!(
            matches!(at, Location::Database(_)),
            "--store takes a postgres:// URL (the local index is --index)"
        );
        Ok(at)
    }

    /// The collections beside the store: schemas of the `--store` database, else index folders
    /// beside `index`; each opened with `embedder` and `options`, created when missing only if
    /// `create` (a server; readers never create).
    pub fn collections(
        &self,
        index: &Path,
        embedder: Arc<dyn Embedder>,
        options: Options,
        create: bool,
    ) -> anyhow::Result<Collections> {
        let access = access(create);
        let opener: collections::Opener =
            Box::new(move |at| Engine::open_at(embedder.clone(), at, access, options.clone()));
        match self.store.as_deref().filter(|s| !s.is_empty()) {
            Some(url) => Collections::open_database(url, opener)
                .context("opening the collections in the database"),
            None => {
                let root = collections::folder_of(index);
                Collections::open(root.clone(), opener)
                    .with_context(|| format!("opening the collections in {}", root.display()))
            }
        }
    }

    /// What to call the store in messages (never a password).
    pub fn name(&self, index: &Path) -> String {
        match self.store.as_deref().filter(|s| !s.is_empty()) {
            Some(url) => Location::parse(url).name(),
            None => Location::Folder(index.to_path_buf()).name(),
        }
    }
}
