//! The JavaScript façade: `#[wasm_bindgen]` wrappers only; nothing here may panic on input.
//!
//! ```js
//! const model = await Model.fromBundle(bytes, "clip-vit-b-32.q8.webclip", "gpu"); // or "cpu"
//! const same = await Model.load(config, weights, tokenizer, preprocessor, "gpu"); // HF repo files
//! model.backend;                                  // "gpu: <adapter> (webgpu, …)" or "cpu"
//! const e = await model.embedText("a photo of a cat.");
//! ```
//! Embedding calls return Promises on both backends: a WebGPU readback completes only through the event loop.
//!
//! **Errors.** Every failure throws (or rejects with) a JavaScript `Error` whose `message` says what went wrong and
//! where, with two own properties: `code`, a stable kebab-case string to decide on (never match the message), and
//! `hint`, what to do next ("" when the message says it; hints name CLI flags such as `--backend cpu`, so a page
//! shows its own advice per code). The codes are those of `crate::Error::code` (the table in src/error.rs) plus
//! these, raised by the façade itself:
//!
//! | code               | raised by                                              | what happened                      |
//! |--------------------|--------------------------------------------------------|------------------------------------|
//! | `backend-name`     | `Model.load`, `Model.fromBundle`                       | `backend` is not "gpu" or "cpu"    |
//! | `no-labels`        | `classify`, `tag`                                      | the label list is empty            |
//! | `template`         | `classify`                                             | the template has no `{}`, or two   |
//! | `threshold`        | `tag`                                                  | the threshold is not in [0, 1]     |
//! | `caption-options`  | `caption`, `captionEmbedding`                          | `options` is not `{beam, …}`       |
//! | `embedding-length` | `captionEmbedding`, `quantizeEmbedding`, `searchIndex` | an embedding or index of the wrong length |
//! | `embedding-values` | `quantizeEmbedding`, `searchIndex`                     | an embedding holds NaN or ±Inf, or is all zeros |
//! | `js-result`        | any call returning an object                           | the result could not be built (a bug) |
//! | `threads`          | `initThreads` (the multi-threaded build only)          | the worker threads did not start   |
//!
//! A trap (a Rust panic, an allocation failure) is not one of these: it throws a `WebAssembly.RuntimeError` and
//! leaves the module unusable; load it again.

use std::rc::Rc;

use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::future_to_promise;

#[cfg(feature = "threads")]
mod threads;

use crate::backend::cpu::Cpu;
use crate::backend::gpu::Gpu;
use crate::{Checkpoint, Session};

/// A crate error as the JavaScript `Error` of the contract above.
fn js(e: crate::Error) -> JsValue {
    js_error(e.code(), &e.message(), e.hint())
}

/// `new Error(message)` with own properties `code` and `hint`.
fn js_error(code: &str, message: &str, hint: &str) -> JsValue {
    let e = js_sys::Error::new(message);
    // Reflect.set fails only on frozen or exotic objects, which a new Error is not; the message stands without them
    let _ = js_sys::Reflect::set(&e, &"code".into(), &code.into());
    let _ = js_sys::Reflect::set(&e, &"hint".into(), &hint.into());
    e.into()
}

/// The crate version, e.g. "0.1.0".
#[wasm_bindgen]
pub fn version() -> String {
    env!("CARGO_PKG_VERSION").to_string()
}

/// Which of the wasm builds runs (./build.sh makes them; the page picks one, www/lib/wasm-features.js):
/// "relaxed-simd" (SIMD128 + relaxed SIMD's int8 dot products), "simd128", or "relaxed-simd-threads" (relaxed SIMD
/// and a pool of Web Workers, [`init_threads`]). All compute the same results.
#[wasm_bindgen(js_name = cpuFeatures)]
pub fn cpu_features() -> String {
    let simd = if cfg!(target_feature = "relaxed-simd") { "relaxed-simd" } else { "simd128" };
    if cfg!(feature = "threads") {
        format!("{simd}-threads")
    } else {
        simd.to_string()
    }
}

