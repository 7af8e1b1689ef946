//! `CLIPVisionTransformer`: patch conv + class token + positions → pre-layernorm → encoder → class token →
//! post-layernorm.

use super::VisionConfig;
use crate::backend::{Backend, Dims, Mask, Weights};
use crate::error::{Error, Result};
use crate::model::nn::{Encoder, EncoderShape, LayerNorm, Loader};

pub struct VisionTransformer<W: Weights> {
    pub class_embedding: W::Vector,   // (D)
    pub patch_embedding: W::Linear,   // Conv2d(C, D, p, stride p, bias=False) as (D, C·p·p)
    pub position_embedding: W::Table, // (1 + grid², D)
    pub pre_layrnorm: LayerNorm<W>,   // sic: the upstream name
    pub encoder: Encoder<W>,
    pub post_layernorm: LayerNorm<W>,
    pub config: VisionConfig,
}

impl<W: Weights> VisionTransformer<W> {
    /// Loads `vision_model.*` (`l` is scoped to it).
    pub fn load(l: &Loader<W>, c: &VisionConfig) -> Result<Self> {
        let (d, p, ch) = (c.hidden_size, c.patch_size, c.num_channels);
        let shape = EncoderShape {
            hidden: d,
            intermediate: c.intermediate_size,
            heads: c.num_attention_heads,
            layers: c.num_hidden_layers,
            eps: c.layer_norm_eps,
            activation: c.hidden_act,
        };
        let e = l.pp("embeddings");
        // The conv weight is (D, C, p, p); flattened row-major it is exactly the (D, C·p·p) linear weight. Loaded
        // first: parameters are read in a fixed order (synthetic checkpoints draw them from one seeded stream).
        let patch_embedding = e.linear_shaped("patch_embedding", &[d, ch, p, p], false)?;
        Ok(VisionTransformer {
            class_embedding: e.vector("class_embedding", d)?,
            patch_embedding,
            position_embedding: e.table_f32("position_embedding.weight", c.num_positions(), d)?,
            pre_layrnorm: l.layer_norm("pre_layrnorm", d, c.layer_norm_eps)?,
            encoder: Encoder::load(&l.pp("encoder"), &shape)?,
            post_layernorm: l.layer_norm("post_layernorm", d, c.layer_norm_eps)?,
            config: c.clone(),
        })
    }
}

impl<B: Backend> VisionTransformer<B> {
    /// `pixels`: `batch` images, each `(C, S, S)` as the image processor makes them → pooled `(batch, 1, D)`.
    pub fn forward(&self, b: &B, pixels: &[f32], batch: usize) -> Result<B::Tensor> {
        let c = &self.config;
        let per_image = c.num_channels * c.image_size * c.image_size;
        if batch == 0 || pixels.len() != batch * per_image {
            return Err(Error::Input(format!(
                "vision tower expects {batch} image(s) of {}x{}x{} = {per_image} values each, got {} values",
                c.num_channels,
                c.image_size,
                c.image_size,
                pixels.len()
            )));
        }
        let x = b.upload(pixels, Dims::new(batch, 1, per_image))?;
        let patches = b.patchify(&x, c.num_channels, c.image_size, c.image_size, c.patch_size)?; // (B, G², C·p·p)
        let x = b.matmul(&patches, &self.patch_embedding)?; // (B, G², D)
        let x = b.add_positions(&x, Some(&self.class_embedding), &self.position_embedding)?; // (B, 1 + G², D)
        let x = self.pre_layrnorm.forward(b, &x)?;
        let x = self.encoder.forward(b, x, Mask::None)?;
        let seq = b.dims(&x).seq;
        let pooled = b.gather_rows(&x, &(0..batch).map(|i| i * seq).collect::<Vec<_>>())?; // class tokens
        self.post_layernorm.forward(b, &pooled)
    }
}
