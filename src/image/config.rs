//! `preprocessor_config.json` ↔ [`PreprocessConfig`]: Hugging Face CLIPImageProcessor settings.
//!
//! Reads both the old feature-extractor form (`"size": 224, "crop_size": 224`) and the current one
//! (`"size": {"shortest_edge": 224}, "crop_size": {"height": 224, "width": 224}`); a missing field takes the
//! CLIPImageProcessor default. `image_processor_type` / `feature_extractor_type`, when present, must name a CLIP
//! processor of the model's family ([`CLIP_PROCESSORS`], [`SIGLIP_PROCESSORS`]): another processor (ViT's, …) reads
//! the same fields differently, so it
//! is refused rather than run as CLIP's. Other unknown fields (`processor_class`, …) are ignored.

use serde_json::{json, Map, Value};

use super::resize::Filter;
use crate::error::{Error, Result};

/// OpenAI CLIP's per-channel mean and std (transformers' OPENAI_CLIP_MEAN / OPENAI_CLIP_STD), written as
/// transformers writes them; numpy rounds them to f32 exactly as Rust does.
#[allow(clippy::excessive_precision)]
pub const OPENAI_CLIP_MEAN: [f32; 3] = [0.48145466, 0.4578275, 0.40821073];
#[allow(clippy::excessive_precision)]
pub const OPENAI_CLIP_STD: [f32; 3] = [0.26862954, 0.26130258, 0.27577711];

/// The `image_processor_type` / `feature_extractor_type` values whose settings mean what CLIPImageProcessor's do:
/// the processor itself, its torchvision twin (same settings; webclip computes the PIL processor's pixels), and
/// the feature-extractor name older configs (openai/clip-vit-large-patch14-336) carry.
pub const CLIP_PROCESSORS: [&str; 3] = ["CLIPImageProcessor", "CLIPImageProcessorFast", "CLIPFeatureExtractor"];
/// SiglipImageProcessor and its torchvision twin (SigLIP and SigLIP 2 at a fixed resolution).
pub const SIGLIP_PROCESSORS: [&str; 2] = ["SiglipImageProcessor", "SiglipImageProcessorFast"];

/// Largest size or crop side accepted from a config; far above any CLIP model, low enough that a typo cannot
/// ask for gigabytes.
const MAX_SIDE: u32 = 4096;

/// CLIPImageProcessor settings, parsed from preprocessor_config.json.
#[derive(Debug, Clone, PartialEq)]
pub struct PreprocessConfig {
    /// `size.shortest_edge`: the short side is resized to this, the long side to
    /// `int(shortest_edge * long / short)`. Ignored when `resize_to` is set.
    pub shortest_edge: u32,
    /// `size: {"height", "width"}` (or `[h, w]`): resize to exactly (height, width), aspect not kept.
    pub resize_to: Option<(u32, u32)>,
    /// `crop_size.height`, `crop_size.width`.
    pub crop_height: u32,
    pub crop_width: u32,
    pub do_resize: bool,
    pub do_center_crop: bool,
    pub do_rescale: bool,
    /// f64 because transformers multiplies in float64 (`image.astype(float64) * scale`) before casting to f32.
    pub rescale_factor: f64,
    pub do_normalize: bool,
    /// (channel,) in RGB order; applied in f32 as transformers does.
    pub image_mean: [f32; 3],
    pub image_std: [f32; 3],
    /// Pillow filter id (PIL.Image.Resampling): 1 lanczos, 2 bilinear, 3 bicubic, 4 box, 5 hamming.
    pub resample: u32,
}

impl Default for PreprocessConfig {
    /// CLIPImageProcessor's defaults (those of openai/clip-vit-base-patch32).
    fn default() -> Self {
        PreprocessConfig::clip_default(224)
    }
}

impl PreprocessConfig {
    /// OpenAI CLIP settings for a square model input of `image_size` pixels.
    pub fn clip_default(image_size: u32) -> Self {
        PreprocessConfig {
            shortest_edge: image_size,
            resize_to: None,
            crop_height: image_size,
            crop_width: image_size,
            do_resize: true,
            do_center_crop: true,
            do_rescale: true,
            rescale_factor: 1.0 / 255.0,
            do_normalize: true,
            image_mean: OPENAI_CLIP_MEAN,
            image_std: OPENAI_CLIP_STD,
            resample: Filter::Bicubic as u32,
        }
    }

