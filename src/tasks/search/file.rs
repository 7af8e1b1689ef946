//! The index file: safetensors, so any safetensors reader can open it.
//!
//! | tensor | dtype | shape | what |
//! |---|---|---|---|
//! | `embeddings` | I8 | (n, dims) | quantized, normalised image embeddings (see [`super::quantize`]) |
//! | `scales` | F32 | (n,) | per-vector scale: row `i` is `embeddings[i] · scales[i]` |
//! | `fingerprint.text` | F32 | (P,) | the model's text probe ([`Fingerprint`]); absent for a vision-only model |
//! | `fingerprint.image` | F32 | (P,) | the model's image probe |
//!
//! `__metadata__` (strings): `format` = "webclip-index", `version` = "1", `dims`, `embedding_dim` (P),
//! `files` (JSON array of n names, relative to `root`), `root`, `sha256` (hex SHA-256 over `files` and every
//! tensor's bytes, each preceded by its length as u64 LE: catches a damaged copy that still parses).

use std::collections::BTreeMap;

use safetensors::tensor::Dtype;
use safetensors::SafeTensors;
use sha2::{Digest, Sha256};

use super::Index;
use crate::error::{Error, Result};
use crate::tasks::fingerprint::{hex, Fingerprint};
use crate::tasks::store::{self, Tensor};

const FORMAT: &str = "webclip-index";
const VERSION: &str = "1";

impl Index {
    /// The file bytes (layout in the module docs).
    pub fn to_bytes(&self) -> Result<Vec<u8>> {
        let files =
            serde_json::to_string(&self.files).map_err(|source| Error::Json { file: "index files".into(), source })?;
        let vectors: Vec<u8> = self.vectors.iter().map(|&q| q as u8).collect();
        let scales: Vec<u8> = self.scales.iter().flat_map(|s| s.to_le_bytes()).collect();
        let f32_bytes = |v: &Vec<f32>| v.iter().flat_map(|x| x.to_le_bytes()).collect::<Vec<u8>>();
        let (text, image) =
            (self.fingerprint.text.as_ref().map(f32_bytes), self.fingerprint.image.as_ref().map(f32_bytes));
        let p = self.fingerprint.dim;
        let mut tensors = vec![
            Tensor { name: "embeddings", dtype: "I8", shape: vec![self.len(), self.dims], data: &vectors },
            Tensor { name: "scales", dtype: "F32", shape: vec![self.len()], data: &scales },
        ];
        if let Some(t) = &text {
            tensors.push(Tensor { name: "fingerprint.text", dtype: "F32", shape: vec![p], data: t });
        }
        if let Some(i) = &image {
            tensors.push(Tensor { name: "fingerprint.image", dtype: "F32", shape: vec![p], data: i });
        }
        let meta = BTreeMap::from([
            ("format".to_string(), FORMAT.to_string()),
            ("version".to_string(), VERSION.to_string()),
            ("dims".to_string(), self.dims.to_string()),
            ("embedding_dim".to_string(), p.to_string()),
            ("root".to_string(), self.root.clone()),
            (
                "sha256".to_string(),
                checksum(&[files.as_bytes(), &vectors, &scales, probe_bytes(&text), probe_bytes(&image)]),
            ),
            ("files".to_string(), files),
        ]);
        Ok(store::serialize(&tensors, &meta))
    }

