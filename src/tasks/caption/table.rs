//! The vocabulary's text embeddings, computed once per model: one prompt per vocabulary entry, normalised
//! `(n, P)`. Saved as a small safetensors file (natively in the cache directory; in the page wherever it likes,
//! e.g. IndexedDB) together with the model's [`Fingerprint`] and the vocabulary's hash, both checked on load.
//!
//! File layout (safetensors):
//! | name | dtype | shape | what |
//! |---|---|---|---|
//! | `phrases` | F32 | (n, P) | normalised embeddings of [`prompts`], in that order |
//! | `fingerprint.text` | F32 | (P,) | the model's text probe ([`Fingerprint`]) |
//!
//! `__metadata__`: `format` = "webclip-caption-cache", `version` = "1", `vocabulary_sha256` (of the prompts).

use std::collections::BTreeMap;

use safetensors::tensor::Dtype;
use safetensors::SafeTensors;
use sha2::{Digest, Sha256};

use super::grammar::{sentence, Slots};
use super::vocab::Vocabulary;
use crate::error::{Error, Result};
use crate::tasks::fingerprint::{hex, Fingerprint};
use crate::tasks::store::{self, Tensor};
use crate::tensor::normalize;

const FORMAT: &str = "webclip-caption-cache";
const VERSION: &str = "1";

/// The slots in the order their prompts are stored.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Slot {
    Subject,
    Count,
    Attribute,
    Scene,
    Style,
}

/// The prompt embedded for each vocabulary entry, slot by slot. A subject's prompt is exactly its default
/// caption ("a photo of a dog."), so its score is a caption score; the other prompts only rank their slot's
/// entries for the beam ("a photo of something red.").
pub fn prompts(v: &Vocabulary) -> Vec<String> {
    let mut p: Vec<String> = (0..v.subjects.len()).map(|i| sentence(v, &Slots::subject(i))).collect();
    p.extend(v.counts.iter().map(|c| format!("a photo of {c} things.")));
    p.extend(v.attributes.iter().map(|a| format!("a photo of something {a}.")));
    p.extend(v.scenes.iter().map(|s| format!("a photo taken {s}.")));
    p.extend(v.styles.iter().map(|s| format!("{s} of something.")));
    p
}

/// Hex SHA-256 of the prompts: names the vocabulary in cache keys.
pub fn vocabulary_key(v: &Vocabulary) -> String {
    let mut h = Sha256::new();
    h.update(format!("{FORMAT} v{VERSION}\n"));
    for p in prompts(v) {
        h.update(p.as_bytes());
        h.update(b"\n");
    }
    hex(&h.finalize())
}

/// Normalised prompt embeddings `(n, dim)`, with the slot offsets of a [`Vocabulary`].
#[derive(Clone, Debug, PartialEq)]
pub struct PhraseTable {
    pub dim: usize,
    /// (n, dim) row-major, every row of unit length
    pub rows: Vec<f32>,
    /// first row of each slot, in [`Slot`] order, then n
    starts: [usize; 6],
}

impl PhraseTable {
    /// From the embeddings of [`prompts`] (any norm; normalised here).
    pub fn new(v: &Vocabulary, dim: usize, embeddings: &[Vec<f32>]) -> Result<Self> {
        let n = prompts_len(v);
        if embeddings.len() != n || embeddings.iter().any(|e| e.len() != dim) {
            return Err(Error::Input(format!(
                "caption phrase table: expected {n} embeddings of {dim} values, got {} (of {:?} values)",
                embeddings.len(),
                embeddings.first().map(Vec::len)
            )));
        }
        Ok(PhraseTable { dim, rows: embeddings.iter().flat_map(|e| normalize(e)).collect(), starts: starts(v) })
    }

    /// Cosine of each entry of `slot` with the normalised image embedding `image` `(dim,)`.
    pub fn scores(&self, slot: Slot, image: &[f32]) -> Vec<f32> {
        let i = slot as usize;
        self.rows[self.starts[i] * self.dim..self.starts[i + 1] * self.dim]
            .chunks_exact(self.dim)
            .map(|row| dot(row, image))
            .collect()
    }

