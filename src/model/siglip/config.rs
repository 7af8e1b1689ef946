//! `SiglipConfig`, read from a Hugging Face `config.json` (`model_type: "siglip"`: SigLIP and the fixed-resolution
//! SigLIP 2 checkpoints). Real repos write it sparse; missing fields take `SiglipTextConfig` /
//! `SiglipVisionConfig`'s defaults (transformers 4.37 … 5.24).

use serde::Deserialize;
use serde_json::Value;

use crate::backend::Activation;
use crate::error::{Error, Result};
use crate::model::nn::{activation, check_sizes};

const FILE: &str = "config.json";

/// `SiglipTextConfig`.
#[derive(Clone, Debug, PartialEq)]
pub struct TextConfig {
    pub vocab_size: usize,
    pub hidden_size: usize,
    pub intermediate_size: usize,
    pub num_attention_heads: usize,
    pub num_hidden_layers: usize,
    /// every text is padded to exactly this many tokens (64; 16 for some so400m repos)
    pub max_position_embeddings: usize,
    pub hidden_act: Activation,
    pub layer_norm_eps: f64,
    /// output width of the text `head` (defaults to `hidden_size`; equals the vision width in every real repo)
    pub projection_size: usize,
}

/// `SiglipVisionConfig`.
#[derive(Clone, Debug, PartialEq)]
pub struct VisionConfig {
    pub hidden_size: usize,
    pub intermediate_size: usize,
    pub num_attention_heads: usize,
    pub num_hidden_layers: usize,
    pub num_channels: usize,
    pub image_size: usize,
    pub patch_size: usize,
    pub hidden_act: Activation,
    pub layer_norm_eps: f64,
}

impl VisionConfig {
    /// patches per side: `image_size // patch_size` (a valid conv: leftover rows and columns are never seen)
    pub fn grid(&self) -> usize {
        self.image_size / self.patch_size
    }
    /// tokens: one per patch, no class token
    pub fn num_patches(&self) -> usize {
        self.grid() * self.grid()
    }
}

/// `SiglipConfig`.
#[derive(Clone, Debug, PartialEq)]
pub struct SiglipConfig {
    pub text: TextConfig,
    pub vision: VisionConfig,
}

#[derive(Deserialize, Default)]
struct RawTower {
    vocab_size: Option<usize>,
    hidden_size: Option<usize>,
    intermediate_size: Option<usize>,
    num_attention_heads: Option<usize>,
    num_hidden_layers: Option<usize>,
    max_position_embeddings: Option<usize>,
    hidden_act: Option<String>,
    layer_norm_eps: Option<f64>,
    projection_size: Option<usize>,
    num_channels: Option<usize>,
    image_size: Option<usize>,
    patch_size: Option<usize>,
    vision_use_head: Option<bool>,
}

impl SiglipConfig {
    /// The config from `config.json`'s parsed JSON (`model_type` already known to be "siglip").
    pub fn from_value(root: &Value) -> Result<Self> {
        let obj = root.as_object().ok_or_else(|| Error::config(FILE, "(root)", "expected a JSON object"))?;
        let tower = |key: &str| -> Result<RawTower> {
            match obj.get(key).filter(|v| !v.is_null()) {
                Some(v) => RawTower::deserialize(v).map_err(|e| Error::config(FILE, key, e.to_string())),
                None => Ok(RawTower::default()),
            }
        };
        let (t, v) = (tower("text_config")?, tower("vision_config")?);
        if v.vision_use_head == Some(false) {
            return Err(Error::config(
                FILE,
                "vision_config.vision_use_head",
                "is false: this vision tower has no pooling head, so it makes no image embedding; webclip runs \
                 SiglipModel checkpoints with their attention-pooling head",
            ));
        }
        let act = |a: &Option<String>, field| activation(a.as_deref().unwrap_or("gelu_pytorch_tanh"), FILE, field);
        let hidden = t.hidden_size.unwrap_or(768);
        let text = TextConfig {
            vocab_size: t.vocab_size.unwrap_or(32000),
            hidden_size: hidden,
            intermediate_size: t.intermediate_size.unwrap_or(3072),
            num_attention_heads: t.num_attention_heads.unwrap_or(12),
            num_hidden_layers: t.num_hidden_layers.unwrap_or(12),
            max_position_embeddings: t.max_position_embeddings.unwrap_or(64),
            hidden_act: act(&t.hidden_act, "text_config.hidden_act")?,
            layer_norm_eps: t.layer_norm_eps.unwrap_or(1e-6),
            projection_size: t.projection_size.unwrap_or(hidden),
        };
        let vision = VisionConfig {
            hidden_size: v.hidden_size.unwrap_or(768),
            intermediate_size: v.intermediate_size.unwrap_or(3072),
            num_attention_heads: v.num_attention_heads.unwrap_or(12),
            num_hidden_layers: v.num_hidden_layers.unwrap_or(12),
            num_channels: v.num_channels.unwrap_or(3),
            image_size: v.image_size.unwrap_or(224),
            patch_size: v.patch_size.unwrap_or(16),
            hidden_act: act(&v.hidden_act, "vision_config.hidden_act")?,
            layer_norm_eps: v.layer_norm_eps.unwrap_or(1e-6),
        };
        let config = SiglipConfig { text, vision };
        config.validate()?;
        Ok(config)
    }

