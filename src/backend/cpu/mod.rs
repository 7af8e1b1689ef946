//! The CPU reference backend: plain, readable f32 — the oracle every faster path is tested against.
//! Only the matmul is written for speed (it is > 95% of the FLOPs); see `matmul.rs`.

mod matmul;
mod ops;

use super::{Backend, Dims};
use crate::error::{Error, Result};
use crate::model::Activation;
use crate::weights::HostTensor;

/// An activation on the CPU.
#[derive(Clone, Debug)]
pub struct CpuTensor {
    pub dims: Dims,
    /// `(batch, seq, dim)` row-major
    pub data: Vec<f32>,
}

/// Weight `(out, in)` row-major and bias `(out)`.
pub struct CpuLinear {
    pub out_features: usize,
    pub in_features: usize,
    pub weight: Vec<f32>,
    pub bias: Option<Vec<f32>>,
}

/// `(rows, dim)` row-major.
pub struct CpuTable {
    pub rows: usize,
    pub dim: usize,
    pub data: Vec<f32>,
}

#[derive(Default, Clone, Copy)]
pub struct Cpu;

fn check(cond: bool, what: impl FnOnce() -> String) -> Result<()> {
    if cond {
        Ok(())
    } else {
        Err(Error::Input(what()))
    }
}

impl Backend for Cpu {
    type Tensor = CpuTensor;
    type Linear = CpuLinear;
    type Vector = Vec<f32>;
    type Table = CpuTable;

    fn name(&self) -> String {
        "cpu".into()
    }

    fn linear(&self, weight: HostTensor, bias: Option<HostTensor>) -> Result<CpuLinear> {
        let (out_features, in_features) = match weight.shape[..] {
            [o, i] => (o, i),
            _ => return Err(Error::Input(format!("{}: a linear weight must be 2-D", weight.name))),
        };
        Ok(CpuLinear { out_features, in_features, weight: weight.data, bias: bias.map(|b| b.data) })
    }

    fn vector(&self, v: HostTensor) -> Result<Vec<f32>> {
        Ok(v.data)
    }

    fn table(&self, t: HostTensor) -> Result<CpuTable> {
        let dim = *t.shape.last().unwrap_or(&0);
        Ok(CpuTable { rows: t.data.len() / dim.max(1), dim, data: t.data })
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

    fn embed_tokens(&self, ids: &[u32], batch: usize, tokens: &CpuTable, positions: &CpuTable) -> Result<CpuTensor> {
        let seq = ids.len() / batch.max(1);
        check(seq <= positions.rows, || {
            format!("{seq} tokens but the model has {} positions (context length)", positions.rows)
        })?;
        if let Some(&bad) = ids.iter().find(|&&id| id as usize >= tokens.rows) {
            return Err(Error::Input(format!(
                "token id {bad} is outside the vocabulary ({} tokens): the tokenizer does not belong to this model",
                tokens.rows
            )));
        }
        Ok(ops::embed_tokens(ids, batch, tokens, positions))
    }

    fn patchify(
        &self,
        pixels: &CpuTensor,
        channels: usize,
        height: usize,
        width: usize,
        patch: usize,
    ) -> Result<CpuTensor> {
        check(pixels.dims.seq * pixels.dims.dim == channels * height * width, || {
            format!("patchify: image tensor {:?} is not {channels}x{height}x{width}", pixels.dims)
        })?;
        Ok(ops::patchify(pixels, channels, height, width, patch))
    }

    fn prepend_class(&self, x: &CpuTensor, class: &Vec<f32>, positions: &CpuTable) -> Result<CpuTensor> {
        check(x.dims.seq + 1 == positions.rows && class.len() == x.dims.dim, || {
            format!("{} patches + class token, but {} position embeddings", x.dims.seq, positions.rows)
        })?;
        Ok(ops::prepend_class(x, class, positions))
    }

    fn layer_norm(&self, x: &CpuTensor, weight: &Vec<f32>, bias: &Vec<f32>, eps: f32) -> Result<CpuTensor> {
        Ok(ops::layer_norm(x, weight, bias, eps))
    }

    fn matmul(&self, x: &CpuTensor, w: &CpuLinear) -> Result<CpuTensor> {
        check(x.dims.dim == w.in_features, || {
            format!("matmul: input has {} features, weight expects {}", x.dims.dim, w.in_features)
        })?;
        let data = matmul::linear(&x.data, x.dims.rows(), w);
        Ok(CpuTensor { dims: Dims::new(x.dims.batch, x.dims.seq, w.out_features), data })
    }

    fn activation(&self, x: &CpuTensor, act: Activation) -> Result<CpuTensor> {
        Ok(CpuTensor { dims: x.dims, data: x.data.iter().map(|&v| ops::activation(v, act)).collect() })
    }

    fn add(&self, a: &CpuTensor, b: &CpuTensor) -> Result<CpuTensor> {
        check(a.dims == b.dims, || format!("add: {:?} vs {:?}", a.dims, b.dims))?;
        Ok(CpuTensor { dims: a.dims, data: a.data.iter().zip(&b.data).map(|(x, y)| x + y).collect() })
    }

    fn attention(&self, q: &CpuTensor, k: &CpuTensor, v: &CpuTensor, heads: usize, causal: bool) -> Result<CpuTensor> {
        check(q.dims == k.dims && k.dims == v.dims && q.dims.dim % heads == 0, || {
            format!("attention: q {:?}, k {:?}, v {:?}, {heads} heads", q.dims, k.dims, v.dims)
        })?;
        Ok(ops::attention(q, k, v, heads, causal))
    }

    fn gather_rows(&self, x: &CpuTensor, rows: &[usize]) -> Result<CpuTensor> {
        check(rows.len() == x.dims.batch && rows.iter().all(|&r| r < x.dims.seq), || {
            format!("gather_rows: rows {rows:?} for dims {:?}", x.dims)
        })?;
        let d = x.dims.dim;
        let mut data = Vec::with_capacity(rows.len() * d);
        for (b, &r) in rows.iter().enumerate() {
            let start = (b * x.dims.seq + r) * d;
            data.extend_from_slice(&x.data[start..start + d]);
        }
        Ok(CpuTensor { dims: Dims::new(x.dims.batch, 1, d), data })
    }
}
