//! SigLIP (`SiglipModel`; also the fixed-resolution SigLIP 2 checkpoints, which HF loads as `model_type: siglip`):
//! a bidirectional text transformer pooled at its last position (texts are always padded to the full length) and
//! a ViT without class token pooled by an attention head (MAP); scores are per-label
//! `sigmoid(exp(logit_scale) · cos + logit_bias)`.

mod config;
pub mod flops;
mod text;
mod vision;

pub use config::{SiglipConfig, TextConfig, VisionConfig};
pub use text::TextTransformer;
pub use vision::{MultiheadAttentionPoolingHead, VisionTransformer};

use super::nn::Loader;
use super::Towers;
use crate::backend::Weights;
use crate::error::Result;

/// The towers `towers` names, `logit_scale` (a log) and `logit_bias`.
pub struct Parts<W: Weights> {
    pub text: Option<TextTransformer<W>>,
    pub vision: Option<VisionTransformer<W>>,
    pub logit_scale: f32,
    pub logit_bias: f32,
}

/// Loads the towers `towers` names, in `SiglipModel.__init__`'s order (text, vision, logit_scale, logit_bias).
pub fn load<W: Weights>(l: &Loader<W>, config: &SiglipConfig, towers: Towers) -> Result<Parts<W>> {
    let text = towers.has_text().then(|| TextTransformer::load(&l.pp("text_model"), &config.text)).transpose()?;
    let vision =
        towers.has_vision().then(|| VisionTransformer::load(&l.pp("vision_model"), &config.vision)).transpose()?;
    let scalar = |name| l.host(name, &[1]).map(|t| t.data.first().copied().unwrap_or_default());
    Ok(Parts { text, vision, logit_scale: scalar("logit_scale")?, logit_bias: scalar("logit_bias")? })
}
