//! A loaded model ready to answer: backend + weights (any family) + tokenizer + image preprocessing.

use crate::backend::{Backend, Dims};
use crate::error::Result;
use crate::image::{Pixels, PreprocessConfig};
use crate::model::{Architecture, Model, Scorer};
use crate::tokenizer::TextTokenizer;
use crate::weights::Checkpoint;

/// Images per forward pass at most: bounds activation memory (ViT-B/16: ~0.6 MB per image per layer). A GPU also
/// cuts batches so that every activation fits its storage-binding limit ([`Backend::max_tensor_bytes`]).
const IMAGE_BATCH: usize = 8;
/// Texts per forward pass at most.
const TEXT_BATCH: usize = 32;

pub struct Session<B: Backend> {
    pub backend: B,
    pub model: Model<B>,
    pub tokenizer: TextTokenizer,
    pub preprocess: PreprocessConfig,
}

/// Label embeddings on the backend, each row normalised: `(labels, 1, P)` ([`Session::label_embeddings`]).
pub struct LabelEmbeddings<B: Backend> {
    unit: B::Tensor,
    count: usize,
}

impl<B: Backend> LabelEmbeddings<B> {
    pub fn len(&self) -> usize {
        self.count
    }

    pub fn is_empty(&self) -> bool {
        self.count == 0
    }
}

impl<B: Backend> Session<B> {
    pub fn new(backend: B, checkpoint: Checkpoint) -> Result<Self> {
        Self::with_checkpoint(backend, &checkpoint)
    }

    /// [`Session::new`] without consuming the checkpoint (the weights are uploaded or packed from it; it can still
    /// be converted or build another session afterwards).
    pub fn with_checkpoint(backend: B, checkpoint: &Checkpoint) -> Result<Self> {
        let tokenizer = text_tokenizer(&checkpoint.config, checkpoint.tokenizer_json.as_deref())?;
        let model = Model::load(&backend, checkpoint.tensors.as_ref(), &checkpoint.config, checkpoint.towers)?;
        Ok(Session { backend, model, tokenizer, preprocess: checkpoint.preprocess.clone() })
    }

    /// Decodes and preprocesses an encoded image file (JPEG, PNG, WebP, GIF, BMP, TIFF).
    pub fn pixels(&self, bytes: &[u8], source_name: &str) -> Result<Pixels> {
        crate::image::load(bytes, source_name, &self.preprocess)
    }

    /// Image embeddings `(n, P)`, unnormalised: one forward pass (and one readback) per batch.
    pub async fn embed_images_async(&self, images: &[Pixels]) -> Result<Vec<Vec<f32>>> {
        let per_pass = self.per_pass(self.model.config.image_activation_bytes(), IMAGE_BATCH);
        let mut out = Vec::with_capacity(images.len());
        for chunk in images.chunks(per_pass) {
            let flat: Vec<f32> = chunk.iter().flat_map(|p| p.data.iter().copied()).collect();
            out.extend(self.model.encode_images_async(&self.backend, &flat, chunk.len()).await?);
        }
        Ok(out)
    }

