//! Which model made a set of embeddings. Caption vocabulary caches and search indexes store embeddings that are
//! only meaningful for the model that computed them; they also store this fingerprint, checked on load.
//!
//! The fingerprint is what the model *does*, not where its file lives: the normalised embeddings `(P,)` of one
//! fixed probe text and one fixed probe image. The same weights on another backend or quantized to q8 give
//! cosine ≥ 0.97 against the stored probe; an unrelated model gives about 0 (two CLIP projections share no
//! basis). That survives moving, renaming or converting a model, and needs no hash of a 600 MB weights file.

use sha2::{Digest, Sha256};

use crate::backend::Backend;
use crate::error::{Error, Result};
use crate::image::{Pixels, RgbImage};
use crate::tensor::{cosine, normalize};
use crate::Session;

/// The probe sentence (short: one text pass of ~16 tokens).
pub const PROBE_TEXT: &str = "a photo of a red bicycle leaning against a stone wall.";
/// Cosine at or above which two probes come from the same model (q4 of a random-weight ViT-B/32 is ≥ 0.977).
pub const SAME_MODEL_COSINE: f32 = 0.9;

/// Serialised as `{"dim", "text", "image"}` (JSON: what `webclip tag` keeps beside its outputs).
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Fingerprint {
    /// projection_dim: the length of every embedding
    pub dim: usize,
    /// normalised embedding of [`PROBE_TEXT`] `(dim,)`; None without a text tower
    pub text: Option<Vec<f32>>,
    /// normalised embedding of [`probe_image`] `(dim,)`; None without a vision tower
    pub image: Option<Vec<f32>>,
}

/// A fixed 96x64 RGB pattern (gradients and a checkerboard): the probe image, preprocessed like any photo.
pub fn probe_image() -> RgbImage {
    RgbImage::from_fn(96, 64, |x, y| {
        let check = if (x / 8 + y / 8) % 2 == 0 { 40 } else { 0 };
        ::image::Rgb([(x * 2 + check) as u8, (y * 3 + check) as u8, (255 - x - y) as u8])
    })
}

/// [`probe_image`] preprocessed for `session`.
pub fn probe_pixels<B: Backend>(session: &Session<B>) -> Pixels {
    crate::image::preprocess(&probe_image(), &session.preprocess)
}

impl Fingerprint {
    /// Embeds the probes through whichever towers the model has (`text` / `image` false skips that tower).
    pub async fn of_async<B: Backend>(session: &Session<B>, text: bool, image: bool) -> Result<Self> {
        let text = match text && session.model.text.is_some() {
            true => session.embed_texts_async(&[PROBE_TEXT]).await?.pop(),
            false => None,
        };
        let image = match image && session.model.vision.is_some() {
            true => session.embed_images_async(&[probe_pixels(session)]).await?.pop(),
            false => None,
        };
        Ok(Self::from_embeddings(session.model.config.embedding_dim(), text.as_deref(), image.as_deref()))
    }

    /// [`Fingerprint::of_async`], waited for (native only).
    #[cfg(not(target_arch = "wasm32"))]
    pub fn of<B: Backend>(session: &Session<B>, text: bool, image: bool) -> Result<Self> {
        pollster::block_on(Self::of_async(session, text, image))
    }

    /// From probe embeddings computed elsewhere (batched with other inputs); they are normalised here.
    pub fn from_embeddings(dim: usize, text: Option<&[f32]>, image: Option<&[f32]>) -> Self {
        Fingerprint { dim, text: text.map(normalize), image: image.map(normalize) }
    }

    /// Hex SHA-256 of the exact probe values: equal keys mean bit-identical probes (same model, same backend),
    /// which is what a cache file name needs.
    pub fn key(&self) -> String {
        let mut h = Sha256::new();
        h.update((self.dim as u64).to_le_bytes());
        for (tag, probe) in [(b"text", &self.text), (b"imag", &self.image)] {
            if let Some(p) = probe {
                h.update(tag);
                p.iter().for_each(|v| h.update(v.to_le_bytes()));
            }
        }
        hex(&h.finalize())
    }

    /// Ok when `stored` (read from `what`, e.g. "index photos.webclip-index") comes from this model: same
    /// dimension and cosine ≥ [`SAME_MODEL_COSINE`] on every probe both have.
    pub fn check(&self, stored: &Fingerprint, what: &str) -> Result<()> {
        let remedy = "use the model it was made with, or rebuild it with this model";
        if self.dim != stored.dim {
            return Err(Error::Input(format!(
                "{what} was made with a different model: its embeddings have {} dimensions, this model's have {}; \
                 {remedy}",
                stored.dim, self.dim
            )));
        }
        let pairs = [("text", &self.text, &stored.text), ("image", &self.image, &stored.image)];
        let mut compared = false;
        for (tower, mine, theirs) in pairs {
            if let (Some(a), Some(b)) = (mine, theirs) {
                compared = true;
                let c = cosine(a, b);
                if c.is_nan() || c < SAME_MODEL_COSINE {
                    return Err(Error::Input(format!(
                        "{what} was made with a different model: the {tower} probe embeddings agree with cosine \
                         {c:.3} (the same model on any backend or quantization gives ≥ {SAME_MODEL_COSINE}); {remedy}"
                    )));
                }
            }
        }
        if !compared {
            return Err(Error::Input(format!(
                "cannot check that {what} was made with this model: they share no tower to compare probes with \
                 (a text-only and a vision-only model); load a model with both towers"
            )));
        }
        Ok(())
    }
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
