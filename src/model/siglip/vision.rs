//! `SiglipVisionTransformer`: patch conv (with bias) + positions (no class token) → encoder → post-layernorm →
//! the attention-pooling head (MAP). No projection: the head's output is the image embedding.

use super::VisionConfig;
use crate::backend::{Backend, Dims, Mask, Weights};
use crate::error::{Error, Result};
use crate::model::nn::{Attention, Encoder, EncoderShape, LayerNorm, Loader, Mlp};

/// `SiglipMultiheadAttentionPoolingHead`:
/// ```text
/// a = out_proj(attention(q = probe, k = v = x))      nn.MultiheadAttention, fused in_proj (q, k, v rows)
/// y = a + mlp(layernorm(a))                          (the residual is the attention output, not the probe)
/// ```
pub struct MultiheadAttentionPoolingHead<W: Weights> {
    /// `probe` `(1, 1, D)`, kept on the host: it is the only query, uploaded once per batch
    pub probe: Vec<f32>,
    pub attention: Attention<W>,
    pub layernorm: LayerNorm<W>,
    pub mlp: Mlp<W>,
}

pub struct VisionTransformer<W: Weights> {
    pub patch_embedding: W::Linear, // Conv2d(C, D, p, stride p, bias=True) as (D, C·p·p) + (D)
    pub position_embedding: W::Table, // (grid², D)
    pub encoder: Encoder<W>,
    pub post_layernorm: LayerNorm<W>,
    pub head: MultiheadAttentionPoolingHead<W>,
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
        let h = l.pp("head");
        Ok(VisionTransformer {
            patch_embedding: e.linear_shaped("patch_embedding", &[d, ch, p, p], true)?,
            position_embedding: e.table_f32("position_embedding.weight", c.num_patches(), d)?,
            encoder: Encoder::load(&l.pp("encoder"), &shape)?,
            post_layernorm: l.layer_norm("post_layernorm", d, c.layer_norm_eps)?,
            head: MultiheadAttentionPoolingHead {
                probe: h.host("probe", &[1, 1, d])?.data,
                attention: Attention::load_fused(&h.pp("attention"), d, c.num_attention_heads)?,
                layernorm: h.layer_norm("layernorm", d, c.layer_norm_eps)?,
                mlp: Mlp::load(&h.pp("mlp"), d, c.intermediate_size, c.hidden_act)?,
            },
            config: c.clone(),
        })
    }
}

impl<B: Backend> VisionTransformer<B> {
    /// `pixels`: `batch` images, each `(C, S, S)` → `get_image_features` `(batch, 1, D)`.
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
        let x = b.add_positions(&x, None, &self.position_embedding)?;
        let x = self.encoder.forward(b, x, Mask::None)?;
        let x = self.post_layernorm.forward(b, &x)?;
        self.head.forward(b, &x)
    }
}

impl<B: Backend> MultiheadAttentionPoolingHead<B> {
    /// `x` `(batch, N, D)` → `(batch, 1, D)`.
    pub fn forward(&self, b: &B, x: &B::Tensor) -> Result<B::Tensor> {
        let batch = b.dims(x).batch;
        let probe = b.upload(&self.probe.repeat(batch), Dims::new(batch, 1, self.probe.len()))?;
        let a = self.attention.forward(b, &probe, x, Mask::None)?;
        let h = self.layernorm.forward(b, &a)?;
        self.mlp.forward_residual(b, &h, &a)
    }
}