    /// SiglipImageProcessor's settings for a model input of `image_size` pixels: resize straight to a square (aspect
    /// not kept, no crop), bicubic, mean = std = 0.5.
    pub fn siglip_default(image_size: u32) -> Self {
        PreprocessConfig {
            resize_to: Some((image_size, image_size)),
            do_center_crop: false,
            image_mean: [0.5; 3],
            image_std: [0.5; 3],
            ..PreprocessConfig::clip_default(image_size)
        }
    }

    /// Parse a CLIPImageProcessor's preprocessor_config.json. `file_name` is only used in error messages.
    pub fn from_json(bytes: &[u8], file_name: &str) -> Result<Self> {
        Self::from_json_with(bytes, file_name, PreprocessConfig::default(), &CLIP_PROCESSORS)
    }

    /// Parse preprocessor_config.json; missing fields take `defaults` (the model family's processor: CLIP's or
    /// SigLIP's). With a square default (`defaults.resize_to`), a bare number `size` means height = width, as
    /// SiglipImageProcessor reads it.
    /// `image_processor_type` / `feature_extractor_type`, when present, must be one of `processors`.
    pub fn from_json_with(
        bytes: &[u8],
        file_name: &str,
        defaults: PreprocessConfig,
        processors: &[&str],
    ) -> Result<Self> {
        let value: Value =
            serde_json::from_slice(bytes).map_err(|source| Error::Json { file: file_name.to_string(), source })?;
        let Value::Object(obj) = value else {
            return Err(Error::config(
                file_name,
                "(top level)",
                "expected a JSON object of CLIPImageProcessor settings",
            ));
        };
        let f = Fields { obj: &obj, file: file_name };
        for key in ["image_processor_type", "feature_extractor_type"] {
            let Some(v) = f.get(key) else { continue };
            if !v.as_str().is_some_and(|t| processors.contains(&t)) {
                return Err(f.err(
                    key,
                    format!(
                        "is {v}, which is not this model family's processor: webclip reproduces {} for it. Use the \
                         preprocessor_config.json that came with the model",
                        processors.join(", ")
                    ),
                ));
            }
        }
        let square = defaults.resize_to.is_some();
        let mut cfg = defaults;
        cfg.do_resize = f.bool("do_resize", cfg.do_resize)?;
        cfg.do_center_crop = f.bool("do_center_crop", cfg.do_center_crop)?;
        cfg.do_rescale = f.bool("do_rescale", cfg.do_rescale)?;
        cfg.do_normalize = f.bool("do_normalize", cfg.do_normalize)?;
        // do_convert_rgb is read for validation only: webclip always converts to RGB (CLIP expects 3 channels).
        f.bool("do_convert_rgb", true)?;
        if let Some(size) = f.get("size") {
            match f.size("size", size, square)? {
                Size::ShortestEdge(s) => cfg.shortest_edge = s,
                Size::HeightWidth(h, w) => cfg.resize_to = Some((h, w)),
            }
        }
        if let Some(crop) = f.get("crop_size") {
            // With square_default an int becomes height = width, so a crop is never a shortest edge.
            if let Size::HeightWidth(h, w) = f.size("crop_size", crop, true)? {
                (cfg.crop_height, cfg.crop_width) = (h, w);
            }
        }
        if let Some(v) = f.get("rescale_factor") {
            cfg.rescale_factor = v.as_f64().filter(|x| x.is_finite() && *x > 0.0).ok_or_else(|| {
                f.err(
                    "rescale_factor",
                    format!("expected a positive number such as 0.00392156862745098 (1/255), got {v}"),
                )
            })?;
        }
        cfg.image_mean = f.triple("image_mean", cfg.image_mean, false)?;
        cfg.image_std = f.triple("image_std", cfg.image_std, true)?;
        if let Some(v) = f.get("resample") {
            let id = v
                .as_u64()
                .ok_or_else(|| f.err("resample", format!("expected a Pillow filter id (3 = bicubic), got {v}")))?;
            if u32::try_from(id).ok().and_then(Filter::from_pil).is_none() {
                return Err(f.err(
                    "resample",
                    format!(
                        "filter {id} is not supported; webclip reproduces Pillow's 1 (lanczos), 2 (bilinear), \
                         3 (bicubic), 4 (box) and 5 (hamming). CLIP uses 3."
                    ),
                ));
            }
            cfg.resample = id as u32;
        }
        Ok(cfg)
    }

