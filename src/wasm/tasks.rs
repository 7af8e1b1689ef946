//! Captions, tags and search for the page (JavaScript names in the examples):
//!
//! ```js
//! const c = await model.caption(bytes, "cat.jpg");   // {caption, score, alternatives: [{caption, score}, …]}
//! const fast = await model.caption(bytes, "cat.jpg", {beam: 1, shortlist: 2});  // 8 text passes instead of ≤ 36
//! const t = await model.tag(bytes, "cat.jpg", ["cat", "sofa"], 0.5, true); // {tags: [{tag, score}, …], scores}
//! const cache = await model.exportCaptionCache();   // Uint8Array: store it (IndexedDB) with the model
//! await model.importCaptionCache(cache);            // next visit: no vocabulary pass (rejects another model's)
//!
//! // search: the page keeps {vector, scale} per photo (e.g. IndexedDB), rows concatenated into one Int8Array
//! const {vector, scale} = quantizeEmbedding(await model.embedImage(bytes, name), 512); // dims ≤ model.embeddingDim
//! const hits = searchIndex(await model.embedText("a red car"), vectors, 512, 10); // [{index, score}, …] by cosine
//! parseLabels("cat, dog\ncat");                     // ["cat", "dog"]: the CLI's --labels rule
//! ```
//! `caption` embeds the caption vocabulary (about 1,260 short texts) on its first call per model and keeps it in
//! memory; `importCaptionCache` skips that. Tag prompts are embedded once per label and kept too. Scores are as
//! in the CLI: caption `score` = cosine(image, caption); tag score = sigmoid(exp(logit_scale) · (cos(image, "a
//! photo of a {tag}.") − cos(image, "a photo."))); search score = cosine(query, stored vector).

use std::cell::RefCell;
use std::rc::{Rc, Weak};

use serde::Serialize;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::future_to_promise;

use super::{js, js_error, Engine, Model};
use crate::backend::Backend;
use crate::tasks::caption::{CaptionOptions, Composer, Vocabulary};
use crate::tasks::prompts::PromptCache;
use crate::tasks::search;
use crate::tasks::tag::{view_pixels, Tag, Tagger, NEUTRAL_PROMPT};
use crate::Session;

/// Tag prompts: "a photo of a {tag}.", as `webclip tag`'s default.
const TAG_TEMPLATE: &str = "a photo of a {}.";
/// Embedded prompts kept per model; past this, those the current call does not use are forgotten.
const MAX_PROMPTS: usize = 4096;

/// What a model has computed for these tasks, kept while the model lives.
struct State {
    composer: RefCell<Option<Rc<Composer>>>,
    prompts: RefCell<PromptCache>,
}

impl Default for State {
    fn default() -> Self {
        State { composer: RefCell::new(None), prompts: RefCell::new(PromptCache::new(MAX_PROMPTS)) }
    }
}

thread_local! {
    /// Per model: the `Weak` keeps the engine's allocation from being reused while its entry exists, so a
    /// pointer match is always the same model; entries of dropped models are pruned on the next lookup.
    static STATES: RefCell<Vec<(Weak<Engine>, Rc<State>)>> = const { RefCell::new(Vec::new()) };
}

fn state(engine: &Rc<Engine>) -> Rc<State> {
    STATES.with(|states| {
        let mut states = states.borrow_mut();
        states.retain(|(w, _)| w.strong_count() > 0);
        let me = Rc::downgrade(engine);
        if let Some((_, s)) = states.iter().find(|(w, _)| w.ptr_eq(&me)) {
            return s.clone();
        }
        let s = Rc::new(State::default());
        states.push((me, s.clone()));
        s
    })
}

#[derive(Serialize)]
struct Tags {
    tags: Vec<Tag>,
    scores: Vec<f32>,
    /// the whole image's embedding (unnormalised, as embedImage gives it): for a search index, no second pass
    embedding: Vec<f32>,
}