/// Threads the CPU backend splits its matmuls across: 1 until [`init_threads`] has started a pool.
#[wasm_bindgen]
pub fn threads() -> usize {
    crate::backend::cpu::threads::available()
}

/// Multi-threaded build only: the CPU backend's matmuls are split across `n` threads from now on, the calling one
/// and `n − 1` Web Workers that share this module's memory (rayon's pool). Call it once, from a worker (the caller
/// waits for the pool with `Atomics.wait`, which a page's main thread may only imitate by spinning), in a
/// cross-origin isolated context (COOP and COEP headers: shared memory). Resolves with `n`; rejects with code
/// `threads` (`n` not 1 to 256, a second call, or the workers did not start: use a single-threaded build).
#[cfg(feature = "threads")]
#[wasm_bindgen(js_name = initThreads)]
pub async fn init_threads(n: usize) -> Result<usize, JsValue> {
    use std::sync::atomic::{AtomicBool, Ordering};
    static STARTED: AtomicBool = AtomicBool::new(false);
    if n == 0 || n > 256 {
        return Err(js_error("threads", &format!("initThreads({n}): the thread count must be 1 to 256"), ""));
    }
    if STARTED.swap(true, Ordering::SeqCst) {
        return Err(js_error("threads", "initThreads was called twice: the pool is started once per module", ""));
    }
    if n > 1 {
        threads::start(n - 1).await.map_err(|why| {
            let what = format!("the {} worker threads did not start: {why}", n - 1);
            js_error("threads", &what, "load a single-threaded build (?threads=1)")
        })?;
    }
    crate::backend::cpu::threads::set_total(n);
    Ok(n)
}

#[wasm_bindgen(start)]
fn start() {
    console_error_panic_hook::set_once();
}

/// Converts the files of a Hugging Face CLIPModel repository into a webclip bundle (Uint8Array) in the browser:
/// `quant` is "f32", "f16", "q8", "q4" or "q4+"; `towers` "both", "text" or "vision".
#[wasm_bindgen(js_name = convertCheckpoint)]
pub fn convert_checkpoint(
    config: &[u8],
    weights: Vec<u8>,
    tokenizer: Vec<u8>,
    preprocessor: Option<Vec<u8>>,
    quant: &str,
    towers: &str,
) -> Result<Vec<u8>, JsValue> {
    use crate::model::Towers;
    let policy = crate::weights::bundle::Policy::preset(quant).map_err(js)?;
    let towers = Towers::parse(towers).map_err(js)?;
    let ck = checkpoint(config, weights, tokenizer, preprocessor.as_deref()).map_err(js)?;
    ck.to_bundle(&policy, towers).map_err(js)
}

/// One session on either backend; `on!` runs the same code on whichever it is.
enum Engine {
    Cpu(Session<Cpu>),
    Gpu(Session<Gpu>),
}

macro_rules! on {
    ($engine:expr, $s:ident => $body:expr) => {
        match &*$engine {
            Engine::Cpu($s) => $body,
            Engine::Gpu($s) => $body,
        }
    };
}

// captions, tags and search (after `on!`, which it uses)
mod tasks;

/// A CLIP model loaded from the files of a Hugging Face CLIPModel repository, on WebGPU or on the CPU (wasm).
#[wasm_bindgen]
pub struct Model {
    engine: Rc<Engine>,
}

fn checkpoint(
    config: &[u8],
    weights: Vec<u8>,
    tokenizer: Vec<u8>,
    preprocessor: Option<&[u8]>,
) -> crate::Result<Checkpoint> {
    Checkpoint::from_parts(config, vec![("model.safetensors".to_string(), weights)], Some(tokenizer), preprocessor)
}

#[wasm_bindgen]
impl Model {
    /// A CPU model, synchronously. `config` = config.json, `weights` = model.safetensors, `tokenizer` =
    /// tokenizer.json, `preprocessor` = preprocessor_config.json (optional: OpenAI CLIP defaults).
    #[wasm_bindgen(constructor)]
    pub fn new(
        config: &[u8],
        weights: Vec<u8>,
        tokenizer: Vec<u8>,
        preprocessor: Option<Vec<u8>>,
    ) -> Result<Model, JsValue> {
        let checkpoint = checkpoint(config, weights, tokenizer, preprocessor.as_deref()).map_err(js)?;
        Ok(Model { engine: Rc::new(Engine::Cpu(Session::new(Cpu::default(), checkpoint).map_err(js)?)) })
    }

