//! The GPU-friendly layout: a weight matrix as `u32` words a WGSL kernel indexes directly, scales apart.

use half::f16;

use super::block::{quantize_row, BlockQ4, BlockQ8, QuantBlock, BLOCK};
use super::{Kind, Words};
use crate::error::{Error, Result};

/// A weight matrix `(rows, cols)` — `(out, in)` as HF stores linear weights; the token embedding `(vocab, D)`; the
/// patch conv `(D, C·p·p)` — packed for kernels computing `y[o] = Σ_k x[k]·W[o,k]` or gathering rows.
///
/// `words` is `(rows, words_per_row)` `u32`, row-major by output row. Weight `(o, k)` lives in word
/// `o·words_per_row + k / per_word` ([`Kind::per_word`]: f32 1, f16 2, q8 4, q4 8), lowest bits first:
/// - f32: the word's bits (`bitcast<f32>(w)`);
/// - f16: half `k % 2`, low half first (`unpack2x16float(w)[k % 2]`);
/// - q8: byte `k % 4`, bits `8·(k%4) ..`, a two's-complement i8 (`extractBits(bitcast<i32>(w), 8u*(k%4u), 8u)`);
/// - q4: nibble `k % 8`, bits `4·(k%8) ..`, unsigned `q`; the weight is `q − 8`.
///
/// Sequential nibbles, unlike ggml's q4_0 (which pairs weights `i` and `i+16` in one byte for SIMD): here one
/// word is eight consecutive weights, the natural unit for a kernel that walks `k`.
///
/// `scales` (q8/q4 only) is `(rows, blocks_per_row)` f16: weight `(o, k)` is multiplied by
/// `scales[o·blocks_per_row + k/32]`. On the GPU they are `u32` pairs ([`PackedMatrix::scale_words`]): scale `b` in
/// word `b/2`, half `b % 2`, low half first (`unpack2x16float(s)[b % 2]`).
///
/// Rows are padded to whole words: q8/q4 to whole blocks of 32 (padding decodes to exactly 0), f16 to an even
/// count (padding 0). A kernel may therefore read whole words and whole blocks, as long as `x` is zero beyond
/// `cols` (or the padding weights are skipped).
#[derive(Clone, Debug, PartialEq)]
pub struct PackedMatrix {
    pub kind: Kind,
    pub rows: usize,
    pub cols: usize,
    pub words: Words,     // (rows, words_per_row); borrowed from a bundle's bytes when loaded from one
    pub scales: Vec<f16>, // (rows, blocks_per_row); empty for f32/f16
}

impl PackedMatrix {
    /// Packs `data`, `(rows, cols)` row-major.
    pub fn from_rows(kind: Kind, rows: usize, cols: usize, data: &[f32]) -> Self {
        let mut words = Vec::with_capacity(rows * kind.words_per_row(cols));
        let mut scales = Vec::with_capacity(rows * kind.blocks_per_row(cols));
        for row in data.chunks(cols.max(1)).take(if cols == 0 { 0 } else { rows }) {
            match kind {
                Kind::F32 => words.extend(row.iter().map(|v| v.to_bits())),
                Kind::F16 => words.extend(row.chunks(2).map(|p| {
                    let lo = f16::from_f32(p[0]).to_bits() as u32;
                    let hi = p.get(1).map_or(0, |&v| f16::from_f32(v).to_bits() as u32);
                    lo | (hi << 16)
                })),
                Kind::Q8 => push_blocks(&quantize_row::<BlockQ8>(row), &mut words, &mut scales),
                Kind::Q4 => push_blocks(&quantize_row::<BlockQ4>(row), &mut words, &mut scales),
            }
        }
        PackedMatrix { kind, rows, cols, words: words.into(), scales }
    }

