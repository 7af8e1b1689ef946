//! `SiglipTextTransformer`: token + position embeddings → encoder (no mask at all: every position sees every other,
//! padding included, as HF runs it) → final layer norm → the last position → `head` (Linear with bias).

use super::TextConfig;
use crate::backend::{Backend, Mask, Weights};
use crate::error::{Error, Result};
use crate::model::nn::{Encoder, EncoderShape, LayerNorm, Loader};

pub struct TextTransformer<W: Weights> {
    pub token_embedding: W::Table,    // (vocab, D)
    pub position_embedding: W::Table, // (context, D)
    pub encoder: Encoder<W>,
    pub final_layer_norm: LayerNorm<W>,
    pub head: W::Linear, // (P, D) + (P)
    pub config: TextConfig,
}

impl<W: Weights> TextTransformer<W> {
    /// Loads `text_model.*` (`l` is scoped to it).
    pub fn load(l: &Loader<W>, c: &TextConfig) -> Result<Self> {
        let d = c.hidden_size;
        let shape = EncoderShape {
            hidden: d,
            intermediate: c.intermediate_size,
            heads: c.num_attention_heads,
            layers: c.num_hidden_layers,
            eps: c.layer_norm_eps,
            activation: c.hidden_act,
        };
        let e = l.pp("embeddings");
        Ok(TextTransformer {
            token_embedding: e.table("token_embedding.weight", c.vocab_size, d)?,
            position_embedding: e.table_f32("position_embedding.weight", c.max_position_embeddings, d)?,
            encoder: Encoder::load(&l.pp("encoder"), &shape)?,
            final_layer_norm: l.layer_norm("final_layer_norm", d, c.layer_norm_eps)?,
            head: l.linear("head", c.projection_size, d, true)?,
            config: c.clone(),
        })
    }
}

impl<B: Backend> TextTransformer<B> {
    /// Token ids of each text, padded to exactly the context length (the tokenizer does it) → `get_text_features`
    /// `(batch, 1, P)`. Unlike CLIP nothing can be cut: the pooled last position attends to every token.
    pub fn forward(&self, b: &B, ids: &[Vec<u32>]) -> Result<B::Tensor> {
        let ctx = self.config.max_position_embeddings;
        if ids.is_empty() {
            return Err(Error::Input("text tower needs at least one text".into()));
        }
        if let Some(bad) = ids.iter().find(|s| s.len() != ctx) {
            return Err(Error::Input(format!(
                "SigLIP's text tower takes exactly {ctx} tokens per text (padded), got {}; tokenize with the model's \
                 tokenizer, which pads to {ctx}",
                bad.len()
            )));
        }
        let flat: Vec<u32> = ids.iter().flatten().copied().collect();
        let x = b.embed_tokens(&flat, None, ids.len(), &self.token_embedding, &self.position_embedding)?;
        let x = self.encoder.forward(b, x, Mask::None)?;
        let x = self.final_layer_norm.forward(b, &x)?;
        let last: Vec<usize> = (1..=ids.len()).map(|n| n * ctx - 1).collect();
        let pooled = b.gather_rows(&x, &last)?; // the last position of each text, whatever token it holds
        b.matmul(&pooled, &self.head)
    }
}