    /// The same files, on `backend` "gpu" (WebGPU; rejects with a message naming the fallback when the browser has
    /// no adapter) or "cpu".
    pub async fn load(
        config: Vec<u8>,
        weights: Vec<u8>,
        tokenizer: Vec<u8>,
        preprocessor: Option<Vec<u8>>,
        backend: String,
    ) -> Result<Model, JsValue> {
        let checkpoint = checkpoint(&config, weights, tokenizer, preprocessor.as_deref()).map_err(js)?;
        Model::on_backend(checkpoint, &backend).await
    }

    /// A webclip bundle (one file from `webclip convert`: weights, config, tokenizer, preprocessing), validated
    /// (format, version, sizes, SHA-256) and run on `backend` "gpu" or "cpu". `name` (the file name or URL) is used
    /// in error messages.
    #[wasm_bindgen(js_name = fromBundle)]
    pub async fn from_bundle(bytes: Vec<u8>, name: String, backend: String) -> Result<Model, JsValue> {
        let checkpoint = crate::weights::bundle::Bundle::parse(name, bytes).map_err(js)?.into_checkpoint();
        Model::on_backend(checkpoint, &backend).await
    }

    /// Which encoders the model holds: "both", "text" or "vision".
    #[wasm_bindgen(getter)]
    pub fn towers(&self) -> String {
        on!(self.engine, s => match (s.model.text.is_some(), s.model.vision.is_some()) {
            (true, true) => "both",
            (true, false) => "text",
            _ => "vision",
        })
        .to_string()
    }

    /// "cpu", or "gpu: <adapter name> (<backend>, <device type>)".
    #[wasm_bindgen(getter)]
    pub fn backend(&self) -> String {
        on!(self.engine, s => crate::backend::Backend::name(&s.backend))
    }

    /// Token ids of `text` (bos … eos, truncated to the context length).
    pub fn tokenize(&self, text: &str) -> Result<Vec<u32>, JsValue> {
        on!(self.engine, s => s.tokenizer.encode(text).map_err(js))
    }

    /// Promise of the text embedding (Float32Array, unnormalised), length = projection dim.
    #[wasm_bindgen(js_name = embedText)]
    pub fn embed_text(&self, text: String) -> js_sys::Promise {
        let engine = self.engine.clone();
        future_to_promise(async move {
            let e = on!(engine, s => s.embed_texts_async(&[text.as_str()]).await).map_err(js)?;
            Ok(js_sys::Float32Array::from(e.first().map_or(&[][..], Vec::as_slice)).into())
        })
    }

    /// Promise of the embeddings of several texts, one Float32Array each (unnormalised), batched into as few
    /// forward passes as the backend allows.
    #[wasm_bindgen(js_name = embedTexts)]
    pub fn embed_texts(&self, texts: Vec<String>) -> js_sys::Promise {
        let engine = self.engine.clone();
        future_to_promise(async move {
            let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
            let e = on!(engine, s => s.embed_texts_async(&refs).await).map_err(js)?;
            Ok(e.iter()
                .map(|v| JsValue::from(js_sys::Float32Array::from(v.as_slice())))
                .collect::<js_sys::Array>()
                .into())
        })
    }

    /// `exp(logit_scale)`: zero-shot logits are this times the cosine similarity.
    #[wasm_bindgen(getter, js_name = logitScale)]
    pub fn logit_scale(&self) -> f32 {
        on!(self.engine, s => s.logit_scale())
    }

    /// SigLIP's `logit_bias` (added to every logit before the sigmoid); 0 for CLIP.
    #[wasm_bindgen(getter, js_name = logitBias)]
    pub fn logit_bias(&self) -> f32 {
        on!(self.engine, s => s.model.logit_bias)
    }