    /// Rows `start .. start + rows` as a matrix of their own (rows are independent in every kind: their words and
    /// scales are contiguous). Splits a fused projection such as `nn.MultiheadAttention`'s `in_proj_weight`.
    pub fn slice_rows(&self, start: usize, rows: usize) -> Result<Self> {
        if start + rows > self.rows {
            return Err(Error::Input(format!("rows {start}..{} of a {}-row matrix", start + rows, self.rows)));
        }
        if self.words.is_empty() {
            // a shape-only matrix (`model::parameters` lists shapes without holding weights) slices to one
            return Ok(PackedMatrix {
                kind: self.kind,
                rows,
                cols: self.cols,
                words: Vec::new().into(),
                scales: Vec::new(),
            });
        }
        let (w, s) = (self.words_per_row(), self.blocks_per_row());
        let words = self.words[start * w..(start + rows) * w].to_vec();
        let scales = self.scales[start * s..(start + rows) * s].to_vec();
        Self::from_parts(self.kind, rows, self.cols, words, scales)
    }

    /// A matrix from stored parts, lengths checked.
    pub fn from_parts(kind: Kind, rows: usize, cols: usize, words: Vec<u32>, scales: Vec<f16>) -> Result<Self> {
        Self::from_words(kind, rows, cols, words.into(), scales)
    }

    /// [`PackedMatrix::from_parts`] with words that may be borrowed ([`Words::shared`]).
    pub fn from_words(kind: Kind, rows: usize, cols: usize, words: Words, scales: Vec<f16>) -> Result<Self> {
        let (w, s) = (rows * kind.words_per_row(cols), rows * kind.blocks_per_row(cols));
        if words.len() != w || scales.len() != s {
            return Err(Error::Input(format!(
                "a {kind} matrix ({rows}, {cols}) has {w} words and {s} scales, got {} and {}",
                words.len(),
                scales.len()
            )));
        }
        Ok(PackedMatrix { kind, rows, cols, words, scales })
    }

    pub fn words_per_row(&self) -> usize {
        self.kind.words_per_row(self.cols)
    }

    pub fn blocks_per_row(&self) -> usize {
        self.kind.blocks_per_row(self.cols)
    }

    /// Bytes as stored: words + scales (their count rounded up to even).
    pub fn bytes(&self) -> usize {
        self.kind.packed_bytes(self.rows, self.cols)
    }

    /// The scales as the GPU binds them: f16 pairs, scale `b` in the low half of word `b/2` when `b` is even;
    /// an odd count is padded with a zero scale.
    pub fn scale_words(&self) -> Vec<u32> {
        self.scales
            .chunks(2)
            .map(|p| p[0].to_bits() as u32 | (p.get(1).map_or(0, |h| h.to_bits() as u32) << 16))
            .collect()
    }

    /// Row `o` in f32 (`cols` values): the embedding gather, and the reference for any kernel's dequantization.
    pub fn dequantize_row(&self, o: usize) -> Vec<f32> {
        let row = &self.words[o * self.words_per_row()..][..self.words_per_row()];
        let mut out: Vec<f32> = match self.kind {
            Kind::F32 => row.iter().map(|&w| f32::from_bits(w)).collect(),
            Kind::F16 => {
                row.iter().flat_map(|&w| [w as u16, (w >> 16) as u16]).map(|h| f16::from_bits(h).to_f32()).collect()
            }
            Kind::Q8 => (0..self.blocks_per_row()).flat_map(|b| self.block::<BlockQ8>(o, b).dequantize()).collect(),
            Kind::Q4 => (0..self.blocks_per_row()).flat_map(|b| self.block::<BlockQ4>(o, b).dequantize()).collect(),
        };
        out.truncate(self.cols);
        out
    }

    /// Values a padded row holds: `words_per_row · per_word` (≥ `cols`; the padding decodes to 0).
    pub fn padded_cols(&self) -> usize {
        self.words_per_row() * self.kind.per_word()
    }