    /// Text embeddings `(n, P)`, unnormalised.
    pub async fn embed_texts_async(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>> {
        let per_pass = self.per_pass(self.model.config.text_activation_bytes(), TEXT_BATCH);
        let mut out = Vec::with_capacity(texts.len());
        for chunk in texts.chunks(per_pass) {
            let ids = self.tokenizer.encode_batch(chunk)?;
            out.extend(self.model.encode_texts_async(&self.backend, &ids).await?);
        }
        Ok(out)
    }

    /// Zero-shot scores `(n, labels)` of each image over the label embeddings `texts` (from
    /// [`Session::embed_texts_async`]), as the family scores them ([`Session::scorer`]): CLIP's softmax of
    /// `exp(logit_scale) · cos(image, text)` over the labels, SigLIP's per-label `sigmoid(exp(logit_scale) · cos +
    /// logit_bias)`. Computed on the backend after the vision tower (normalize, logits, softmax or sigmoid), so a GPU
    /// reads back only the scores.
    pub async fn classify_async(&self, images: &[Pixels], texts: &[Vec<f32>]) -> Result<Vec<Vec<f32>>> {
        self.classify_with_async(images, &self.label_embeddings(texts)?).await
    }

    /// The label embeddings `texts` `(labels, P)` uploaded and normalised once, for any number of
    /// [`Session::classify_with_async`] calls (the CLI classifies image by image without uploading them again).
    pub fn label_embeddings(&self, texts: &[Vec<f32>]) -> Result<LabelEmbeddings<B>> {
        let dim = self.model.config.embedding_dim();
        if texts.is_empty() || texts.iter().any(|t| t.len() != dim) {
            return Err(crate::Error::Input(format!("classify: need at least one label embedding of length {dim}")));
        }
        let flat: Vec<f32> = texts.iter().flatten().copied().collect();
        let unit = self.backend.normalize(&self.backend.upload(&flat, Dims::new(texts.len(), 1, dim))?)?;
        Ok(LabelEmbeddings { unit, count: texts.len() })
    }

    /// [`Session::classify_async`] over label embeddings already on the backend.
    pub async fn classify_with_async(&self, images: &[Pixels], labels: &LabelEmbeddings<B>) -> Result<Vec<Vec<f32>>> {
        let per_pass = self.per_pass(self.model.config.image_activation_bytes(), IMAGE_BATCH);
        let mut out = Vec::with_capacity(images.len());
        for chunk in images.chunks(per_pass) {
            let pixels: Vec<f32> = chunk.iter().flat_map(|p| p.data.iter().copied()).collect();
            let features =
                self.backend.normalize(&self.model.image_features(&self.backend, &pixels, chunk.len())?)?;
            let scores = match self.scorer() {
                Scorer::Softmax { scale } => {
                    self.backend.softmax(&self.backend.logits(&features, &labels.unit, scale, 0.0)?)?
                }
                Scorer::Sigmoid { scale, bias } => {
                    self.backend.sigmoid(&self.backend.logits(&features, &labels.unit, scale, bias)?)?
                }
            };
            let scores = self.backend.read(&scores).await?;
            out.extend(scores.chunks_exact(labels.count).map(<[f32]>::to_vec));
        }
        Ok(out)
    }

    /// [`Session::classify_async`], waited for (native only).
    #[cfg(not(target_arch = "wasm32"))]
    pub fn classify(&self, images: &[Pixels], texts: &[Vec<f32>]) -> Result<Vec<Vec<f32>>> {
        pollster::block_on(self.classify_async(images, texts))
    }

    /// [`Session::classify_with_async`], waited for (native only).
    #[cfg(not(target_arch = "wasm32"))]
    pub fn classify_with(&self, images: &[Pixels], labels: &LabelEmbeddings<B>) -> Result<Vec<Vec<f32>>> {
        pollster::block_on(self.classify_with_async(images, labels))
    }

    /// [`Session::embed_images_async`], waited for (native only).
    #[cfg(not(target_arch = "wasm32"))]
    pub fn embed_images(&self, images: &[Pixels]) -> Result<Vec<Vec<f32>>> {
        pollster::block_on(self.embed_images_async(images))
    }

    /// [`Session::embed_texts_async`], waited for (native only).
    #[cfg(not(target_arch = "wasm32"))]
    pub fn embed_texts(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>> {
        pollster::block_on(self.embed_texts_async(texts))
    }

    /// Items per forward pass: at most `cap`, and few enough that the largest activation fits the backend.
    fn per_pass(&self, bytes_per_item: usize, cap: usize) -> usize {
        (self.backend.max_tensor_bytes() / bytes_per_item.max(1)).clamp(1, cap)
    }

    /// `exp(logit_scale)`, the temperature the model was trained with.
    pub fn logit_scale(&self) -> f32 {
        self.model.logit_scale.exp()
    }

    /// How this model turns cosines into scores (softmax for CLIP, per-label sigmoid for SigLIP).
    pub fn scorer(&self) -> Scorer {
        self.model.scorer()
    }
}

/// The tokenizer for a model of `config` from its `tokenizer.json` (a SigLIP one padded, as the checkpoint readers
/// write it); `None`: CLIP's bundled tokenizer (natively), an error for SigLIP.
pub fn text_tokenizer(config: &crate::model::ModelConfig, json: Option<&[u8]>) -> Result<TextTokenizer> {
    let context = config.text_context();
    let padded = config.architecture() == Architecture::Siglip;
    match json {
        Some(json) => TextTokenizer::from_json_padded(json, context, padded),
        None if padded => Err(crate::Error::Tokenizer(
            "this SigLIP checkpoint has no tokenizer: add the repository's tokenizer.json (SigLIP 2) or spiece.model \
             (SigLIP)"
                .into(),
        )),
        None => bundled_tokenizer(context),
    }
}

#[cfg(not(target_arch = "wasm32"))]
fn bundled_tokenizer(context: usize) -> Result<TextTokenizer> {
    TextTokenizer::bundled(context)
}

#[cfg(target_arch = "wasm32")]
fn bundled_tokenizer(_context: usize) -> Result<TextTokenizer> {
    Err(crate::error::Error::Tokenizer(
        "the checkpoint has no tokenizer.json; add the model repository's tokenizer.json next to the weights".into(),
    ))
}
