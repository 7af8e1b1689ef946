//! Reading parameters by upstream name, scoped by prefix (as candle's `VarBuilder::pp`), and listing them without
//! reading any: the model's own loading code is the one list of names and shapes.

use std::cell::RefCell;

use super::LayerNorm;
use crate::backend::Weights;
use crate::error::Result;
use crate::quant::{Kind, PackedMatrix};
use crate::tensor::{HostTensor, TensorSource};

/// Reads parameters `{prefix}.{name}` with the shape the config implies and hands them to `weights`.
pub struct Loader<'a, W: Weights> {
    pub weights: &'a W,
    pub source: &'a dyn TensorSource,
    prefix: String,
}

impl<'a, W: Weights> Loader<'a, W> {
    pub fn new(weights: &'a W, source: &'a dyn TensorSource) -> Self {
        Loader { weights, source, prefix: String::new() }
    }

    /// The loader for the module `name` under this one (`l.pp("encoder").pp("layers.0")`).
    pub fn pp(&self, name: &str) -> Self {
        Loader { weights: self.weights, source: self.source, prefix: self.name(name) }
    }

    /// The full parameter name of `name` here.
    pub fn name(&self, name: &str) -> String {
        if self.prefix.is_empty() {
            name.to_string()
        } else {
            format!("{}.{name}", self.prefix)
        }
    }

    /// `nn.Linear(inp, out, bias)`: `{name}.weight` `(out, in)` as stored (f32/f16/q8/q4) and `{name}.bias` `(out)`.
    pub fn linear(&self, name: &str, out: usize, inp: usize, bias: bool) -> Result<W::Linear> {
        self.linear_shaped(name, &[out, inp], bias)
    }

    /// A linear weight stored with another shape whose first dim is `out` (a patch conv `(D, C, p, p)`):
    /// flattened row-major it is the `(out, product of the rest)` matrix.
    pub fn linear_shaped(&self, name: &str, shape: &[usize], bias: bool) -> Result<W::Linear> {
        let weight = self.name(&format!("{name}.weight"));
        let w = self.source.matrix(&weight, shape)?;
        let b = if bias { Some(self.source.tensor(&self.name(&format!("{name}.bias")), &shape[..1])?) } else { None };
        self.weights.linear(&weight, w, b)
    }

    /// `parts` linear layers `(out, inp)` stored as one fused weight `{weight}` `(parts·out, inp)` and bias `{bias}`
    /// `(parts·out)` — `nn.MultiheadAttention`'s `in_proj_weight` / `in_proj_bias` (q, k, v).
    pub fn linear_fused(
        &self,
        weight: &str,
        bias: &str,
        parts: usize,
        out: usize,
        inp: usize,
    ) -> Result<Vec<W::Linear>> {
        let name = self.name(weight);
        let w = self.source.matrix(&name, &[parts * out, inp])?;
        let b = self.source.tensor(&self.name(bias), &[parts * out])?;
        (0..parts)
            .map(|i| {
                let part = HostTensor {
                    name: format!("{} rows {}..{}", b.name, i * out, (i + 1) * out),
                    shape: vec![out],
                    data: b.data.get(i * out..(i + 1) * out).map(<[f32]>::to_vec).unwrap_or_default(),
                };
                self.weights.linear(
                    &format!("{name} rows {}..{}", i * out, (i + 1) * out),
                    w.slice_rows(i * out, out)?,
                    Some(part),
                )
            })
            .collect()
    }

    pub fn vector(&self, name: &str, len: usize) -> Result<W::Vector> {
        self.weights.vector(self.source.tensor(&self.name(name), &[len])?)
    }

    /// A parameter kept on the host in f32 (`logit_scale`, a pooling probe that is uploaded per batch).
    pub fn host(&self, name: &str, shape: &[usize]) -> Result<HostTensor> {
        self.source.tensor(&self.name(name), shape)
    }

    /// A table as stored (a token embedding: q8/q4 rows are gathered and dequantized on the fly).
    pub fn table(&self, name: &str, rows: usize, dim: usize) -> Result<W::Table> {
        let name = self.name(name);
        self.weights.table(&name, self.source.matrix(&name, &[rows, dim])?)
    }

    /// A small table in f32 whatever its stored kind (position embeddings: added to every token, a few KB).
    pub fn table_f32(&self, name: &str, rows: usize, dim: usize) -> Result<W::Table> {
        let name = self.name(name);
        let t = self.source.tensor(&name, &[rows, dim])?;
        self.weights.table(&name, PackedMatrix::from_rows(Kind::F32, rows, dim, &t.data))
    }

    /// `nn.LayerNorm`: `{name}.weight` and `{name}.bias`, both `(dim)`.
    pub fn layer_norm(&self, name: &str, dim: usize, eps: f64) -> Result<LayerNorm<W>> {
        let l = self.pp(name);
        Ok(LayerNorm { weight: l.vector("weight", dim)?, bias: l.vector("bias", dim)?, eps: eps as f32 })
    }
}

/// One parameter: its upstream name and shape, in the order the model loads it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Param {
    pub name: String,
    pub shape: Vec<usize>,
}

/// The parameters `load` asks for, without reading or keeping any: `load` runs against a source of shape-only
/// tensors (no values: whatever sizes a config names, nothing is allocated) and weights that drop everything.
pub fn parameters_of<T>(load: impl FnOnce(&Loader<'_, Discard>) -> Result<T>) -> Result<Vec<Param>> {
    let source = Shapes(RefCell::new(Vec::new()));
    load(&Loader::new(&Discard, &source))?;
    Ok(source.0.into_inner())
}

/// Weights that keep nothing (for [`parameters_of`]).
pub struct Discard;

impl Weights for Discard {
    type Linear = ();
    type Vector = ();
    type Table = ();
    fn linear(&self, _: &str, _: PackedMatrix, _: Option<HostTensor>) -> Result<()> {
        Ok(())
    }
    fn vector(&self, _: HostTensor) -> Result<()> {
        Ok(())
    }
    fn table(&self, _: &str, _: PackedMatrix) -> Result<()> {
        Ok(())
    }
}

/// Tensors of whatever shape is asked, with no values (empty data, no words), each request recorded.
struct Shapes(RefCell<Vec<Param>>);

impl Shapes {
    fn record(&self, name: &str, shape: &[usize]) {
        self.0.borrow_mut().push(Param { name: name.to_string(), shape: shape.to_vec() });
    }
}

impl TensorSource for Shapes {
    fn tensor(&self, name: &str, shape: &[usize]) -> Result<HostTensor> {
        self.record(name, shape);
        Ok(HostTensor { name: name.into(), shape: shape.to_vec(), data: Vec::new() })
    }

    fn matrix(&self, name: &str, shape: &[usize]) -> Result<PackedMatrix> {
        self.record(name, shape);
        let rows = shape.first().copied().unwrap_or(1);
        let cols = shape.iter().skip(1).product();
        Ok(PackedMatrix { kind: Kind::F32, rows, cols, words: Vec::new().into(), scales: Vec::new() })
    }
}
