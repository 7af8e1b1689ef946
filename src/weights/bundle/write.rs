//! Writing a bundle: walk the model's parameters, store each as the policy says, lay out the file.

use std::collections::BTreeMap;

use safetensors::tensor::{Dtype, TensorInfo};
use serde::Serialize;
use sha2::{Digest, Sha256};

use super::{header_digest, hex, rows_cols, Bundle, Policy, Quantized, FORMAT, TOKENIZER_TENSOR, VERSION};
use crate::error::{Error, Result};
use crate::image::PreprocessConfig;
use crate::model::{self, ModelConfig, Towers};
use crate::quant::Kind;
use crate::tensor::{HostTensor, TensorSource};
use crate::weights::Checkpoint;

/// One parameter as the policy stores it.
#[derive(Clone, Debug, PartialEq)]
pub struct Planned {
    pub name: String,
    pub shape: Vec<usize>,
    pub kind: Kind,
}

impl Planned {
    /// Bytes in the data section.
    pub fn bytes(&self) -> usize {
        let (rows, cols) = rows_cols(&self.shape);
        match self.kind {
            Kind::F32 => 4 * rows * cols,
            Kind::F16 => 2 * rows * cols,
            _ => self.kind.packed_bytes(rows, cols),
        }
    }
}

/// Every parameter a bundle of `towers` holds under `policy`, in the order the model loads them (names, shapes
/// and formats from `model::parameters`: no weights read or built).
pub fn plan(config: &ModelConfig, policy: &Policy, towers: Towers) -> Result<Vec<Planned>> {
    let params = model::parameters(config, Towers::Both)?;
    let kinds = policy.kinds(&params);
    Ok(params
        .into_iter()
        .zip(kinds)
        .filter(|(p, _)| towers.holds(&p.name))
        .map(|(p, kind)| Planned { name: p.name, shape: p.shape, kind })
        .collect())
}

/// A stored tensor: its name in the file, dtype, shape and little-endian bytes.
type Part = (String, Dtype, Vec<usize>, Vec<u8>);

fn encode(t: &HostTensor, kind: Kind) -> Result<Vec<Part>> {
    let native = |dtype, bytes| Ok(vec![(t.name.clone(), dtype, t.shape.clone(), bytes)]);
    match kind {
        Kind::F32 => native(Dtype::F32, t.data.iter().flat_map(|v| v.to_le_bytes()).collect()),
        Kind::F16 => native(Dtype::F16, t.data.iter().flat_map(|&v| half::f16::from_f32(v).to_le_bytes()).collect()),
        Kind::Q8 | Kind::Q4 => {
            let m = t.pack(kind)?;
            let mut scales: Vec<u8> = m.scales.iter().flat_map(|s| s.to_le_bytes()).collect();
            scales.resize(4 * m.scales.len().div_ceil(2), 0);
            Ok(vec![
                (
                    format!("{}.{kind}.words", t.name),
                    Dtype::U32,
                    vec![m.rows, m.words_per_row()],
                    m.words.iter().flat_map(|w| w.to_le_bytes()).collect(),
                ),
                (format!("{}.{kind}.scales", t.name), Dtype::F16, vec![scales.len() / 2], scales),
            ])
        }
    }
}