    /// Parses and validates an index file; `name` (its path) is used in errors. Does not check the model:
    /// call `index.fingerprint.check(&model_fingerprint, …)` (webclip search does).
    pub fn from_bytes(bytes: &[u8], name: &str) -> Result<Self> {
        let bad = |detail: String| Error::Input(format!("index {name}: {detail}"));
        let rebuild = "rebuild it with `webclip index`";
        let (_, header) = SafeTensors::read_metadata(bytes)
            .map_err(|e| bad(format!("truncated or not a webclip index (safetensors: {e}); {rebuild}")))?;
        let st = SafeTensors::deserialize(bytes).map_err(|e| bad(format!("{e}; {rebuild}")))?;
        let meta = header.metadata().clone().unwrap_or_default();
        let field = |k: &str| meta.get(k).map(String::as_str);
        if field("format") != Some(FORMAT) {
            return Err(bad(format!(
                "not a webclip index: a safetensors file whose format is {:?}, not {FORMAT:?}",
                field("format").unwrap_or("(none)")
            )));
        }
        if field("version") != Some(VERSION) {
            return Err(bad(format!(
                "index version {:?}; this webclip reads version {VERSION}: {rebuild}, or use the webclip that made it",
                field("version").unwrap_or("(none)")
            )));
        }
        let number = |k: &str| -> Result<usize> {
            field(k).and_then(|v| v.parse().ok()).ok_or_else(|| bad(format!("metadata {k} is missing or not a number")))
        };
        let (dims, p) = (number("dims")?, number("embedding_dim")?);
        if dims == 0 || dims > p {
            return Err(bad(format!("dims {dims} must be between 1 and embedding_dim {p}")));
        }
        let files_json = field("files").ok_or_else(|| bad("metadata files is missing".into()))?;
        let files: Vec<String> = serde_json::from_str(files_json)
            .map_err(|e| bad(format!("metadata files is not a JSON list of names: {e}")))?;
        let n = files.len();
        let raw = |tensor: &str, dtype: Dtype, shape: &[usize]| -> Result<Vec<u8>> {
            let t = st.tensor(tensor).map_err(|_| bad(format!("tensor {tensor} is missing; {rebuild}")))?;
            if t.dtype() != dtype || t.shape() != shape {
                return Err(bad(format!(
                    "tensor {tensor} is {:?} {:?}, expected {dtype:?} {shape:?} ({n} files × {dims} dims); {rebuild}",
                    t.dtype(),
                    t.shape()
                )));
            }
            Ok(t.data().to_vec())
        };
        let vectors = raw("embeddings", Dtype::I8, &[n, dims])?;
        let scales = raw("scales", Dtype::F32, &[n])?;
        let probe = |tensor: &str| -> Result<Option<Vec<u8>>> {
            match st.tensor(tensor) {
                Err(_) => Ok(None),
                Ok(_) => raw(tensor, Dtype::F32, &[p]).map(Some),
            }
        };
        let (text, image) = (probe("fingerprint.text")?, probe("fingerprint.image")?);
        let parts = [files_json.as_bytes(), &vectors, &scales, probe_bytes(&text), probe_bytes(&image)];
        if field("sha256") != Some(checksum(&parts).as_str()) {
            return Err(bad(format!(
                "corrupt: its contents do not match its sha256 (a damaged copy or an interrupted write); {rebuild}"
            )));
        }
        let fingerprint = Fingerprint { dim: p, text: text.map(|b| to_f32(&b)), image: image.map(|b| to_f32(&b)) };
        if fingerprint.text.is_none() && fingerprint.image.is_none() {
            return Err(bad(format!(
                "it holds no model fingerprint (fingerprint.text / fingerprint.image); {rebuild}"
            )));
        }
        let scales = to_f32(&scales);
        if scales.iter().any(|s| !s.is_finite() || *s < 0.0) {
            return Err(bad(format!("scales must be finite and ≥ 0; {rebuild}")));
        }
        let mut rows = std::collections::HashMap::with_capacity(n);
        for (row, f) in files.iter().enumerate() {
            if let Some(first) = rows.insert(f.clone(), row) {
                return Err(bad(format!("it lists the file {f:?} twice (rows {first} and {row}); {rebuild}")));
            }
        }
        Ok(Index {
            dims,
            files,
            rows,
            vectors: vectors.into_iter().map(|b| b as i8).collect(),
            scales,
            fingerprint,
            root: field("root").unwrap_or("").to_string(),
        })
    }
}

/// SHA-256 of the parts in order: the file names (JSON), embeddings, scales, text probe, image probe.
fn checksum(parts: &[&[u8]]) -> String {
    let mut h = Sha256::new();
    for part in parts {
        h.update((part.len() as u64).to_le_bytes());
        h.update(part);
    }
    hex(&h.finalize())
}

fn probe_bytes(probe: &Option<Vec<u8>>) -> &[u8] {
    probe.as_deref().unwrap_or(&[])
}

fn to_f32(b: &[u8]) -> Vec<f32> {
    b.chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect()
}
