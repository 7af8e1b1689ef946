//! Which format each CLIP parameter is stored in, decided from its upstream (HF) name.
//!
//! | parameters | format |
//! |------------|--------|
//! | layer norms (`layer_norm1/2`, `final_layer_norm`, `pre_layrnorm`, `post_layernorm`), every `.bias`, `class_embedding`, `logit_scale` | f32 (tiny; a norm or bias error shifts every token) |
//! | `position_embedding.weight` (both towers) | f16 (f32 when the default is f32): 77×512 / 50×768 values, and f16's 2⁻¹¹ relative step is far below the q8/q4 error of the token embedding they are added to |
//! | `token_embedding.weight` (49408 × D, a third of ViT-B/32's text tower) | `token_embedding`, else the default |
//! | `patch_embedding.weight` | the default, but q8 under a q4 default: 1.6% of ViT-B/32's weights, and every image patch enters through it (clip.cpp keeps it f16) |
//! | attention `q/k/v/out_proj`, MLP `fc1/fc2`, `visual_projection`, `text_projection` | the default |
//!
//! With `keep_first_last_at_q8` and a q4 default, encoder layers 0 and N−1 of each tower and both projections stay
//! q8 as well (+10.5 MB on ViT-B/32: 99.4 MB instead of 88.9): the layers next to the input and the embedding see the least averaging of
//! errors.

use serde::{Deserialize, Serialize};

use super::Kind;
use crate::error::{Error, Result};
use crate::model::ClipConfig;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Policy {
    /// Format of the matmul weights and the projections (and the token embedding unless set below; the patch conv
    /// is q8 under a q4 default).
    pub default: Kind,
    /// Under a q4 default: encoder layers 0 and N−1 of both towers and the projections at q8.
    pub keep_first_last_at_q8: bool,
    /// Format of `text_model.embeddings.token_embedding.weight`; `None`: the default.
    pub token_embedding: Option<Kind>,
}

impl Policy {
    /// `default` everywhere it applies, no exceptions.
    pub fn uniform(default: Kind) -> Self {
        Policy { default, keep_first_last_at_q8: false, token_embedding: None }
    }

    /// The policy for a format name: `f32`, `f16`, `q8`, `q4` ([`Policy::uniform`]), or `q4+` (q4 with the
    /// first/last layers and the projections at q8).
    pub fn preset(name: &str) -> Result<Self> {
        let unknown = || Error::Input(format!("unknown weight format '{name}'; choose f32, f16, q8, q4 or q4+"));
        match name.strip_suffix('+') {
            Some("q4") => Ok(Policy { keep_first_last_at_q8: true, ..Policy::uniform(Kind::Q4) }),
            Some(_) => Err(unknown()),
            None => Kind::parse(name).map(Policy::uniform).map_err(|_| unknown()),
        }
    }

    /// The format of parameter `name` (an HF `CLIPModel` name) of a model shaped by `config`.
    pub fn kind(&self, name: &str, config: &ClipConfig) -> Kind {
        let promoted = if self.keep_first_last_at_q8 && self.default == Kind::Q4 { Kind::Q8 } else { self.default };
        let is_norm = ["layer_norm", "layernorm", "layrnorm"].iter().any(|n| name.contains(n));
        if is_norm || name == "logit_scale" || name.ends_with(".bias") || name.ends_with("class_embedding") {
            Kind::F32
        } else if name.ends_with("position_embedding.weight") {
            if self.default == Kind::F32 {
                Kind::F32
            } else {
                Kind::F16
            }
        } else if name.ends_with("token_embedding.weight") {
            self.token_embedding.unwrap_or(self.default)
        } else if name.ends_with("patch_embedding.weight") {
            if self.default == Kind::Q4 {
                Kind::Q8
            } else {
                self.default
            }
        } else if name.ends_with("_projection.weight") {
            promoted
        } else {
            match encoder_layer(name, config) {
                Some((layer, layers)) if layer == 0 || layer + 1 == layers => promoted,
                _ => self.default,
            }
        }
    }

    /// Machine-readable form, stored in the bundle.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    pub fn from_json(text: &str, file: &str) -> Result<Self> {
        serde_json::from_str(text).map_err(|source| Error::Json { file: format!("{file}: policy"), source })
    }

    /// One line for people: `q4 (q8: patch conv); token embedding q4; …`.
    pub fn describe(&self) -> String {
        let mut s = self.default.to_string();
        if self.keep_first_last_at_q8 && self.default == Kind::Q4 {
            s.push_str(" (q8: patch conv, first and last encoder layers, projections)");
        } else if self.default == Kind::Q4 {
            s.push_str(" (q8: patch conv)");
        }
        let position = if self.default == Kind::F32 { "f32" } else { "f16" };
        format!(
            "{s}; token embedding {}; position embeddings {position}; layer norms, biases, class embedding, \
             logit_scale f32",
            self.token_embedding.unwrap_or(self.default)
        )
    }
}

/// `(layer index, layers in that tower)` for `{text,vision}_model.encoder.layers.{i}.…`.
fn encoder_layer(name: &str, config: &ClipConfig) -> Option<(usize, usize)> {
    let (layers, rest) = if let Some(rest) = name.strip_prefix("text_model.encoder.layers.") {
        (config.text.num_hidden_layers, rest)
    } else {
        (config.vision.num_hidden_layers, name.strip_prefix("vision_model.encoder.layers.")?)
    };
    let index = rest.split('.').next()?.parse().ok()?;
    Some((index, layers))
}
