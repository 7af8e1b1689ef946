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

use std::collections::HashMap;

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
    /// file names, one per row, relative to `root` ([`Index::files`]; changed only through `insert` and
    /// `retain`, which keep `rows` in step)
    files: Vec<String>,
    /// file name → its row in `files`: `insert` finds a file in O(1), so building an index of n files is O(n)
    rows: HashMap<String, usize>,
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
        Ok(Index {
            dims,
            files: Vec::new(),
            rows: HashMap::new(),
            vectors: Vec::new(),
            scales: Vec::new(),
            fingerprint,
            root: root.into(),
        })
    }

    /// The file names, one per row.
    pub fn files(&self) -> &[String] {
        &self.files
    }

    pub fn len(&self) -> usize {
        self.files.len()
    }

    pub fn is_empty(&self) -> bool {
        self.files.is_empty()
    }

    /// The row of `file`, if indexed.
    pub fn position(&self, file: &str) -> Option<usize> {
        self.rows.get(file).copied()
    }

    /// Keeps the rows whose file `keep` accepts, in their order (e.g. the files still on disk).
    pub fn retain(&mut self, mut keep: impl FnMut(&str) -> bool) {
        let d = self.dims;
        let (mut files, mut vectors, mut scales) = (Vec::new(), Vec::new(), Vec::new());
        for (row, file) in std::mem::take(&mut self.files).into_iter().enumerate() {
            if keep(&file) {
                files.push(file);
                vectors.extend_from_slice(&self.vectors[row * d..(row + 1) * d]);
                scales.push(self.scales[row]);
            }
        }
        self.rows = files.iter().enumerate().map(|(row, f)| (f.clone(), row)).collect();
        (self.files, self.vectors, self.scales) = (files, vectors, scales);
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
                self.rows.insert(file.to_string(), self.files.len());
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

#[cfg(test)]
mod tests {
    use super::*;

    fn fingerprint(dim: usize) -> Fingerprint {
        Fingerprint { dim, text: Some(vec![1.0; dim]), image: None }
    }

    /// One embedding per file number, distinct enough that a wrong row shows.
    fn embedding(i: usize, dim: usize) -> Vec<f32> {
        (0..dim).map(|k| ((i * 7 + k * 13) % 101) as f32 - 50.0).collect()
    }

    /// A large collection (the lookup used to be a linear scan per insert: O(n²) to build): every file lands in
    /// its own row, replacing one keeps its row, `retain` keeps lookups right, and the file round-trips.
    #[test]
    fn a_large_collection_indexes_every_file_once() {
        let (n, dim) = (30_000, 8);
        let mut index = Index::new(fingerprint(dim), 0, "photos").unwrap();
        for i in 0..n {
            index.insert(&format!("dir{}/img{i}.jpg", i % 97), &embedding(i, dim)).unwrap();
        }
        assert_eq!(index.len(), n);
        for i in (0..n).step_by(7) {
            index.insert(&format!("dir{}/img{i}.jpg", i % 97), &embedding(i + 1, dim)).unwrap();
            // replaced
        }
        assert_eq!((index.len(), index.vectors.len(), index.scales.len()), (n, n * dim, n));
        for i in 0..n {
            let file = format!("dir{}/img{i}.jpg", i % 97);
            assert_eq!(index.position(&file), Some(i), "{file}");
            assert_eq!(index.files[i], file);
            let want = quantize(&embedding(if i % 7 == 0 { i + 1 } else { i }, dim), dim).0;
            assert_eq!(index.vectors[i * dim..(i + 1) * dim], want[..], "{file}");
        }
        assert_eq!(index.position("dir0/img1.jpg"), None);

        let bytes = index.to_bytes().unwrap();
        let back = Index::from_bytes(&bytes, "large.index").unwrap();
        assert_eq!(back, index);
        assert_eq!(back.position(&format!("dir{}/img{}.jpg", (n - 1) % 97, n - 1)), Some(n - 1));

        index.retain(|f| f.ends_with("0.jpg") || f.ends_with("5.jpg"));
        assert_eq!(index.len(), n / 5);
        for (row, file) in index.files().iter().enumerate() {
            assert_eq!(index.position(file), Some(row));
            let i: usize = file.rsplit("img").next().unwrap().trim_end_matches(".jpg").parse().unwrap();
            assert_eq!(index.vector(row), back.vector(i), "{file}");
        }
        assert_eq!(index.position("dir1/img1.jpg"), None);
        index.insert("new.jpg", &embedding(0, dim)).unwrap();
        assert_eq!(index.position("new.jpg"), Some(n / 5));
    }

    /// A file listing one name twice (only a damaged or hand-made file can) is refused: a name has one row.
    #[test]
    fn an_index_file_naming_a_file_twice_is_refused() {
        let mut index = Index::new(fingerprint(4), 0, "").unwrap();
        index.insert("a.jpg", &embedding(1, 4)).unwrap();
        index.insert("b.jpg", &embedding(2, 4)).unwrap();
        index.files[1] = "a.jpg".into();
        let bytes = index.to_bytes().unwrap();
        let err = Index::from_bytes(&bytes, "dup.index").map(|i| i.len()).unwrap_err().to_string();
        assert!(err.contains("dup.index") && err.contains("\"a.jpg\"") && err.contains("twice"), "{err}");
    }
}