    /// The current Hugging Face form, loadable by `CLIPImageProcessor.from_pretrained`.
    pub fn to_json(&self) -> String {
        let size = match self.resize_to {
            Some((h, w)) => json!({ "height": h, "width": w }),
            None => json!({ "shortest_edge": self.shortest_edge }),
        };
        let v = json!({
            "crop_size": { "height": self.crop_height, "width": self.crop_width },
            "do_center_crop": self.do_center_crop,
            "do_convert_rgb": true,
            "do_normalize": self.do_normalize,
            "do_rescale": self.do_rescale,
            "do_resize": self.do_resize,
            "image_mean": self.image_mean,
            "image_processor_type": match (self.resize_to, self.do_center_crop) {
                (Some(_), false) => "SiglipImageProcessor",
                _ => "CLIPImageProcessor",
            },
            "image_std": self.image_std,
            "resample": self.resample,
            "rescale_factor": self.rescale_factor,
            "size": size,
        });
        // Serialising a Value built from plain numbers and strings cannot fail.
        serde_json::to_string_pretty(&v).unwrap_or_default() + "\n"
    }

    /// (height, width) of every preprocessed image when it does not depend on the image: the crop with
    /// `do_center_crop`, else the exact `size: {height, width}` resize; `None` when the output follows each image's
    /// shape (a shortest-edge resize, or no resize, without a crop).
    pub fn fixed_output(&self) -> Option<(u32, u32)> {
        if self.do_center_crop {
            Some((self.crop_height, self.crop_width))
        } else if self.do_resize {
            self.resize_to
        } else {
            None
        }
    }

    /// The resize filter (the id was validated when the config was built from JSON; a hand-built config with
    /// an unsupported id falls back to bicubic, CLIP's filter).
    pub fn filter(&self) -> Filter {
        Filter::from_pil(self.resample).unwrap_or(Filter::Bicubic)
    }
}

enum Size {
    ShortestEdge(u32),
    HeightWidth(u32, u32),
}

/// Field readers that name the file and field in every error.
struct Fields<'a> {
    obj: &'a Map<String, Value>,
    file: &'a str,
}

