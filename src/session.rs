//! A loaded model ready to answer: backend + CLIP weights + tokenizer + image preprocessing.

use crate::backend::Backend;
use crate::error::Result;
use crate::image::{PreprocessConfig, Pixels};
use crate::model::Clip;
use crate::tokenizer::ClipTokenizer;
use crate::weights::Checkpoint;

/// Images per forward pass on the CPU: bounds activation memory (ViT-B/16: ~0.6 MB per image per layer).
const IMAGE_BATCH: usize = 8;
/// Texts per forward pass.
const TEXT_BATCH: usize = 32;

pub struct Session<B: Backend> {
    pub backend: B,
    pub model: Clip<B>,
    pub tokenizer: ClipTokenizer,
    pub preprocess: PreprocessConfig,
}

impl<B: Backend> Session<B> {
    pub fn new(backend: B, checkpoint: Checkpoint) -> Result<Self> {
        let context = checkpoint.config.text.max_position_embeddings;
        let tokenizer = match &checkpoint.tokenizer_json {
            Some(json) => ClipTokenizer::from_json(json, context)?,
            None => bundled_tokenizer(context)?,
        };
        let model = Clip::load(&backend, &checkpoint.tensors, &checkpoint.config)?;
        Ok(Session { backend, model, tokenizer, preprocess: checkpoint.preprocess })
    }

    /// Decodes and preprocesses an encoded image file (JPEG, PNG, WebP, GIF).
    pub fn pixels(&self, bytes: &[u8], source_name: &str) -> Result<Pixels> {
        crate::image::load(bytes, source_name, &self.preprocess)
    }

    /// Image embeddings `(n, P)`, unnormalised.
    pub fn embed_images(&self, images: &[Pixels]) -> Result<Vec<Vec<f32>>> {
        let mut out = Vec::with_capacity(images.len());
        for chunk in images.chunks(IMAGE_BATCH) {
            let flat: Vec<f32> = chunk.iter().flat_map(|p| p.data.iter().copied()).collect();
            out.extend(self.model.encode_images(&self.backend, &flat, chunk.len())?);
        }
        Ok(out)
    }

    /// Text embeddings `(n, P)`, unnormalised.
    pub fn embed_texts(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>> {
        let mut out = Vec::with_capacity(texts.len());
        for chunk in texts.chunks(TEXT_BATCH) {
            let ids = self.tokenizer.encode_batch(chunk)?;
            out.extend(self.model.encode_texts(&self.backend, &ids)?);
        }
        Ok(out)
    }

    /// `exp(logit_scale)`, the temperature CLIP was trained with.
    pub fn logit_scale(&self) -> f32 {
        self.model.logit_scale.exp()
    }
}

#[cfg(not(target_arch = "wasm32"))]
fn bundled_tokenizer(context: usize) -> Result<ClipTokenizer> {
    ClipTokenizer::bundled(context)
}

#[cfg(target_arch = "wasm32")]
fn bundled_tokenizer(_context: usize) -> Result<ClipTokenizer> {
    Err(crate::error::Error::Tokenizer(
        "the checkpoint has no tokenizer.json; add the model repository's tokenizer.json next to the weights".into(),
    ))
}