fn to_js<T: Serialize>(value: &T) -> Result<JsValue, JsValue> {
    serde_wasm_bindgen::to_value(value).map_err(|e| {
        js_error(
            "js-result",
            &format!("cannot convert the result: {e}."),
            "This is a bug in webclip: please report it.",
        )
    })
}

#[wasm_bindgen]
impl Model {
    /// Promise of the caption of an encoded image: `{caption, score, alternatives: [{caption, score}, …]}`, the
    /// sentence CLIP scores highest among those the caption composer builds (see webclip's README). `options`
    /// (optional) `{beam: 3, shortlist: 3, alternatives: 4}`: text passes per caption ≤ 4 · beam · shortlist
    /// (36; `{beam: 1, shortlist: 2}` makes 8, for slow devices).
    pub fn caption(&self, bytes: Vec<u8>, name: String, options: Option<JsValue>) -> js_sys::Promise {
        let (engine, state) = (self.engine.clone(), state(&self.engine));
        future_to_promise(async move {
            let options = caption_options(options)?;
            let composer = composer(&engine, &state).await?;
            let c = on!(engine, s => caption(s, &composer, &bytes, &name, options).await).map_err(js)?;
            to_js(&c)
        })
    }

    /// [`Model::caption`] of an image already embedded (`embedImage`'s Float32Array): no image pass, only the
    /// composer's matrix-vector products and its few text passes.
    #[wasm_bindgen(js_name = captionEmbedding)]
    pub fn caption_embedding(&self, embedding: Vec<f32>, options: Option<JsValue>) -> js_sys::Promise {
        let (engine, state) = (self.engine.clone(), state(&self.engine));
        future_to_promise(async move {
            let dim = on!(engine, s => s.model.config.embedding_dim());
            if embedding.len() != dim {
                let got = embedding.len();
                return Err(js_error(
                    "embedding-length",
                    &format!("captionEmbedding: the embedding has {got} values but this model's have {dim}."),
                    "Pass what embedImage returned for this model.",
                ));
            }
            let options = caption_options(options)?;
            let composer = composer(&engine, &state).await?;
            let c = on!(engine, s => composer.caption_with_async(s, &embedding, options).await).map_err(js)?;
            to_js(&c)
        })
    }

    /// Promise of the multi-label tags of an encoded image: `{tags: [{tag, score}, …] (score ≥ threshold, best
    /// first), scores: [one per label, in order], embedding: [the whole image's embedding]}`. `crops` (default false) also scores a 2x2 grid of crops and
    /// keeps each tag's best (finds small objects; 5 image passes).
    pub fn tag(
        &self,
        bytes: Vec<u8>,
        name: String,
        labels: Vec<String>,
        threshold: f32,
        crops: Option<bool>,
    ) -> js_sys::Promise {
        let (engine, state) = (self.engine.clone(), state(&self.engine));
        future_to_promise(async move {
            if labels.is_empty() {
                return Err(js_error("no-labels", "tag: no tags given.", "Pass at least one label."));
            }
            crate::tasks::labels::check_threshold(threshold)
                .map_err(|e| js_error("threshold", &e.message(), "Pass a number from 0 to 1 (0.5 is the default)."))?;
            let mut texts: Vec<String> = labels.iter().map(|l| TAG_TEMPLATE.replace("{}", l)).collect();
            texts.push(NEUTRAL_PROMPT.to_string());
            let mut e = on!(engine, s => prompt_embeddings(s, &state, &texts).await).map_err(js)?;
            let neutral = e.pop().unwrap_or_default();
            let scorer = on!(engine, s => s.scorer());
            let tagger = Tagger::from_embeddings(labels, &e, &neutral, scorer);
            let crops = crops.unwrap_or(false);
            let views = on!(engine, s => view_embeddings(s, &bytes, &name, crops).await).map_err(js)?;
            let scores = tagger.scores(&views);
            let embedding = views.into_iter().next().unwrap_or_default();
            to_js(&Tags { tags: tagger.tags(&scores, threshold), scores, embedding })
        })
    }

