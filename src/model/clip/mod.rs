//! OpenAI CLIP (`CLIPModel`): a causal text transformer pooled at the end-of-text token and a ViT pooled at its
//! class token, each projected without bias into the shared space; zero-shot scores are
//! `softmax(exp(logit_scale) · cos)`.

mod config;
pub mod flops;
mod text;
mod vision;

pub use config::{ClipConfig, TextConfig, VisionConfig};
pub use text::TextTransformer;
pub use vision::VisionTransformer;

use super::nn::Loader;
use super::Towers;
use crate::backend::{Backend, Weights};
use crate::error::{Error, Result};

/// `text_model` + `text_projection` `(P, Dt)`, no bias.
pub struct Text<W: Weights> {
    pub text_model: TextTransformer<W>,
    pub text_projection: W::Linear,
}

/// `vision_model` + `visual_projection` `(P, Dv)`, no bias.
pub struct Vision<W: Weights> {
    pub vision_model: VisionTransformer<W>,
    pub visual_projection: W::Linear,
}

/// The towers `towers` names and `logit_scale` (stored as a log).
pub struct Parts<W: Weights> {
    pub text: Option<Text<W>>,
    pub vision: Option<Vision<W>>,
    pub logit_scale: f32,
}

/// Loads the towers `towers` names (HF parameter names, shapes from `config`).
pub fn load<W: Weights>(l: &Loader<W>, config: &ClipConfig, towers: Towers) -> Result<Parts<W>> {
    let p = config.projection_dim;
    let logit_scale = match l.host("logit_scale", &[]) {
        Ok(t) => t.data,
        Err(Error::TensorShape { got, .. }) if got == [1] => l.host("logit_scale", &[1])?.data,
        Err(e) => return Err(e),
    };
    // The order parameters are read in is fixed — text model, vision model, visual then text projection, as
    // `CLIPModel.__init__` creates them — because synthetic checkpoints draw them from one seeded stream.
    let (has_text, has_vision) = (towers.has_text(), towers.has_vision());
    let text_model = has_text.then(|| TextTransformer::load(&l.pp("text_model"), &config.text)).transpose()?;
    let vision_model =
        has_vision.then(|| VisionTransformer::load(&l.pp("vision_model"), &config.vision)).transpose()?;
    let visual_projection =
        has_vision.then(|| l.linear("visual_projection", p, config.vision.hidden_size, false)).transpose()?;
    let text_projection =
        has_text.then(|| l.linear("text_projection", p, config.text.hidden_size, false)).transpose()?;
    Ok(Parts {
        text: text_model.zip(text_projection).map(|(text_model, text_projection)| Text { text_model, text_projection }),
        vision: vision_model
            .zip(visual_projection)
            .map(|(vision_model, visual_projection)| Vision { vision_model, visual_projection }),
        logit_scale: logit_scale.first().copied().unwrap_or_default(),
    })
}

impl<B: Backend> Text<B> {
    /// Token ids per text → `get_text_features` `(batch, 1, P)`.
    pub fn forward(&self, b: &B, ids: &[Vec<u32>]) -> Result<B::Tensor> {
        b.matmul(&self.text_model.forward(b, ids)?, &self.text_projection)
    }
}

impl<B: Backend> Vision<B> {
    /// `batch` images `(C, S, S)` → `get_image_features` `(batch, 1, P)`.
    pub fn forward(&self, b: &B, pixels: &[f32], batch: usize) -> Result<B::Tensor> {
        b.matmul(&self.vision_model.forward(b, pixels, batch)?, &self.visual_projection)
    }
}
