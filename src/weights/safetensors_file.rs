//! One safetensors file held in memory: header parsed once, tensors converted to f32 on request.

use safetensors::tensor::{Dtype, Metadata};
use safetensors::SafeTensors;

use crate::error::{Error, Result};
use crate::tensor::{check_finite, HostTensor};

pub struct SafetensorsFile {
    /// file name, for error messages
    pub name: String,
    bytes: Vec<u8>,
    /// start of the data section: 8-byte length + JSON header
    data_start: usize,
    metadata: Metadata,
}

impl SafetensorsFile {
    /// Parses and validates the header: offsets inside the file, no overlaps, file not truncated.
    pub fn parse(name: impl Into<String>, bytes: Vec<u8>) -> Result<Self> {
        let name = name.into();
        let (header_len, metadata) = SafeTensors::read_metadata(&bytes)
            .map_err(|e| Error::Safetensors { file: name.clone(), detail: e.to_string() })?;
        Ok(SafetensorsFile { name, bytes, data_start: 8 + header_len, metadata })
    }

    pub fn contains(&self, tensor: &str) -> bool {
        self.metadata.info(tensor).is_some()
    }

    /// The stored shape of `tensor`, if present.
    pub fn shape(&self, tensor: &str) -> Option<&[usize]> {
        self.metadata.info(tensor).map(|i| i.shape.as_slice())
    }

    /// The stored bytes of `tensor`, whatever its dtype.
    pub fn raw(&self, tensor: &str) -> Option<&[u8]> {
        let (start, end) = self.metadata.info(tensor)?.data_offsets;
        Some(&self.bytes[self.data_start + start..self.data_start + end])
    }

    /// Tensor names in the file, sorted.
    pub fn tensor_names(&self) -> Vec<String> {
        let mut names: Vec<String> = self.metadata.tensors().into_keys().collect();
        names.sort();
        names
    }

    /// The tensor converted to f32; `shape` must match exactly and every value be finite.
    pub fn tensor(&self, name: &str, shape: &[usize]) -> Result<HostTensor> {
        let info = self
            .metadata
            .info(name)
            .ok_or_else(|| Error::MissingTensor { name: name.to_string(), file: self.name.clone() })?;
        if info.shape != shape {
            return Err(Error::TensorShape {
                name: name.to_string(),
                file: self.name.clone(),
                expected: shape.to_vec(),
                got: info.shape.clone(),
            });
        }
        let raw = self.raw(name).unwrap_or_default();
        let data: Vec<f32> = match info.dtype {
            Dtype::F32 => raw.chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect(),
            Dtype::F16 => raw.chunks_exact(2).map(|b| half::f16::from_le_bytes([b[0], b[1]]).to_f32()).collect(),
            Dtype::BF16 => raw.chunks_exact(2).map(|b| half::bf16::from_le_bytes([b[0], b[1]]).to_f32()).collect(),
            other => {
                return Err(Error::TensorDtype {
                    name: name.to_string(),
                    file: self.name.clone(),
                    got: format!("{other:?}"),
                })
            }
        };
        check_finite(name, &self.name, &data)?;
        Ok(HostTensor { name: name.to_string(), shape: shape.to_vec(), data })
    }
}
