//! The webclip bundle: one file holding everything a page needs to run a model (CLIP, SigLIP) — the weights (f32/f16 natively, q8/q4
//! packed for the GPU), `config.json`, `tokenizer.json`, `preprocessor_config.json` — as a standard safetensors
//! file, so the usual tooling (`safetensors.safe_open`) opens it.
//!
//! ```text
//! u64 LE    N             length of the header
//! N bytes   header JSON   {"__metadata__": {…}, "NAME": {"dtype", "shape", "data_offsets"}, …}, space-padded to 8
//! data      tensors       back to back: the 4-byte dtypes (U32, F32) first, then F16; by name within each
//! ```
//! Same checkpoint + policy → the same bytes (keys sorted, no timestamps), so a file's hash can name it in caches.
//! Every offset is a multiple of 4, so any tensor can be bound to the GPU as `array<u32>` without repacking.
//!
//! `__metadata__` (safetensors allows only strings):
//! | key | value |
//! |-----|-------|
//! | `format` | `"webclip"` |
//! | `webclip_version` | `"2"` (version 1, before `architecture`, is read as CLIP); a reader refuses every other version |
//! | `architecture` | the model family, as `config.json`'s `model_type`: `"clip"`, `"siglip"` |
//! | `producer` | `"webclip 0.1.0"`, for bug reports |
//! | `towers` | `"both"`, `"text"` or `"vision"` |
//! | `policy` | the [`Policy`] as JSON; `policy_summary`: the same for people |
//! | `quantized` | JSON `{NAME: {"kind": "q8", "shape": [HF shape]}}` for every packed tensor |
//! | `config.json`, `preprocessor_config.json` | the files' text, as webclip writes them |
//! | (`tokenizer.json`) | not in the metadata: the U8 tensor `webclip.tokenizer_json.deflate` holds the file's JSON, minified and deflated (RFC 1951; CLIP's: 2.2 MB → 0.5 MB); absent in vision-only bundles |
//! | `payload_sha256` | hex SHA-256 of the data section |
//! | `header_sha256` | hex SHA-256 of `[{metadata without the two hashes}, {NAME: [dtype, shape]}]` as compact JSON, keys sorted: covers the 1.7 MB of text the payload hash does not |
//!
//! Tensors: an f32/f16 parameter under its HF name with its HF shape (dtype F32/F16); a q8/q4 parameter `NAME` as
//! `NAME.q8.words` (U32, `(rows, words_per_row)`) and `NAME.q8.scales` (F16, `rows·blocks_per_row` rounded up to
//! even, zero-padded) in the [`PackedMatrix`] layout, its HF shape in `quantized`.

mod write;

use std::collections::BTreeMap;
use std::sync::Arc;

use safetensors::tensor::{Dtype, Metadata};
use safetensors::SafeTensors;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

mod policy;

pub use policy::Policy;
pub use write::{plan, Planned};

use super::Checkpoint;
use crate::error::{Error, Result};
use crate::image::PreprocessConfig;
use crate::model::{Architecture, ModelConfig, Towers};
use crate::quant::{Kind, PackedMatrix, Words};
use crate::tensor::{check_finite_bytes, HostTensor, TensorSource};

pub const FORMAT: &str = "webclip";
/// The version this build writes. Version 2 added `architecture`; version 1 bundles (CLIP only) still load.
pub const VERSION: &str = "2";
/// Every version this build reads.
const READS: [&str; 2] = ["1", "2"];
const HASH_KEYS: [&str; 2] = ["payload_sha256", "header_sha256"];
/// safetensors refuses larger headers; ours is ~0.2 MB.
const MAX_HEADER: u64 = 100_000_000;
/// The U8 tensor holding `tokenizer.json`, minified and deflated.
pub const TOKENIZER_TENSOR: &str = "webclip.tokenizer_json.deflate";
/// A tokenizer.json inflating to more than this is refused (CLIP's is 1.5 MB).
const MAX_TOKENIZER: u64 = 64 << 20;

/// `(shape[0], product of the rest)`; 1-D and scalars are one row.
fn rows_cols(shape: &[usize]) -> (usize, usize) {
    let n: usize = shape.iter().product();
    let rows = if shape.len() >= 2 { shape[0] } else { 1 };
    (rows, n.checked_div(rows).unwrap_or(0))
}

