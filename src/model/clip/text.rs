//! `CLIPTextTransformer`: token + position embeddings → causal encoder → final layer norm → pool one token.
//!
//! The texts of one call run as a single prefix tree ([`PrefixTree`]): the mask is causal, so a shared prefix
//! ("a photo of a …") has the same hidden states in every text and is computed once.

use super::TextConfig;
use crate::backend::{Backend, Mask, Weights};
use crate::error::{Error, Result};
use crate::model::nn::{Encoder, EncoderShape, LayerNorm, Loader, PrefixTree};

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

    /// The rows [`forward`](Self::forward) computes for `ids`: each text cut right after its pooled token (the
    /// causal mask means the pooled token never sees later ones), then one row per distinct prefix.
    pub fn prefix_tree(&self, ids: &[Vec<u32>]) -> Result<PrefixTree> {
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
        let cut: Vec<&[u32]> = ids.iter().map(|s| &s[..=self.pooled_position(s)]).collect();
        PrefixTree::new(&cut)
    }

    /// Token ids of each text (bos … eos, at most the context length) → pooled `(batch, 1, D)`.
    ///
    /// One sequence of the prefix tree's nodes `(1, nodes, D)`: positions are the nodes' depths and each row
    /// attends to itself and its ancestors ([`Mask::Tree`]), which is exactly what it saw in its own padded text.
    /// No work on padding, none twice on a shared prefix.
    pub fn forward(&self, b: &B, ids: &[Vec<u32>]) -> Result<B::Tensor> {
        let tree = self.prefix_tree(ids)?;
        let x = b.embed_tokens(&tree.tokens, Some(&tree.depths), 1, &self.token_embedding, &self.position_embedding)?;
        let x = self.encoder.forward(b, x, Mask::Tree(&tree.parents))?; // (1, nodes, D)
        let pooled = b.gather_rows(&x, &tree.ends)?; // (batch, 1, D), in input order
        self.final_layer_norm.forward(b, &pooled) // per row: the same before or after the gather
    }
}
