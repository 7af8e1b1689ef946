//! FLOPs of SigLIP's towers (see `nn::flops` for what is counted).

use super::SiglipConfig;
use crate::model::nn::flops::layer;

/// One image: patch embedding, encoder, and the pooling head (one query over the patches, then its MLP).
pub fn image_flops(c: &SiglipConfig) -> f64 {
    let v = &c.vision;
    let (n, d, i) = (v.num_patches() as f64, v.hidden_size as f64, v.intermediate_size as f64);
    let patch = 2.0 * n * (v.num_channels * v.patch_size * v.patch_size) as f64 * d;
    let head = 2.0 * d * d * (1.0 + 2.0 * n + 1.0) + 2.0 * 2.0 * n * d + 2.0 * 2.0 * d * i; // q; k, v; out; q·k, p·v; mlp
    patch + v.num_hidden_layers as f64 * layer(n, d, i) + head
}

/// One text (always the full context: SigLIP pads every text).
pub fn text_flops(c: &SiglipConfig) -> f64 {
    let t = &c.text;
    let (s, d) = (t.max_position_embeddings as f64, t.hidden_size as f64);
    t.num_hidden_layers as f64 * layer(s, d, t.intermediate_size as f64) + 2.0 * d * t.projection_size as f64
}
