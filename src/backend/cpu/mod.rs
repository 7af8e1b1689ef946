//! The CPU backend: plain, readable f32 — the oracle every faster path is tested against.
//! Only the matmul is written for speed (it is > 95% of the FLOPs); see `matmul.rs`. Weights stay in their stored
//! kind (f32/f16/q8/q4, [`PackedMatrix`]): the matmul dequantizes one weight row at a time into a small buffer and
//! the token table dequantizes the rows it gathers. For q8 weights it quantizes the activations to 7 bits per block as well
//! ([`QuantMatmul::Int8`], `int8.rs`: integer dot products, WebAssembly relaxed SIMD's `relaxed_dot_i8x16_i7x16`)
//! unless told to keep them f32
//! ([`Cpu::REFERENCE`]).

pub mod int8;
mod matmul;
mod ops;
pub mod profile;
pub mod threads;

use super::{check, check_bias, Activation, Backend, Dims, Mask, Weights};
use crate::error::Result;
use crate::quant::{Kind, PackedMatrix};
use crate::tensor::HostTensor;
use std::borrow::Cow;

/// An activation on the CPU.
#[derive(Clone, Debug)]
pub struct CpuTensor {
    pub dims: Dims,
    /// `(batch, seq, dim)` row-major
    pub data: Vec<f32>,
}

/// Weight `(out, in)` in its stored kind and bias `(out)`.
pub struct CpuLinear {
    pub out_features: usize,
    pub in_features: usize,
    pub weight: PackedMatrix, // (out, in)
    pub bias: Option<Vec<f32>>,
}

/// `(rows, dim)` in its stored kind.
pub struct CpuTable {
    pub rows: usize,
    pub dim: usize,
    pub data: PackedMatrix, // (rows, dim)
}

impl CpuTable {
    /// Row `r` in f32: borrowed when stored in f32, dequantized otherwise.
    pub fn row(&self, r: usize) -> Cow<'_, [f32]> {
        match self.data.kind {
            Kind::F32 => Cow::Borrowed(&bytemuck::cast_slice(&self.data.words)[r * self.dim..][..self.dim]),
            _ => Cow::Owned(self.data.dequantize_row(r)),
        }
    }
}

/// How the CPU multiplies activations by q8 weights.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum QuantMatmul {
    /// The activations are quantized too, per block of 32 like the weights, and each block's dot product is an
    /// integer sum (`int8.rs`): the fast path, and what `Cpu::default()` does.
    #[default]
    Int8,
    /// f32 activations times the dequantized weights: the same arithmetic as the GPU's kernels, and the reference
    /// the int8 path is measured against.
    Dequantize,
}

#[derive(Default, Clone, Copy, Debug)]
pub struct Cpu {
    pub quant_matmul: QuantMatmul,
}

impl Cpu {
    /// f32 activations everywhere (q8 weights dequantized): what GPU results are compared with.
    pub const REFERENCE: Cpu = Cpu { quant_matmul: QuantMatmul::Dequantize };
}

impl Weights for Cpu {
    type Linear = CpuLinear;
    type Vector = Vec<f32>;
    type Table = CpuTable;

    fn linear(&self, name: &str, weight: PackedMatrix, bias: Option<HostTensor>) -> Result<CpuLinear> {
        check_bias(name, &weight, bias.as_ref())?;
        Ok(CpuLinear { out_features: weight.rows, in_features: weight.cols, weight, bias: bias.map(|b| b.data) })
    }

    fn vector(&self, v: HostTensor) -> Result<Vec<f32>> {
        Ok(v.data)
    }

    fn table(&self, _name: &str, t: PackedMatrix) -> Result<CpuTable> {
        Ok(CpuTable { rows: t.rows, dim: t.cols, data: t })
    }
}

impl Backend for Cpu {
    type Tensor = CpuTensor;

    fn name(&self) -> String {
        "cpu".into()
    }

    fn upload(&self, data: &[f32], dims: Dims) -> Result<CpuTensor> {
        check(data.len() == dims.len(), || format!("upload: {} values for dims {dims:?}", data.len()))?;
        Ok(CpuTensor { dims, data: data.to_vec() })
    }

    async fn read(&self, x: &CpuTensor) -> Result<Vec<f32>> {
        Ok(x.data.clone())
    }

    fn dims(&self, x: &CpuTensor) -> Dims {
        x.dims
    }

    fn embed_tokens(
        &self,
        ids: &[u32],
        position_ids: Option<&[u32]>,
        batch: usize,
        tokens: &CpuTable,
        positions: &CpuTable,
    ) -> Result<CpuTensor> {
        let _span = profile::span("embed_tokens");
        super::check_embed(ids, position_ids, batch, tokens.rows, positions.rows)?;
        check(tokens.dim == positions.dim, || {
            format!("embed_tokens: token rows of {} but position rows of {}", tokens.dim, positions.dim)
        })?;
        Ok(ops::embed_tokens(ids, position_ids, batch, tokens, positions))
    }

    fn patchify(
        &self,
        pixels: &CpuTensor,
        channels: usize,
        height: usize,
        width: usize,
        patch: usize,
    ) -> Result<CpuTensor> {
        let _span = profile::span("patchify");
        check(pixels.dims.seq * pixels.dims.dim == channels * height * width, || {
            format!("patchify: image tensor {:?} is not {channels}x{height}x{width}", pixels.dims)
        })?;
        Ok(ops::patchify(pixels, channels, height, width, patch))
    }

