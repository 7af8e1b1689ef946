//! `y = x · Wᵀ + b` for q8 weights with 7-bit activations: the CPU's fast path for quantized models.
//!
//! The activations are quantized per block of 32 along `in`, like the weights, to 128 levels between the block's
//! minimum and maximum: `x ≈ m + d·u` with `m = min`, `d = (max − min) / 127` and `u` in 0..=127 — the unsigned
//! operand of WebAssembly relaxed SIMD's `i32x4.relaxed_dot_i8x16_i7x16_add_s` (sixteen multiply-adds per
//! instruction; `vpdpbusd` on x86 with AVX-VNNI). Each block's dot product is an exact integer sum, and two f32
//! products per block remain:
//!
//! ```text
//! y[r, o] = Σ_b  f32(Σ_{j<32} u[r, 32b + j] · qw[o, 32b + j]) · (d[r, b] · dw[o, b])  +  m[r, b] · (dw[o, b] · Σ_{j<32} qw[o, 32b + j])
//!           + bias[o]
//! ```
//!
//! The weights stay as stored (row-major i8, [`PackedMatrix`](crate::quant::PackedMatrix) words; nothing is
//! repacked or copied); per output row its block scales (f16 → f32) and weight sums are computed once per matmul.
//! The activations are packed four rows at a time so that one 16-byte vector holds four inputs of four rows (layout
//! and the kernels: `int8/kernels.rs`). Every implementation (relaxed SIMD, SIMD128, SSSE3, portable) computes the
//! same integer sums and the same f32 operations in the same order: the results agree bit for bit.
//!
//! Why 7 bits and not 8: the relaxed dot product is exact (the same on every engine) only when the unsigned operand
//! has its top bit clear. Why min/max and not ±absmax: the same 7 bits then cover only the range a block has — half
//! the step for one-sided blocks such as the GELU outputs the MLP's second layer reads. Error: rounding adds at most
//! `d/2` per value, on top of the weights' own (measured against f32 activations in the tests below). Per-block
//! ranges keep CLIP's outlier features from costing the other features their precision, which a per-tensor 8-bit
//! scale (onnxruntime's dynamic quantization) does not.

pub mod kernels;

use super::matmul::Layout;
use super::CpuLinear;
use crate::quant::{Kind, BLOCK};
use kernels::{Column, Rows, QUAD_BLOCK};

/// The largest 7-bit level.
const LEVELS: f32 = 127.0;

/// Activations `(rows, k)` quantized per block of 32, in the kernels' layout ([`kernels::Rows`]): rows in quads of
/// four (the last one padded with zero rows), `u` `(quads, blocks, 8, 4, 4)`, `d` and `m` `(quads, blocks, 4)`.
pub struct QuantizedRows {
    pub rows: usize,
    pub quads: usize,
    pub blocks: usize,
    pub u: Vec<u8>,
    pub d: Vec<f32>,
    pub m: Vec<f32>,
}

impl QuantizedRows {
    pub fn kernel_rows(&self) -> Rows<'_> {
        Rows { blocks: self.blocks, quads: self.quads, u: &self.u, d: &self.d, m: &self.m }
    }

    /// The level `u` (0..=127) of row `r`, input `j`.
    pub fn level(&self, r: usize, j: usize) -> u8 {
        let (q, lane, b, s, t) = (r / 4, r % 4, j / BLOCK, (j % BLOCK) / 4, j % 4);
        self.u[((q * self.blocks + b) * 8 + s) * 16 + lane * 4 + t]
    }

    /// `(d, m)` of row `r`, block `b`: the step and the minimum.
    pub fn range(&self, r: usize, b: usize) -> (f32, f32) {
        let i = ((r / 4) * self.blocks + b) * 4 + r % 4;
        (self.d[i], self.m[i])
    }

    /// What row `r`, input `j` stands for: `m + d·u`.
    pub fn value(&self, r: usize, j: usize) -> f32 {
        let (d, m) = self.range(r, j / BLOCK);
        m + d * self.level(r, j) as f32
    }
}

