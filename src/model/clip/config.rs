//! CLIP architecture, read entirely from a Hugging Face `config.json`.
//!
//! Accepts the file as every transformers version writes it: the current form (`text_config` / `vision_config`
//! with every field), the 4.2x form with only non-default fields, and the old `*_config_dict` keys. Missing fields
//! take the defaults of `CLIPTextConfig` / `CLIPVisionConfig` / `CLIPConfig`.

use serde::Deserialize;
use serde_json::Value;

use crate::backend::Activation;
use crate::error::{Error, Result};
use crate::model::nn::{activation, check_sizes};

/// `CLIPTextConfig`.
#[derive(Clone, Debug, PartialEq)]
pub struct TextConfig {
    pub vocab_size: usize,
    pub hidden_size: usize,
    pub intermediate_size: usize,
    pub num_attention_heads: usize,
    pub num_hidden_layers: usize,
    /// context length (77 for every released CLIP)
    pub max_position_embeddings: usize,
    pub hidden_act: Activation,
    pub layer_norm_eps: f64,
    /// 2 in configs written before transformers 4.31: HF then pools at argmax(input_ids) instead of the first eos.
    pub eos_token_id: i64,
    pub bos_token_id: i64,
    pub pad_token_id: i64,
}

/// `CLIPVisionConfig`.
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
    /// patches per side
    pub fn grid(&self) -> usize {
        self.image_size / self.patch_size
    }
    /// tokens: class token + grid²
    pub fn num_positions(&self) -> usize {
        self.grid() * self.grid() + 1
    }
}

/// `CLIPConfig`.
#[derive(Clone, Debug, PartialEq)]
pub struct ClipConfig {
    pub text: TextConfig,
    pub vision: VisionConfig,
    pub projection_dim: usize,
    pub logit_scale_init_value: f64,
}

/// Raw fields as they may appear; everything optional so defaults can be applied per HF.
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
    eos_token_id: Option<i64>,
    bos_token_id: Option<i64>,
    pad_token_id: Option<i64>,
    num_channels: Option<usize>,
    image_size: Option<usize>,
    patch_size: Option<usize>,
}

const FILE: &str = "config.json";

impl ClipConfig {
    /// Parses a CLIP `config.json` (its `model_type`, if any, must be "clip").
    pub fn from_json(bytes: &[u8]) -> Result<Self> {
        let root: Value = serde_json::from_slice(bytes).map_err(|source| Error::Json { file: FILE.into(), source })?;
        if let Some(mt) = root.get("model_type").and_then(Value::as_str) {
            if mt != "clip" {
                return Err(Error::config(
                    FILE,
                    "model_type",
                    format!("is '{mt}'; expected a CLIPModel checkpoint (model_type \"clip\")"),
                ));
            }
        }
        Self::from_value(&root)
    }

