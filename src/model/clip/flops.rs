//! FLOPs of CLIP's towers (see `nn::flops` for what is counted).

use super::{ClipConfig, VisionConfig};
use crate::model::nn::flops::layer;

/// Tokens the vision tower runs on: the class token and one per patch.
pub fn vision_tokens(v: &VisionConfig) -> usize {
    v.num_positions()
}

/// One image: patch embedding, encoder, projection of the pooled token.
pub fn image_flops(c: &ClipConfig) -> f64 {
    let v = &c.vision;
    let (s, d) = (v.num_positions() as f64, v.hidden_size as f64);
    let patch = 2.0 * (v.grid() * v.grid()) as f64 * (v.num_channels * v.patch_size * v.patch_size) as f64 * d;
    patch + v.num_hidden_layers as f64 * layer(s, d, v.intermediate_size as f64) + 2.0 * d * c.projection_dim as f64
}

/// One text of `tokens` tokens (the tower runs on the real token count).
pub fn text_flops(c: &ClipConfig, tokens: usize) -> f64 {
    let t = &c.text;
    let (s, d) = (tokens as f64, t.hidden_size as f64);
    t.num_hidden_layers as f64 * layer(s, d, t.intermediate_size as f64) + 2.0 * d * c.projection_dim as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vit_b_32_image_is_8_8_gflop() {
        // the published figure is 4.4 GMAC per image for ViT-B/32 at 224 px
        let c = ClipConfig::from_json(b"{}").unwrap(); // CLIPConfig's defaults are ViT-B/32's
        let g = image_flops(&c) / 1e9;
        assert!((8.7..8.9).contains(&g), "{g}");
        assert_eq!(vision_tokens(&c.vision), 50);
    }
}
