//! The bottom of the stack: host tensors, the trait every weight source implements, and the vector math shared
//! by backends and tasks (normalize, softmax, sigmoid, cosine). Depends only on `error` and `quant`.

use crate::error::{Error, Result};
use crate::quant::{Kind, PackedMatrix};

/// A tensor on the host in f32, row-major, with its upstream name.
#[derive(Clone, Debug)]
pub struct HostTensor {
    pub name: String,
    pub shape: Vec<usize>,
    pub data: Vec<f32>,
}

impl HostTensor {
    pub fn len(&self) -> usize {
        self.data.len()
    }
    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }

    /// Packs the tensor: 2-D and up as `(shape[0], product of the rest)`, 1-D as one row. Non-finite weights are an
    /// error naming the tensor.
    pub fn pack(&self, kind: Kind) -> Result<PackedMatrix> {
        let n: usize = self.shape.iter().product();
        let rows = if self.shape.len() >= 2 { self.shape[0] } else { 1 };
        if n != self.data.len() {
            return Err(Error::Input(format!(
                "tensor '{}': shape {:?} but {} values",
                self.name,
                self.shape,
                self.data.len()
            )));
        }
        if let Some((i, v)) = self.data.iter().enumerate().find(|(_, v)| !v.is_finite()) {
            return Err(Error::Input(format!(
                "tensor '{}' has a non-finite value ({v}) at index {i}: the checkpoint is damaged; download it \
                 again or re-save it",
                self.name
            )));
        }
        Ok(PackedMatrix::from_rows(kind, rows, n.checked_div(rows).unwrap_or(0), &self.data))
    }
}

/// Anything that can hand out named tensors with a checked shape.
pub trait TensorSource {
    /// The tensor `name`, which must have exactly `shape`, in f32.
    fn tensor(&self, name: &str, shape: &[usize]) -> Result<HostTensor>;

    /// The matrix `name` (`shape` as HF has it; rows = `shape[0]`) as stored: a bundle hands out its f16/q8/q4
    /// weights packed, for the kernels that read them directly; by default the f32 tensor.
    fn matrix(&self, name: &str, shape: &[usize]) -> Result<PackedMatrix> {
        let t = self.tensor(name, shape)?;
        let rows = shape.first().copied().unwrap_or(1);
        Ok(PackedMatrix::from_rows(Kind::F32, rows, t.data.len().checked_div(rows).unwrap_or(0), &t.data))
    }
}

/// `v / max(‖v‖, 1e-12)`, accumulated in f64.
pub fn normalize(v: &[f32]) -> Vec<f32> {
    let norm = v.iter().map(|x| (*x as f64).powi(2)).sum::<f64>().sqrt().max(1e-12);
    v.iter().map(|x| (*x as f64 / norm) as f32).collect()
}

/// Cosine similarity (f64 accumulation).
pub fn cosine(a: &[f32], b: &[f32]) -> f32 {
    let (na, nb) = (normalize(a), normalize(b));
    na.iter().zip(&nb).map(|(x, y)| (*x as f64) * (*y as f64)).sum::<f64>() as f32
}

/// Numerically stable softmax.
pub fn softmax(logits: &[f32]) -> Vec<f32> {
    let max = logits.iter().cloned().fold(f32::NEG_INFINITY, f32::max);
    let exps: Vec<f64> = logits.iter().map(|&l| ((l - max) as f64).exp()).collect();
    let sum: f64 = exps.iter().sum();
    exps.iter().map(|e| (e / sum) as f32).collect()
}

/// `1 / (1 + e^-x)`, stable for large |x|.
pub fn sigmoid(x: f32) -> f32 {
    let x = x as f64;
    (if x >= 0.0 { 1.0 / (1.0 + (-x).exp()) } else { x.exp() / (1.0 + x.exp()) }) as f32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sigmoid_is_stable_and_symmetric() {
        assert_eq!(sigmoid(0.0), 0.5);
        assert!((sigmoid(3.0) + sigmoid(-3.0) - 1.0).abs() < 1e-7);
        assert_eq!(sigmoid(-1000.0), 0.0);
        assert_eq!(sigmoid(1000.0), 1.0);
    }

    #[test]
    fn pack_refuses_non_finite_and_wrong_lengths() {
        let t = HostTensor { name: "w".into(), shape: vec![2, 2], data: vec![0.0, f32::NAN, 1.0, 2.0] };
        assert!(t.pack(Kind::Q8).unwrap_err().to_string().contains("non-finite value (NaN) at index 1"));
        let t = HostTensor { name: "w".into(), shape: vec![2, 3], data: vec![0.0; 4] };
        assert!(t.pack(Kind::F32).unwrap_err().to_string().contains("shape [2, 3] but 4 values"));
    }
}
