//! CLIP, written once against [`Backend`](crate::backend::Backend), with Hugging Face's module and tensor names.

mod clip;
mod config;
mod encoder;
pub mod flops;
mod text;
mod vision;

pub use clip::Clip;
pub use config::{Activation, ClipConfig, TextConfig, VisionConfig};
pub use encoder::{Encoder, EncoderLayer};
pub use text::TextTransformer;
pub use vision::VisionTransformer;

use crate::backend::Backend;
use crate::error::Result;
use crate::quant::{Kind, PackedMatrix};
use crate::weights::TensorSource;

/// Reads parameters by upstream name with the shape the config implies and hands them to the backend.
pub(crate) struct Loader<'a, B: Backend> {
    pub backend: &'a B,
    pub source: &'a dyn TensorSource,
}

impl<B: Backend> Loader<'_, B> {
    /// `{prefix}.weight` `(out, in)` as stored (f32/f16/q8/q4) and, if `bias`, `{prefix}.bias` `(out)`.
    pub fn linear(&self, prefix: &str, out: usize, inp: usize, bias: bool) -> Result<B::Linear> {
        self.linear_shaped(prefix, &[out, inp], bias)
    }

    /// A linear weight stored with another shape whose first dim is `out` (the patch conv `(D, C, p, p)`):
    /// flattened row-major it is the `(out, product of the rest)` matrix.
    pub fn linear_shaped(&self, prefix: &str, shape: &[usize], bias: bool) -> Result<B::Linear> {
        let name = format!("{prefix}.weight");
        let w = self.source.matrix(&name, shape)?;
        let b = if bias { Some(self.source.tensor(&format!("{prefix}.bias"), &shape[..1])?) } else { None };
        self.backend.linear(&name, w, b)
    }

    pub fn vector(&self, name: &str, len: usize) -> Result<B::Vector> {
        self.backend.vector(self.source.tensor(name, &[len])?)
    }

    /// A table as stored (the token embedding: q8/q4 rows are gathered and dequantized on the fly).
    pub fn table(&self, name: &str, rows: usize, dim: usize) -> Result<B::Table> {
        self.backend.table(name, self.source.matrix(name, &[rows, dim])?)
    }

    /// A small table in f32 whatever its stored kind (position embeddings: added to every token, a few KB).
    pub fn table_f32(&self, name: &str, rows: usize, dim: usize) -> Result<B::Table> {
        let t = self.source.tensor(name, &[rows, dim])?;
        self.backend.table(name, PackedMatrix::from_rows(Kind::F32, rows, dim, &t.data))
    }

    /// `{prefix}.weight` and `{prefix}.bias`, both `(dim)`.
    pub fn layer_norm(&self, prefix: &str, dim: usize, eps: f64) -> Result<LayerNorm<B>> {
        Ok(LayerNorm {
            weight: self.vector(&format!("{prefix}.weight"), dim)?,
            bias: self.vector(&format!("{prefix}.bias"), dim)?,
            eps: eps as f32,
        })
    }
}

/// `nn.LayerNorm(dim, eps)`.
pub struct LayerNorm<B: Backend> {
    pub weight: B::Vector, // (dim)
    pub bias: B::Vector,   // (dim)
    pub eps: f32,
}

impl<B: Backend> LayerNorm<B> {
    pub fn forward(&self, b: &B, x: &B::Tensor) -> Result<B::Tensor> {
        b.layer_norm(x, &self.weight, &self.bias, self.eps)
    }
}
