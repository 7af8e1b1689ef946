//! `CLIPModel`: both towers, their projections and the logit scale.

use super::{ClipConfig, Loader, TextTransformer, VisionTransformer};
use crate::backend::Backend;
use crate::error::{Error, Result};
use crate::weights::TensorSource;

pub struct Clip<B: Backend> {
    pub config: ClipConfig,
    pub text_model: TextTransformer<B>,
    pub vision_model: VisionTransformer<B>,
    pub visual_projection: B::Linear, // (P, Dv), no bias
    pub text_projection: B::Linear,   // (P, Dt), no bias
    /// stored as a log: similarities are multiplied by `exp(logit_scale)`
    pub logit_scale: f32,
}

impl<B: Backend> Clip<B> {
    pub fn load(backend: &B, source: &dyn TensorSource, config: &ClipConfig) -> Result<Self> {
        let l = Loader { backend, source };
        let p = config.projection_dim;
        let logit_scale = match source.tensor("logit_scale", &[]) {
            Ok(t) => t.data,
            Err(Error::TensorShape { got, .. }) if got == [1] => source.tensor("logit_scale", &[1])?.data,
            Err(e) => return Err(e),
        };
        Ok(Clip {
            text_model: TextTransformer::load(&l, &config.text)?,
            vision_model: VisionTransformer::load(&l, &config.vision)?,
            visual_projection: l.linear("visual_projection", p, config.vision.hidden_size, false)?,
            text_projection: l.linear("text_projection", p, config.text.hidden_size, false)?,
            logit_scale: logit_scale[0],
            config: config.clone(),
        })
    }

    /// `batch` preprocessed images `(batch, C, S, S)` → image embeddings `(batch, P)` (unnormalised, as
    /// `get_image_features`). The whole pass is recorded, then read back once.
    pub async fn encode_images_async(&self, b: &B, pixels: &[f32], batch: usize) -> Result<Vec<Vec<f32>>> {
        let pooled = self.vision_model.forward(b, pixels, batch)?;
        rows(b, &b.matmul(&pooled, &self.visual_projection)?).await
    }

    /// Token ids per text → text embeddings `(batch, P)` (unnormalised, as `get_text_features`).
    pub async fn encode_texts_async(&self, b: &B, ids: &[Vec<u32>]) -> Result<Vec<Vec<f32>>> {
        let pooled = self.text_model.forward(b, ids)?;
        rows(b, &b.matmul(&pooled, &self.text_projection)?).await
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