    /// Promise of the caption vocabulary's embeddings for this model as bytes (a small safetensors file with
    /// the model's fingerprint): store them and give them to `importCaptionCache` next time.
    #[wasm_bindgen(js_name = exportCaptionCache)]
    pub fn export_caption_cache(&self) -> js_sys::Promise {
        let (engine, state) = (self.engine.clone(), state(&self.engine));
        future_to_promise(async move {
            let bytes = composer(&engine, &state).await?.to_bytes().map_err(js)?;
            Ok(js_sys::Uint8Array::from(bytes.as_slice()).into())
        })
    }

    /// Promise (of undefined) that loads bytes from `exportCaptionCache`; rejects, naming the reason, when they
    /// were made by another model or for another vocabulary (then `caption` simply embeds the vocabulary again).
    #[wasm_bindgen(js_name = importCaptionCache)]
    pub fn import_caption_cache(&self, bytes: Vec<u8>) -> js_sys::Promise {
        let (engine, state) = (self.engine.clone(), state(&self.engine));
        future_to_promise(async move {
            let vocab = Vocabulary::builtin().map_err(js)?;
            let options = CaptionOptions::default();
            let name = "(imported)";
            let c = on!(engine, s => Composer::from_bytes_async(s, vocab, &bytes, name, options).await).map_err(js)?;
            *state.composer.borrow_mut() = Some(Rc::new(c));
            Ok(JsValue::UNDEFINED)
        })
    }
}

/// The model's composer, built (all vocabulary prompts embedded) on first use. No borrow is held across the
/// await: two first calls at once both build, and the first to finish is kept.
async fn composer(engine: &Rc<Engine>, state: &State) -> Result<Rc<Composer>, JsValue> {
    if let Some(c) = state.composer.borrow().as_ref() {
        return Ok(c.clone());
    }
    let vocab = Vocabulary::builtin().map_err(js)?;
    let options = CaptionOptions::default();
    let built = on!(*engine, s => Composer::build_async(s, vocab, options).await).map_err(js)?;
    Ok(state.composer.borrow_mut().get_or_insert_with(|| Rc::new(built)).clone())
}

/// The optional `{beam, shortlist, alternatives}` of a caption call.
fn caption_options(options: Option<JsValue>) -> Result<CaptionOptions, JsValue> {
    let options: CaptionOptions = match options.filter(|o| !o.is_undefined() && !o.is_null()) {
        Some(o) => serde_wasm_bindgen::from_value(o).map_err(|e| {
            let hint = "Pass {beam, shortlist, alternatives} (whole numbers), or nothing for the defaults.";
            js_error("caption-options", &format!("caption options: {e}."), hint)
        })?,
        None => CaptionOptions::default(),
    };
    Ok(CaptionOptions { beam: options.beam.max(1), ..options })
}

async fn caption<B: Backend>(
    s: &Session<B>,
    composer: &Composer,
    bytes: &[u8],
    name: &str,
    options: CaptionOptions,
) -> crate::Result<crate::tasks::caption::Caption> {
    let image = super::image_embedding(s, bytes, name).await?;
    composer.caption_with_async(s, &image, options).await
}

/// Embeddings of `texts` (in order), from the model's prompt memory where possible; one pass for the rest.
async fn prompt_embeddings<B: Backend>(
    s: &Session<B>,
    state: &State,
    texts: &[String],
) -> crate::Result<Vec<Vec<f32>>> {
    let lookup = state.prompts.borrow().lookup(texts);
    let missing: Vec<&str> = lookup.missing.iter().map(String::as_str).collect();
    let embedded = if missing.is_empty() { Vec::new() } else { s.embed_texts_async(&missing).await? };
    state.prompts.borrow_mut().complete(texts, lookup, embedded)
}

async fn view_embeddings<B: Backend>(
    s: &Session<B>,
    bytes: &[u8],
    name: &str,
    crops: bool,
) -> crate::Result<Vec<Vec<f32>>> {
    let views = view_pixels(bytes, name, &s.preprocess, crops)?;
    s.embed_images_async(&views).await
}

