//! CLIP's byte-level BPE through the `tokenizers` crate, driven by the checkpoint's own `tokenizer.json`
//! (normalizer NFC + whitespace collapse + lowercase, the CLIP split regex, byte-level BPE, bos/eos added).
//! Ids are identical to Hugging Face's `CLIPTokenizerFast(..., truncation=True, max_length=77)`.

use serde_json::Value;
use tokenizers::normalizers::precompiled::Precompiled;
use tokenizers::{PostProcessor, Tokenizer, TruncationDirection, TruncationParams, TruncationStrategy};

use crate::error::{Error, Result};

/// openai/clip-vit-base-patch32's tokenizer, for checkpoints that ship none (native builds only).
#[cfg(not(target_arch = "wasm32"))]
pub const BUNDLED_TOKENIZER_JSON: &[u8] = include_bytes!("assets/tokenizer.json");

pub struct ClipTokenizer {
    inner: Tokenizer,
    context_length: usize,
}

impl ClipTokenizer {
    /// Parses `tokenizer.json`; sequences are truncated to `context_length` tokens, end-of-text kept.
    pub fn from_json(json: &[u8], context_length: usize) -> Result<Self> {
        check_json(json)?;
        let mut inner = Tokenizer::from_bytes(json)
            .map_err(|e| Error::Tokenizer(format!("tokenizer.json could not be parsed: {e}")))?;
        // tokenizers subtracts these from max_length unchecked (a panic, or a wrapped length in release)
        let special = inner.get_post_processor().map_or(0, |p| p.added_tokens(false));
        if context_length < special {
            return Err(Error::Tokenizer(format!(
                "a context length of {context_length} tokens cannot hold the {special} special tokens that \
                 tokenizer.json adds to every text (CLIP: <|startoftext|> and <|endoftext|>): config.json's \
                 text_config.max_position_embeddings must be at least {special} (77 for CLIP)"
            )));
        }
        inner
            .with_truncation(Some(TruncationParams {
                max_length: context_length,
                strategy: TruncationStrategy::LongestFirst,
                stride: 0,
                direction: TruncationDirection::Right,
            }))
            .map_err(|e| Error::Tokenizer(format!("cannot truncate to {context_length} tokens: {e}")))?;
        inner.with_padding(None);
        Ok(ClipTokenizer { inner, context_length })
    }

    /// The bundled openai/clip-vit-base-patch32 tokenizer.
    #[cfg(not(target_arch = "wasm32"))]
    pub fn bundled(context_length: usize) -> Result<Self> {
        Self::from_json(BUNDLED_TOKENIZER_JSON, context_length)
    }

    pub fn context_length(&self) -> usize {
        self.context_length
    }

    /// `<|startoftext|> … <|endoftext|>`, at most `context_length` ids.
    pub fn encode(&self, text: &str) -> Result<Vec<u32>> {
        let enc = self
            .inner
            .encode(text, true)
            .map_err(|e| Error::Tokenizer(format!("cannot tokenize {:?}: {e}", preview(text))))?;
        Ok(enc.get_ids().to_vec())
    }

    pub fn encode_batch(&self, texts: &[&str]) -> Result<Vec<Vec<u32>>> {
        texts.iter().map(|t| self.encode(t)).collect()
    }
}

/// tokenizers 0.23 panics (`expect`) instead of failing on two kinds of broken tokenizer.json (found by fuzzing): a
/// JSON syntax error inside `decoder`, and a `Precompiled` normalizer (SentencePiece) whose fields do not parse.
/// Both are refused here first, with the error tokenizers would have given.
fn check_json(json: &[u8]) -> Result<()> {
    let bad = |e: serde_json::Error| Error::Tokenizer(format!("tokenizer.json could not be parsed: {e}"));
    serde_json::from_slice::<serde::de::IgnoredAny>(json).map_err(bad)?;
    if json.windows(13).any(|w| w == b"\"Precompiled\"") {
        let value: Value = serde_json::from_slice(json).map_err(bad)?;
        check_precompiled(value.get("normalizer")).map_err(|e| {
            Error::Tokenizer(format!("tokenizer.json could not be parsed: its Precompiled normalizer: {e}"))
        })?;
    }
    Ok(())
}

/// Every `Precompiled` normalizer in `normalizer`, nested `Sequence`s included, deserializes.
fn check_precompiled(normalizer: Option<&Value>) -> std::result::Result<(), serde_json::Error> {
    let Some(Value::Object(fields)) = normalizer else { return Ok(()) };
    if fields.get("type").and_then(Value::as_str) == Some("Precompiled") {
        serde_json::from_value::<Precompiled>(Value::Object(fields.clone()))?;
    }
    if let Some(Value::Array(inner)) = fields.get("normalizers") {
        inner.iter().try_for_each(|n| check_precompiled(Some(n)))?;
    }
    Ok(())
}

fn preview(text: &str) -> String {
    text.chars().take(40).collect()
}
