//! Multi-head attention: `CLIPAttention` / `SiglipAttention` (separate q/k/v projections) and
//! `nn.MultiheadAttention` (one fused `in_proj`), as self-attention or with queries from elsewhere (a pooling probe).
//!
//! ```text
//! out = out_proj(softmax(q_proj(x_q) · k_proj(x_kv)ᵀ / √head_dim [+ mask]) · v_proj(x_kv))
//! ```

use super::Loader;
use crate::backend::{Backend, Mask, Weights};
use crate::error::Result;

pub struct Attention<W: Weights> {
    pub q_proj: W::Linear,   // (D, D) + (D)
    pub k_proj: W::Linear,   // (D, D) + (D)
    pub v_proj: W::Linear,   // (D, D) + (D)
    pub out_proj: W::Linear, // (D, D) + (D)
    pub num_heads: usize,
}

impl<W: Weights> Attention<W> {
    /// `q_proj`, `k_proj`, `v_proj`, `out_proj` under `l`, each `(D, D)` with bias.
    pub fn load(l: &Loader<W>, dim: usize, num_heads: usize) -> Result<Self> {
        Ok(Attention {
            q_proj: l.linear("q_proj", dim, dim, true)?,
            k_proj: l.linear("k_proj", dim, dim, true)?,
            v_proj: l.linear("v_proj", dim, dim, true)?,
            out_proj: l.linear("out_proj", dim, dim, true)?,
            num_heads,
        })
    }

    /// `nn.MultiheadAttention(dim, num_heads, batch_first=True)`: `in_proj_weight` `(3D, D)` and `in_proj_bias`
    /// `(3D)` hold q, k, v in that order; `out_proj` `(D, D)` with bias.
    pub fn load_fused(l: &Loader<W>, dim: usize, num_heads: usize) -> Result<Self> {
        let [q_proj, k_proj, v_proj]: [W::Linear; 3] = l
            .linear_fused("in_proj_weight", "in_proj_bias", 3, dim, dim)?
            .try_into()
            .unwrap_or_else(|_| unreachable!("linear_fused returns `parts` layers"));
        Ok(Attention { q_proj, k_proj, v_proj, out_proj: l.linear("out_proj", dim, dim, true)?, num_heads })
    }
}

impl<B: Backend> Attention<B> {
    /// Queries from `x_q` `(batch, q_len, D)` over keys and values from `x_kv` `(batch, kv_len, D)` →
    /// `(batch, q_len, D)`, before `out_proj`.
    fn attend(&self, b: &B, x_q: &B::Tensor, x_kv: &B::Tensor, mask: Mask) -> Result<B::Tensor> {
        let q = b.matmul(x_q, &self.q_proj)?;
        let (k, v) = (b.matmul(x_kv, &self.k_proj)?, b.matmul(x_kv, &self.v_proj)?);
        b.attention(&q, &k, &v, self.num_heads, mask)
    }

    /// `out_proj(attention)` of `x_q` over `x_kv`.
    pub fn forward(&self, b: &B, x_q: &B::Tensor, x_kv: &B::Tensor, mask: Mask) -> Result<B::Tensor> {
        b.matmul(&self.attend(b, x_q, x_kv, mask)?, &self.out_proj)
    }

    /// `residual + out_proj(self-attention of x)` (the residual add fused into the last matmul).
    pub fn forward_residual(&self, b: &B, x: &B::Tensor, residual: &B::Tensor, mask: Mask) -> Result<B::Tensor> {
        b.matmul_add(&self.attend(b, x, x, mask)?, &self.out_proj, residual)
    }
}
