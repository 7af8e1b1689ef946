//! `CLIPEncoder`: pre-norm transformer layers shared by both towers.
//!
//! ```text
//! x = x + out_proj(attention(q_proj(ln1 x), k_proj(ln1 x), v_proj(ln1 x)))
//! x = x + fc2(act(fc1(ln2 x)))
//! ```

use super::{Activation, LayerNorm, Loader};
use crate::backend::Backend;
use crate::error::Result;

/// `CLIPAttention`.
pub struct Attention<B: Backend> {
    pub q_proj: B::Linear,   // (D, D) + (D)
    pub k_proj: B::Linear,   // (D, D) + (D)
    pub v_proj: B::Linear,   // (D, D) + (D)
    pub out_proj: B::Linear, // (D, D) + (D)
    pub num_heads: usize,
}

/// `CLIPMLP`.
pub struct Mlp<B: Backend> {
    pub fc1: B::Linear, // (I, D) + (I)
    pub fc2: B::Linear, // (D, I) + (D)
    pub activation: Activation,
}

/// `CLIPEncoderLayer`.
pub struct EncoderLayer<B: Backend> {
    pub self_attn: Attention<B>,
    pub layer_norm1: LayerNorm<B>,
    pub mlp: Mlp<B>,
    pub layer_norm2: LayerNorm<B>,
}

/// `CLIPEncoder`.
pub struct Encoder<B: Backend> {
    pub layers: Vec<EncoderLayer<B>>,
}

/// Widths of one tower's encoder.
pub(crate) struct EncoderShape {
    pub hidden: usize,
    pub intermediate: usize,
    pub heads: usize,
    pub layers: usize,
    pub eps: f64,
    pub activation: Activation,
}

impl<B: Backend> Encoder<B> {
    /// Loads `{prefix}.layers.{i}.*`.
    pub(crate) fn load(l: &Loader<B>, prefix: &str, s: &EncoderShape) -> Result<Self> {
        let (d, i) = (s.hidden, s.intermediate);
        let layers = (0..s.layers)
            .map(|n| {
                let p = format!("{prefix}.layers.{n}");
                Ok(EncoderLayer {
                    self_attn: Attention {
                        q_proj: l.linear(&format!("{p}.self_attn.q_proj"), d, d, true)?,
                        k_proj: l.linear(&format!("{p}.self_attn.k_proj"), d, d, true)?,
                        v_proj: l.linear(&format!("{p}.self_attn.v_proj"), d, d, true)?,
                        out_proj: l.linear(&format!("{p}.self_attn.out_proj"), d, d, true)?,
                        num_heads: s.heads,
                    },
                    layer_norm1: l.layer_norm(&format!("{p}.layer_norm1"), d, s.eps)?,
                    mlp: Mlp {
                        fc1: l.linear(&format!("{p}.mlp.fc1"), i, d, true)?,
                        fc2: l.linear(&format!("{p}.mlp.fc2"), d, i, true)?,
                        activation: s.activation,
                    },
                    layer_norm2: l.layer_norm(&format!("{p}.layer_norm2"), d, s.eps)?,
                })
            })
            .collect::<Result<_>>()?;
        Ok(Encoder { layers })
    }

    /// `x` `(batch, seq, D)` → `(batch, seq, D)`; `causal` for the text tower.
    pub fn forward(&self, b: &B, x: B::Tensor, causal: bool) -> Result<B::Tensor> {
        self.layers.iter().try_fold(x, |x, layer| layer.forward(b, x, causal))
    }
}

impl<B: Backend> EncoderLayer<B> {
    pub fn forward(&self, b: &B, x: B::Tensor, causal: bool) -> Result<B::Tensor> {
        let h = self.layer_norm1.forward(b, &x)?;
        let a = &self.self_attn;
        let (q, k, v) = (b.matmul(&h, &a.q_proj)?, b.matmul(&h, &a.k_proj)?, b.matmul(&h, &a.v_proj)?);
        let x = b.matmul_add(&b.attention(&q, &k, &v, a.num_heads, causal)?, &a.out_proj, &x)?; // x + out_proj(·)
        let h = self.layer_norm2.forward(b, &x)?;
        let h = b.matmul_act(&h, &self.mlp.fc1, self.mlp.activation)?; // act(fc1(·))
        b.matmul_add(&h, &self.mlp.fc2, &x) // x + fc2(·)
    }
}
