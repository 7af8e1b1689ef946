//! Model families, each written once against [`Backend`](crate::backend::Backend) with Hugging Face's module and
//! tensor names. A family is a folder (`clip/`, `siglip/`) built from the shared pieces in [`nn`]; this module is
//! the one place that knows every family: [`Architecture`] picks one from `config.json`'s `model_type`, and
//! [`Model`] holds its towers behind one interface (text ids → embedding, pixels → embedding, a [`Scorer`]).
//!
//! Adding a family: a folder with its config parser, towers and FLOPs, a variant in [`Architecture`],
//! [`ModelConfig`], [`TextTower`] and [`VisionTower`], its preprocessing defaults (`image::PreprocessConfig`) and
//! tokenizer rule (`tokenizer`).

pub mod clip;
mod config;
pub mod nn;
pub mod siglip;

pub use config::{Architecture, ModelConfig};
pub use nn::Param;

use crate::backend::{Backend, Weights};
use crate::error::{Error, Result};
use crate::tensor::TensorSource;
use nn::Loader;

/// Which encoders a model or bundle holds: a search page may ship only the text tower, a photo tagger only the
/// vision one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Towers {
    Both,
    Text,
    Vision,
}

impl Towers {
    pub fn name(self) -> &'static str {
        match self {
            Towers::Both => "both",
            Towers::Text => "text",
            Towers::Vision => "vision",
        }
    }

    pub fn parse(name: &str) -> Result<Self> {
        [Towers::Both, Towers::Text, Towers::Vision]
            .into_iter()
            .find(|t| t.name() == name)
            .ok_or_else(|| Error::Input(format!("unknown towers '{name}'; choose both, text or vision")))
    }

    /// Whether parameter `name` belongs with these towers: HF names every family's parameters under `text_model.`
    /// / `vision_model.` (CLIP's projections: `text_projection` / `visual_projection`); the logit scale and bias are
    /// in all.
    pub fn holds(self, name: &str) -> bool {
        let text = name.starts_with("text_model.") || name.starts_with("text_projection.");
        let vision = name.starts_with("vision_model.") || name.starts_with("visual_projection.");
        match self {
            Towers::Both => true,
            Towers::Text => !vision,
            Towers::Vision => !text,
        }
    }

    pub fn has_text(self) -> bool {
        self != Towers::Vision
    }

    pub fn has_vision(self) -> bool {
        self != Towers::Text
    }
}

/// How a family turns image–text similarity into scores.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Scorer {
    /// CLIP: `softmax_j(scale · cos(image, text_j))` over the labels (`scale = exp(logit_scale)`).
    Softmax { scale: f32 },
    /// SigLIP: `sigmoid(scale · cos(image, text_j) + bias)`, each label on its own.
    Sigmoid { scale: f32, bias: f32 },
}

impl Scorer {
    /// The scores of one image's cosines with every label, on the host.
    pub fn scores(self, cosines: &[f32]) -> Vec<f32> {
        match self {
            Scorer::Softmax { scale } => crate::tensor::softmax(&cosines.iter().map(|c| scale * c).collect::<Vec<_>>()),
            Scorer::Sigmoid { scale, bias } => {
                cosines.iter().map(|c| crate::tensor::sigmoid(scale * c + bias)).collect()
            }
        }
    }

    /// `exp(logit_scale)`.
    pub fn scale(self) -> f32 {
        match self {
            Scorer::Softmax { scale } | Scorer::Sigmoid { scale, .. } => scale,
        }
    }
}

/// A family's text tower with its projection or head: token ids → embeddings.
pub enum TextTower<W: Weights> {
    Clip(clip::Text<W>),
    Siglip(siglip::TextTransformer<W>),
}

/// A family's vision tower with its projection or head: pixels → embeddings.
pub enum VisionTower<W: Weights> {
    Clip(clip::Vision<W>),
    Siglip(siglip::VisionTransformer<W>),
}

/// Two towers into one embedding space and the scale (and bias) that turn their cosine into a score.
pub struct Model<W: Weights> {
    pub config: ModelConfig,
    /// `None` in a vision-only bundle
    pub text: Option<TextTower<W>>,
    /// `None` in a text-only bundle
    pub vision: Option<VisionTower<W>>,
    /// stored as a log: similarities are multiplied by `exp(logit_scale)`
    pub logit_scale: f32,
    /// SigLIP's `logit_bias`; 0 for CLIP
    pub logit_bias: f32,
}

