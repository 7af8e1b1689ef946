//! `y = x · Wᵀ + b` for q8 weights with int8 activations: the CPU's fast path for quantized models.
//!
//! The activations are quantized the way the weights are (blocks of 32 along `in`, a scale each: `x ≈ q·d`, `q` in
//! −127..=127), so each block's dot product is an exact integer sum and one f32 multiply-add per block remains:
//!
//! ```text
//! y[r, o] = Σ_b (dx[r, b] · dw[o, b]) · Σ_{j<32} qx[r, 32b + j] · qw[o, 32b + j]   + bias[o]
//! ```
//!
//! The weights stay as stored (row-major i8, [`PackedMatrix`] words; nothing is repacked or copied) and the
//! activations are widened to i16 once per matmul, so the inner loop is WebAssembly SIMD's `i16x8.load8x8_s` (one
//! weight load, widened, shared by four activation rows) and `i32x4.dot_i16x8_s` (eight multiply-adds).
//!
//! Two implementations of one arithmetic: the wasm SIMD kernel and a portable one (native, and the reference the
//! tests hold the wasm one to). Integer sums are exact and the f32 operations happen in the same order in both, so
//! they agree bit for bit: per block, lane `l` of four sums the products at `j % 8 ∈ {2l, 2l+1}` (the lanes of
//! `dot_i16x8`), each lane is converted to f32, times the block's scale, and added to its lane accumulator; the
//! result is `(acc0 + acc1) + (acc2 + acc3) + bias`.
//!
//! Error: activation rounding adds at most `d/2` per value, i.e. a relative error up to 1/254 of each block's
//! largest magnitude, on top of the weights' own (measured against the f32 activations in the tests below).

use super::CpuLinear;
use crate::quant::{Kind, BLOCK};

/// Activations `(rows, k)` quantized per block of 32: `qs` `(rows, blocks·32)` widened to i16 (zero-padded past
/// `k`), `d` `(rows, blocks)`.
pub struct QuantizedRows {
    pub rows: usize,
    pub blocks: usize,
    pub qs: Vec<i16>,
    pub d: Vec<f32>,
}

/// Quantizes `x` `(rows, k)`: per block `d = absmax / 127` and `q = round(x / d)` (a zero block has `d = 0`, `q = 0`).
pub fn quantize_rows(x: &[f32], rows: usize, k: usize) -> QuantizedRows {
    let blocks = k.div_ceil(BLOCK);
    let mut qs = vec![0i16; rows * blocks * BLOCK];
    let mut d = vec![0f32; rows * blocks];
    for r in 0..rows {
        let row = &x[r * k..][..k];
        for (b, xs) in row.chunks(BLOCK).enumerate() {
            let absmax = xs.iter().fold(0f32, |m, v| m.max(v.abs()));
            if absmax == 0.0 {
                continue;
            }
            let scale = absmax / 127.0;
            let inverse = 127.0 / absmax;
            let out = &mut qs[(r * blocks + b) * BLOCK..][..xs.len()];
            for (q, &v) in out.iter_mut().zip(xs) {
                *q = (v * inverse).round_ties_even().clamp(-127.0, 127.0) as i16;
            }
            d[r * blocks + b] = scale;
        }
    }
    QuantizedRows { rows, blocks, qs, d }
}

/// Rows up to this many share one widened weight block.
const ROW_TILE: usize = 4;

/// Outputs `[o0, o1)` of every row, written transposed (`out[(o - o0)·rows + r]`), like the f32 `block`.
pub fn block(x: &QuantizedRows, w: &CpuLinear, o0: usize, o1: usize, out: &mut [f32]) {
    debug_assert_eq!(w.weight.kind, Kind::Q8);
    debug_assert_eq!(w.weight.blocks_per_row(), x.blocks);
    let bytes: &[u8] = bytemuck::cast_slice(&w.weight.words);
    let row_bytes = x.blocks * BLOCK;
    let rows = x.rows;
    let mut scales = vec![0f32; x.blocks];
    for o in o0..o1 {
        let wq: &[i8] = bytemuck::cast_slice(&bytes[o * row_bytes..][..row_bytes]);
        for (s, h) in scales.iter_mut().zip(&w.weight.scales[o * x.blocks..][..x.blocks]) {
            *s = h.to_f32();
        }
        let bias = w.bias.as_ref().map_or(0.0, |b| b[o]);
        let column = &mut out[(o - o0) * rows..][..rows];
        let mut r = 0;
        while r < rows {
            let n = (rows - r).min(ROW_TILE);
            let mut sums = [0f32; ROW_TILE];
            tile(x, r, n, wq, &scales, &mut sums);
            for (y, s) in column[r..r + n].iter_mut().zip(sums) {
                *y = s + bias;
            }
            r += n;
        }
    }
}

