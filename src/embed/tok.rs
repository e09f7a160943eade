//! The tokenizer behind [`super::TextEmbedder`], in one of two implementations.

use tokenizers::Tokenizer;

use super::{unigram, EmbedError, Result};

/// The tokenizer: `tokenizers`' own, or the same pipeline with the compact
/// [`unigram::Unigram`] model (XLM-R vocabularies: ~290 MB less resident memory).
pub(super) enum Tok {
    Full(Box<Tokenizer>),
    Lean(Box<unigram::LeanTokenizer>),
}

impl Tok {
    /// No truncation and no padding: windows and batches are formed here.
    pub(super) fn plain(&mut self) -> Result<()> {
        match self {
            Tok::Full(t) => {
                t.with_truncation(None).map_err(EmbedError::Tokenizer)?;
                t.with_padding(None);
            }
            Tok::Lean(t) => {
                t.with_truncation(None).map_err(EmbedError::Tokenizer)?;
                t.with_padding(None);
            }
        }
        Ok(())
    }

    /// Encodes one text; offsets in characters when `chars`, else in bytes.
    pub(super) fn encode(
        &self,
        input: String,
        chars: bool,
    ) -> tokenizers::Result<tokenizers::Encoding> {
        match (self, chars) {
            (Tok::Full(t), false) => t.encode(input, false),
            (Tok::Full(t), true) => t.encode_char_offsets(input, false),
            (Tok::Lean(t), false) => t.encode(input, false),
            (Tok::Lean(t), true) => t.encode_char_offsets(input, false),
        }
    }

    /// Encodes texts on the rayon pool; offsets as in [`Tok::encode`].
    pub(super) fn encode_batch(
        &self,
        inputs: Vec<String>,
        chars: bool,
    ) -> tokenizers::Result<Vec<tokenizers::Encoding>> {
        match (self, chars) {
            (Tok::Full(t), false) => t.encode_batch(inputs, false),
            (Tok::Full(t), true) => t.encode_batch_char_offsets(inputs, false),
            (Tok::Lean(t), false) => t.encode_batch(inputs, false),
            (Tok::Lean(t), true) => t.encode_batch_char_offsets(inputs, false),
        }
    }
}
