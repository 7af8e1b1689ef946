//! Captions without a generator network: a sentence composed from vocabularies (subjects, counts, attributes,
//! scenes, styles) and chosen by CLIP itself, as the sentence whose text embedding is closest to the image's.
//!
//! ```text
//! image ─ one image pass ─▶ v (P,) ──┐
//! vocabulary prompts ─ once per model, cached ─▶ table (n, P) ──┴─ table·v: rank every slot's entries
//!   ─▶ beam over slots (beam.rs): fill the best few entries in, embed those few sentences (text passes),
//!      keep the best ─▶ {caption, score = cosine, alternatives}
//! ```
//! Cost per image: one image pass, matrix-vector products over the table, and at most
//! `4 · beam · shortlist` short text passes (36 with the defaults), batched per slot. Deterministic: equal scores
//! are ordered by slot indices.

mod beam;
pub mod grammar;
pub mod table;
pub mod vocab;

#[cfg(not(target_arch = "wasm32"))]
use std::path::{Path, PathBuf};

use serde::Serialize;

pub use grammar::{sentence, Slots};
pub use table::{prompts, PhraseTable};
pub use vocab::Vocabulary;

use crate::backend::Backend;
use crate::error::{Error, Result};
use crate::tasks::fingerprint::Fingerprint;
use crate::tensor::normalize;
use crate::Session;

/// How wide the search is. Text passes per caption ≤ 4 · beam · shortlist.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Deserialize)]
#[serde(default)]
pub struct CaptionOptions {
    /// candidates kept after each slot
    pub beam: usize,
    /// entries of each slot tried in every candidate
    pub shortlist: usize,
    /// runners-up returned with the caption
    pub alternatives: usize,
}

impl Default for CaptionOptions {
    fn default() -> Self {
        CaptionOptions { beam: 3, shortlist: 3, alternatives: 4 }
    }
}

/// A sentence and its cosine similarity with the image.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Scored {
    pub caption: String,
    pub score: f32,
}

/// The best sentence, its cosine with the image (CLIP's `logits_per_image / logit_scale`), and the runners-up
/// by descending score.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Caption {
    pub caption: String,
    pub score: f32,
    pub alternatives: Vec<Scored>,
}

/// A vocabulary with its text embeddings for one model: makes captions from image embeddings.
pub struct Composer {
    pub vocab: Vocabulary,
    pub table: PhraseTable,
    /// the text probe of the model that made `table` (stored with it in the cache)
    pub fingerprint: Fingerprint,
    pub options: CaptionOptions,
}

impl Composer {
    /// Embeds every prompt of `vocab` (1,200 short texts for the builtin one: the slow part, done once).
    pub async fn build_async<B: Backend>(s: &Session<B>, vocab: Vocabulary, options: CaptionOptions) -> Result<Self> {
        let fingerprint = Fingerprint::of_async(s, true, false).await?;
        Self::build_for(s, vocab, options, fingerprint).await
    }

    /// [`Composer::build_async`] with the model's fingerprint already computed.
    async fn build_for<B: Backend>(
        s: &Session<B>,
        vocab: Vocabulary,
        options: CaptionOptions,
        fingerprint: Fingerprint,
    ) -> Result<Self> {
        let prompts = prompts(&vocab);
        let refs: Vec<&str> = prompts.iter().map(String::as_str).collect();
        let embeddings = s.embed_texts_async(&refs).await?;
        let table = PhraseTable::new(&vocab, s.model.config.embedding_dim(), &embeddings)?;
        Ok(Composer { vocab, table, fingerprint, options })
    }

    /// A composer from cache bytes ([`Composer::to_bytes`]), after checking that they were made for `vocab`
    /// and by this model (one probe text pass).
    pub async fn from_bytes_async<B: Backend>(
        s: &Session<B>,
        vocab: Vocabulary,
        bytes: &[u8],
        name: &str,
        options: CaptionOptions,
    ) -> Result<Self> {
        let (table, stored) = PhraseTable::from_bytes(bytes, name, &vocab)?;
        let fingerprint = Fingerprint::of_async(s, true, false).await?;
        fingerprint.check(&stored, &format!("caption cache {name}"))?;
        Ok(Composer { vocab, table, fingerprint, options })
    }

    /// The cache bytes: phrase embeddings, the model's probe and the vocabulary's hash (see [`table`]).
    pub fn to_bytes(&self) -> Result<Vec<u8>> {
        self.table.to_bytes(&self.vocab, &self.fingerprint)
    }

    /// The caption of an image from its embedding (any norm): text passes only for the beam's sentences.
    pub async fn caption_async<B: Backend>(&self, s: &Session<B>, image_embedding: &[f32]) -> Result<Caption> {
        self.caption_with_async(s, image_embedding, self.options).await
    }

