//! The JavaScript façade: `#[wasm_bindgen]` wrappers only. Every fallible call returns `Result<_, JsError>` so
//! the page gets a message it can show; nothing here may panic on input.

use wasm_bindgen::prelude::*;

use crate::backend::cpu::Cpu;
use crate::tasks::zero_shot;
use crate::{Checkpoint, Session};

fn js(e: crate::Error) -> JsError {
    JsError::new(&e.to_string())
}

/// The crate version, e.g. "0.1.0".
#[wasm_bindgen]
pub fn version() -> String {
    env!("CARGO_PKG_VERSION").to_string()
}

#[wasm_bindgen(start)]
fn start() {
    console_error_panic_hook::set_once();
}

/// A CLIP model loaded from the files of a Hugging Face CLIPModel repository, running on the CPU (wasm).
#[wasm_bindgen]
pub struct Model {
    session: Session<Cpu>,
}

#[wasm_bindgen]
impl Model {
    /// `config` = config.json, `weights` = model.safetensors, `tokenizer` = tokenizer.json,
    /// `preprocessor` = preprocessor_config.json (optional: OpenAI CLIP defaults).
    #[wasm_bindgen(constructor)]
    pub fn new(
        config: &[u8],
        weights: Vec<u8>,
        tokenizer: Vec<u8>,
        preprocessor: Option<Vec<u8>>,
    ) -> Result<Model, JsError> {
        let checkpoint = Checkpoint::from_parts(
            config,
            vec![("model.safetensors".to_string(), weights)],
            Some(tokenizer),
            preprocessor.as_deref(),
        )
        .map_err(js)?;
        Ok(Model { session: Session::new(Cpu, checkpoint).map_err(js)? })
    }

    /// Token ids of `text` (bos … eos, truncated to the context length).
    pub fn tokenize(&self, text: &str) -> Result<Vec<u32>, JsError> {
        self.session.tokenizer.encode(text).map_err(js)
    }

    /// Text embedding (unnormalised), length = projection dim.
    #[wasm_bindgen(js_name = embedText)]
    pub fn embed_text(&self, text: &str) -> Result<Vec<f32>, JsError> {
        let mut e = self.session.embed_texts(&[text]).map_err(js)?;
        Ok(e.pop().unwrap_or_default())
    }

    /// Image embedding (unnormalised) of an encoded image file (JPEG, PNG, WebP, GIF).
    #[wasm_bindgen(js_name = embedImage)]
    pub fn embed_image(&self, bytes: &[u8], name: &str) -> Result<Vec<f32>, JsError> {
        let pixels = self.session.pixels(bytes, name).map_err(js)?;
        let mut e = self.session.embed_images(std::slice::from_ref(&pixels)).map_err(js)?;
        Ok(e.pop().unwrap_or_default())
    }

    /// Zero-shot probabilities of `labels` (in the given order) for an encoded image, prompts made with
    /// `template` (`{}` = the label).
    pub fn classify(&self, bytes: &[u8], name: &str, labels: Vec<String>, template: &str) -> Result<Vec<f32>, JsError> {
        if labels.is_empty() {
            return Err(JsError::new("no labels given: pass at least one label"));
        }
        let prompts: Vec<String> = labels.iter().map(|l| template.replace("{}", l)).collect();
        let refs: Vec<&str> = prompts.iter().map(String::as_str).collect();
        let texts = self.session.embed_texts(&refs).map_err(js)?;
        let image = self.embed_image(bytes, name)?;
        Ok(zero_shot::probabilities(&image, &texts, self.session.logit_scale()))
    }
}
