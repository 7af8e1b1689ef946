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
        check_finite(&self.name, "the weights", &self.data)?;
        Ok(PackedMatrix::from_rows(kind, rows, n.checked_div(rows).unwrap_or(0), &self.data))
    }
}

/// Every value of tensor `name` (in `file`) is finite: a NaN or ±Inf weight would turn every score into NaN.
pub fn check_finite(name: &str, file: &str, data: &[f32]) -> Result<()> {
    match data.iter().position(|v| !v.is_finite()) {
        None => Ok(()),
        Some(index) => Err(non_finite(name, file, index, data[index])),
    }
}

/// [`check_finite`] of stored little-endian bytes, without converting them: `f16` 2-byte values (exponent bits
/// all ones) or `f32` 4-byte values.
pub fn check_finite_bytes(name: &str, file: &str, raw: &[u8], f16: bool) -> Result<()> {
    let found = if f16 {
        raw.chunks_exact(2)
            .map(|b| u16::from_le_bytes([b[0], b[1]]))
            .position(|h| h & 0x7c00 == 0x7c00)
            .map(|i| (i, half::f16::from_le_bytes([raw[2 * i], raw[2 * i + 1]]).to_f32()))
    } else {
        raw.chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .enumerate()
            .find(|(_, v)| !v.is_finite())
    };
    match found {
        None => Ok(()),
        Some((index, value)) => Err(non_finite(name, file, index, value)),
    }
}

fn non_finite(name: &str, file: &str, index: usize, value: f32) -> Error {
    Error::TensorNonFinite { name: name.into(), file: file.into(), index, value }
}

/// Anything that can hand out named tensors with a checked shape.
pub trait TensorSource {
    /// The tensor `name`, which must have exactly `shape`, in f32.
    fn tensor(&self, name: &str, shape: &[usize]) -> Result<HostTensor>;

    /// The matrix `name` (`shape` as HF has it; rows = `shape[0]`) as stored: a bundle hands out its f16/q8/q4
    /// weights packed, for the kernels that read them directly; by default the f32 tensor.
    /// Every tensor name the source holds, for telling what a model leaves unused; empty where the source cannot
    /// list them.
    fn names(&self) -> Vec<String> {
        Vec::new()
    }

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
        assert!(check_finite_bytes("w", "f", &[0, 0, 0x80, 0x3f, 0, 0, 0x80, 0xff], false).is_err()); // 1.0, -inf
        assert!(check_finite_bytes("w", "f", &[0, 0x3c, 0xff, 0x7b], true).is_ok()); // 1.0, 65504
        let e = check_finite_bytes("w", "f", &[0, 0x3c, 0, 0x7c, 1, 0x7e], true).unwrap_err(); // 1.0, inf, NaN
        assert!(matches!(e, Error::TensorNonFinite { index: 1, value, .. } if value == f32::INFINITY), "{e:?}");
        let t = HostTensor { name: "w".into(), shape: vec![2, 3], data: vec![0.0; 4] };
        assert!(t.pack(Kind::F32).unwrap_err().to_string().contains("shape [2, 3] but 4 values"));
    }
}