/// Quantizes `x` `(rows, k)`: per block `m = min`, `d = (max − min) / 127`, `u = round((x − m) / d)` (a block of
/// equal values has `d = 0`, `u = 0`; inputs past `k` count as zeros).
pub fn quantize_rows(x: &[f32], rows: usize, k: usize) -> QuantizedRows {
    let blocks = k.div_ceil(BLOCK);
    let quads = rows.div_ceil(4);
    let mut u = vec![0u8; quads * blocks * QUAD_BLOCK];
    let mut d = vec![0f32; quads * blocks * 4];
    let mut m = vec![0f32; quads * blocks * 4];
    for r in 0..rows {
        let (q, lane) = (r / 4, r % 4);
        for (b, xs) in x[r * k..][..k].chunks(BLOCK).enumerate() {
            let mut block = [0f32; BLOCK]; // zero-padded past k
            block[..xs.len()].copy_from_slice(xs);
            // comparisons, not f32::min/max: those are libm calls (fminf/fmaxf) in WebAssembly
            let lo = block.iter().fold(block[0], |a, &v| if v < a { v } else { a });
            let hi = block.iter().fold(block[0], |a, &v| if v > a { v } else { a });
            let i = (q * blocks + b) * 4 + lane;
            m[i] = lo;
            if hi > lo {
                let inverse = LEVELS / (hi - lo);
                let levels: [u8; BLOCK] = std::array::from_fn(|j| round((block[j] - lo) * inverse) as u8);
                let base = (q * blocks + b) * QUAD_BLOCK + lane * 4;
                for (s, four) in levels.chunks_exact(4).enumerate() {
                    u[base + s * 16..][..4].copy_from_slice(four);
                }
                d[i] = (hi - lo) / LEVELS;
            }
        }
    }
    QuantizedRows { rows, quads, blocks, u, d, m }
}

/// Round half to even and clamp to 0..=127, for `−1 ≤ v ≤ 128` (`(x − min) · 127 / (max − min)` is within rounding
/// error of that range). Adding and subtracting 1.5 · 2²³ rounds exactly as `round_ties_even` does, in two
/// vectorisable instructions, where `round_ties_even` is a libm call on x86_64 without SSE4.1.
#[inline(always)]
fn round(v: f32) -> f32 {
    const MAGIC: f32 = 12_582_912.0; // 1.5 · 2²³
    ((v + MAGIC) - MAGIC).clamp(0.0, LEVELS)
}

/// A q8 block scale (a finite f16, checked when the weights were read) in f32, exactly: the f16's exponent and
/// mantissa bits placed in an f32 and rescaled by 2¹¹² (subnormal f16 scales included), branch-free so that a
/// weight row's scales convert in SIMD (the `half` crate's conversion is a software loop in WebAssembly).
#[inline(always)]
fn scale_f32(h: half::f16) -> f32 {
    let bits = h.to_bits() as u32;
    let magnitude = f32::from_bits((bits & 0x7fff) << 13) * f32::from_bits(0x7780_0000); // 2^112
    f32::from_bits(magnitude.to_bits() | (bits & 0x8000) << 16)
}

/// Column tile of the kernels: output rows computed together.
const CT: usize = 2;
/// Quad tile: activation quads computed together (`QT · 4` rows).
const QT: usize = 2;

/// A weight row's per-block values for the kernels: scales in f32 and `dw · Σ w` per block.
fn column_values(w: &CpuLinear, o: usize, blocks: usize, dw: &mut [f32], wsum: &mut [f32]) {
    let wq = weight_row(w, o, blocks);
    for (s, h) in dw.iter_mut().zip(&w.weight.scales[o * blocks..][..blocks]) {
        *s = scale_f32(*h);
    }
    for ((ws, qs), s) in wsum.iter_mut().zip(wq.chunks_exact(BLOCK)).zip(dw.iter()) {
        *ws = s * qs.iter().map(|&v| v as i32).sum::<i32>() as f32;
    }
}

fn weight_row(w: &CpuLinear, o: usize, blocks: usize) -> &[i8] {
    let bytes: &[u8] = bytemuck::cast_slice(&w.weight.words);
    bytemuck::cast_slice(&bytes[o * blocks * BLOCK..][..blocks * BLOCK])
}

