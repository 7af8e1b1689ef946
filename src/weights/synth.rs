//! Synthetic checkpoints: real CLIP and SigLIP architectures with seeded random weights, written in the exact Hugging Face
//! layout. The stand-in for pretrained weights (none can be downloaded where webclip is tested).
//!
//! Every parameter is random — layer norms and biases too — so a loader that swaps, transposes or skips a
//! tensor produces different numbers. Scales keep activations O(1) through any depth:
//! weights `N(0, 1/fan_in)`, biases `N(0, 0.1²)`, layer-norm weights `1 + N(0, 0.2²)`, embeddings `N(0, 1)`.

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Normal};
use safetensors::tensor::{Dtype, TensorView};

use crate::backend::Activation;
use crate::error::{Error, Result};
use crate::model::clip::{ClipConfig, TextConfig, VisionConfig};
use crate::model::siglip::{self, SiglipConfig};
use crate::model::{self, ModelConfig, Towers};
use crate::tensor::HostTensor;

/// Named architectures.
pub const PRESETS: [&str; 8] =
    ["vit-b-32", "vit-b-16", "vit-l-14", "tinyclip-8m-16", "tiny", "siglip-b16", "siglip2-b16", "siglip-tiny"];

/// The config of a preset.
pub fn preset(name: &str) -> Result<ModelConfig> {
    match name.strip_prefix("siglip") {
        Some(_) => siglip_preset(name).map(ModelConfig::Siglip),
        None => clip_preset(name).map(ModelConfig::Clip),
    }
}

/// A SigLIP preset: google/siglip-base-patch16-224 and google/siglip2-base-patch16-224 (same shapes, T5's 32000 vs
/// Gemma's 256000 tokens; tests/fixtures/siglip/real-configs), and a test-sized one (head size 12: not a power of
/// two).
pub fn siglip_preset(name: &str) -> Result<SiglipConfig> {
    let text = |vocab, hidden, heads, layers| siglip::TextConfig {
        vocab_size: vocab,
        hidden_size: hidden,
        intermediate_size: 4 * hidden,
        num_attention_heads: heads,
        num_hidden_layers: layers,
        max_position_embeddings: 64,
        hidden_act: Activation::GeluTanh,
        layer_norm_eps: 1e-6,
        projection_size: hidden,
    };
    let vision = |hidden, heads, layers, image_size| siglip::VisionConfig {
        hidden_size: hidden,
        intermediate_size: 4 * hidden,
        num_attention_heads: heads,
        num_hidden_layers: layers,
        num_channels: 3,
        image_size,
        patch_size: 16,
        hidden_act: Activation::GeluTanh,
        layer_norm_eps: 1e-6,
    };
    let (text, vision) = match name {
        "siglip-b16" => (text(32000, 768, 12, 12), vision(768, 12, 12, 224)),
        "siglip2-b16" => (text(256000, 768, 12, 12), vision(768, 12, 12, 224)),
        "siglip-tiny" => (text(SIGLIP_STANDIN_VOCAB, 48, 4, 2), vision(48, 4, 2, 64)),
        other => return Err(Error::Input(format!("unknown preset '{other}'; choose one of {}", PRESETS.join(", ")))),
    };
    Ok(SiglipConfig { text, vision })
}

/// Tokens in the stand-in SigLIP tokenizer written with synthetic SigLIP checkpoints (src/assets/siglip).
const SIGLIP_STANDIN_VOCAB: usize = 1003;

/// The config of a CLIP preset (OpenAI's and TinyCLIP's published shapes; `tiny` is a test-sized model at 224 px).
pub fn clip_preset(name: &str) -> Result<ClipConfig> {
    let text = |hidden, layers, heads| TextConfig {
        vocab_size: 49408,
        hidden_size: hidden,
        intermediate_size: 4 * hidden,
        num_attention_heads: heads,
        num_hidden_layers: layers,
        max_position_embeddings: 77,
        hidden_act: Activation::QuickGelu,
        layer_norm_eps: 1e-5,
        eos_token_id: 49407,
        bos_token_id: 49406,
        pad_token_id: 1,
    };
    let vision = |hidden, layers, heads, patch| VisionConfig {
        hidden_size: hidden,
        intermediate_size: 4 * hidden,
        num_attention_heads: heads,
        num_hidden_layers: layers,
        num_channels: 3,
        image_size: 224,
        patch_size: patch,
        hidden_act: Activation::QuickGelu,
        layer_norm_eps: 1e-5,
    };
    let (text, vision, projection_dim) = match name {
        "vit-b-32" => (text(512, 12, 8), vision(768, 12, 12, 32), 512),
        "vit-b-16" => (text(512, 12, 8), vision(768, 12, 12, 16), 512),
        "vit-l-14" => (text(768, 12, 12), vision(1024, 24, 16, 14), 768),
        "tinyclip-8m-16" => (text(256, 3, 4), vision(256, 10, 4, 16), 512),
        "tiny" => (text(64, 2, 4), vision(64, 2, 4, 32), 64),
        other => return Err(Error::Input(format!("unknown preset '{other}'; choose one of {}", PRESETS.join(", ")))),
    };
    Ok(ClipConfig { text, vision, projection_dim, logit_scale_init_value: 2.6592 })
}

/// Storage dtype of the written safetensors file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StoreDtype {
    F32,
    F16,
    BF16,
}