    /// The config from `config.json`'s parsed JSON (the family is already known to be CLIP).
    pub fn from_value(root: &Value) -> Result<Self> {
        let obj = root.as_object().ok_or_else(|| Error::config(FILE, "(root)", "expected a JSON object"))?;
        let tower = |keys: [&str; 2]| -> Result<RawTower> {
            match keys.iter().find_map(|k| obj.get(*k).filter(|v| !v.is_null())) {
                Some(v) => RawTower::deserialize(v).map_err(|e| Error::config(FILE, keys[0], e.to_string())),
                None => Ok(RawTower::default()),
            }
        };
        let t = tower(["text_config", "text_config_dict"])?;
        let v = tower(["vision_config", "vision_config_dict"])?;
        let text = TextConfig {
            vocab_size: t.vocab_size.unwrap_or(49408),
            hidden_size: t.hidden_size.unwrap_or(512),
            intermediate_size: t.intermediate_size.unwrap_or(2048),
            num_attention_heads: t.num_attention_heads.unwrap_or(8),
            num_hidden_layers: t.num_hidden_layers.unwrap_or(12),
            max_position_embeddings: t.max_position_embeddings.unwrap_or(77),
            hidden_act: activation(t.hidden_act.as_deref().unwrap_or("quick_gelu"), FILE, "text_config.hidden_act")?,
            layer_norm_eps: t.layer_norm_eps.unwrap_or(1e-5),
            eos_token_id: t.eos_token_id.unwrap_or(49407),
            bos_token_id: t.bos_token_id.unwrap_or(49406),
            pad_token_id: t.pad_token_id.unwrap_or(1),
        };
        let vision = VisionConfig {
            hidden_size: v.hidden_size.unwrap_or(768),
            intermediate_size: v.intermediate_size.unwrap_or(3072),
            num_attention_heads: v.num_attention_heads.unwrap_or(12),
            num_hidden_layers: v.num_hidden_layers.unwrap_or(12),
            num_channels: v.num_channels.unwrap_or(3),
            image_size: v.image_size.unwrap_or(224),
            patch_size: v.patch_size.unwrap_or(32),
            hidden_act: activation(v.hidden_act.as_deref().unwrap_or("quick_gelu"), FILE, "vision_config.hidden_act")?,
            layer_norm_eps: v.layer_norm_eps.unwrap_or(1e-5),
        };
        let projection_dim = match obj.get("projection_dim") {
            None | Some(Value::Null) => 512,
            Some(p) => {
                p.as_u64().ok_or_else(|| Error::config(FILE, "projection_dim", "expected a positive integer"))? as usize
            }
        };
        let logit_scale_init_value = obj.get("logit_scale_init_value").and_then(Value::as_f64).unwrap_or(2.6592);
        let config = ClipConfig { text, vision, projection_dim, logit_scale_init_value };
        config.validate()?;
        Ok(config)
    }

    /// Rejects shapes the model cannot run, naming the field.
    pub fn validate(&self) -> Result<()> {
        let positive = [
            ("text_config.vocab_size", self.text.vocab_size),
            ("text_config.hidden_size", self.text.hidden_size),
            ("text_config.intermediate_size", self.text.intermediate_size),
            ("text_config.num_attention_heads", self.text.num_attention_heads),
            ("text_config.num_hidden_layers", self.text.num_hidden_layers),
            ("text_config.max_position_embeddings", self.text.max_position_embeddings),
            ("vision_config.hidden_size", self.vision.hidden_size),
            ("vision_config.intermediate_size", self.vision.intermediate_size),
            ("vision_config.num_attention_heads", self.vision.num_attention_heads),
            ("vision_config.num_hidden_layers", self.vision.num_hidden_layers),
            ("vision_config.image_size", self.vision.image_size),
            ("vision_config.patch_size", self.vision.patch_size),
            ("vision_config.num_channels", self.vision.num_channels),
            ("projection_dim", self.projection_dim),
        ];
        check_sizes(FILE, &positive)?;
        for (tower, hidden, heads) in [
            ("text_config", self.text.hidden_size, self.text.num_attention_heads),
            ("vision_config", self.vision.hidden_size, self.vision.num_attention_heads),
        ] {
            if hidden % heads != 0 {
                return Err(Error::config(
                    FILE,
                    &format!("{tower}.num_attention_heads"),
                    format!("hidden_size {hidden} is not divisible by num_attention_heads {heads}"),
                ));
            }
        }
        if !self.vision.image_size.is_multiple_of(self.vision.patch_size) {
            return Err(Error::config(
                FILE,
                "vision_config.patch_size",
                format!(
                    "image_size {} is not a multiple of patch_size {}",
                    self.vision.image_size, self.vision.patch_size
                ),
            ));
        }
        if self.vision.num_channels != 3 {
            return Err(Error::config(FILE, "vision_config.num_channels", "webclip reads RGB images: expected 3"));
        }
        Ok(())
    }

