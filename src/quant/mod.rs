//! Weight formats: f32, f16 and two block-quantized ones, q8 and q4; plain scalar reference (de)quantizers; the
//! packed layout the GPU kernels read. (Which parameter gets which format is the bundle's policy:
//! `weights::bundle::Policy`.)
//! No I/O here: the bundle file (src/weights/bundle.rs) stores what this module produces.
//!
//! # Block formats (the reference, byte by byte)
//!
//! A row of `n` weights is cut into blocks of [`BLOCK`] = 32 consecutive weights; a row whose length is not a
//! multiple of 32 is quantized as if padded with zeros, and the padding decodes to exactly 0.0 (q8: q = 0, q4:
//! q = 8). All multi-byte fields are little-endian.
//!
//! | kind | bytes / block | bits / weight | block layout | decoded value of weight `j` |
//! |------|---------------|---------------|--------------|-----------------------------|
//! | q8   | 34            | 8.5           | `d: f16`, `qs: [i8; 32]`, `qs[j]` = weight `j` | `qs[j] · d` |
//! | q4   | 18            | 4.5           | `d: f16`, `qs: [u8; 16]`, low nibble of `qs[i]` = weight `2i`, high nibble = weight `2i+1` | `(q_j − 8) · d` |
//!
//! - **q8** (symmetric, as ggml `q8_0`): `d = absmax / 127`, `q = round(x / d)` (half away from zero) ∈ [−127, 127].
//!   Error bound: `|x − q·d| ≤ d/2` for every weight.
//! - **q4** (as ggml `q4_0`, nibble order differs): `m` = the block's weight of largest magnitude (first one on a
//!   tie), `d = m / −8`, `q = clamp(floor(x/d + 8.5), 0, 15)`. The extreme weight decodes exactly and the step is
//!   `|m|/8`. Error bound: `|x − (q−8)·d| ≤ |d|/2`, except for weights of the sign opposite to `m` with
//!   `|x| > 7.5·|d|`, which clamp to `7·|d|` (error ≤ `|d|`).
//!
//!   Why not the symmetric `d = absmax/7, q ∈ [−7, 7]`: its step is `absmax/7` instead of `absmax/8`. Measured
//!   relative RMSE over 2²⁰ weights: N(0,1) 0.0860 (q4_0 style) vs 0.0970 (symmetric); Laplace 0.107 vs 0.121;
//!   Student-t(3) 0.127 vs 0.143. A per-block search over scales gained only 2% more, so the reference stays plain.
//! - Both store `d` rounded *up* in magnitude to the next f16 (not to nearest): `|x/d| ≤ 127` (q8) and `≤ 8` (q4)
//!   then hold with the stored scale, so the bounds above are exact for the stored `d`. `|d|` saturates at the f16
//!   maximum 65504 (weights beyond ±8.3·10⁶ (q8) or ±5.2·10⁵ (q4) would clip; CLIP's are < 100). An all-zero
//!   block has `d = 0` and decodes to zeros. Non-finite weights are rejected by [`PackedMatrix::pack`].
//!
//! # Packed layout (what WGSL reads): see [`PackedMatrix`].

mod block;
mod packed;
mod words;

pub use block::{dequantize_row, quantize_row, BlockQ4, BlockQ8, QuantBlock, BLOCK};
pub use packed::PackedMatrix;
pub use words::Words;

use crate::error::{Error, Result};

/// How one weight tensor is stored.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    F32,
    F16,
    /// blocks of 32 × i8 + one f16 scale, 8.5 bits per weight
    Q8,
    /// blocks of 32 × 4-bit + one f16 scale, 4.5 bits per weight
    Q4,
}

impl Kind {
    pub const ALL: [Kind; 4] = [Kind::F32, Kind::F16, Kind::Q8, Kind::Q4];

    /// The name used on the command line and in bundle tensor names (`NAME.q8.words`).
    pub fn name(self) -> &'static str {
        match self {
            Kind::F32 => "f32",
            Kind::F16 => "f16",
            Kind::Q8 => "q8",
            Kind::Q4 => "q4",
        }
    }

    pub fn parse(name: &str) -> Result<Kind> {
        Kind::ALL
            .into_iter()
            .find(|k| k.name() == name)
            .ok_or_else(|| Error::Input(format!("unknown weight format '{name}'; choose one of f32, f16, q8, q4")))
    }

    /// Block-quantized (q8, q4): values in `words`, one f16 scale per block of 32.
    pub fn is_quantized(self) -> bool {
        matches!(self, Kind::Q8 | Kind::Q4)
    }

    /// Values one `u32` word holds: f32 1, f16 2, q8 4, q4 8.
    pub fn per_word(self) -> usize {
        match self {
            Kind::F32 => 1,
            Kind::F16 => 2,
            Kind::Q8 => 4,
            Kind::Q4 => 8,
        }
    }

    /// Scale blocks in a row of `cols` weights (0 for f32/f16).
    pub fn blocks_per_row(self, cols: usize) -> usize {
        if self.is_quantized() {
            cols.div_ceil(BLOCK)
        } else {
            0
        }
    }

    /// `u32` words a row of `cols` weights takes: quantized rows are padded to whole blocks, f16 rows to an even
    /// count.
    pub fn words_per_row(self, cols: usize) -> usize {
        if self.is_quantized() {
            self.blocks_per_row(cols) * BLOCK / self.per_word()
        } else {
            cols.div_ceil(self.per_word())
        }
    }

    /// Bytes a `(rows, cols)` matrix takes when packed: words plus f16 scales (their count rounded up to even, as
    /// the bundle stores them, so they can be read as `u32` pairs).
    pub fn packed_bytes(self, rows: usize, cols: usize) -> usize {
        4 * rows * self.words_per_row(cols) + 2 * (rows * self.blocks_per_row(cols)).next_multiple_of(2)
    }
}

impl std::fmt::Display for Kind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}
