//! Which format each parameter is stored in, decided from its upstream (HF) name (CLIP and SigLIP name their
//! parameters alike).
//!
//! | parameters | format |
//! |------------|--------|
//! | layer norms (`layer_norm1/2`, `final_layer_norm`, `pre_layrnorm`, `post_layernorm`, SigLIP's `head.layernorm`), every `.bias`, `class_embedding`, SigLIP's `head.probe`, `logit_scale`, `logit_bias` | f32 (tiny; a norm or bias error shifts every token) |
//! | `position_embedding.weight` (both towers) | f16 (f32 when the default is f32): 77×512 / 50×768 values, and f16's 2⁻¹¹ relative step is far below the q8/q4 error of the token embedding they are added to |
//! | `token_embedding.weight` (49408 × D, a third of ViT-B/32's text tower) | `token_embedding`, else the default |
//! | `patch_embedding.weight` | the default, but q8 under a q4 default: 1.6% of ViT-B/32's weights, and every image patch enters through it (clip.cpp keeps it f16) |
//! | attention `q/k/v/out_proj` (SigLIP's head: `in_proj_weight`), MLP `fc1/fc2`, `visual_projection`, `text_projection`, SigLIP's text `head` | the default |
//!
//! With `keep_first_last_at_q8` and a q4 default, encoder layers 0 and N−1 of each tower and both projections (SigLIP:
//! the text head) stay
//! q8 as well (+10.5 MB on ViT-B/32: 99.4 MB instead of 88.9): the layers next to the input and the embedding see the least averaging of
//! errors.

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::model::Param;
use crate::quant::Kind;

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

    /// The format of every parameter of `params` (a model's [`crate::model::parameters`], HF names), in order.
    pub fn kinds(&self, params: &[Param]) -> Vec<Kind> {
        let layers =
            |tower: &str| params.iter().filter_map(|p| encoder_layer(&p.name, tower)).max().map_or(0, |last| last + 1);
        let (text, vision) = (layers("text_model"), layers("vision_model"));
        params.iter().map(|p| self.kind(&p.name, text, vision)).collect()
    }

    /// The format of parameter `name`, in a model whose towers have `text` and `vision` encoder layers.
    pub fn kind(&self, name: &str, text: usize, vision: usize) -> Kind {
        let promoted = if self.keep_first_last_at_q8 && self.default == Kind::Q4 { Kind::Q8 } else { self.default };
        let is_norm = ["layer_norm", "layernorm", "layrnorm"].iter().any(|n| name.contains(n));
        let small = ["logit_scale", "logit_bias"].contains(&name) || name.ends_with("class_embedding");
        if is_norm || small || name.ends_with(".bias") || name.ends_with(".probe") {
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
        } else if name.ends_with("_projection.weight") || name == "text_model.head.weight" {
            promoted
        } else {
            let first_or_last = |tower, layers| encoder_layer(name, tower).is_some_and(|i| i == 0 || i + 1 == layers);
            if first_or_last("text_model", text) || first_or_last("vision_model", vision) {
                promoted
            } else {
                self.default
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

/// The layer index `i` of `{tower}.encoder.layers.{i}.…`.
fn encoder_layer(name: &str, tower: &str) -> Option<usize> {
    let rest = name.strip_prefix(tower)?.strip_prefix(".encoder.layers.")?;
    rest.split('.').next()?.parse().ok()
}
