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
use crate::tensor::{HostTensor, TensorSource};

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

    fn names(&self) -> Vec<String> {
        self.files.iter().flat_map(SafetensorsFile::tensor_names).collect()
    }
}