fn hex(digest: &[u8]) -> String {
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

fn sha256_hex(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

/// The header hash: metadata (less the hashes) and each tensor's dtype and shape, canonical JSON.
fn header_digest(meta: &BTreeMap<String, String>, tensors: &BTreeMap<String, (Dtype, Vec<usize>)>) -> String {
    let meta: BTreeMap<&str, &str> =
        meta.iter().filter(|(k, _)| !HASH_KEYS.contains(&k.as_str())).map(|(k, v)| (k.as_str(), v.as_str())).collect();
    sha256_hex(&serde_json::to_vec(&(meta, tensors)).unwrap_or_default())
}

#[derive(Serialize, Deserialize)]
struct Quantized {
    kind: Kind,
    shape: Vec<usize>,
}

/// A parsed bundle: the file's bytes kept once, tensors read from them on request.
pub struct Bundle {
    /// file name, for error messages
    pub name: String,
    pub config: ModelConfig,
    pub preprocess: PreprocessConfig,
    /// `None` in vision-only bundles
    pub tokenizer_json: Option<String>,
    pub towers: Towers,
    pub policy: Policy,
    /// who wrote it (`webclip 0.1.0`)
    pub producer: String,
    /// the whole file; shared with the [`PackedMatrix`]es handed out, whose words borrow from it
    bytes: Arc<Vec<u8>>,
    data_start: usize,
    header: Metadata,
    /// HF name → kind and HF shape of every packed tensor
    quantized: BTreeMap<String, Quantized>,
}

/// A packed tensor's stored bytes, borrowed from the bundle: what a GPU backend uploads as-is (no second copy of
/// the weights in wasm memory). `words` and `scales` are little-endian `u32` arrays in the [`PackedMatrix`] layout.
#[derive(Clone, Copy, Debug)]
pub struct PackedBytes<'a> {
    pub kind: Kind,
    pub rows: usize,
    pub cols: usize,
    pub words: &'a [u8],  // (rows, words_per_row) u32
    pub scales: &'a [u8], // (rows·blocks_per_row rounded up to even) f16, i.e. u32 pairs; empty for f32/f16
}

impl Bundle {
    /// Parses and validates a bundle, in the order that gives the most useful message: length fields (truncated
    /// downloads), format and version, sizes, the safetensors structure, both hashes, then the contents. The bytes
    /// are kept once; tensors are read from them on request.
    pub fn parse(name: impl Into<String>, bytes: Vec<u8>) -> Result<Self> {
        let name = name.into();
        let len = bytes.len();
        let corrupt = |detail: String| Error::Safetensors { file: name.clone(), detail };
        let cut_short = "the download was cut short; delete the cached file and download it again";
        let Some(n) = bytes.get(..8).map(|b| u64::from_le_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]]))
        else {
            return Err(corrupt(format!("truncated: {len} bytes, less than the 8-byte header length; {cut_short}")));
        };
        if n > MAX_HEADER {
            return Err(corrupt(format!("its first 8 bytes give a header of {n} bytes: not a webclip bundle")));
        }
        let header_end = 8 + n as usize;
        if header_end > len {
            return Err(corrupt(format!(
                "truncated: {len} bytes, but the header alone needs {header_end}; {cut_short}"
            )));
        }
        // first as any JSON, so that damaged text and valid JSON of the wrong shape get their own messages
        let json: serde_json::Value = serde_json::from_slice(&bytes[8..header_end]).map_err(|e| {
            corrupt(format!("the header is not valid JSON ({e}): the file is damaged; delete it and download it again"))
        })?;
        let header: Metadata = serde_json::from_value(json).map_err(|e| {
            corrupt(format!("the header is JSON but not a safetensors header ({e}): not a file webclip wrote"))
        })?;
        let meta: BTreeMap<String, String> = header.metadata().clone().unwrap_or_default().into_iter().collect();

        match meta.get("format") {
            Some(f) if f == FORMAT => {}
            other => {
                let got = other.map_or("missing".into(), |f| format!("\"{f}\""));
                return Err(Error::NotABundle { file: name, got });
            }
        }
        match meta.get("webclip_version") {
            Some(v) if READS.contains(&v.as_str()) => {}
            other => {
                let got = other.map_or("(missing)", |v| v.as_str()).to_string();
                return Err(Error::BundleVersion {
                    file: name,
                    got,
                    reads: format!("versions {}", READS.join(" and ")),
                });
            }
        }
        let expected = header_end.saturating_add(header.data_len());
        if len < expected {
            return Err(corrupt(format!(
                "truncated: {len} bytes, but the header describes {expected} ({} missing); {cut_short}",
                expected - len
            )));
        }
        if len > expected {
            return Err(corrupt(format!(
                "{} unexpected bytes after the last tensor (the header describes {expected})",
                len - expected
            )));
        }
        SafeTensors::read_metadata(&bytes).map_err(|e| corrupt(e.to_string()))?; // contiguous offsets, sizes

        let table = header.tensors().into_iter().map(|(k, i)| (k, (i.dtype, i.shape.clone()))).collect();
        let damaged =
            |field: &str, detail: String| Error::BundleDamaged { file: name.clone(), field: field.into(), detail };
        let (stored, computed) = (meta.get("header_sha256").cloned().unwrap_or_default(), header_digest(&meta, &table));
        if stored != computed {
            let detail = format!("is '{stored}' but the header hashes to {computed}");
            return Err(damaged("__metadata__.header_sha256", detail));
        }
        let (stored, computed) =
            (meta.get("payload_sha256").cloned().unwrap_or_default(), sha256_hex(&bytes[header_end..]));
        if stored != computed {
            let detail = format!("is '{stored}' but the tensor data hashes to {computed}");
            return Err(damaged("__metadata__.payload_sha256", detail));
        }

        let text = |key: &str| {
            meta.get(key).map(String::as_str).ok_or_else(|| {
                Error::config(
                    &name,
                    &format!("__metadata__.{key}"),
                    "is missing: re-convert the model (`webclip convert`)",
                )
            })
        };
        let config = ModelConfig::from_json(text("config.json")?.as_bytes())?;
        // version 1 bundles are CLIP and carry no `architecture`
        let architecture = meta.get("architecture").map_or(Ok(Architecture::Clip), |a| Architecture::parse(a))?;
        if architecture != config.architecture() {
            return Err(Error::config(
                &name,
                "__metadata__.architecture",
                format!(
                    "is '{}' but config.json is a '{}' model: the bundle is damaged; re-convert the model",
                    architecture.name(),
                    config.architecture().name()
                ),
            ));
        }
        let preprocess = super::hf::preprocess_for(&config, text("preprocessor_config.json")?.as_bytes())?;
        let towers = Towers::parse(text("towers")?)?;
        let policy = Policy::from_json(text("policy")?, &name)?;
        let quantized = serde_json::from_str(text("quantized")?)
            .map_err(|source| Error::Json { file: format!("{name}: __metadata__.quantized"), source })?;
        let producer = meta.get("producer").cloned().unwrap_or_default();
        let bundle = Bundle {
            name,
            config,
            preprocess,
            tokenizer_json: None,
            towers,
            policy,
            producer,
            bytes: Arc::new(bytes),
            data_start: header_end,
            header,
            quantized,
        };
        bundle.check_tensors()?;
        let mut bundle = bundle;
        if towers.has_text() {
            bundle.tokenizer_json = Some(bundle.inflate_tokenizer()?);
        }
        Ok(bundle)
    }

    /// Every tensor is a native F32/F16 parameter or one part of a packed one, with the dtype and shape its kind
    /// and HF shape imply; no part is missing.
    fn check_tensors(&self) -> Result<()> {
        let bad = |detail: String| Error::Safetensors {
            file: self.name.clone(),
            detail: format!("{detail}; the bundle was not written by a compatible webclip: re-convert the model"),
        };
        let mut parts = BTreeMap::new();
        for (name, q) in &self.quantized {
            // a packed weight takes at least half a byte: bounds every size computed below (no overflow)
            let n = q.shape.iter().try_fold(1usize, |n, &d| n.checked_mul(d));
            if n.is_none_or(|n| n / 2 > self.bytes.len()) {
                return Err(bad(format!("'{name}' has shape {:?}, larger than the file", q.shape)));
            }
            let (rows, cols) = rows_cols(&q.shape);
            if !q.kind.is_quantized() || self.header.info(name).is_some() {
                return Err(bad(format!("'{name}' is listed as {} in `quantized`", q.kind)));
            }
            let scales = (rows * q.kind.blocks_per_row(cols)).next_multiple_of(2);
            parts.insert(format!("{name}.{}.words", q.kind), (Dtype::U32, vec![rows, q.kind.words_per_row(cols)]));
            parts.insert(format!("{name}.{}.scales", q.kind), (Dtype::F16, vec![scales]));
        }
        for (name, info) in self.header.tensors() {
            match parts.remove(&name) {
                Some((dtype, shape)) if info.dtype != dtype || info.shape != shape => {
                    return Err(bad(format!(
                        "tensor '{name}' is {:?} {:?}, but its packed matrix needs {dtype:?} {shape:?}",
                        info.dtype, info.shape
                    )))
                }
                Some((Dtype::F16, _)) => self.check_finite(&name, Dtype::F16)?, // q8/q4 scales
                Some(_) => {}
                None if matches!(info.dtype, Dtype::F32 | Dtype::F16) => self.check_finite(&name, info.dtype)?,
                None if name == TOKENIZER_TENSOR && info.dtype == Dtype::U8 && info.shape.len() == 1 => {}
                None => return Err(bad(format!("tensor '{name}' has dtype {:?}, expected F32 or F16", info.dtype))),
            }
        }
        match parts.into_keys().next() {
            Some(missing) => Err(bad(format!("tensor '{missing}' is missing"))),
            None => Ok(()),
        }
    }

    /// Stored tensor `name` (F32 or F16 bytes) holds no NaN or ±Inf: scanned once at load, as every weight of an
    /// HF checkpoint is, since a bundle written by an older webclip (or edited and re-hashed) may carry them.
    fn check_finite(&self, name: &str, dtype: Dtype) -> Result<()> {
        check_finite_bytes(name, &self.name, self.raw(name).unwrap_or_default(), dtype == Dtype::F16)
    }

    /// `tokenizer.json` from its deflated tensor.
    fn inflate_tokenizer(&self) -> Result<String> {
        use std::io::Read;
        let bad = |detail: String| Error::Safetensors { file: self.name.clone(), detail };
        let raw = self.raw(TOKENIZER_TENSOR).ok_or_else(|| {
            bad(format!("a bundle with the text tower needs the tensor '{TOKENIZER_TENSOR}'; re-convert the model"))
        })?;
        let mut text = String::new();
        flate2::read::DeflateDecoder::new(raw).take(MAX_TOKENIZER + 1).read_to_string(&mut text).map_err(|e| {
            bad(format!("'{TOKENIZER_TENSOR}' does not inflate to UTF-8 text ({e}); re-convert the model"))
        })?;
        if text.len() as u64 > MAX_TOKENIZER {
            return Err(bad(format!("'{TOKENIZER_TENSOR}' inflates to more than {MAX_TOKENIZER} bytes")));
        }
        Ok(text)
    }

    /// The bytes of stored tensor `name` (an HF name, or a packed part such as `NAME.q8.words`).
    fn raw(&self, name: &str) -> Option<&[u8]> {
        let (start, end) = self.header.info(name)?.data_offsets;
        self.bytes.get(self.data_start + start..self.data_start + end)
    }

    /// How parameter `name` is stored, if it is.
    pub fn kind(&self, name: &str) -> Option<Kind> {
        if let Some(q) = self.quantized.get(name) {
            return Some(q.kind);
        }
        match self.header.info(name)?.dtype {
            Dtype::F32 => Some(Kind::F32),
            Dtype::F16 => Some(Kind::F16),
            _ => None,
        }
    }

    /// The HF shape of parameter `name`.
    pub fn shape(&self, name: &str) -> Option<&[usize]> {
        match self.quantized.get(name) {
            Some(q) => Some(&q.shape),
            None => self.header.info(name).map(|i| i.shape.as_slice()),
        }
    }

    /// HF names of every parameter in the bundle, sorted.
    pub fn names(&self) -> Vec<String> {
        let mut names: Vec<String> = self.quantized.keys().cloned().collect();
        names.extend(
            self.header
                .tensors()
                .into_keys()
                .filter(|n| !n.ends_with(".words") && !n.ends_with(".scales") && n != TOKENIZER_TENSOR),
        );
        names.sort();
        names
    }

    /// Bytes of the weights in the data section: everything but the header and the deflated tokenizer.
    pub fn weights_len(&self) -> usize {
        let tokenizer = self.raw(TOKENIZER_TENSOR).map_or(0, <[u8]>::len);
        self.bytes.len() - self.data_start - tokenizer
    }

    /// File size in bytes.
    pub fn len(&self) -> usize {
        self.bytes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    /// Parameter `name` as a [`PackedMatrix`] in its stored kind: for the kernels and their CPU reference. The
    /// words borrow the bundle's bytes (no copy: a loaded model holds its weights once), q8/q4 words and f32/f16
    /// tensors alike — an f16 tensor's bytes already are the packed f16 pairs (an odd row length, which no CLIP
    /// matrix has, is repacked from the f16 bits, never through f32). `None` if the bundle has no such parameter.
    pub fn packed(&self, name: &str) -> Option<PackedMatrix> {
        if let Some(q) = self.quantized.get(name) {
            let (rows, cols) = rows_cols(&q.shape);
            let words = self.words(&format!("{name}.{}.words", q.kind))?;
            let scales = self.raw(&format!("{name}.{}.scales", q.kind))?;
            let mut scales: Vec<half::f16> =
                scales.chunks_exact(2).map(|c| half::f16::from_le_bytes([c[0], c[1]])).collect();
            scales.truncate(rows * q.kind.blocks_per_row(cols));
            return PackedMatrix::from_words(q.kind, rows, cols, words, scales).ok();
        }
        let kind = self.kind(name)?;
        let (rows, cols) = rows_cols(self.shape(name)?);
        let words = match kind {
            Kind::F16 if cols % 2 == 1 => {
                let halves: Vec<u16> =
                    self.raw(name)?.chunks_exact(2).map(|c| u16::from_le_bytes([c[0], c[1]])).collect();
                let pair = |p: &[u16]| p[0] as u32 | (p.get(1).copied().unwrap_or(0) as u32) << 16;
                Words::from(halves.chunks(cols).take(rows).flat_map(|row| row.chunks(2).map(pair)).collect::<Vec<_>>())
            }
            _ => self.words(name)?,
        };
        PackedMatrix::from_words(kind, rows, cols, words, Vec::new()).ok()
    }

    /// Stored tensor `name` as words borrowed from the bundle's bytes ([`Words::shared`]).
    fn words(&self, name: &str) -> Option<Words> {
        let (start, end) = self.header.info(name)?.data_offsets;
        Words::shared(&self.bytes, self.data_start + start..self.data_start + end)
    }

    /// Parameter `name`'s stored bytes in the packed layout, borrowed (quantized, f32, and f16 with an even row
    /// length — every CLIP matrix).
    pub fn packed_bytes(&self, name: &str) -> Option<PackedBytes<'_>> {
        let kind = self.kind(name)?;
        let (rows, cols) = rows_cols(self.shape(name)?);
        let (words, scales) = if kind.is_quantized() {
            (self.raw(&format!("{name}.{kind}.words"))?, self.raw(&format!("{name}.{kind}.scales"))?)
        } else if kind == Kind::F32 || cols % 2 == 0 {
            (self.raw(name)?, &[][..])
        } else {
            return None;
        };
        Some(PackedBytes { kind, rows, cols, words, scales })
    }

    /// The bundle as a [`Checkpoint`] (the weights stay in the bundle's bytes; nothing is copied).
    pub fn into_checkpoint(self) -> Checkpoint {
        Checkpoint {
            config: self.config.clone(),
            towers: self.towers,
            tokenizer_json: self.tokenizer_json.clone().map(String::into_bytes),
            preprocess: self.preprocess.clone(),
            tensors: Box::new(self),
        }
    }

    /// A natively stored (F32/F16) parameter in f32.
    fn native(&self, name: &str) -> Option<Vec<f32>> {
        let raw = self.raw(name)?;
        match self.header.info(name)?.dtype {
            Dtype::F32 => Some(raw.chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect()),
            Dtype::F16 => Some(raw.chunks_exact(2).map(|b| half::f16::from_le_bytes([b[0], b[1]]).to_f32()).collect()),
            _ => None,
        }
    }
}