    /// The cache file: embeddings, the model's text probe and the vocabulary's hash.
    pub fn to_bytes(&self, v: &Vocabulary, fingerprint: &Fingerprint) -> Result<Vec<u8>> {
        let probe = fingerprint
            .text
            .as_ref()
            .ok_or_else(|| Error::Input("a caption cache needs the model's text tower".into()))?;
        let rows: Vec<u8> = self.rows.iter().flat_map(|x| x.to_le_bytes()).collect();
        let probe: Vec<u8> = probe.iter().flat_map(|x| x.to_le_bytes()).collect();
        let n = self.rows.len() / self.dim.max(1);
        let tensors = [
            Tensor { name: "phrases", dtype: "F32", shape: vec![n, self.dim], data: &rows },
            Tensor { name: "fingerprint.text", dtype: "F32", shape: vec![self.dim], data: &probe },
        ];
        let meta = BTreeMap::from([
            ("format".to_string(), FORMAT.to_string()),
            ("version".to_string(), VERSION.to_string()),
            ("vocabulary_sha256".to_string(), vocabulary_key(v)),
        ]);
        Ok(store::serialize(&tensors, &meta))
    }

    /// Reads a cache file made by [`PhraseTable::to_bytes`] for vocabulary `v`; `name` is used in errors. The
    /// returned fingerprint (text probe only) must still be checked against the model.
    pub fn from_bytes(bytes: &[u8], name: &str, v: &Vocabulary) -> Result<(Self, Fingerprint)> {
        let bad = |detail: String| Error::Input(format!("caption cache {name}: {detail}"));
        let st = SafeTensors::deserialize(bytes)
            .map_err(|e| bad(format!("not a caption cache file: not a safetensors file ({e})")))?;
        let (_, header) = SafeTensors::read_metadata(bytes).map_err(|e| bad(e.to_string()))?;
        let meta = header.metadata().clone().unwrap_or_default();
        let field = |k: &str| meta.get(k).map(String::as_str);
        if field("format") != Some(FORMAT) {
            return Err(bad(format!("format is {:?}, expected {FORMAT:?}", field("format").unwrap_or("(none)"))));
        }
        if field("version") != Some(VERSION) {
            return Err(bad(format!(
                "version {:?}; this webclip reads version {VERSION}",
                field("version").unwrap_or("(none)")
            )));
        }
        if field("vocabulary_sha256") != Some(vocabulary_key(v).as_str()) {
            return Err(bad("it was made for another caption vocabulary".into()));
        }
        let f32s = |tensor: &str, shape: &[usize]| -> Result<Vec<f32>> {
            let t = st.tensor(tensor).map_err(|e| bad(format!("tensor {tensor}: {e}")))?;
            if t.dtype() != Dtype::F32 || t.shape() != shape {
                return Err(bad(format!("tensor {tensor} is {:?} {:?}, expected F32 {shape:?}", t.dtype(), t.shape())));
            }
            Ok(t.data().chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect())
        };
        let dim = st
            .tensor("fingerprint.text")
            .map_err(|e| bad(format!("fingerprint.text: {e}")))?
            .shape()
            .first()
            .copied()
            .unwrap_or(0);
        let probe = f32s("fingerprint.text", &[dim])?;
        let rows = f32s("phrases", &[prompts_len(v), dim])?;
        if rows.iter().any(|x| !x.is_finite()) {
            return Err(bad("phrases hold non-finite values".into()));
        }
        let fingerprint = Fingerprint { dim, text: Some(probe), image: None };
        Ok((PhraseTable { dim, rows, starts: starts(v) }, fingerprint))
    }
}

fn prompts_len(v: &Vocabulary) -> usize {
    v.len()
}

fn starts(v: &Vocabulary) -> [usize; 6] {
    let lens = [v.subjects.len(), v.counts.len(), v.attributes.len(), v.scenes.len(), v.styles.len()];
    let mut s = [0; 6];
    for (i, l) in lens.iter().enumerate() {
        s[i + 1] = s[i] + l;
    }
    s
}

pub(super) fn dot(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| *x as f64 * *y as f64).sum::<f64>() as f32
}