    /// The current HF form (what `save_pretrained` writes today, reduced to the fields CLIP reads).
    pub fn to_json(&self) -> String {
        let t = &self.text;
        let v = &self.vision;
        let value = serde_json::json!({
            "architectures": ["CLIPModel"],
            "model_type": "clip",
            "projection_dim": self.projection_dim,
            "logit_scale_init_value": self.logit_scale_init_value,
            "initializer_factor": 1.0,
            "text_config": {
                "model_type": "clip_text_model",
                "vocab_size": t.vocab_size,
                "hidden_size": t.hidden_size,
                "intermediate_size": t.intermediate_size,
                "num_attention_heads": t.num_attention_heads,
                "num_hidden_layers": t.num_hidden_layers,
                "max_position_embeddings": t.max_position_embeddings,
                "hidden_act": t.hidden_act.hf_name(),
                "layer_norm_eps": t.layer_norm_eps,
                "projection_dim": self.projection_dim,
                "eos_token_id": t.eos_token_id,
                "bos_token_id": t.bos_token_id,
                "pad_token_id": t.pad_token_id,
            },
            "vision_config": {
                "model_type": "clip_vision_model",
                "hidden_size": v.hidden_size,
                "intermediate_size": v.intermediate_size,
                "num_attention_heads": v.num_attention_heads,
                "num_hidden_layers": v.num_hidden_layers,
                "num_channels": v.num_channels,
                "image_size": v.image_size,
                "patch_size": v.patch_size,
                "hidden_act": v.hidden_act.hf_name(),
                "layer_norm_eps": v.layer_norm_eps,
                "projection_dim": self.projection_dim,
            },
        });
        serde_json::to_string_pretty(&value).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn old_openai_config_parses_with_eos_2() {
        // openai/clip-vit-base-patch32's own config.json (provenance in tests/assets/README.md)
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/assets/clip-vit-base-patch32/config.json");
        let bytes =
            std::fs::read(path).unwrap_or_else(|e| panic!("cannot read {path}: {e} (a file of the repository)"));
        let c = ClipConfig::from_json(&bytes).expect("parses");
        assert_eq!(c.text.eos_token_id, 2);
        assert_eq!((c.text.hidden_size, c.text.num_hidden_layers, c.text.num_attention_heads), (512, 12, 8));
        assert_eq!((c.vision.hidden_size, c.vision.patch_size, c.vision.image_size), (768, 32, 224));
        assert_eq!(c.vision.num_positions(), 50);
        assert_eq!(c.projection_dim, 512);
        assert_eq!(c.text.hidden_act, Activation::QuickGelu);
    }

    #[test]
    fn empty_config_takes_hf_defaults_and_roundtrips() {
        let c = ClipConfig::from_json(b"{}").expect("defaults");
        assert_eq!(c.vision.hidden_size, 768);
        assert_eq!(c.text.eos_token_id, 49407);
        let again = ClipConfig::from_json(c.to_json().as_bytes()).expect("roundtrip");
        assert_eq!(c, again);
    }

    #[test]
    fn bad_configs_name_the_field() {
        let err = ClipConfig::from_json(br#"{"vision_config":{"hidden_size":100,"num_attention_heads":12}}"#)
            .unwrap_err()
            .to_string();
        assert!(err.contains("vision_config.num_attention_heads"), "{err}");
        let err = ClipConfig::from_json(br#"{"text_config":{"hidden_act":"relu"}}"#).unwrap_err().to_string();
        assert!(err.contains("text_config.hidden_act") && err.contains("relu"), "{err}");
        let err = ClipConfig::from_json(br#"{"model_type":"siglip"}"#).unwrap_err().to_string();
        assert!(err.contains("siglip"), "{err}");
        // fuzz/regressions/bundle/image-size-2-40: grid² + 1 overflowed while the model loaded
        let err = ClipConfig::from_json(br#"{"vision_config":{"image_size":1099511627776,"patch_size":16}}"#)
            .unwrap_err()
            .to_string();
        assert!(err.contains("vision_config.image_size") && err.contains("1099511627776"), "{err}");
        let err = ClipConfig::from_json(b"{not json").unwrap_err().to_string();
        assert!(err.contains("config.json"), "{err}");
    }
}
