//! `CLIPMLP` / `SiglipMLP`: `fc2(act(fc1(x)))`.

use super::Loader;
use crate::backend::{Activation, Backend, Weights};
use crate::error::Result;

pub struct Mlp<W: Weights> {
    pub fc1: W::Linear, // (I, D) + (I)
    pub fc2: W::Linear, // (D, I) + (D)
    pub activation: Activation,
}

impl<W: Weights> Mlp<W> {
    /// `fc1` `(I, D)` and `fc2` `(D, I)` under `l`, both with bias.
    pub fn load(l: &Loader<W>, dim: usize, intermediate: usize, activation: Activation) -> Result<Self> {
        Ok(Mlp {
            fc1: l.linear("fc1", intermediate, dim, true)?,
            fc2: l.linear("fc2", dim, intermediate, true)?,
            activation,
        })
    }
}

impl<B: Backend> Mlp<B> {
    /// `residual + fc2(act(fc1(x)))`, the activation and the residual add fused into the matmuls.
    pub fn forward_residual(&self, b: &B, x: &B::Tensor, residual: &B::Tensor) -> Result<B::Tensor> {
        let h = b.matmul_act(x, &self.fc1, self.activation)?;
        b.matmul_add(&h, &self.fc2, residual)
    }
}