/// Random parameters for `config`, named and shaped exactly as the HF model has them, drawn from one seeded
/// stream in the order the model loads them ([`model::parameters`]).
pub fn random_tensors(config: &ModelConfig, seed: u64) -> Result<Vec<HostTensor>> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    model::parameters(config, Towers::Both)?
        .into_iter()
        .map(|p| {
            let n: usize = p.shape.iter().product();
            let name = p.name.as_str();
            let data = if name == "logit_scale" {
                vec![logit_scale_init(config); n]
            } else if name == "logit_bias" {
                vec![-10.0; n] // SiglipModel.__init__
            } else {
                let (mean, std) = if name.ends_with("norm.weight")
                    || name.ends_with("norm1.weight")
                    || name.ends_with("norm2.weight")
                    || name.ends_with("layrnorm.weight")
                {
                    (1.0, 0.2)
                } else if name.ends_with(".bias") {
                    (0.0, 0.1)
                } else if name.contains("embedding") && !name.contains("patch_embedding") {
                    (0.0, 1.0)
                } else {
                    // linear / conv weight: fan_in is everything but the first dim
                    let fan_in = (n / p.shape.first().copied().unwrap_or(1).max(1)).max(1);
                    (0.0, 1.0 / (fan_in as f64).sqrt())
                };
                let dist = Normal::new(mean, std).map_err(|e| Error::Input(e.to_string()))?;
                (0..n).map(|_| dist.sample(&mut rng) as f32).collect()
            };
            Ok(HostTensor { name: p.name, shape: p.shape, data })
        })
        .collect()
}

/// The `logit_scale` a freshly initialised model has.
fn logit_scale_init(config: &ModelConfig) -> f32 {
    match config {
        ModelConfig::Clip(c) => c.logit_scale_init_value as f32,
        ModelConfig::Siglip(_) => 10f32.ln(), // SiglipModel.__init__: log(10); logit_bias starts at −10
    }
}

/// `model.safetensors` bytes for `tensors` (with HF's `{"format": "pt"}` metadata).
pub fn safetensors_bytes(tensors: &[HostTensor], dtype: StoreDtype) -> Result<Vec<u8>> {
    let encoded: Vec<(String, Vec<usize>, Vec<u8>)> = tensors
        .iter()
        .map(|t| {
            let bytes = match dtype {
                StoreDtype::F32 => bytemuck::cast_slice(&t.data).to_vec(),
                StoreDtype::F16 => t.data.iter().flat_map(|&v| half::f16::from_f32(v).to_le_bytes()).collect(),
                StoreDtype::BF16 => t.data.iter().flat_map(|&v| half::bf16::from_f32(v).to_le_bytes()).collect(),
            };
            (t.name.clone(), t.shape.clone(), bytes)
        })
        .collect();
    let st_dtype = match dtype {
        StoreDtype::F32 => Dtype::F32,
        StoreDtype::F16 => Dtype::F16,
        StoreDtype::BF16 => Dtype::BF16,
    };
    let views = encoded
        .iter()
        .map(|(name, shape, bytes)| {
            TensorView::new(st_dtype, shape.clone(), bytes)
                .map(|v| (name.clone(), v))
                .map_err(|e| Error::Safetensors { file: "model.safetensors".into(), detail: e.to_string() })
        })
        .collect::<Result<Vec<_>>>()?;
    let metadata = Some([("format".to_string(), "pt".to_string())].into_iter().collect());
    safetensors::serialize(views, metadata)
        .map_err(|e| Error::Safetensors { file: "model.safetensors".into(), detail: e.to_string() })
}

/// All files of an HF-layout checkpoint directory, as `(file name, bytes)`.
#[cfg(not(target_arch = "wasm32"))]
pub fn checkpoint_files(config: &ModelConfig, seed: u64, dtype: StoreDtype) -> Result<Vec<(String, Vec<u8>)>> {
    let tensors = random_tensors(config, seed)?;
    let size = config.image_size() as u32;
    let mut files = vec![
        ("config.json".to_string(), config.to_json().into_bytes()),
        ("model.safetensors".into(), safetensors_bytes(&tensors, dtype)?),
    ];
    match config {
        ModelConfig::Clip(_) => files.extend([
            ("tokenizer.json".into(), crate::tokenizer::BUNDLED_TOKENIZER_JSON.to_vec()),
            ("tokenizer_config.json".into(), include_bytes!("../assets/tokenizer_config.json").to_vec()),
            ("special_tokens_map.json".into(), include_bytes!("../assets/special_tokens_map.json").to_vec()),
            (
                "preprocessor_config.json".into(),
                crate::image::PreprocessConfig::clip_default(size).to_json().into_bytes(),
            ),
        ]),
        // No Gemma or T5 vocabulary can be shipped here: a small Gemma-style BPE (byte fallback, so every text
        // tokenizes) stands in, its ids within the table of any preset.
        ModelConfig::Siglip(_) => files.extend([
            ("tokenizer.json".into(), include_bytes!("../assets/siglip/tokenizer.json").to_vec()),
            ("tokenizer_config.json".into(), include_bytes!("../assets/siglip/tokenizer_config.json").to_vec()),
            (
                "preprocessor_config.json".into(),
                crate::image::PreprocessConfig::siglip_default(size).to_json().into_bytes(),
            ),
        ]),
    }
    Ok(files)
}

/// Writes a synthetic checkpoint into `dir` (created if needed).
#[cfg(not(target_arch = "wasm32"))]
pub fn write_dir(dir: &std::path::Path, config: &ModelConfig, seed: u64, dtype: StoreDtype) -> Result<()> {
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    for (name, bytes) in checkpoint_files(config, seed, dtype)? {
        let path = dir.join(name);
        std::fs::write(&path, bytes).map_err(|e| Error::io(&path, e))?;
    }
    Ok(())
}