impl Bundle {
    /// Writes a bundle of `towers` from `source` (a checkpoint's tensors), storing each parameter as `policy`
    /// says. `tokenizer_json` goes in when the text tower does (natively, `None` means CLIP's bundled one).
    pub fn write(
        source: &dyn TensorSource,
        config: &ModelConfig,
        tokenizer_json: Option<&[u8]>,
        preprocess: &PreprocessConfig,
        policy: &Policy,
        towers: Towers,
    ) -> Result<Vec<u8>> {
        let recorded = plan(config, policy, towers)?
            .into_iter()
            .map(|p| {
                let parts = encode(&source.tensor(&p.name, &p.shape)?, p.kind)?;
                Ok((p, parts))
            })
            .collect::<Result<Vec<_>>>()?;
        let quantized: BTreeMap<&str, Quantized> = recorded
            .iter()
            .filter(|(p, _)| p.kind.is_quantized())
            .map(|(p, _)| (p.name.as_str(), Quantized { kind: p.kind, shape: p.shape.clone() }))
            .collect();
        let mut meta: BTreeMap<String, String> = [
            ("format", FORMAT.to_string()),
            ("webclip_version", VERSION.to_string()),
            ("producer", format!("webclip {}", env!("CARGO_PKG_VERSION"))),
            ("architecture", config.architecture().name().to_string()),
            ("towers", towers.name().to_string()),
            ("policy", policy.to_json()),
            ("policy_summary", policy.describe()),
            ("quantized", serde_json::to_string(&quantized).unwrap_or_default()),
            ("config.json", config.to_json()),
            ("preprocessor_config.json", preprocess.to_json()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
        // 4-byte dtypes first, then F16 (all scale tensors have an even count), then the U8 tokenizer: every
        // weight offset stays a multiple of 4
        let mut parts: Vec<Part> = recorded.into_iter().flat_map(|(_, parts)| parts).collect();
        if towers.has_text() {
            let deflated = deflate(tokenizer_text(tokenizer_json)?.as_bytes());
            parts.push((TOKENIZER_TENSOR.into(), Dtype::U8, vec![deflated.len()], deflated));
        }
        parts.sort_by(|a, b| b.1.bitsize().cmp(&a.1.bitsize()).then_with(|| a.0.cmp(&b.0)));
        let (mut infos, mut table, mut hasher, mut offset) = (BTreeMap::new(), BTreeMap::new(), Sha256::new(), 0);
        for (name, dtype, shape, bytes) in &parts {
            hasher.update(bytes);
            infos.insert(
                name.as_str(),
                TensorInfo { dtype: *dtype, shape: shape.clone(), data_offsets: (offset, offset + bytes.len()) },
            );
            table.insert(name.clone(), (*dtype, shape.clone()));
            offset += bytes.len();
        }
        meta.insert("payload_sha256".into(), hex(&hasher.finalize()));
        meta.insert("header_sha256".into(), header_digest(&meta, &table));

        #[derive(Serialize)]
        struct Header<'a> {
            #[serde(rename = "__metadata__")]
            metadata: &'a BTreeMap<String, String>,
            #[serde(flatten)]
            tensors: &'a BTreeMap<&'a str, TensorInfo>,
        }
        let mut header = serde_json::to_vec(&Header { metadata: &meta, tensors: &infos })
            .map_err(|e| Error::Safetensors { file: "bundle".into(), detail: e.to_string() })?;
        header.resize(header.len().next_multiple_of(8), b' ');
        let mut out = Vec::with_capacity(8 + header.len() + offset);
        out.extend((header.len() as u64).to_le_bytes());
        out.extend(header);
        for (_, _, _, bytes) in parts {
            out.extend(bytes);
        }
        Ok(out)
    }
}

impl Checkpoint {
    /// This checkpoint as a bundle of `towers`, each parameter stored as `policy` says ([`Bundle::write`]).
    pub fn to_bundle(&self, policy: &Policy, towers: Towers) -> Result<Vec<u8>> {
        let tokenizer = self.tokenizer_json.as_deref();
        Bundle::write(self.tensors.as_ref(), &self.config, tokenizer, &self.preprocess, policy, towers)
    }
}

/// `tokenizer.json` as minified text (2.2 MB pretty-printed → 1.5 MB): the one given, else (natively) CLIP's
/// bundled one.
fn tokenizer_text(json: Option<&[u8]>) -> Result<String> {
    #[cfg(not(target_arch = "wasm32"))]
    let json = json.or(Some(crate::tokenizer::BUNDLED_TOKENIZER_JSON));
    let json = json.ok_or_else(|| {
        Error::Tokenizer("a bundle with the text tower needs tokenizer.json; add the model's tokenizer.json".into())
    })?;
    let value: serde_json::Value =
        serde_json::from_slice(json).map_err(|source| Error::Json { file: "tokenizer.json".into(), source })?;
    Ok(value.to_string())
}

/// Raw deflate (RFC 1951) at the best level: deterministic for the same input and flate2 version.
fn deflate(bytes: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut encoder = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::best());
    // writing into a Vec cannot fail
    let _ = encoder.write_all(bytes);
    encoder.finish().unwrap_or_default()
}
