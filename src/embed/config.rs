//! The model folder's `config.json`: the Hugging Face fields the encoder needs, plus the
//! semsearch-specific prefixes. Prefixes live in the folder (not in code) so that a model brought
//! by a user declares its own; e5 folders without them get e5's documented `query: `/`passage: `.

use std::path::Path;

use serde::{Deserialize, Serialize};

use super::{EmbedError, Result};

/// Architecture and prompt settings of a model folder.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ModelConfig {
    /// `bert` or `xlm-roberta`.
    pub model_type: String,
    /// Hidden width.
    pub hidden_size: usize,
    /// Encoder layers.
    pub num_hidden_layers: usize,
    /// Attention heads per layer.
    pub num_attention_heads: usize,
    /// Feed-forward width.
    pub intermediate_size: usize,
    /// Rows of the position-embedding table.
    pub max_position_embeddings: usize,
    /// Rows of the token-type table.
    #[serde(default = "one")]
    pub type_vocab_size: usize,
    /// Layer-norm epsilon.
    #[serde(default = "default_eps")]
    pub layer_norm_eps: f64,
    /// Padding token id (XLM-R positions start right after it).
    #[serde(default)]
    pub pad_token_id: usize,
    /// Vocabulary size.
    pub vocab_size: usize,
    /// Activation of the feed-forward block; only the erf GELU (`gelu`) is supported.
    #[serde(default = "default_act")]
    pub hidden_act: String,
    /// Where the model came from (used to recognise e5 folders that declare no prefixes).
    #[serde(default, rename = "_name_or_path")]
    pub name_or_path: String,
    /// Prefix put before queries (`query: ` for e5).
    #[serde(default)]
    pub query_prefix: Option<String>,
    /// Prefix put before passages (`passage: ` for e5).
    #[serde(default)]
    pub passage_prefix: Option<String>,
}

fn one() -> usize {
    1
}
fn default_eps() -> f64 {
    1e-12
}
fn default_act() -> String {
    "gelu".into()
}

impl ModelConfig {
    /// Reads and checks `dir/config.json`.
    pub fn load(dir: &Path) -> Result<Self> {
        let path = dir.join("config.json");
        let text = std::fs::read_to_string(&path).map_err(|e| {
            EmbedError::model(
                dir,
                format!("cannot read config.json ({e}); run scripts/fetch-model.sh to fetch the default model"),
            )
        })?;
        let mut cfg: ModelConfig = serde_json::from_str(&text)
            .map_err(|e| EmbedError::model(&path, format!("invalid config.json: {e}")))?;
        cfg.validate(dir)?;
        let looks_e5 = cfg.name_or_path.contains("e5")
            || dir
                .file_name()
                .is_some_and(|n| n.to_string_lossy().contains("e5"));
        if looks_e5 && cfg.query_prefix.is_none() && cfg.passage_prefix.is_none() {
            cfg.query_prefix = Some("query: ".into());
            cfg.passage_prefix = Some("passage: ".into());
        }
        Ok(cfg)
    }

    fn validate(&self, dir: &Path) -> Result<()> {
        if !matches!(self.model_type.as_str(), "bert" | "xlm-roberta") {
            return Err(EmbedError::model(
                dir,
                format!(
                    "unsupported model_type {:?} (supported: bert, xlm-roberta)",
                    self.model_type
                ),
            ));
        }
        if self.hidden_act != "gelu" {
            return Err(EmbedError::model(
                dir,
                format!("unsupported hidden_act {:?}", self.hidden_act),
            ));
        }
        if self.num_attention_heads == 0
            || !self.hidden_size.is_multiple_of(self.num_attention_heads)
        {
            return Err(EmbedError::model(
                dir,
                "hidden_size must be a multiple of num_attention_heads",
            ));
        }
        Ok(())
    }

    /// First position id: XLM-R counts positions from `pad_token_id + 1`, BERT from 0.
    pub fn position_offset(&self) -> usize {
        if self.model_type == "xlm-roberta" {
            self.pad_token_id + 1
        } else {
            0
        }
    }

    /// Longest sequence the model takes, special tokens included.
    pub fn max_tokens(&self) -> usize {
        self.max_position_embeddings - self.position_offset()
    }
}
