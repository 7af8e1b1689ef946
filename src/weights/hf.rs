//! A Hugging Face `CLIPModel` checkpoint: `config.json`, `model.safetensors` (or the sharded
//! `model.safetensors.index.json` + shards), `tokenizer.json`, `preprocessor_config.json`.

use std::collections::BTreeSet;
use std::path::Path;

use serde::Deserialize;

use super::bundle::Bundle;
use super::{SafetensorsFile, ShardedTensors};
use crate::error::{Error, Result};
use crate::image::PreprocessConfig;
use crate::model::{Architecture, ModelConfig, Towers};
use crate::tensor::TensorSource;

/// Everything needed to build a model, held in memory: from a Hugging Face folder or a webclip bundle.
pub struct Checkpoint {
    pub config: ModelConfig,
    /// the weights: safetensors shards (f32 on request) or a bundle (stored kinds, q8/q4 packed)
    pub tensors: Box<dyn TensorSource>,
    /// which encoders the weights hold (a tower-only bundle has one)
    pub towers: Towers,
    /// `tokenizer.json` bytes; `None` when the checkpoint has none (the bundled CLIP tokenizer is used).
    pub tokenizer_json: Option<Vec<u8>>,
    pub preprocess: PreprocessConfig,
}

#[derive(Deserialize)]
struct ShardIndex {
    weight_map: std::collections::BTreeMap<String, String>,
}

fn read(path: &Path) -> Result<Vec<u8>> {
    std::fs::read(path).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => Error::MissingFile { path: path.to_path_buf() },
        _ => Error::io(path, e),
    })
}

fn read_optional(path: &Path) -> Result<Option<Vec<u8>>> {
    if path.exists() {
        read(path).map(Some)
    } else {
        Ok(None)
    }
}

impl Checkpoint {
    /// A model as a user names it: a Hugging Face CLIPModel folder, or a webclip bundle file (`webclip convert`).
    pub fn open(path: &Path) -> Result<Self> {
        if path.is_file() {
            let name = path.file_name().map_or_else(|| path.display().to_string(), |n| n.to_string_lossy().into());
            return Ok(Bundle::parse(name, read(path)?)?.into_checkpoint());
        }
        if !path.exists() {
            return Err(Error::Input(format!(
                "model '{}' does not exist. Pass a Hugging Face CLIPModel folder (config.json, model.safetensors, \
                 tokenizer.json, preprocessor_config.json) or a webclip bundle (`webclip convert`); for a synthetic \
                 one: `webclip synth --preset tiny --out DIR`",
                path.display()
            )));
        }
        Self::from_hf_dir(path)
    }

    /// Loads a checkpoint directory as `save_pretrained` / the Hub lays it out.
    pub fn from_hf_dir(dir: &Path) -> Result<Self> {
        if !dir.is_dir() {
            return Err(Error::Input(format!(
                "model '{}' is not a directory. Pass a Hugging Face CLIPModel folder (config.json, model.safetensors, \
                 tokenizer.json, preprocessor_config.json), e.g. one made by `webclip synth --preset tiny --out DIR`.",
                dir.display()
            )));
        }
        let config = read(&dir.join("config.json"))?;
        let single = dir.join("model.safetensors");
        let index = dir.join("model.safetensors.index.json");
        let shards = if single.exists() {
            vec![("model.safetensors".to_string(), read(&single)?)]
        } else if index.exists() {
            let idx: ShardIndex = serde_json::from_slice(&read(&index)?)
                .map_err(|source| Error::Json { file: "model.safetensors.index.json".into(), source })?;
            let names: BTreeSet<&String> = idx.weight_map.values().collect();
            names.into_iter().map(|n| Ok((n.clone(), read(&dir.join(n))?))).collect::<Result<Vec<_>>>()?
        } else if dir.join("pytorch_model.bin").exists() {
            return Err(Error::Input(format!(
                "{} has pytorch_model.bin but no model.safetensors. webclip reads safetensors only (pickle files can \
                 run code). Convert once in Python: CLIPModel.from_pretrained(DIR).save_pretrained(DIR, \
                 safe_serialization=True).",
                dir.display()
            )));
        } else {
            return Err(Error::MissingFile { path: single });
        };
        let tokenizer = read_optional(&dir.join("tokenizer.json"))?;
        let preprocess = read_optional(&dir.join("preprocessor_config.json"))?;
        let mut checkpoint = Self::from_parts(&config, shards, None, preprocess.as_deref())?;
        checkpoint.tokenizer_json = match checkpoint.config.architecture() {
            Architecture::Clip => tokenizer,
            // SigLIP 1 repos ship spiece.model (and HF ignores a tokenizer.json some of them got later)
            Architecture::Siglip => {
                let spiece = read_optional(&dir.join("spiece.model"))?;
                let tokenizer = if spiece.is_some() { None } else { tokenizer };
                let tokenizer_config = read_optional(&dir.join("tokenizer_config.json"))?;
                let context = checkpoint.config.text_context();
                Some(crate::tokenizer::siglip_tokenizer_json(
                    tokenizer.as_deref(),
                    spiece.as_deref(),
                    tokenizer_config.as_deref(),
                    context,
                )?)
            }
        };
        Ok(checkpoint)
    }

