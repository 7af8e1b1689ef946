//! Weight files: Hugging Face checkpoints in (safetensors, single or sharded), synthetic checkpoints out.
//! Parsing and validation only — no math. Everything downstream asks a [`TensorSource`] for a tensor by its
//! upstream name and the shape the config implies, and gets a [`HostTensor`] or an error naming the tensor.

pub mod bundle;
mod hf;
mod safetensors_file;
pub mod synth;

pub use hf::Checkpoint;
pub use safetensors_file::SafetensorsFile;

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

/// Tensors spread over one or more safetensors files (HF shards), looked up by name.
pub struct ShardedTensors {
    pub files: Vec<SafetensorsFile>,
}

impl TensorSource for ShardedTensors {
    fn tensor(&self, name: &str, shape: &[usize]) -> Result<HostTensor> {
        for file in &self.files {
            if file.contains(name) {
                return file.tensor(name, shape);
            }
        }
        let file = self.files.iter().map(|f| f.name.as_str()).collect::<Vec<_>>().join(", ");
        Err(Error::MissingTensor { name: name.to_string(), file })
    }
}