/// `sums[i] = Σ_b …` for rows `r0 .. r0 + n` (`n ≤ ROW_TILE`) against one weight row.
#[inline]
fn tile(x: &QuantizedRows, r0: usize, n: usize, wq: &[i8], dw: &[f32], sums: &mut [f32; ROW_TILE]) {
    #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
    {
        simd::tile(x, r0, n, wq, dw, sums)
    }
    #[cfg(target_arch = "x86_64")]
    {
        sse2::tile(x, r0, n, wq, dw, sums)
    }
    #[cfg(not(any(all(target_arch = "wasm32", target_feature = "simd128"), target_arch = "x86_64")))]
    {
        portable::tile(x, r0, n, wq, dw, sums)
    }
}

/// The portable kernel (and the specification of the SIMD ones).
pub mod portable {
    use super::{QuantizedRows, BLOCK, ROW_TILE};

    pub fn tile(x: &QuantizedRows, r0: usize, n: usize, wq: &[i8], dw: &[f32], sums: &mut [f32; ROW_TILE]) {
        for (i, sum) in sums.iter_mut().enumerate().take(n) {
            let r = r0 + i;
            let xq = &x.qs[r * x.blocks * BLOCK..][..x.blocks * BLOCK];
            let dx = &x.d[r * x.blocks..][..x.blocks];
            let mut acc = [0f32; 4];
            for b in 0..x.blocks {
                let (xs, ws) = (&xq[b * BLOCK..][..BLOCK], &wq[b * BLOCK..][..BLOCK]);
                let mut lanes = [0i32; 4];
                for (x8, w8) in xs.chunks_exact(8).zip(ws.chunks_exact(8)) {
                    for (l, lane) in lanes.iter_mut().enumerate() {
                        let (a, b) = (2 * l, 2 * l + 1);
                        *lane += x8[a] as i32 * w8[a] as i32 + x8[b] as i32 * w8[b] as i32;
                    }
                }
                let scale = dx[b] * dw[b];
                for l in 0..4 {
                    acc[l] += lanes[l] as f32 * scale;
                }
            }
            *sum = (acc[0] + acc[1]) + (acc[2] + acc[3]);
        }
    }
}

#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
mod simd {
    use super::{QuantizedRows, BLOCK, ROW_TILE};
    use core::arch::wasm32::*;

    pub fn tile(x: &QuantizedRows, r0: usize, n: usize, wq: &[i8], dw: &[f32], sums: &mut [f32; ROW_TILE]) {
        let stride = x.blocks * BLOCK;
        assert!(wq.len() >= stride && dw.len() >= x.blocks && (r0 + n) * stride <= x.qs.len());
        assert!((r0 + n) * x.blocks <= x.d.len());
        let mut acc = [f32x4_splat(0.0); ROW_TILE];
        for b in 0..x.blocks {
            // SAFETY: block b of the weight row (32 bytes) and of each activation row (32 i16) are in bounds
            // (asserted above); v128 loads have no alignment requirement.
            unsafe {
                let wp = wq.as_ptr().add(b * BLOCK);
                let w0 = i16x8_load_extend_i8x8(wp as *const i8);
                let w1 = i16x8_load_extend_i8x8(wp.add(8) as *const i8);
                let w2 = i16x8_load_extend_i8x8(wp.add(16) as *const i8);
                let w3 = i16x8_load_extend_i8x8(wp.add(24) as *const i8);
                let scale_w = *dw.get_unchecked(b);
                for (i, a) in acc.iter_mut().enumerate().take(n) {
                    let r = r0 + i;
                    let xp = x.qs.as_ptr().add(r * stride + b * BLOCK) as *const v128;
                    let d0 = i32x4_dot_i16x8(v128_load(xp), w0);
                    let d1 = i32x4_dot_i16x8(v128_load(xp.add(1)), w1);
                    let d2 = i32x4_dot_i16x8(v128_load(xp.add(2)), w2);
                    let d3 = i32x4_dot_i16x8(v128_load(xp.add(3)), w3);
                    let lanes = i32x4_add(i32x4_add(d0, d1), i32x4_add(d2, d3));
                    let scale = *x.d.get_unchecked(r * x.blocks + b) * scale_w;
                    *a = f32x4_add(*a, f32x4_mul(f32x4_convert_i32x4(lanes), f32x4_splat(scale)));
                }
            }
        }
        for (sum, a) in sums.iter_mut().zip(acc).take(n) {
            *sum = (f32x4_extract_lane::<0>(a) + f32x4_extract_lane::<1>(a))
                + (f32x4_extract_lane::<2>(a) + f32x4_extract_lane::<3>(a));
        }
    }
}