/// The parameters a model of `config` with `towers` has, upstream names and shapes, in the order it loads them
/// (which is the order `CLIPModel.__init__` creates them for CLIP) — read from the loading code itself, with no
/// weights read or kept.
pub fn parameters(config: &ModelConfig, towers: Towers) -> Result<Vec<Param>> {
    nn::parameters_of(|l| Model::load_with(l, config, towers))
}

impl<W: Weights> Model<W> {
    /// Loads the towers `towers` names from `source` into `weights`.
    pub fn load(weights: &W, source: &dyn TensorSource, config: &ModelConfig, towers: Towers) -> Result<Self> {
        Self::load_with(&Loader::new(weights, source), config, towers)
    }

    fn load_with(l: &Loader<W>, config: &ModelConfig, towers: Towers) -> Result<Self> {
        match config {
            ModelConfig::Clip(c) => {
                let parts = clip::load(l, c, towers)?;
                Ok(Model {
                    config: config.clone(),
                    text: parts.text.map(TextTower::Clip),
                    vision: parts.vision.map(VisionTower::Clip),
                    logit_scale: parts.logit_scale,
                    logit_bias: 0.0,
                })
            }
            ModelConfig::Siglip(c) => {
                let parts = siglip::load(l, c, towers)?;
                Ok(Model {
                    config: config.clone(),
                    text: parts.text.map(TextTower::Siglip),
                    vision: parts.vision.map(VisionTower::Siglip),
                    logit_scale: parts.logit_scale,
                    logit_bias: parts.logit_bias,
                })
            }
        }
    }

    /// The text tower, or an error saying this is a vision-only model.
    pub fn text(&self) -> Result<&TextTower<W>> {
        self.text.as_ref().ok_or_else(|| missing_tower("text", "vision"))
    }

    /// The vision tower, or an error saying this is a text-only model.
    pub fn vision(&self) -> Result<&VisionTower<W>> {
        self.vision.as_ref().ok_or_else(|| missing_tower("vision", "text"))
    }

    /// How this family scores image–text pairs.
    pub fn scorer(&self) -> Scorer {
        let scale = self.logit_scale.exp();
        match self.config.architecture() {
            Architecture::Clip => Scorer::Softmax { scale },
            Architecture::Siglip => Scorer::Sigmoid { scale, bias: self.logit_bias },
        }
    }
}

impl<B: Backend> Model<B> {
    /// The image embeddings `(batch, 1, P)` of `batch` preprocessed images `(batch, C, S, S)` (unnormalised, as
    /// `get_image_features`), recorded but not read back (ops may follow on the device, e.g. the logits).
    pub fn image_features(&self, b: &B, pixels: &[f32], batch: usize) -> Result<B::Tensor> {
        match self.vision()? {
            VisionTower::Clip(v) => v.forward(b, pixels, batch),
            VisionTower::Siglip(v) => v.forward(b, pixels, batch),
        }
    }

    /// The text embeddings `(batch, 1, P)` of token ids per text (unnormalised, as `get_text_features`).
    pub fn text_features(&self, b: &B, ids: &[Vec<u32>]) -> Result<B::Tensor> {
        match self.text()? {
            TextTower::Clip(t) => t.forward(b, ids),
            TextTower::Siglip(t) => t.forward(b, ids),
        }
    }

    /// [`Model::image_features`], read back: one Vec per image. The whole pass is recorded, then read back once.
    pub async fn encode_images_async(&self, b: &B, pixels: &[f32], batch: usize) -> Result<Vec<Vec<f32>>> {
        rows(b, &self.image_features(b, pixels, batch)?).await
    }

    /// [`Model::text_features`], read back: one Vec per text.
    pub async fn encode_texts_async(&self, b: &B, ids: &[Vec<u32>]) -> Result<Vec<Vec<f32>>> {
        rows(b, &self.text_features(b, ids)?).await
    }

    /// [`Model::encode_images_async`], waited for (native only: the browser cannot block on a GPU readback).
    #[cfg(not(target_arch = "wasm32"))]
    pub fn encode_images(&self, b: &B, pixels: &[f32], batch: usize) -> Result<Vec<Vec<f32>>> {
        pollster::block_on(self.encode_images_async(b, pixels, batch))
    }

    /// [`Model::encode_texts_async`], waited for (native only).
    #[cfg(not(target_arch = "wasm32"))]
    pub fn encode_texts(&self, b: &B, ids: &[Vec<u32>]) -> Result<Vec<Vec<f32>>> {
        pollster::block_on(self.encode_texts_async(b, ids))
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