    /// How scores are made from the logits: `"softmax"` over the labels (CLIP) or `"sigmoid"` per label (SigLIP).
    #[wasm_bindgen(getter)]
    pub fn scoring(&self) -> String {
        on!(self.engine, s => match s.scorer() {
            crate::model::Scorer::Softmax { .. } => "softmax".into(),
            crate::model::Scorer::Sigmoid { .. } => "sigmoid".into(),
        })
    }

    /// The model family (`config.json`'s `model_type`: "clip", "siglip").
    #[wasm_bindgen(getter)]
    pub fn architecture(&self) -> String {
        on!(self.engine, s => s.model.config.architecture().name().into())
    }

    /// The length of every embedding (`projection_dim`).
    #[wasm_bindgen(getter, js_name = embeddingDim)]
    pub fn embedding_dim(&self) -> usize {
        on!(self.engine, s => s.model.config.embedding_dim())
    }

    /// Promise of the image embedding (Float32Array, unnormalised) of an encoded image file (JPEG, PNG, WebP, GIF, BMP, TIFF).
    #[wasm_bindgen(js_name = embedImage)]
    pub fn embed_image(&self, bytes: Vec<u8>, name: String) -> js_sys::Promise {
        let engine = self.engine.clone();
        future_to_promise(async move {
            let e = on!(engine, s => image_embedding(s, &bytes, &name).await).map_err(js)?;
            Ok(js_sys::Float32Array::from(e.as_slice()).into())
        })
    }

    /// Promise of the zero-shot probabilities (Float32Array) of `labels` (in the given order) for an encoded image,
    /// prompts made with `template` (`{}` = the label).
    pub fn classify(&self, bytes: Vec<u8>, name: String, labels: Vec<String>, template: String) -> js_sys::Promise {
        let engine = self.engine.clone();
        future_to_promise(async move {
            if labels.is_empty() {
                return Err(js_error("no-labels", "classify: no labels given.", "Pass at least one label."));
            }
            let prompts = crate::tasks::labels::prompts(&template, &labels).map_err(|e| {
                js_error("template", &e.message(), "Put {} where the label goes, once: \"a photo of a {}.\"")
            })?;
            let refs: Vec<&str> = prompts.iter().map(String::as_str).collect();
            let probs = on!(engine, s => probabilities(s, &refs, &bytes, &name).await).map_err(js)?;
            Ok(js_sys::Float32Array::from(probs.as_slice()).into())
        })
    }
}

impl Model {
    async fn on_backend(checkpoint: Checkpoint, backend: &str) -> Result<Model, JsValue> {
        let engine = match backend {
            "cpu" => Engine::Cpu(Session::new(Cpu::default(), checkpoint).map_err(js)?),
            "gpu" | "webgpu" => {
                let gpu = Gpu::new().await.map_err(js)?;
                let session = Session::new(gpu.clone(), checkpoint).map_err(js)?;
                // weight uploads report out-of-memory asynchronously in the browser: surface it here, not later
                gpu.check("uploading the weights").await.map_err(js)?;
                Engine::Gpu(session)
            }
            other => {
                return Err(js_error(
                    "backend-name",
                    &format!("backend {other:?} is not known."),
                    "Use \"gpu\" or \"cpu\".",
                ))
            }
        };
        Ok(Model { engine: Rc::new(engine) })
    }
}

async fn image_embedding<B: crate::backend::Backend>(
    s: &Session<B>,
    bytes: &[u8],
    name: &str,
) -> crate::Result<Vec<f32>> {
    let pixels = s.pixels(bytes, name)?;
    let mut e = s.embed_images_async(std::slice::from_ref(&pixels)).await?;
    Ok(e.pop().unwrap_or_default())
}

async fn probabilities<B: crate::backend::Backend>(
    s: &Session<B>,
    prompts: &[&str],
    bytes: &[u8],
    name: &str,
) -> crate::Result<Vec<f32>> {
    let texts = s.embed_texts_async(prompts).await?;
    let pixels = s.pixels(bytes, name)?;
    Ok(s.classify_async(std::slice::from_ref(&pixels), &texts).await?.pop().unwrap_or_default())
}