/// Parameters by HF name: [`TensorSource::tensor`] in f32 (quantized ones dequantized), [`TensorSource::matrix`] as
/// stored (what the kernels read).
impl TensorSource for Bundle {
    fn matrix(&self, name: &str, shape: &[usize]) -> Result<PackedMatrix> {
        self.check_shape(name, shape)?;
        self.packed(name).ok_or_else(|| Error::MissingTensor { name: name.into(), file: self.name.clone() })
    }

    fn tensor(&self, name: &str, shape: &[usize]) -> Result<HostTensor> {
        self.check_shape(name, shape)?;
        let data = match self.quantized.get(name) {
            Some(_) => self.packed(name).map(|m| m.dequantize()),
            None => self.native(name),
        };
        let data = data.ok_or_else(|| Error::MissingTensor { name: name.into(), file: self.name.clone() })?;
        Ok(HostTensor { name: name.into(), shape: shape.to_vec(), data })
    }
}

impl Bundle {
    /// Parameter `name` exists with exactly `shape`; a tower-only bundle says which tower it lacks.
    fn check_shape(&self, name: &str, shape: &[usize]) -> Result<()> {
        let Some(stored) = self.shape(name) else {
            if !self.towers.holds(name) {
                let has = self.towers.name().to_string();
                let missing = if self.towers == Towers::Text { "vision" } else { "text" }.to_string();
                return Err(Error::MissingTower { model: self.name.clone(), has, missing });
            }
            return Err(Error::MissingTensor { name: name.into(), file: self.name.clone() });
        };
        if stored != shape {
            return Err(Error::TensorShape {
                name: name.into(),
                file: self.name.clone(),
                expected: shape.to_vec(),
                got: stored.to_vec(),
            });
        }
        Ok(())
    }
}
