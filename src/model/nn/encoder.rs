//! `CLIPEncoder` / `SiglipEncoder`: pre-norm transformer layers.
//!
//! ```text
//! x = x + out_proj(attention(q_proj(ln1 x), k_proj(ln1 x), v_proj(ln1 x)))
//! x = x + fc2(act(fc1(ln2 x)))
//! ```

use super::{Attention, LayerNorm, Loader, Mlp};
use crate::backend::{Activation, Backend, Mask, Weights};
use crate::error::Result;

/// `CLIPEncoderLayer` / `SiglipEncoderLayer`.
pub struct EncoderLayer<W: Weights> {
    pub self_attn: Attention<W>,
    pub layer_norm1: LayerNorm<W>,
    pub mlp: Mlp<W>,
    pub layer_norm2: LayerNorm<W>,
}

/// `CLIPEncoder` / `SiglipEncoder`.
pub struct Encoder<W: Weights> {
    pub layers: Vec<EncoderLayer<W>>,
}

/// Widths of one tower's encoder.
#[derive(Clone, Copy, Debug)]
pub struct EncoderShape {
    pub hidden: usize,
    pub intermediate: usize,
    pub heads: usize,
    pub layers: usize,
    pub eps: f64,
    pub activation: Activation,
}

impl<W: Weights> Encoder<W> {
    /// Loads `layers.{i}.*` under `l` (the encoder module).
    pub fn load(l: &Loader<W>, s: &EncoderShape) -> Result<Self> {
        let d = s.hidden;
        let layers = (0..s.layers)
            .map(|n| {
                let l = l.pp(&format!("layers.{n}"));
                Ok(EncoderLayer {
                    self_attn: Attention::load(&l.pp("self_attn"), d, s.heads)?,
                    layer_norm1: l.layer_norm("layer_norm1", d, s.eps)?,
                    mlp: Mlp::load(&l.pp("mlp"), d, s.intermediate, s.activation)?,
                    layer_norm2: l.layer_norm("layer_norm2", d, s.eps)?,
                })
            })
            .collect::<Result<_>>()?;
        Ok(Encoder { layers })
    }
}

impl<B: Backend> Encoder<B> {
    /// `x` `(batch, seq, D)` → `(batch, seq, D)`; `mask` in every layer's self-attention (CLIP's text tower is causal).
    pub fn forward(&self, b: &B, x: B::Tensor, mask: Mask) -> Result<B::Tensor> {
        self.layers.iter().try_fold(x, |x, layer| layer.forward(b, x, mask))
    }
}

impl<B: Backend> EncoderLayer<B> {
    pub fn forward(&self, b: &B, x: B::Tensor, mask: Mask) -> Result<B::Tensor> {
        let h = self.layer_norm1.forward(b, &x)?;
        let x = self.self_attn.forward_residual(b, &h, &x, mask)?; // x + out_proj(·)
        let h = self.layer_norm2.forward(b, &x)?;
        self.mlp.forward_residual(b, &h, &x) // x + fc2(act(fc1(·)))
    }
}
