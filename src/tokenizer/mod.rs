//! Text → token ids through the `tokenizers` crate, driven by the checkpoint's own tokenizer files.
//!
//! - CLIP: byte-level BPE (`tokenizer.json`: NFC + whitespace collapse + lowercase, the CLIP split regex, bos/eos
//!   added), truncated to 77, not padded — ids identical to `CLIPTokenizerFast(..., truncation=True, max_length=77)`.
//! - SigLIP 2: Gemma's BPE `tokenizer.json` (byte fallback, no bos, `<eos>` appended), padded with `<pad>` to the
//!   context (64), as HF's processor with `padding="max_length", max_length=64`.
//! - SigLIP: T5's SentencePiece Unigram `spiece.model` ([`spm`]), after `SiglipTokenizer`'s canonicalisation
//!   (lowercase, ASCII punctuation removed, whitespace collapsed), `</s>` appended and padded with `</s>`.
//!
//! The SigLIP pipelines are built once, when a checkpoint is read ([`siglip_tokenizer_json`]), into a plain
//! `tokenizer.json` with its padding and truncation inside: that file is what a bundle stores and what the page
//! runs, so every path tokenizes alike.

pub mod spm;

use serde_json::Value;
use tokenizers::models::unigram::Unigram;
use tokenizers::normalizers::{Lowercase, NormalizerWrapper, Precompiled, Prepend, Replace, Sequence, Strip};
use tokenizers::processors::template::TemplateProcessing;
use tokenizers::{
    AddedToken, PaddingDirection, PaddingParams, PaddingStrategy, PostProcessor, Tokenizer, TruncationDirection,
    TruncationParams, TruncationStrategy,
};

use crate::error::{Error, Result};

/// openai/clip-vit-base-patch32's tokenizer, for checkpoints that ship none (native builds only).
#[cfg(not(target_arch = "wasm32"))]
pub const BUNDLED_TOKENIZER_JSON: &[u8] = include_bytes!("../assets/tokenizer.json");

pub struct TextTokenizer {
    inner: Tokenizer,
    context_length: usize,
}

impl TextTokenizer {
    /// Parses `tokenizer.json`; sequences are truncated to `context_length` tokens, end-of-text kept, and not padded
    /// (CLIP: the text tower stops at the end-of-text token).
    pub fn from_json(json: &[u8], context_length: usize) -> Result<Self> {
        Self::from_json_padded(json, context_length, false)
    }

    /// As [`TextTokenizer::from_json`]; with `padded`, every sequence is padded as `tokenizer.json` says (SigLIP's
    /// files, as [`siglip_tokenizer_json`] writes them, pad to exactly `context_length`).
    pub fn from_json_padded(json: &[u8], context_length: usize, padded: bool) -> Result<Self> {
        check_json(json)?;
        let mut inner = Tokenizer::from_bytes(json)
            .map_err(|e| Error::Tokenizer(format!("tokenizer.json could not be parsed: {e}")))?;
        check_room(&inner, context_length)?;
        inner
            .with_truncation(Some(TruncationParams {
                max_length: context_length,
                strategy: TruncationStrategy::LongestFirst,
                stride: 0,
                direction: TruncationDirection::Right,
            }))
            .map_err(|e| Error::Tokenizer(format!("cannot truncate to {context_length} tokens: {e}")))?;
        if !padded {
            inner.with_padding(None);
        } else if !matches!(inner.get_padding(), Some(p) if matches!(p.strategy, PaddingStrategy::Fixed(n) if n == context_length))
        {
            return Err(Error::Tokenizer(format!(
                "this tokenizer.json does not pad to {context_length} tokens, as SigLIP's text tower needs; load the \
                 model from its Hugging Face folder or re-convert the bundle (`webclip convert`)"
            )));
        }
        Ok(TextTokenizer { inner, context_length })
    }

    /// The bundled openai/clip-vit-base-patch32 tokenizer.
    #[cfg(not(target_arch = "wasm32"))]
    pub fn bundled(context_length: usize) -> Result<Self> {
        Self::from_json(BUNDLED_TOKENIZER_JSON, context_length)
    }

    pub fn context_length(&self) -> usize {
        self.context_length
    }