    /// Rejects shapes the model cannot run, naming the field.
    pub fn validate(&self) -> Result<()> {
        let (t, v) = (&self.text, &self.vision);
        let positive = [
            ("text_config.vocab_size", t.vocab_size),
            ("text_config.hidden_size", t.hidden_size),
            ("text_config.intermediate_size", t.intermediate_size),
            ("text_config.num_attention_heads", t.num_attention_heads),
            ("text_config.num_hidden_layers", t.num_hidden_layers),
            ("text_config.max_position_embeddings", t.max_position_embeddings),
            ("text_config.projection_size", t.projection_size),
            ("vision_config.hidden_size", v.hidden_size),
            ("vision_config.intermediate_size", v.intermediate_size),
            ("vision_config.num_attention_heads", v.num_attention_heads),
            ("vision_config.num_hidden_layers", v.num_hidden_layers),
            ("vision_config.image_size", v.image_size),
            ("vision_config.patch_size", v.patch_size),
        ];
        check_sizes(FILE, &positive)?;
        for (tower, hidden, heads) in [
            ("text_config", t.hidden_size, t.num_attention_heads),
            ("vision_config", v.hidden_size, v.num_attention_heads),
        ] {
            if hidden % heads != 0 {
                return Err(Error::config(
                    FILE,
                    &format!("{tower}.num_attention_heads"),
                    format!("hidden_size {hidden} is not divisible by num_attention_heads {heads}"),
                ));
            }
        }
        if v.image_size < v.patch_size {
            return Err(Error::config(
                FILE,
                "vision_config.image_size",
                format!("{} is smaller than one patch ({})", v.image_size, v.patch_size),
            ));
        }
        if t.projection_size != v.hidden_size {
            return Err(Error::config(
                FILE,
                "text_config.projection_size",
                format!(
                    "is {} but the image embeddings are {} wide (vision_config.hidden_size): they must meet in one space",
                    t.projection_size, v.hidden_size
                ),
            ));
        }
        if v.num_channels != 3 {
            return Err(Error::config(FILE, "vision_config.num_channels", "webclip reads RGB images: expected 3"));
        }
        Ok(())
    }

    /// The current HF form, every field this model reads.
    pub fn to_json(&self) -> String {
        let (t, v) = (&self.text, &self.vision);
        let value = serde_json::json!({
            "architectures": ["SiglipModel"],
            "model_type": "siglip",
            "initializer_factor": 1.0,
            "text_config": {
                "model_type": "siglip_text_model",
                "vocab_size": t.vocab_size,
                "hidden_size": t.hidden_size,
                "intermediate_size": t.intermediate_size,
                "num_attention_heads": t.num_attention_heads,
                "num_hidden_layers": t.num_hidden_layers,
                "max_position_embeddings": t.max_position_embeddings,
                "hidden_act": t.hidden_act.hf_name(),
                "layer_norm_eps": t.layer_norm_eps,
                "projection_size": t.projection_size,
            },
            "vision_config": {
                "model_type": "siglip_vision_model",
                "hidden_size": v.hidden_size,
                "intermediate_size": v.intermediate_size,
                "num_attention_heads": v.num_attention_heads,
                "num_hidden_layers": v.num_hidden_layers,
                "num_channels": v.num_channels,
                "image_size": v.image_size,
                "patch_size": v.patch_size,
                "hidden_act": v.hidden_act.hf_name(),
                "layer_norm_eps": v.layer_norm_eps,
                "vision_use_head": true,
            },
        });
        serde_json::to_string_pretty(&value).unwrap_or_default()
    }
}