/// The wasm kernel in SSE2 (every x86_64 has it): `_mm_madd_epi16` is `i32x4.dot_i16x8_s`.
#[cfg(target_arch = "x86_64")]
pub mod sse2 {
    use super::{QuantizedRows, BLOCK, ROW_TILE};
    use core::arch::x86_64::*;

    pub fn tile(x: &QuantizedRows, r0: usize, n: usize, wq: &[i8], dw: &[f32], sums: &mut [f32; ROW_TILE]) {
        let stride = x.blocks * BLOCK;
        assert!(wq.len() >= stride && dw.len() >= x.blocks && (r0 + n) * stride <= x.qs.len());
        assert!((r0 + n) * x.blocks <= x.d.len());
        // SAFETY: SSE2 is part of x86_64; every load is in bounds (asserted above) and unaligned (loadu/loadl).
        unsafe {
            // 8 bytes → 8 sign-extended i16 (SSE2 has no pmovsxbw: duplicate each byte, shift the copy down)
            let widen = |p: *const i8| {
                let v = _mm_loadl_epi64(p as *const __m128i);
                _mm_srai_epi16::<8>(_mm_unpacklo_epi8(v, v))
            };
            let mut acc = [_mm_setzero_ps(); ROW_TILE];
            for b in 0..x.blocks {
                let wp = wq.as_ptr().add(b * BLOCK);
                let (w0, w1, w2, w3) = (widen(wp), widen(wp.add(8)), widen(wp.add(16)), widen(wp.add(24)));
                let scale_w = *dw.get_unchecked(b);
                for (i, a) in acc.iter_mut().enumerate().take(n) {
                    let r = r0 + i;
                    let xp = x.qs.as_ptr().add(r * stride + b * BLOCK) as *const __m128i;
                    let d0 = _mm_madd_epi16(_mm_loadu_si128(xp), w0);
                    let d1 = _mm_madd_epi16(_mm_loadu_si128(xp.add(1)), w1);
                    let d2 = _mm_madd_epi16(_mm_loadu_si128(xp.add(2)), w2);
                    let d3 = _mm_madd_epi16(_mm_loadu_si128(xp.add(3)), w3);
                    let lanes = _mm_add_epi32(_mm_add_epi32(d0, d1), _mm_add_epi32(d2, d3));
                    let scale = *x.d.get_unchecked(r * x.blocks + b) * scale_w;
                    *a = _mm_add_ps(*a, _mm_mul_ps(_mm_cvtepi32_ps(lanes), _mm_set1_ps(scale)));
                }
            }
            for (sum, a) in sums.iter_mut().zip(acc).take(n) {
                let mut l = [0f32; 4];
                _mm_storeu_ps(l.as_mut_ptr(), a);
                *sum = (l[0] + l[1]) + (l[2] + l[3]);
            }
        }
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

    type Kernel = fn(&QuantizedRows, usize, usize, &[i8], &[f32], &mut [f32; ROW_TILE]);

    /// Every output of [`block`] for the given kernel.
    fn run(x: &QuantizedRows, w: &CpuLinear, kernel: Kernel) -> Vec<f32> {
        let row_bytes = x.blocks * BLOCK;
        let bytes: &[u8] = bytemuck::cast_slice(&w.weight.words);
        let mut y = Vec::new();
        for o in 0..w.out_features {
            let wq: &[i8] = bytemuck::cast_slice(&bytes[o * row_bytes..][..row_bytes]);
            let dw: Vec<f32> = w.weight.scales[o * x.blocks..][..x.blocks].iter().map(|h| h.to_f32()).collect();
            for r in (0..x.rows).step_by(ROW_TILE) {
                let n = (x.rows - r).min(ROW_TILE);
                let mut sums = [0f32; ROW_TILE];
                kernel(x, r, n, wq, &dw, &mut sums);
                y.extend_from_slice(&sums[..n]);
            }
        }
        y
    }

    /// The SIMD kernel this machine runs and the portable specification agree bit for bit (same integer sums, same
    /// f32 operations in the same order); sizes cover a short last block and a short last row tile.
    #[test]
    fn simd_kernel_equals_the_portable_one_bit_for_bit() {
        for (rows, k, n) in [(1, 32, 3), (7, 100, 5), (50, 768, 9), (6, 3072, 2)] {
            let (x, w) = case(rows, k, n);
            let q = quantize_rows(&x, rows, k);
            let fast = run(&q, &w, tile);
            let spec = run(&q, &w, portable::tile);
            assert!(fast.iter().zip(&spec).all(|(a, b)| a.to_bits() == b.to_bits()), "({rows}, {k}, {n})");
        }
    }

    /// Against f32 activations (the same dequantized weights, summed in f64) the only error is the activations'
    /// rounding, `|e_j| ≤ d_b / 2` in block `b`: `|Δy| ≤ Σ_b d_b/2 · Σ_{j∈b} |w_j|`, plus f32 summation (1e-5 relative).
    #[test]
    fn int8_linear_is_within_the_activation_rounding_bound() {
        let (rows, k, n) = (9, 200, 37);
        let (x, w) = case(rows, k, n);
        let q = quantize_rows(&x, rows, k);
        let mut transposed = vec![0f32; rows * n];
        block(&q, &w, 0, n, &mut transposed);
        for o in 0..n {
            let wo = w.weight.dequantize_row(o);
            for r in 0..rows {
                let xr = &x[r * k..][..k];
                let exact: f64 = xr.iter().zip(&wo).map(|(&a, &b)| a as f64 * b as f64).sum::<f64>()
                    + w.bias.as_ref().unwrap()[o] as f64;
                let bound: f64 = (0..q.blocks)
                    .map(|b| {
                        let abs_w: f64 = wo.iter().skip(b * BLOCK).take(BLOCK).map(|v| v.abs() as f64).sum();
                        q.d[r * q.blocks + b] as f64 / 2.0 * abs_w
                    })
                    .sum::<f64>()
                    + 1e-5 * xr.iter().zip(&wo).map(|(&a, &b)| (a * b).abs() as f64).sum::<f64>();
                let got = transposed[o * rows + r] as f64;
                assert!((got - exact).abs() <= bound, "({r}, {o}): {got} vs {exact}, bound {bound}");
            }
        }
    }

    #[test]
    fn quantize_rows_round_trips_within_half_a_step() {
        let x = [0.0, 1.0, -2.54, 0.3, 0.0, 0.0];
        let q = quantize_rows(&x, 2, 3);
        assert_eq!((q.blocks, q.qs.len(), q.d.len()), (1, 64, 2));
        assert_eq!(&q.qs[..3], &[0, 50, -127]);
        assert_eq!(q.d[1], 0.3 / 127.0);
        assert_eq!(&q.qs[32..35], &[127, 0, 0], "the all-but-one-zero row");
        for (r, xs) in x.chunks(3).enumerate() {
            for (j, &v) in xs.iter().enumerate() {
                let back = q.qs[r * 32 + j] as f32 * q.d[r];
                assert!((back - v).abs() <= q.d[r] / 2.0 + 1e-7, "{v} → {back}");
            }
        }
        assert!(q.qs[3..32].iter().all(|&v| v == 0), "padding past k is zero");
    }
}