    /// The ids of one text: CLIP `<|startoftext|> … <|endoftext|>`, at most `context_length` ids; SigLIP exactly
    /// `context_length` (the text, `</s>`/`<eos>`, padding).
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

/// SigLIP's tokenizer as one `tokenizer.json`, padded and truncated to `context` tokens: SigLIP 2's own
/// `tokenizer.json` (`tokenizer_json`), or one built from SigLIP's `spiece.model`. `tokenizer_config.json`, when
/// given, names the pad token and whether bos/eos are added (`add_bos_token` / `add_eos_token`, as HF honours them).
pub fn siglip_tokenizer_json(
    tokenizer_json: Option<&[u8]>,
    spiece_model: Option<&[u8]>,
    tokenizer_config: Option<&[u8]>,
    context: usize,
) -> Result<Vec<u8>> {
    let config: Value = match tokenizer_config {
        Some(b) => serde_json::from_slice(b)
            .map_err(|source| crate::error::Error::Json { file: "tokenizer_config.json".into(), source })?,
        None => Value::Null,
    };
    let token = |key: &str| match config.get(key) {
        Some(Value::String(s)) => Some(s.clone()),
        Some(v) => v.get("content").and_then(Value::as_str).map(str::to_string),
        None => None,
    };
    let flag = |key: &str| config.get(key).and_then(Value::as_bool);
    let mut tok =
        match (tokenizer_json, spiece_model) {
            (Some(json), _) => {
                check_json(json)?;
                Tokenizer::from_bytes(json)
                    .map_err(|e| Error::Tokenizer(format!("tokenizer.json could not be parsed: {e}")))?
            }
            (None, Some(model)) => sentencepiece_tokenizer(&spm::SentencePieceModel::parse(model, "spiece.model")?)?,
            (None, None) => return Err(Error::Tokenizer(
                "a SigLIP checkpoint needs tokenizer.json (SigLIP 2) or spiece.model (SigLIP); download it from the \
                 model's repository"
                    .into(),
            )),
        };
    let id = |tok: &Tokenizer, t: &str| {
        tok.token_to_id(t).ok_or_else(|| Error::Tokenizer(format!("the tokenizer has no token {t:?}")))
    };
    // bos/eos as tokenizer_config.json says, else what the file's post-processor does (spiece.model: `$A </s>`)
    let (add_bos, add_eos) = (flag("add_bos_token"), flag("add_eos_token"));
    if add_bos.is_some() || add_eos.is_some() {
        let bos = token("bos_token").unwrap_or_else(|| "<bos>".into());
        let eos = token("eos_token").unwrap_or_else(|| "<eos>".into());
        let mut single = Vec::new();
        let mut specials = Vec::new();
        if add_bos == Some(true) {
            single.push(bos.clone());
            specials.push((bos.clone(), id(&tok, &bos)?));
        }
        single.push("$A".to_string());
        if add_eos == Some(true) {
            single.push(eos.clone());
            specials.push((eos.clone(), id(&tok, &eos)?));
        }
        let template = TemplateProcessing::builder()
            .try_single(single.join(" "))
            .and_then(|b| b.special_tokens(specials).build().map_err(|e| e.to_string()))
            .map_err(|e| Error::Tokenizer(format!("tokenizer_config.json: cannot add bos/eos: {e}")))?;
        tok.with_post_processor(Some(template));
    }
    let pad =
        token("pad_token").unwrap_or_else(|| if tok.token_to_id("<pad>").is_some() { "<pad>" } else { "</s>" }.into());
    let pad_id = id(&tok, &pad)?;
    tok.with_padding(Some(PaddingParams {
        strategy: PaddingStrategy::Fixed(context),
        direction: PaddingDirection::Right,
        pad_to_multiple_of: None,
        pad_id,
        pad_type_id: 0,
        pad_token: pad,
    }));
    check_room(&tok, context)?;
    tok.with_truncation(Some(TruncationParams {
        max_length: context,
        strategy: TruncationStrategy::LongestFirst,
        stride: 0,
        direction: TruncationDirection::Right,
    }))
    .map_err(|e| Error::Tokenizer(format!("cannot truncate to {context} tokens: {e}")))?;
    tok.to_string(false)
        .map(String::into_bytes)
        .map_err(|e| Error::Tokenizer(format!("cannot write tokenizer.json: {e}")))
}

/// `SiglipTokenizer` on a SentencePiece Unigram model: its `canonicalize_text` (lowercase, the 32 ASCII
/// punctuation characters removed, whitespace runs to one space, stripped), then SentencePiece's own normalisation
/// (the compiled `nmt_nfkc` map, extra whitespace removed, a `▁` in front and for every space), Viterbi over the
/// pieces' scores, `</s>` appended.
fn sentencepiece_tokenizer(m: &spm::SentencePieceModel) -> Result<Tokenizer> {
    let bad = |e: Box<dyn std::error::Error + Send + Sync>| Error::Tokenizer(format!("spiece.model: {e}"));
    let vocab: Vec<(String, f64)> = m.pieces.iter().map(|p| (p.piece.clone(), f64::from(p.score))).collect();
    let model = Unigram::from(vocab, m.unk_id(), false).map_err(bad)?;
    let mut steps: Vec<NormalizerWrapper> = vec![
        Lowercase.into(),
        // Python's str.lower() (which SiglipTokenizer uses) writes a capital sigma that ends a word as final ς;
        // a per-character lowercase gives σ (an already lowercase word-final σ becomes ς here too, where Python keeps
        // it: no correctly spelt Greek word ends so)
        Replace::new(tokenizers::normalizers::replace::ReplacePattern::Regex(r"(?<=\p{L})σ(?!\p{L})".into()), "ς")
            .map_err(bad)?
            .into(),
        Replace::new(tokenizers::normalizers::replace::ReplacePattern::Regex(r##"[!-/:-@\[-`{-~]"##.into()), "")
            .map_err(bad)?
            .into(),
        Replace::new(tokenizers::normalizers::replace::ReplacePattern::Regex(r"\s+".into()), " ").map_err(bad)?.into(),
        Strip::new(true, true).into(),
    ];
    if !m.precompiled_charsmap.is_empty() {
        let charsmap = Precompiled::from(&m.precompiled_charsmap)
            .map_err(|e| Error::Tokenizer(format!("spiece.model: its character map is damaged ({e})")))?;
        steps.push(charsmap.into());
    }
    if m.remove_extra_whitespaces {
        steps.push(
            Replace::new(tokenizers::normalizers::replace::ReplacePattern::Regex(" +".into()), " ")
                .map_err(bad)?
                .into(),
        );
        steps.push(Strip::new(true, true).into());
    }
    if m.add_dummy_prefix {
        steps.push(Prepend::new("▁".into()).into());
    }
    steps.push(Replace::new(" ", "▁").map_err(bad)?.into());
    let mut tok = Tokenizer::new(model);
    tok.with_normalizer(Some(Sequence::new(steps))).map_err(bad)?;
    let specials: Vec<AddedToken> = m
        .pieces
        .iter()
        .filter(|p| p.kind == 2 || p.kind == 3)
        .filter(|p| p.piece != "<pad>")
        .map(|p| AddedToken::from(p.piece.clone(), true))
        .collect();
    tok.add_special_tokens(specials).map_err(bad)?;
    let eos = "</s>";
    let eos_id = tok.token_to_id(eos).ok_or_else(|| Error::Tokenizer("spiece.model has no </s> piece".into()))?;
    let template = TemplateProcessing::builder()
        .try_single(format!("$A {eos}"))
        .and_then(|b| b.special_tokens(vec![(eos.to_string(), eos_id)]).build().map_err(|e| e.to_string()))
        .map_err(|e| Error::Tokenizer(format!("spiece.model: {e}")))?;
    tok.with_post_processor(Some(template));
    Ok(tok)
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
        // from text, not from the Value: Precompiled borrows its charsmap string, which a Value cannot lend
        serde_json::from_str::<Precompiled>(&Value::Object(fields.clone()).to_string())?;
    }
    if let Some(Value::Array(inner)) = fields.get("normalizers") {
        inner.iter().try_for_each(|n| check_precompiled(Some(n)))?;
    }
    Ok(())
}

/// `tokenizers` subtracts the special tokens its post-processor adds from `max_length` unchecked (a panic, or a
/// wrapped length in release): a context too short for them is an error naming the field.
fn check_room(tok: &Tokenizer, context_length: usize) -> Result<()> {
    let special = tok.get_post_processor().map_or(0, |p| p.added_tokens(false));
    if context_length < special {
        return Err(Error::Tokenizer(format!(
            "a context length of {context_length} tokens cannot hold the {special} special tokens that tokenizer.json \
             adds to every text (CLIP: <|startoftext|> and <|endoftext|>): config.json's \
             text_config.max_position_embeddings must be at least {special} (77 for CLIP, 64 for SigLIP)"
        )));
    }
    Ok(())
}

fn preview(text: &str) -> String {
    text.chars().take(40).collect()
}