    /// Tensors of the weight files that the model does not read, sorted: not an error (HF's loader ignores them
    /// too), but a sign that the files belong to another architecture or a fine-tuned head. Buffers older
    /// transformers saved (`*.position_ids`) are not listed.
    pub fn unused_tensors(&self) -> Result<Vec<String>> {
        let used: BTreeSet<String> =
            crate::model::parameters(&self.config, self.towers)?.into_iter().map(|p| p.name).collect();
        let mut unused: Vec<String> =
            self.tensors.names().into_iter().filter(|n| !used.contains(n) && !n.ends_with(".position_ids")).collect();
        unused.sort();
        Ok(unused)
    }

    /// Builds a checkpoint from file contents (the browser path: bytes fetched by the page).
    /// `shards` are `(file name, bytes)` pairs of safetensors files.
    pub fn from_parts(
        config_json: &[u8],
        shards: Vec<(String, Vec<u8>)>,
        tokenizer_json: Option<Vec<u8>>,
        preprocessor_json: Option<&[u8]>,
    ) -> Result<Self> {
        let config = ModelConfig::from_json(config_json)?;
        let files =
            shards.into_iter().map(|(name, bytes)| SafetensorsFile::parse(name, bytes)).collect::<Result<_>>()?;
        let size = config.image_size();
        let defaults = preprocess_defaults(&config);
        let preprocess = match preprocessor_json {
            Some(bytes) => preprocess_for(&config, bytes)?,
            None => defaults,
        };
        // the vision tower takes image_size × image_size pixels (its position embeddings are per patch): the
        // crop when there is one, else the resize, must give exactly that
        let side = size;
        let (field, what) = if preprocess.do_center_crop { ("crop_size", "is") } else { ("size", "resizes to") };
        match preprocess.fixed_output() {
            Some((h, w)) if h as usize == side && w as usize == side => {}
            Some((h, w)) => {
                return Err(Error::config(
                    "preprocessor_config.json",
                    field,
                    format!(
                        "{what} {h}x{w} but config.json's vision_config.image_size is {side}: the files belong to \
                         different models"
                    ),
                ))
            }
            None => {
                return Err(Error::config(
                    "preprocessor_config.json",
                    "do_center_crop",
                    format!(
                        "is false and the resize keeps each image's aspect ratio (or do_resize is false), so images \
                         would not come out {side}x{side} as config.json's vision_config.image_size needs; set \
                         do_center_crop to true with crop_size {side}, or size to {{\"height\": {side}, \"width\": {side}}}"
                    ),
                ))
            }
        }
        // SigLIP pads every text to the context: the padding goes into tokenizer.json (what a bundle stores)
        let tokenizer_json = match (config.architecture(), tokenizer_json) {
            (Architecture::Siglip, Some(json)) => {
                Some(crate::tokenizer::siglip_tokenizer_json(Some(&json), None, None, config.text_context())?)
            }
            (_, json) => json,
        };
        Ok(Checkpoint {
            config,
            tensors: Box::new(ShardedTensors { files }),
            towers: Towers::Both,
            tokenizer_json,
            preprocess,
        })
    }
}

/// The family's image processor with its defaults for this model's input size (CLIPImageProcessor,
/// SiglipImageProcessor).
fn preprocess_defaults(config: &ModelConfig) -> PreprocessConfig {
    let size = config.image_size() as u32;
    match config.architecture() {
        Architecture::Clip => PreprocessConfig::clip_default(size),
        Architecture::Siglip => PreprocessConfig::siglip_default(size),
    }
}

/// `preprocessor_config.json` read as the family's processor reads it (its defaults, its processor names).
pub(crate) fn preprocess_for(config: &ModelConfig, json: &[u8]) -> Result<PreprocessConfig> {
    let processors: &[&str] = match config.architecture() {
        Architecture::Clip => &crate::image::CLIP_PROCESSORS,
        Architecture::Siglip => &crate::image::SIGLIP_PROCESSORS,
    };
    PreprocessConfig::from_json_with(json, "preprocessor_config.json", preprocess_defaults(config), processors)
}
