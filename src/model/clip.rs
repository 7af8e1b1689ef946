//! `CLIPModel`: both towers, their projections and the logit scale.

use super::{ClipConfig, Loader, TextTransformer, VisionTransformer};
use crate::backend::Backend;
use crate::error::{Error, Result};
use crate::weights::bundle::Towers;
use crate::weights::TensorSource;

pub struct Clip<B: Backend> {
    pub config: ClipConfig,
    /// `text_model` + `text_projection` `(P, Dt)`, no bias; `None` in a vision-only bundle
    pub text: Option<Tower<TextTransformer<B>, B::Linear>>,
    /// `vision_model` + `visual_projection` `(P, Dv)`, no bias; `None` in a text-only bundle
    pub vision: Option<Tower<VisionTransformer<B>, B::Linear>>,
    /// stored as a log: similarities are multiplied by `exp(logit_scale)`
    pub logit_scale: f32,
}

/// An encoder and the projection into the shared embedding space.
pub struct Tower<M, L> {
    pub model: M,
    pub projection: L,
}

impl<B: Backend> Clip<B> {
    /// Loads the encoders `towers` names (HF parameter names, shapes from `config`).
    pub fn load(backend: &B, source: &dyn TensorSource, config: &ClipConfig, towers: Towers) -> Result<Self> {
        let l = Loader { backend, source };
        let p = config.projection_dim;
        let logit_scale = match source.tensor("logit_scale", &[]) {
            Ok(t) => t.data,
            Err(Error::TensorShape { got, .. }) if got == [1] => source.tensor("logit_scale", &[1])?.data,
            Err(e) => return Err(e),
        };
        // The order parameters are read in is fixed — text model, vision model, visual then text projection, as
        // `CLIPModel.__init__` creates them — because synthetic checkpoints draw them from one seeded stream.
        let (has_text, has_vision) = (towers.holds("text_model."), towers.holds("vision_model."));
        let text_model = has_text.then(|| TextTransformer::load(&l, &config.text)).transpose()?;
        let vision_model = has_vision.then(|| VisionTransformer::load(&l, &config.vision)).transpose()?;
        let visual_projection =
            has_vision.then(|| l.linear("visual_projection", p, config.vision.hidden_size, false)).transpose()?;
        let text_projection =
            has_text.then(|| l.linear("text_projection", p, config.text.hidden_size, false)).transpose()?;
        let text = text_model.zip(text_projection).map(|(model, projection)| Tower { model, projection });
        let vision = vision_model.zip(visual_projection).map(|(model, projection)| Tower { model, projection });
        Ok(Clip { text, vision, logit_scale: logit_scale[0], config: config.clone() })
    }

    /// The text tower, or an error saying this is a vision-only model.
    pub fn text(&self) -> Result<&Tower<TextTransformer<B>, B::Linear>> {
        self.text.as_ref().ok_or_else(|| missing_tower("text", "vision"))
    }

    /// The vision tower, or an error saying this is a text-only model.
    pub fn vision(&self) -> Result<&Tower<VisionTransformer<B>, B::Linear>> {
        self.vision.as_ref().ok_or_else(|| missing_tower("vision", "text"))
    }

    /// `batch` preprocessed images `(batch, C, S, S)` → image embeddings `(batch, P)` (unnormalised, as
    /// `get_image_features`). The whole pass is recorded, then read back once.
    pub async fn encode_images_async(&self, b: &B, pixels: &[f32], batch: usize) -> Result<Vec<Vec<f32>>> {
        rows(b, &self.image_features(b, pixels, batch)?).await
    }

    /// The image embeddings `(batch, 1, P)` as a backend tensor, recorded but not read back (for ops that follow on
    /// the device, such as the zero-shot logits).
    pub fn image_features(&self, b: &B, pixels: &[f32], batch: usize) -> Result<B::Tensor> {
        let tower = self.vision()?;
        let pooled = tower.model.forward(b, pixels, batch)?;
        b.matmul(&pooled, &tower.projection)
    }

    /// Token ids per text → text embeddings `(batch, P)` (unnormalised, as `get_text_features`).
    pub async fn encode_texts_async(&self, b: &B, ids: &[Vec<u32>]) -> Result<Vec<Vec<f32>>> {
        let tower = self.text()?;
        let pooled = tower.model.forward(b, ids)?;
        rows(b, &b.matmul(&pooled, &tower.projection)?).await
    }

    /// [`Clip::encode_images_async`], waited for (native only: the browser cannot block on a GPU readback).
    #[cfg(not(target_arch = "wasm32"))]
    pub fn encode_images(&self, b: &B, pixels: &[f32], batch: usize) -> Result<Vec<Vec<f32>>> {
        pollster::block_on(self.encode_images_async(b, pixels, batch))
    }

    /// [`Clip::encode_texts_async`], waited for (native only).
    #[cfg(not(target_arch = "wasm32"))]
    pub fn encode_texts(&self, b: &B, ids: &[Vec<u32>]) -> Result<Vec<Vec<f32>>> {
        pollster::block_on(self.encode_texts_async(b, ids))
    }

    /// Bytes of the largest activation one image makes in the vision tower (the patch matrix, or an MLP
    /// activation `(tokens, intermediate)`): batches are cut so that this times the batch fits the backend.
    pub fn image_activation_bytes(&self) -> usize {
        let v = &self.config.vision;
        let patch = v.num_channels * v.patch_size * v.patch_size;
        let pixels = v.num_channels * v.image_size * v.image_size;
        4 * pixels.max(v.num_positions() * v.hidden_size.max(v.intermediate_size).max(patch))
    }

    /// Bytes of the largest activation one text makes (at the full context length).
    pub fn text_activation_bytes(&self) -> usize {
        let t = &self.config.text;
        4 * t.max_position_embeddings * t.hidden_size.max(t.intermediate_size)
    }
}

/// `(batch, 1, P)` → one Vec per batch item.
async fn rows<B: Backend>(b: &B, x: &B::Tensor) -> Result<Vec<Vec<f32>>> {
    let dim = b.dims(x).dim;
    Ok(b.read(x).await?.chunks_exact(dim).map(<[f32]>::to_vec).collect())
}

fn missing_tower(has_not: &str, has: &str) -> Error {
    Error::MissingTower { model: "this model".into(), has: has.into(), missing: has_not.into() }
}