/// The labels in `text` by webclip's one rule (src/tasks/labels.rs: split on commas and new lines, trimmed, inner
/// whitespace collapsed, duplicates dropped): what `webclip classify --labels` reads; www/lib/labels.js's
/// `parseLabels` is checked against it.
#[wasm_bindgen(js_name = parseLabels)]
pub fn parse_labels(text: &str) -> Vec<String> {
    crate::tasks::labels::parse_labels(text)
}

/// `{vector: Int8Array, scale}` of an embedding for a search index: normalised, cut to its first `dims`
/// values (0 or ≥ its length: all), normalised again, int8 with `vector · scale ≈` that unit vector.
#[wasm_bindgen(js_name = quantizeEmbedding)]
pub fn quantize_embedding(embedding: &[f32], dims: usize) -> Result<JsValue, JsValue> {
    if embedding.is_empty() {
        let hint = "Pass what embedImage or embedText returned.";
        return Err(js_error("embedding-length", "quantizeEmbedding: the embedding is empty.", hint));
    }
    if dims > embedding.len() {
        let message = format!("quantizeEmbedding: dims = {dims}, but the embedding has {} values.", embedding.len());
        return Err(js_error("embedding-length", &message, "Pass dims ≤ model.embeddingDim (0: all of them)."));
    }
    let dims = if dims == 0 { embedding.len() } else { dims };
    check_values("quantizeEmbedding", &embedding[..dims])?;
    let (q, scale) = search::quantize(embedding, dims);
    let out = js_sys::Object::new();
    let set = |k: &str, v: JsValue| js_sys::Reflect::set(&out, &k.into(), &v).map(|_| ());
    set("vector", js_sys::Int8Array::from(q.as_slice()).into())
        .and_then(|_| set("scale", scale.into()))
        .map_err(|_| js_error("js-result", "quantizeEmbedding: cannot build the result object.", ""))?;
    Ok(out.into())
}

/// An embedding (its first `dims` values) that can be normalised: finite, not all zeros.
fn check_values(call: &str, embedding: &[f32]) -> Result<(), JsValue> {
    let hint = "Pass what embedImage or embedText returned; a model whose weights hold NaN is refused at load.";
    if let Some(i) = embedding.iter().position(|v| !v.is_finite()) {
        let message = format!("{call}: the embedding has a non-finite value ({}) at index {i}.", embedding[i]);
        return Err(js_error("embedding-values", &message, hint));
    }
    if embedding.iter().all(|v| *v == 0.0) {
        let message = format!("{call}: the embedding is all zeros: it has no direction to compare.");
        return Err(js_error("embedding-values", &message, hint));
    }
    Ok(())
}

/// The `top` rows of `vectors` (Int8Array of n rows × `dims`, from `quantizeEmbedding`) closest to `query` (a
/// text or image embedding, Float32Array, any norm; cut to `dims` like the rows): `[{index, score}, …]` by
/// descending cosine.
#[wasm_bindgen(js_name = searchIndex)]
pub fn search_index(query: &[f32], vectors: &[i8], dims: usize, top: usize) -> Result<JsValue, JsValue> {
    if dims == 0 || query.len() < dims || vectors.len() % dims != 0 {
        let message = format!(
            "searchIndex: vectors ({} values) must be whole rows of dims = {dims}, and the query ({} values) at \
             least dims long.",
            vectors.len(),
            query.len()
        );
        return Err(js_error("embedding-length", &message, "Pass the dims the rows were quantized with."));
    }
    check_values("searchIndex", &query[..dims])?;
    #[derive(Serialize)]
    struct Hit {
        index: usize,
        score: f32,
    }
    let hits: Vec<Hit> = search::rank(&search::prepare(query, dims), vectors, dims, top)
        .into_iter()
        .map(|h| Hit { index: h.row, score: h.score })
        .collect();
    to_js(&hits)
}