/// Outputs `[o0, o1)` of every row into `out` as `layout` says, like the f32 `block`.
pub fn block(x: &QuantizedRows, w: &CpuLinear, o0: usize, o1: usize, out: &mut [f32], layout: Layout) {
    debug_assert_eq!(w.weight.kind, Kind::Q8);
    debug_assert_eq!(w.weight.blocks_per_row(), x.blocks);
    let (blocks, rows) = (x.blocks, x.rows);
    let xr = x.kernel_rows();
    let mut dw = vec![0f32; CT * blocks];
    let mut wsum = vec![0f32; CT * blocks];
    let mut o = o0;
    while o < o1 {
        let n = (o1 - o).min(CT);
        for c in 0..n {
            column_values(w, o + c, blocks, &mut dw[c * blocks..][..blocks], &mut wsum[c * blocks..][..blocks]);
        }
        let column = |c: usize| Column {
            w: weight_row(w, o + c, blocks),
            dw: &dw[c * blocks..][..blocks],
            wsum: &wsum[c * blocks..][..blocks],
        };
        let mut put = |c: usize, q: usize, lanes: [f32; 4]| {
            let bias = w.bias.as_ref().map_or(0.0, |b| b[o + c]);
            for (r, v) in lanes.iter().enumerate().take(rows.saturating_sub(q * 4)) {
                out[layout.index(q * 4 + r, o + c - o0)] = v + bias;
            }
        };
        let mut q = 0;
        while q < x.quads {
            let full = q + QT <= x.quads;
            match (n == CT, full) {
                (true, true) => {
                    let t = kernels::tile::<QT, CT>(&xr, q, &std::array::from_fn(column));
                    for (c, quads) in t.iter().enumerate() {
                        for (i, &lanes) in quads.iter().enumerate() {
                            put(c, q + i, lanes);
                        }
                    }
                    q += QT;
                }
                _ => {
                    for c in 0..n {
                        let [lanes] = kernels::tile::<1, 1>(&xr, q, &[column(c)])[0];
                        put(c, q, lanes);
                    }
                    q += 1;
                }
            }
        }
        o += n;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::quant::PackedMatrix;

    fn case(rows: usize, k: usize, n: usize) -> (Vec<f32>, CpuLinear) {
        // activations with an outlier feature, as CLIP's residual stream has
        let x: Vec<f32> = (0..rows * k)
            .map(|i| ((i * 37 % 101) as f32 - 50.0) / 50.0 * if i % k == 3 { 20.0 } else { 1.0 })
            .collect();
        let weight: Vec<f32> = (0..n * k).map(|i| ((i * 53 % 97) as f32 - 48.0) / 97.0).collect();
        let w = CpuLinear {
            out_features: n,
            in_features: k,
            weight: PackedMatrix::from_rows(Kind::Q8, n, k, &weight),
            bias: Some((0..n).map(|i| i as f32 * 0.01).collect()),
        };
        (x, w)
    }

    fn columns(w: &CpuLinear, blocks: usize) -> Vec<(Vec<f32>, Vec<f32>)> {
        (0..w.out_features)
            .map(|o| {
                let (mut dw, mut wsum) = (vec![0f32; blocks], vec![0f32; blocks]);
                column_values(w, o, blocks, &mut dw, &mut wsum);
                (dw, wsum)
            })
            .collect()
    }

    /// Every tile shape of the kernel this machine runs agrees with the portable specification bit for bit (same
    /// integer sums, same f32 operations in the same order); sizes cover a short last block.
    #[test]
    fn simd_kernel_equals_the_portable_one_bit_for_bit() {
        fn shape<const QT: usize, const CT: usize>(x: &QuantizedRows, w: &CpuLinear, cols: &[(Vec<f32>, Vec<f32>)]) {
            let xr = x.kernel_rows();
            for q in 0..=x.quads - QT {
                for o in 0..=w.out_features - CT {
                    let c: [Column; CT] = std::array::from_fn(|i| Column {
                        w: weight_row(w, o + i, x.blocks),
                        dw: &cols[o + i].0,
                        wsum: &cols[o + i].1,
                    });
                    let fast = kernels::tile::<QT, CT>(&xr, q, &c);
                    let spec = kernels::portable::tile::<QT, CT>(&xr, q, &c);
                    let bits = |t: &kernels::Tile<QT, CT>| {
                        t.as_flattened().as_flattened().iter().map(|v| v.to_bits()).collect::<Vec<_>>()
                    };
                    assert_eq!(bits(&fast), bits(&spec), "tile {QT}x{CT} at quad {q}, column {o}");
                }
            }
        }
        for (rows, k, n) in [(4, 32, 3), (7, 100, 5), (50, 768, 4), (9, 3072, 2)] {
            let (x, w) = case(rows, k, n);
            let q = quantize_rows(&x, rows, k);
            let cols = columns(&w, q.blocks);
            shape::<1, 1>(&q, &w, &cols);
            if q.quads >= 2 {
                shape::<2, 2>(&q, &w, &cols);
            }
            if q.quads >= 3 {
                shape::<3, 2>(&q, &w, &cols);
            }
        }
    }

    /// [`block`]'s tiling (full 2×2 tiles, single columns and quads at the edges, a partial last quad) gives each
    /// output exactly what the portable kernel gives it alone.
    #[test]
    fn block_tiles_like_single_outputs() {
        let (rows, k, n) = (13, 96, 7);
        let (x, w) = case(rows, k, n);
        let q = quantize_rows(&x, rows, k);
        let cols = columns(&w, q.blocks);
        let mut out = vec![0f32; rows * (n - 1)];
        block(&q, &w, 1, n, &mut out, Layout { stride: n - 1 });
        for o in 1..n {
            let c = [Column { w: weight_row(&w, o, q.blocks), dw: &cols[o].0, wsum: &cols[o].1 }];
            for r in 0..rows {
                let [lanes] = kernels::portable::tile::<1, 1>(&q.kernel_rows(), r / 4, &c)[0];
                let want = lanes[r % 4] + w.bias.as_ref().unwrap()[o];
                assert_eq!(out[r * (n - 1) + o - 1].to_bits(), want.to_bits(), "({r}, {o})");
            }
        }
    }

    /// Against f32 activations (the same dequantized weights, summed in f64) the only error is the activations'
    /// rounding, `|e_j| ≤ d_b / 2` in block `b`: `|Δy| ≤ Σ_b d_b/2 · Σ_{j∈b} |w_j|`, plus f32 summation (1e-5 relative).
    #[test]
    fn int8_linear_is_within_the_activation_rounding_bound() {
        let (rows, k, n) = (9, 200, 37);
        let (x, w) = case(rows, k, n);
        let q = quantize_rows(&x, rows, k);
        let mut out = vec![0f32; rows * n];
        block(&q, &w, 0, n, &mut out, Layout { stride: n });
        for o in 0..n {
            let wo = w.weight.dequantize_row(o);
            for r in 0..rows {
                let xr = &x[r * k..][..k];
                let exact: f64 = xr.iter().zip(&wo).map(|(&a, &b)| a as f64 * b as f64).sum::<f64>()
                    + w.bias.as_ref().unwrap()[o] as f64;
                let bound: f64 = (0..q.blocks)
                    .map(|b| {
                        let abs_w: f64 = wo.iter().skip(b * BLOCK).take(BLOCK).map(|v| v.abs() as f64).sum();
                        q.range(r, b).0 as f64 / 2.0 * abs_w
                    })
                    .sum::<f64>()
                    + 1e-5 * xr.iter().zip(&wo).map(|(&a, &b)| (a * b).abs() as f64).sum::<f64>();
                let got = out[r * n + o] as f64;
                assert!((got - exact).abs() <= bound, "({r}, {o}): {got} vs {exact}, bound {bound}");
            }
        }
    }

    #[test]
    fn scale_f32_is_halfs_conversion_for_every_finite_f16() {
        for bits in 0..=u16::MAX {
            let h = half::f16::from_bits(bits);
            if h.is_finite() {
                assert_eq!(scale_f32(h).to_bits(), h.to_f32().to_bits(), "{bits:#06x}");
            }
        }
    }

    #[test]
    fn round_is_round_ties_even_within_the_clamp() {
        for i in -2_000..=130_000 {
            let v = i as f32 / 1000.0;
            for v in [v, v + 0.0005, f32::from_bits(v.to_bits() + 1)] {
                assert_eq!(round(v), v.round_ties_even().clamp(0.0, 127.0), "{v}");
            }
        }
    }

    #[test]
    fn quantize_rows_round_trips_within_half_a_step() {
        let x = [0.0, 1.0, -2.54, 0.3, 0.3, 0.3];
        let q = quantize_rows(&x, 2, 3);
        assert_eq!((q.quads, q.blocks, q.u.len(), q.d.len(), q.m.len()), (1, 1, 128, 4, 4));
        // row 0: min −2.54, max 1 (also the zeros padding the block past k)
        assert_eq!(q.range(0, 0), ((1.0 + 2.54) / 127.0, -2.54));
        assert_eq!([q.level(0, 0), q.level(0, 1), q.level(0, 2)], [91, 127, 0]);
        assert_eq!(q.range(1, 0), (0.3 / 127.0, 0.0), "the padding zeros are in the range");
        assert!(q.u.iter().all(|&u| u <= 127), "the relaxed dot product's operand has its top bit clear");
        for (r, xs) in x.chunks(3).enumerate() {
            for (j, &v) in xs.iter().enumerate() {
                let (d, _) = q.range(r, 0);
                assert!((q.value(r, j) - v).abs() <= d / 2.0 + 1e-6, "{v} → {}", q.value(r, j));
            }
            assert!((3..32).all(|j| q.value(r, j).abs() <= q.range(r, 0).0 / 2.0 + 1e-6), "padding past k is ~0");
        }
        assert!((2..4).all(|r| (0..32).all(|j| q.value(r, j) == 0.0)), "padding rows are zero");
        let flat = quantize_rows(&[0.5; 40], 1, 40);
        assert_eq!(flat.range(0, 0), (0.0, 0.5), "a block of equal values is exact");
        assert!((0..32).all(|j| flat.value(0, j) == 0.5));
    }
}
