//! The two block formats and their plain scalar reference quantizers (see the table in `quant/mod.rs`).
//! Written for clarity, not speed: they run once, offline, in `webclip convert`.

use bytemuck::{Pod, Zeroable};
use half::f16;

use super::Kind;

/// Weights per block (and per scale).
pub const BLOCK: usize = 32;

/// `d: f16` then 32 × `i8`: weight `j` = `qs[j] · d`.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Pod, Zeroable)]
pub struct BlockQ8 {
    pub d: f16,
    pub qs: [i8; BLOCK],
}

/// `d: f16` then 16 bytes of nibbles: weight `2i` in the low nibble of `qs[i]`, weight `2i+1` in the high one;
/// weight `j` = `(q_j − 8) · d`.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Pod, Zeroable)]
pub struct BlockQ4 {
    pub d: f16,
    pub qs: [u8; BLOCK / 2],
}

const _: () = assert!(std::mem::size_of::<BlockQ8>() == 34, "q8 block: 2-byte scale + 32 bytes");
const _: () = assert!(std::mem::size_of::<BlockQ4>() == 18, "q4 block: 2-byte scale + 16 bytes");

/// What the packed layout and the reference dot product need from a block format.
pub trait QuantBlock: Copy + Pod {
    const KIND: Kind;
    /// Quantizes 32 weights (the caller zero-pads a short last block).
    fn quantize(x: &[f32; BLOCK]) -> Self;
    fn scale(&self) -> f16;
    /// The signed integer of weight `j`: its value is `quant(j) · scale`.
    fn quant(&self, j: usize) -> i32;
    /// The quantized values as stored, `BLOCK · bits / 8` bytes (read as little-endian `u32` words by the GPU).
    fn qs_bytes(&self) -> &[u8];
    /// A block from a scale and [`QuantBlock::qs_bytes`].
    fn from_parts(d: f16, qs: &[u8]) -> Self;

    fn dequantize(&self) -> [f32; BLOCK] {
        let d = self.scale().to_f32();
        std::array::from_fn(|j| self.quant(j) as f32 * d)
    }
}

/// `d` as f16, rounded *up* in magnitude (never to a smaller step: keeps `|x/d|` within the integer range, so the
/// error bounds hold for the stored scale), saturating at ±65504.
fn scale_up(d: f32) -> f16 {
    let d = d.clamp(-f16::MAX.to_f32(), f16::MAX.to_f32());
    let h = f16::from_f32(d);
    if h.to_f32().abs() < d.abs() {
        f16::from_bits(h.to_bits() + 1) // sign-magnitude: the next larger magnitude, same sign
    } else {
        h
    }
}

impl QuantBlock for BlockQ8 {
    const KIND: Kind = Kind::Q8;

    fn quantize(x: &[f32; BLOCK]) -> Self {
        let absmax = x.iter().fold(0f32, |m, v| m.max(v.abs()));
        let d = scale_up(absmax / 127.0);
        let df = d.to_f32();
        let qs = std::array::from_fn(|j| if df == 0.0 { 0 } else { (x[j] / df).round().clamp(-127.0, 127.0) as i8 });
        BlockQ8 { d, qs }
    }

    fn scale(&self) -> f16 {
        self.d
    }

    fn quant(&self, j: usize) -> i32 {
        self.qs[j] as i32
    }

    fn qs_bytes(&self) -> &[u8] {
        bytemuck::cast_slice(&self.qs)
    }

    fn from_parts(d: f16, qs: &[u8]) -> Self {
        BlockQ8 { d, qs: std::array::from_fn(|j| qs[j] as i8) }
    }
}

impl QuantBlock for BlockQ4 {
    const KIND: Kind = Kind::Q4;

    fn quantize(x: &[f32; BLOCK]) -> Self {
        // the weight of largest magnitude, with its sign; it maps to q = 0, i.e. exactly −8·d
        let m = x.iter().fold(0f32, |m, &v| if v.abs() > m.abs() { v } else { m });
        let d = scale_up(m / -8.0);
        let df = d.to_f32();
        let q = |v: f32| if df == 0.0 { 8 } else { (v / df + 8.5).floor().clamp(0.0, 15.0) as u8 };
        BlockQ4 { d, qs: std::array::from_fn(|i| q(x[2 * i]) | (q(x[2 * i + 1]) << 4)) }
    }

    fn scale(&self) -> f16 {
        self.d
    }

    fn quant(&self, j: usize) -> i32 {
        ((self.qs[j / 2] >> (4 * (j % 2))) & 0xF) as i32 - 8
    }

    fn qs_bytes(&self) -> &[u8] {
        &self.qs
    }

    fn from_parts(d: f16, qs: &[u8]) -> Self {
        BlockQ4 { d, qs: std::array::from_fn(|i| qs[i]) }
    }
}

/// Quantizes a row of any length: `ceil(n/32)` blocks, the last one zero-padded.
pub fn quantize_row<B: QuantBlock>(x: &[f32]) -> Vec<B> {
    x.chunks(BLOCK)
        .map(|chunk| {
            let mut padded = [0f32; BLOCK];
            padded[..chunk.len()].copy_from_slice(chunk);
            B::quantize(&padded)
        })
        .collect()
}

/// The first `n` weights the blocks decode to (the padding dropped).
pub fn dequantize_row<B: QuantBlock>(blocks: &[B], n: usize) -> Vec<f32> {
    let mut out: Vec<f32> = blocks.iter().flat_map(|b| b.dequantize()).collect();
    out.truncate(n);
    out
}
