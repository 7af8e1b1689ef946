//! `CLIPTextTransformer`: token + position embeddings → causal encoder → final layer norm → pool one token.

use super::TextConfig;
use crate::backend::{Backend, Weights};
use crate::error::{Error, Result};
use crate::model::nn::{Encoder, EncoderShape, LayerNorm, Loader};

pub struct TextTransformer<W: Weights> {
    pub token_embedding: W::Table,    // (vocab, D)
    pub position_embedding: W::Table, // (context, D)
    pub encoder: Encoder<W>,
    pub final_layer_norm: LayerNorm<W>,
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
            config: c.clone(),
        })
    }
}

impl<B: Backend> TextTransformer<B> {
    /// The token HF pools, as `CLIPTextTransformer.forward` picks it: configs written before transformers 4.31
    /// carry `eos_token_id: 2` and pool at the (first) largest id — the end-of-text token, which has the largest
    /// id in CLIP's vocabulary; newer configs pool at the first `eos_token_id`. No eos at all → position 0.
    pub fn pooled_position(&self, ids: &[u32]) -> usize {
        if self.config.eos_token_id == 2 {
            let max = ids.iter().copied().max().unwrap_or(0);
            ids.iter().position(|&t| t == max).unwrap_or(0)
        } else {
            ids.iter().position(|&t| t as i64 == self.config.eos_token_id).unwrap_or(0)
        }
    }

    /// Token ids of each text (bos … eos, at most the context length) → pooled `(batch, 1, D)`.
    ///
    /// The causal mask means the pooled token never sees later tokens, so each sequence is cut right after
    /// its pooled token and the batch is padded only to the longest such prefix: no work on padding.
    pub fn forward(&self, b: &B, ids: &[Vec<u32>]) -> Result<B::Tensor> {
        let ctx = self.config.max_position_embeddings;
        if let Some(long) = ids.iter().find(|s| s.len() > ctx) {
            return Err(Error::Input(format!(
                "{} tokens exceed the model's context length {ctx}; tokenize with truncation",
                long.len()
            )));
        }
        if ids.is_empty() || ids.iter().any(|s| s.is_empty()) {
            return Err(Error::Input("text tower needs at least one token per text".into()));
        }
        let pooled: Vec<usize> = ids.iter().map(|s| self.pooled_position(s)).collect();
        let seq = pooled.iter().max().map_or(1, |p| p + 1);
        let mut flat = Vec::with_capacity(ids.len() * seq);
        for s in ids {
            flat.extend((0..seq).map(|i| s.get(i).copied().unwrap_or(0)));
        }
        let x = b.embed_tokens(&flat, ids.len(), &self.token_embedding, &self.position_embedding)?;
        let x = self.encoder.forward(b, x, true)?;
        let x = self.final_layer_norm.forward(b, &x)?;
        b.gather_rows(&x, &pooled)
    }
}
