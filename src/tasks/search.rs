//! Search over a photo collection: an index of normalised image embeddings stored as int8 with one scale per
//! vector, optionally cut to their first `dims` values (Matryoshka-style), and ranked by cosine.
//!
//! ```text
//! image (P,) ─ normalise, keep [..dims], normalise ─ u ─▶ q = round(u / s) as i8 (dims,), s = max|u| / 127
//! query (P,) ─ normalise, keep [..dims], normalise ─ x ─▶ score = cos(x, q) = x·q / (‖x‖ ‖q‖)   (s cancels)
//! ```
//! The score is the exact cosine between the query and the stored vector `q · s`; int8 costs at most
//! `0.5 · s` per value, a cosine error of about 1e-3 against the f32 embedding. CLIP was not trained with a
//! Matryoshka loss, so truncation trades accuracy for size: measure it on your photos (`webclip index --dims`).
//! The file format is in [`file`].

pub mod file;

use crate::error::{Error, Result};
use crate::tasks::fingerprint::Fingerprint;

/// `embedding` normalised, cut to its first `dims` values and normalised again `(dims,)`.
pub fn prepare(embedding: &[f32], dims: usize) -> Vec<f32> {
    let full = crate::tensor::normalize(embedding);
    crate::tensor::normalize(&full[..dims.min(full.len())])
}

/// [`prepare`]d, then int8 with a per-vector scale: `(q (dims,), s)` with `q · s ≈ u`.
pub fn quantize(embedding: &[f32], dims: usize) -> (Vec<i8>, f32) {
    let u = prepare(embedding, dims);
    let max = u.iter().fold(0f32, |m, x| m.max(x.abs()));
    if max == 0.0 {
        return (vec![0; u.len()], 0.0);
    }
    let s = max / 127.0;
    (u.iter().map(|x| (x / s).round().clamp(-127.0, 127.0) as i8).collect(), s)
}

/// One result: the row in the index and its cosine with the query.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Hit {
    pub row: usize,
    pub score: f32,
}

/// Cosine of a prepared query `(dims,)` with every row of `vectors` `(n, dims)` int8, the `top` best by
/// descending score (equal scores: lower row first). An all-zero row scores 0.
pub fn rank(query: &[f32], vectors: &[i8], dims: usize, top: usize) -> Vec<Hit> {
    if dims == 0 || query.len() != dims {
        return Vec::new();
    }
    let qn = query.iter().map(|x| (*x as f64).powi(2)).sum::<f64>().sqrt().max(1e-12);
    let mut hits: Vec<Hit> = vectors
        .chunks_exact(dims)
        .enumerate()
        .map(|(row, v)| {
            let (mut dot, mut norm) = (0f64, 0f64);
            for (x, &q) in query.iter().zip(v) {
                dot += *x as f64 * q as f64;
                norm += (q as f64) * (q as f64);
            }
            let score = if norm == 0.0 { 0.0 } else { (dot / (qn * norm.sqrt())) as f32 };
            Hit { row, score }
        })
        .collect();
    hits.sort_by(|a, b| b.score.total_cmp(&a.score).then(a.row.cmp(&b.row)));
    hits.truncate(top);
    hits
}

/// A collection's image embeddings, quantized, with the names of their files and the model's fingerprint.
#[derive(Clone, Debug, PartialEq)]
pub struct Index {
    /// stored values per vector (≤ the model's projection_dim)
    pub dims: usize,
    /// file names, one per row, relative to `root`
    pub files: Vec<String>,
    /// (n, dims) int8, row-major
    pub vectors: Vec<i8>,
    /// (n,) per-vector scale: the vector is `vectors[row] · scales[row]`
    pub scales: Vec<f32>,
    /// the model the embeddings came from
    pub fingerprint: Fingerprint,
    /// the folder the files were found in, as given when indexing (informational)
    pub root: String,
}

impl Index {
    /// An empty index for a model; `dims` = 0 keeps every value.
    pub fn new(fingerprint: Fingerprint, dims: usize, root: impl Into<String>) -> Result<Self> {
        let dims = if dims == 0 { fingerprint.dim } else { dims };
        if dims > fingerprint.dim {
            return Err(Error::Input(format!(
                "--dims {dims} is more than the model's {} embedding values; use at most {}",
                fingerprint.dim, fingerprint.dim
            )));
        }
        Ok(Index { dims, files: Vec::new(), vectors: Vec::new(), scales: Vec::new(), fingerprint, root: root.into() })
    }

    pub fn len(&self) -> usize {
        self.files.len()
    }

    pub fn is_empty(&self) -> bool {
        self.files.is_empty()
    }

    /// The row of `file`, if indexed.
    pub fn position(&self, file: &str) -> Option<usize> {
        self.files.iter().position(|f| f == file)
    }

    /// Adds (or replaces) `file` with its image embedding `(P,)` (any norm).
    pub fn insert(&mut self, file: &str, embedding: &[f32]) -> Result<()> {
        if embedding.len() != self.fingerprint.dim {
            return Err(Error::Input(format!(
                "{file}: embedding has {} values, the index holds embeddings of {}",
                embedding.len(),
                self.fingerprint.dim
            )));
        }
        let (q, s) = quantize(embedding, self.dims);
        match self.position(file) {
            Some(row) => {
                self.vectors[row * self.dims..(row + 1) * self.dims].copy_from_slice(&q);
                self.scales[row] = s;
            }
            None => {
                self.files.push(file.to_string());
                self.vectors.extend(q);
                self.scales.push(s);
            }
        }
        Ok(())
    }

    /// The stored vector of `row`, dequantized `(dims,)`.
    pub fn vector(&self, row: usize) -> Vec<f32> {
        self.vectors[row * self.dims..(row + 1) * self.dims].iter().map(|&q| q as f32 * self.scales[row]).collect()
    }

    /// The `top` rows closest to a query embedding `(P,)` (text or image, any norm), by cosine.
    pub fn search(&self, query: &[f32], top: usize) -> Result<Vec<Hit>> {
        if query.len() != self.fingerprint.dim {
            return Err(Error::Input(format!(
                "query embedding has {} values, the index was made from embeddings of {}",
                query.len(),
                self.fingerprint.dim
            )));
        }
        Ok(rank(&prepare(query, self.dims), &self.vectors, self.dims, top))
    }
}
