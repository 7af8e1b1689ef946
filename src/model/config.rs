//! Which family a checkpoint is, and its config: `config.json`'s `model_type` picks the [`Architecture`]; each
//! family parses the rest of the file itself.

use serde_json::Value;

use super::clip::{self, ClipConfig};
use super::siglip::{self, SiglipConfig};
use crate::error::{Error, Result};

const FILE: &str = "config.json";

/// A model family, as `config.json`'s `model_type` names it (and as a webclip bundle records it).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Architecture {
    /// `CLIPModel` (OpenAI CLIP, TinyCLIP, …)
    Clip,
    /// `SiglipModel` (SigLIP, and SigLIP 2 at a fixed resolution)
    Siglip,
}

impl Architecture {
    pub const ALL: [Architecture; 2] = [Architecture::Clip, Architecture::Siglip];

    /// The HF `model_type`.
    pub fn name(self) -> &'static str {
        match self {
            Architecture::Clip => "clip",
            Architecture::Siglip => "siglip",
        }
    }

    pub fn parse(name: &str) -> Result<Self> {
        Self::ALL.into_iter().find(|a| a.name() == name).ok_or_else(|| {
            let known: Vec<&str> = Self::ALL.iter().map(|a| a.name()).collect();
            Error::config(
                FILE,
                "model_type",
                format!(
                    "is '{name}'; webclip runs the model types {} (CLIPModel, SiglipModel — SigLIP and fixed-resolution \
                     SigLIP 2). For SigLIP 2 NaFlex (model_type siglip2) use a fixed-resolution checkpoint such as \
                     google/siglip2-base-patch16-224",
                    known.join(", ")
                ),
            )
        })
    }
}

/// A family's config, read entirely from a Hugging Face `config.json`.
#[derive(Clone, Debug, PartialEq)]
pub enum ModelConfig {
    Clip(ClipConfig),
    Siglip(SiglipConfig),
}

impl ModelConfig {
    /// Parses `config.json`: `model_type` picks the family (absent: CLIP, as old CLIP configs were written).
    pub fn from_json(bytes: &[u8]) -> Result<Self> {
        let root: Value = serde_json::from_slice(bytes).map_err(|source| Error::Json { file: FILE.into(), source })?;
        let model_type = root.get("model_type").and_then(Value::as_str).unwrap_or("clip");
        match Architecture::parse(model_type)? {
            Architecture::Clip => Ok(ModelConfig::Clip(ClipConfig::from_value(&root)?)),
            Architecture::Siglip => Ok(ModelConfig::Siglip(SiglipConfig::from_value(&root)?)),
        }
    }

    /// `config.json` as transformers writes it (every field).
    pub fn to_json(&self) -> String {
        match self {
            ModelConfig::Clip(c) => c.to_json(),
            ModelConfig::Siglip(c) => c.to_json(),
        }
    }

    pub fn architecture(&self) -> Architecture {
        match self {
            ModelConfig::Clip(_) => Architecture::Clip,
            ModelConfig::Siglip(_) => Architecture::Siglip,
        }
    }

    /// Width of the shared embedding space (CLIP's `projection_dim`).
    pub fn embedding_dim(&self) -> usize {
        match self {
            ModelConfig::Clip(c) => c.projection_dim,
            ModelConfig::Siglip(c) => c.vision.hidden_size,
        }
    }

    /// Most tokens a text may have (CLIP: 77).
    pub fn text_context(&self) -> usize {
        match self {
            ModelConfig::Clip(c) => c.text.max_position_embeddings,
            ModelConfig::Siglip(c) => c.text.max_position_embeddings,
        }
    }

    /// The side of the square images the vision tower takes.
    pub fn image_size(&self) -> usize {
        match self {
            ModelConfig::Clip(c) => c.vision.image_size,
            ModelConfig::Siglip(c) => c.vision.image_size,
        }
    }

    /// Values in one preprocessed image `(C, S, S)`.
    pub fn pixels_per_image(&self) -> usize {
        match self {
            ModelConfig::Clip(c) => c.vision.num_channels * c.vision.image_size * c.vision.image_size,
            ModelConfig::Siglip(c) => c.vision.num_channels * c.vision.image_size * c.vision.image_size,
        }
    }

    /// Bytes of the largest activation one image makes in the vision tower (the patch matrix, or an MLP activation
    /// `(tokens, intermediate)`): batches are cut so that this times the batch fits the backend.
    pub fn image_activation_bytes(&self) -> usize {
        match self {
            ModelConfig::Clip(c) => {
                let v = &c.vision;
                let patch = v.num_channels * v.patch_size * v.patch_size;
                let pixels = v.num_channels * v.image_size * v.image_size;
                4 * pixels.max(v.num_positions() * v.hidden_size.max(v.intermediate_size).max(patch))
            }
            ModelConfig::Siglip(c) => {
                let v = &c.vision;
                let patch = v.num_channels * v.patch_size * v.patch_size;
                let pixels = v.num_channels * v.image_size * v.image_size;
                4 * pixels.max(v.num_patches() * v.hidden_size.max(v.intermediate_size).max(patch))
            }
        }
    }

    /// Bytes of the largest activation one text makes (at the full context length).
    pub fn text_activation_bytes(&self) -> usize {
        match self {
            ModelConfig::Clip(c) => {
                4 * c.text.max_position_embeddings * c.text.hidden_size.max(c.text.intermediate_size)
            }
            ModelConfig::Siglip(c) => {
                4 * c.text.max_position_embeddings * c.text.hidden_size.max(c.text.intermediate_size)
            }
        }
    }

    /// FLOPs of one image through the vision tower and its projection.
    pub fn image_flops(&self) -> f64 {
        match self {
            ModelConfig::Clip(c) => clip::flops::image_flops(c),
            ModelConfig::Siglip(c) => siglip::flops::image_flops(c),
        }
    }

    /// FLOPs of one text of `tokens` tokens.
    pub fn text_flops(&self, tokens: usize) -> f64 {
        match self {
            ModelConfig::Clip(c) => clip::flops::text_flops(c, tokens),
            ModelConfig::Siglip(c) => siglip::flops::text_flops(c),
        }
    }

    /// Tokens the vision tower runs on.
    pub fn vision_tokens(&self) -> usize {
        match self {
            ModelConfig::Clip(c) => c.vision.num_positions(),
            ModelConfig::Siglip(c) => c.vision.num_patches(),
        }
    }

    /// The CLIP config, if this is CLIP.
    pub fn as_clip(&self) -> Option<&ClipConfig> {
        match self {
            ModelConfig::Clip(c) => Some(c),
            ModelConfig::Siglip(_) => None,
        }
    }
}