    fn add_positions(&self, x: &CpuTensor, prefix: Option<&Vec<f32>>, positions: &CpuTable) -> Result<CpuTensor> {
        let _span = profile::span("add_positions");
        let seq = x.dims.seq + prefix.is_some() as usize;
        check(seq == positions.rows && positions.dim == x.dims.dim, || {
            format!("add_positions: {seq} tokens of {}, but {} position embeddings", x.dims.dim, positions.rows)
        })?;
        check(prefix.is_none_or(|p| p.len() == x.dims.dim), || {
            format!("add_positions: prefix row of {} for {} features", prefix.map_or(0, Vec::len), x.dims.dim)
        })?;
        Ok(ops::add_positions(x, prefix.map(Vec::as_slice), positions))
    }

    fn layer_norm(&self, x: &CpuTensor, weight: &Vec<f32>, bias: &Vec<f32>, eps: f32) -> Result<CpuTensor> {
        let _span = profile::span("layer_norm");
        // zip would silently drop the features past the shorter of x's rows, weight and bias
        let d = x.dims.dim;
        check(d > 0 && weight.len() == d && bias.len() == d && x.data.len() == x.dims.len(), || {
            format!(
                "layer_norm: {d} features ({} values for dims {:?}), weight {} and bias {}",
                x.data.len(),
                x.dims,
                weight.len(),
                bias.len()
            )
        })?;
        Ok(ops::layer_norm(x, weight, bias, eps))
    }

    fn matmul(&self, x: &CpuTensor, w: &CpuLinear) -> Result<CpuTensor> {
        let _span = profile::span("matmul");
        check(x.dims.dim == w.in_features, || {
            format!("matmul: input has {} features, weight expects {}", x.dims.dim, w.in_features)
        })?;
        let data = matmul::linear(&x.data, x.dims.rows(), w, self.quant_matmul == QuantMatmul::Int8);
        Ok(CpuTensor { dims: Dims::new(x.dims.batch, x.dims.seq, w.out_features), data })
    }

    fn activation(&self, x: &CpuTensor, act: Activation) -> Result<CpuTensor> {
        let _span = profile::span("activation");
        let mut data = x.data.clone();
        ops::activate(&mut data, act);
        Ok(CpuTensor { dims: x.dims, data })
    }

    fn add(&self, a: &CpuTensor, b: &CpuTensor) -> Result<CpuTensor> {
        let _span = profile::span("add");
        check(a.dims == b.dims, || format!("add: {:?} vs {:?}", a.dims, b.dims))?;
        Ok(CpuTensor { dims: a.dims, data: a.data.iter().zip(&b.data).map(|(x, y)| x + y).collect() })
    }

    fn attention(&self, q: &CpuTensor, k: &CpuTensor, v: &CpuTensor, heads: usize, mask: Mask) -> Result<CpuTensor> {
        let _span = profile::span("attention");
        super::check_attention(q.dims, k.dims, v.dims, heads, mask)?;
        Ok(ops::attention(q, k, v, heads, mask))
    }

    fn normalize(&self, x: &CpuTensor) -> Result<CpuTensor> {
        let _span = profile::span("normalize");
        let data = x.data.chunks_exact(x.dims.dim.max(1)).flat_map(crate::tensor::normalize).collect();
        Ok(CpuTensor { dims: x.dims, data })
    }

    fn logits(&self, a: &CpuTensor, b: &CpuTensor, scale: f32, bias: f32) -> Result<CpuTensor> {
        let _span = profile::span("logits");
        check(a.dims.dim == b.dims.dim, || format!("logits: {:?} vs {:?}", a.dims, b.dims))?;
        let d = a.dims.dim.max(1);
        let mut data = Vec::with_capacity(a.dims.rows() * b.dims.rows());
        for ar in a.data.chunks_exact(d) {
            for br in b.data.chunks_exact(d) {
                data.push(scale * ar.iter().zip(br).map(|(x, y)| *x as f64 * *y as f64).sum::<f64>() as f32 + bias);
            }
        }
        Ok(CpuTensor { dims: Dims::new(1, a.dims.rows(), b.dims.rows()), data })
    }

    fn softmax(&self, x: &CpuTensor) -> Result<CpuTensor> {
        let _span = profile::span("softmax");
        let data = x.data.chunks_exact(x.dims.dim.max(1)).flat_map(crate::tensor::softmax).collect();
        Ok(CpuTensor { dims: x.dims, data })
    }

    fn sigmoid(&self, x: &CpuTensor) -> Result<CpuTensor> {
        let _span = profile::span("sigmoid");
        Ok(CpuTensor { dims: x.dims, data: x.data.iter().map(|&v| crate::tensor::sigmoid(v)).collect() })
    }

    fn gather_rows(&self, x: &CpuTensor, rows: &[usize]) -> Result<CpuTensor> {
        let _span = profile::span("gather_rows");
        super::check_gather(x.dims, rows)?;
        let d = x.dims.dim;
        let data = rows.iter().flat_map(|&r| &x.data[r * d..(r + 1) * d]).copied().collect();
        Ok(CpuTensor { dims: Dims::new(rows.len(), 1, d), data })
    }
}