impl Fields<'_> {
    fn err(&self, field: &str, problem: impl Into<String>) -> Error {
        Error::config(self.file, field, problem)
    }

    /// A present, non-null field.
    fn get(&self, key: &str) -> Option<&Value> {
        self.obj.get(key).filter(|v| !v.is_null())
    }

    fn bool(&self, key: &str, default: bool) -> Result<bool> {
        match self.get(key) {
            None => Ok(default),
            Some(v) => v.as_bool().ok_or_else(|| self.err(key, format!("expected true or false, got {v}"))),
        }
    }

    fn side(&self, key: &str, v: &Value) -> Result<u32> {
        v.as_u64()
            .filter(|&s| (1..=u64::from(MAX_SIDE)).contains(&s))
            .map(|s| s as u32)
            .ok_or_else(|| self.err(key, format!("expected a whole number of pixels in 1..={MAX_SIDE}, got {v}")))
    }

    /// transformers' get_size_dict: an int means {"shortest_edge": n} for `size` (CLIP's default_to_square =
    /// False) and {"height": n, "width": n} for `crop_size`; a [h, w] list means height and width.
    fn size(&self, key: &str, v: &Value, square_default: bool) -> Result<Size> {
        let expected = "expected 224, {\"shortest_edge\": 224}, {\"height\": 224, \"width\": 224} or [224, 224]";
        match v {
            Value::Number(_) => {
                let s = self.side(key, v)?;
                Ok(if square_default { Size::HeightWidth(s, s) } else { Size::ShortestEdge(s) })
            }
            Value::Array(a) if a.len() == 2 => Ok(Size::HeightWidth(self.side(key, &a[0])?, self.side(key, &a[1])?)),
            Value::Object(m) => {
                let keys: Vec<&str> = m.keys().map(String::as_str).collect();
                match (m.get("shortest_edge"), m.get("height"), m.get("width")) {
                    (Some(s), None, None) if m.len() == 1 && !square_default => {
                        Ok(Size::ShortestEdge(self.side(&format!("{key}.shortest_edge"), s)?))
                    }
                    (None, Some(h), Some(w)) if m.len() == 2 => Ok(Size::HeightWidth(
                        self.side(&format!("{key}.height"), h)?,
                        self.side(&format!("{key}.width"), w)?,
                    )),
                    _ => Err(self.err(
                        key,
                        format!("keys {keys:?} are not supported ({expected}; longest_edge and max_height/max_width are not CLIP settings)"),
                    )),
                }
            }
            _ => Err(self.err(key, format!("{expected}, got {v}"))),
        }
    }

    /// image_mean / image_std: three numbers (RGB) or one number for all channels.
    fn triple(&self, key: &str, default: [f32; 3], nonzero: bool) -> Result<[f32; 3]> {
        let Some(v) = self.get(key) else { return Ok(default) };
        let nums: Option<Vec<f64>> = match v {
            Value::Number(n) => n.as_f64().map(|x| vec![x; 3]),
            Value::Array(a) if a.len() == 3 => a.iter().map(Value::as_f64).collect(),
            _ => None,
        };
        let nums = nums.ok_or_else(|| self.err(key, format!("expected 3 numbers (R, G, B) or one number, got {v}")))?;
        let out = [nums[0] as f32, nums[1] as f32, nums[2] as f32];
        if out.iter().any(|x| !x.is_finite() || (nonzero && *x == 0.0)) {
            let what = if nonzero { "finite and non-zero" } else { "finite" };
            return Err(self.err(key, format!("every value must be {what} in f32, got {v}")));
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_through_json() {
        let mut cfg = PreprocessConfig::clip_default(336);
        cfg.crop_width = 300;
        let back = PreprocessConfig::from_json(cfg.to_json().as_bytes(), "x.json").unwrap();
        assert_eq!(back, cfg);
    }

    #[test]
    fn clip_processor_names_are_accepted() {
        for name in CLIP_PROCESSORS {
            for key in ["image_processor_type", "feature_extractor_type"] {
                let json = format!(r#"{{"{key}": "{name}", "processor_class": "CLIPProcessor"}}"#);
                assert_eq!(
                    PreprocessConfig::from_json(json.as_bytes(), "p.json").unwrap(),
                    PreprocessConfig::default()
                );
            }
        }
    }

    #[test]
    fn fixed_output_follows_do_center_crop() {
        let mut cfg = PreprocessConfig::clip_default(224);
        cfg.crop_width = 200;
        assert_eq!(cfg.fixed_output(), Some((224, 200)));
        cfg.do_center_crop = false;
        assert_eq!(cfg.fixed_output(), None, "a shortest-edge resize without a crop follows the image");
        cfg.resize_to = Some((256, 256));
        assert_eq!(cfg.fixed_output(), Some((256, 256)));
        cfg.do_resize = false;
        assert_eq!(cfg.fixed_output(), None);
    }

    #[test]
    fn bad_fields_name_the_field() {
        for (json, field) in [
            (r#"{"size": {"longest_edge": 224}}"#, "size"),
            (r#"{"crop_size": {"height": 0, "width": 224}}"#, "crop_size.height"),
            (r#"{"image_std": [0.2, 0, 0.3]}"#, "image_std"),
            (r#"{"resample": 0}"#, "resample"),
            (r#"{"do_resize": "yes"}"#, "do_resize"),
            (r#"{"image_processor_type": "SiglipImageProcessor"}"#, "image_processor_type"),
            (r#"{"feature_extractor_type": "ViTFeatureExtractor"}"#, "feature_extractor_type"),
            (r#"{"image_processor_type": 3}"#, "image_processor_type"),
        ] {
            match PreprocessConfig::from_json(json.as_bytes(), "p.json") {
                Err(Error::Config { file, field: f, .. }) => assert_eq!((file.as_str(), f.as_str()), ("p.json", field)),
                other => panic!("{json}: expected a Config error, got {other:?}"),
            }
        }
    }
}