    /// [`Composer::caption_async`] with other search options than the composer's.
    pub async fn caption_with_async<B: Backend>(
        &self,
        s: &Session<B>,
        image_embedding: &[f32],
        options: CaptionOptions,
    ) -> Result<Caption> {
        if image_embedding.len() != self.table.dim {
            return Err(Error::Input(format!(
                "image embedding has {} values, the caption vocabulary was embedded at {}",
                image_embedding.len(),
                self.table.dim
            )));
        }
        let mut search = beam::Beam::new(&self.vocab, &self.table, normalize(image_embedding), options);
        while let Some(texts) = search.next_texts() {
            let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
            search.absorb(&s.embed_texts_async(&refs).await?);
        }
        Ok(search.result())
    }

    /// [`Composer::caption_async`], waited for (native only).
    #[cfg(not(target_arch = "wasm32"))]
    pub fn caption<B: Backend>(&self, s: &Session<B>, image_embedding: &[f32]) -> Result<Caption> {
        pollster::block_on(self.caption_async(s, image_embedding))
    }
}

/// Where natively built caption caches are stored (see [`Composer::load_or_build`]).
#[cfg(not(target_arch = "wasm32"))]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CacheUse {
    /// read from the cache file
    Hit,
    /// embedded now and written to the cache file
    Built,
    /// embedded now; no cache directory, or it could not be written (the reason was returned)
    Uncached,
}

/// `$WEBCLIP_VOCAB_CACHE`, else `$XDG_CACHE_HOME/webclip/vocab`, else `~/.cache/webclip/vocab`
/// (`%LOCALAPPDATA%\webclip\vocab` on Windows). None when none of these is set. (`~/.cache/webclip` itself is
/// where build.sh keeps its tools.)
#[cfg(not(target_arch = "wasm32"))]
pub fn cache_dir() -> Option<PathBuf> {
    let var = |k: &str| std::env::var_os(k).filter(|v| !v.is_empty()).map(PathBuf::from);
    var("WEBCLIP_VOCAB_CACHE").or_else(|| {
        var("XDG_CACHE_HOME")
            .map(|d| d.join("webclip"))
            .or_else(|| var("HOME").map(|d| d.join(".cache/webclip")))
            .or_else(|| var("LOCALAPPDATA").map(|d| d.join("webclip")))
            .map(|d| d.join("vocab"))
    })
}

#[cfg(not(target_arch = "wasm32"))]
impl Composer {
    /// The cache file for this vocabulary and model: named by the vocabulary's hash and the exact probe
    /// embedding, so another model, backend or vocabulary never reads it.
    pub fn cache_path(dir: &Path, vocab: &Vocabulary, fingerprint: &Fingerprint) -> PathBuf {
        let (v, m) = (table::vocabulary_key(vocab), fingerprint.key());
        dir.join(format!("caption-{}-{}.safetensors", &v[..16], &m[..16]))
    }

    /// Reads the vocabulary embeddings from the cache in `dir`, or embeds them and writes the cache (atomically:
    /// a temporary file renamed into place). A cache that cannot be read or written is not an error: the
    /// second value says what happened, with the reason as text when the cache was skipped.
    pub fn load_or_build<B: Backend>(
        s: &Session<B>,
        vocab: Vocabulary,
        options: CaptionOptions,
        dir: Option<&Path>,
    ) -> Result<(Self, CacheUse, Option<String>)> {
        let Some(dir) = dir else {
            return Ok((pollster::block_on(Self::build_async(s, vocab, options))?, CacheUse::Uncached, None));
        };
        let fingerprint = Fingerprint::of(s, true, false)?;
        let path = Self::cache_path(dir, &vocab, &fingerprint);
        let mut note = None;
        if let Ok(bytes) = std::fs::read(&path) {
            let name = path.display().to_string();
            match PhraseTable::from_bytes(&bytes, &name, &vocab)
                .and_then(|(t, stored)| fingerprint.check(&stored, &name).map(|_| t))
            {
                Ok(table) => return Ok((Composer { vocab, table, fingerprint, options }, CacheUse::Hit, None)),
                Err(e) => note = Some(format!("ignoring the cache ({e}); rebuilding it")),
            }
        }
        let composer = pollster::block_on(Self::build_for(s, vocab, options, fingerprint))?;
        match write_atomically(&path, &composer.to_bytes()?) {
            Ok(()) => Ok((composer, CacheUse::Built, note)),
            Err(e) => Ok((composer, CacheUse::Uncached, Some(format!("cannot write the caption cache: {e}")))),
        }
    }
}

#[cfg(not(target_arch = "wasm32"))]
fn write_atomically(path: &Path, bytes: &[u8]) -> Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    let tmp = path.with_extension(format!("tmp{}", std::process::id()));
    std::fs::write(&tmp, bytes).map_err(|e| Error::io(&tmp, e))?;
    std::fs::rename(&tmp, path).map_err(|e| Error::io(path, e))
}