    /// Row `o` in f32 into `out` (at least [`PackedMatrix::padded_cols`] long), straight from the words: the CPU
    /// matmul's inner loop. Each value is `q·d` computed in f32, which is exact (an 8-bit integer times an f16),
    /// so it equals [`PackedMatrix::dequantize_row`] bit for bit.
    pub fn dequantize_row_into(&self, o: usize, out: &mut [f32]) {
        let row = &self.words[o * self.words_per_row()..][..self.words_per_row()];
        match self.kind {
            Kind::F32 => out.iter_mut().zip(row).for_each(|(y, &w)| *y = f32::from_bits(w)),
            Kind::F16 => {
                for (pair, &w) in out.chunks_exact_mut(2).zip(row) {
                    pair[0] = f16::from_bits(w as u16).to_f32();
                    pair[1] = f16::from_bits((w >> 16) as u16).to_f32();
                }
            }
            Kind::Q8 | Kind::Q4 => {
                let per_block = BLOCK / self.kind.per_word();
                let scales = &self.scales[o * self.blocks_per_row()..][..self.blocks_per_row()];
                for ((block, ys), d) in row.chunks_exact(per_block).zip(out.chunks_exact_mut(BLOCK)).zip(scales) {
                    let d = d.to_f32();
                    if self.kind == Kind::Q8 {
                        for (four, &w) in ys.chunks_exact_mut(4).zip(block) {
                            for (j, y) in four.iter_mut().enumerate() {
                                *y = (w >> (8 * j)) as u8 as i8 as f32 * d;
                            }
                        }
                    } else {
                        for (eight, &w) in ys.chunks_exact_mut(8).zip(block) {
                            for (j, y) in eight.iter_mut().enumerate() {
                                *y = (((w >> (4 * j)) & 15) as i32 - 8) as f32 * d;
                            }
                        }
                    }
                }
            }
        }
    }

    /// The whole matrix in f32, `(rows, cols)` row-major.
    pub fn dequantize(&self) -> Vec<f32> {
        (0..self.rows).flat_map(|o| self.dequantize_row(o)).collect()
    }

    /// `Σ_k x[k]·W[o,k]` — the CPU reference for the quantized matmul kernels. `x` has `cols` values. Quantized
    /// rows are done as a kernel does them: per block, `Σ_j q_j·x_j` accumulated in f32, then times the block's
    /// scale and added to the f32 total. Kernels are checked against this to a tolerance, not bit for bit.
    pub fn row_dot(&self, o: usize, x: &[f32]) -> f32 {
        debug_assert_eq!(x.len(), self.cols, "row_dot: x must have cols values");
        match self.kind {
            Kind::F32 | Kind::F16 => self.dequantize_row(o).iter().zip(x).map(|(w, v)| w * v).sum(),
            Kind::Q8 => self.block_dot::<BlockQ8>(o, x),
            Kind::Q4 => self.block_dot::<BlockQ4>(o, x),
        }
    }

    fn block_dot<B: QuantBlock>(&self, o: usize, x: &[f32]) -> f32 {
        let mut y = 0f32;
        for (b, xs) in x.chunks(BLOCK).enumerate().take(self.blocks_per_row()) {
            let block = self.block::<B>(o, b);
            let acc: f32 = xs.iter().enumerate().map(|(j, v)| block.quant(j) as f32 * v).sum();
            y += block.scale().to_f32() * acc;
        }
        y
    }

    /// Block `b` of row `o`, rebuilt from its words and scale.
    fn block<B: QuantBlock>(&self, o: usize, b: usize) -> B {
        let per_block = BLOCK / self.kind.per_word();
        let start = o * self.words_per_row() + b * per_block;
        let mut qs = [0u8; BLOCK];
        for (i, w) in self.words[start..start + per_block].iter().enumerate() {
            qs[4 * i..4 * i + 4].copy_from_slice(&w.to_le_bytes());
        }
        B::from_parts(self.scales[o * self.blocks_per_row() + b], &qs)
    }
}

/// Appends each block's values as little-endian words and its scale.
fn push_blocks<B: QuantBlock>(blocks: &[B], words: &mut Vec<u32>, scales: &mut Vec<f16>) {
    for b in blocks {
        scales.push(b.scale());
        words.extend(b.qs_bytes().chunks_exact(4).map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]])));
    }
}
