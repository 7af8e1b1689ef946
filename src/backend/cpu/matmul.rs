//! `y = x · Wᵀ + b` on the CPU. Both operands are row-major with the reduction dimension contiguous
//! (`x` is `(rows, in)`, HF's `W` is `(out, in)`), so every output is one dot product of two contiguous rows.
//! Weights other than q8-with-int8 take [`tile`]: register tiles of 3 rows × 3 weight rows in four f32 lanes (SSE
//! natively, SIMD128 in wasm), each output computed in one fixed order;
//! the output features are split across threads ([`threads`]: rayon's pool natively, Web Workers in the browser's
//! multi-threaded build; one thread otherwise).

use super::{int8, threads, CpuLinear};
use crate::quant::Kind;

/// Dot product with 8 partial sums (vectorisable, deterministic for a given length).
#[inline]
pub fn dot(a: &[f32], b: &[f32]) -> f32 {
    let mut acc = [0f32; 8];
    let (ca, cb) = (a.chunks_exact(8), b.chunks_exact(8));
    let tail: f32 = ca.remainder().iter().zip(cb.remainder()).map(|(x, y)| x * y).sum();
    for (x, y) in ca.zip(cb) {
        for l in 0..8 {
            acc[l] += x[l] * y[l];
        }
    }
    acc.iter().sum::<f32>() + tail
}

/// Where output `(r, o)` of a block of outputs `[o0, o1)` goes in its slice: `out[r · stride + (o - o0)]`, row-major
/// (`stride` = n for the whole result, `o1 - o0` for one thread's block).
#[derive(Clone, Copy, Debug)]
pub struct Layout {
    pub stride: usize,
}

impl Layout {
    #[inline(always)]
    pub fn index(self, r: usize, o_rel: usize) -> usize {
        r * self.stride + o_rel
    }
}

/// Rows × columns of one register tile of [`tile`]: 3 × 3 f32x4 accumulators and 6 operand vectors fit x86-64's 16
/// vector registers (where V8 puts wasm's v128 values too). `webclip bench` (f32 ViT-B/32 image, one core): one dot
/// product at a time 376 ms, 4 × 2 tiles 268 ms, 3 × 3 tiles 240 ms.
const TILE_ROWS: usize = 3;
const TILE_COLS: usize = 3;

/// The dot products of `R` rows of `x` with `C` weight rows, all of length `k`, each computed as four lanes (inputs
/// `i ≡ l mod 4` of the first `k − k mod 4`, in order), then `(l0 + l1) + (l2 + l3)`, then the rest in order. No
/// output depends on the others in its tile, so any tiling gives the same bits; plain multiplies and adds (no fused
/// multiply-add) give the same bits in every build. Each step loads R + C vectors for R · C multiply-adds, where one
/// dot product at a time loads 2 for 1.
#[inline(always)]
fn tile<const R: usize, const C: usize>(x: [&[f32]; R], w: [&[f32]; C], k: usize) -> [[f32; C]; R] {
    use lanes::{load, madd, split, ZERO};
    let k4 = k / 4;
    let xv: [&[[f32; 4]]; R] = x.map(|s| bytemuck::cast_slice::<f32, [f32; 4]>(&s[..k4 * 4]));
    let wv: [&[[f32; 4]]; C] = w.map(|s| bytemuck::cast_slice::<f32, [f32; 4]>(&s[..k4 * 4]));
    let mut acc = [[ZERO; C]; R];
    for i in 0..k4 {
        let a = xv.map(|s| load(&s[i]));
        let b = wv.map(|s| load(&s[i]));
        for r in 0..R {
            for c in 0..C {
                acc[r][c] = madd(acc[r][c], a[r], b[c]);
            }
        }
    }
    std::array::from_fn(|r| {
        std::array::from_fn(|c| {
            let [l0, l1, l2, l3] = split(acc[r][c]);
            let tail: f32 = (k4 * 4..k).map(|i| x[r][i] * w[c][i]).sum();
            ((l0 + l1) + (l2 + l3)) + tail
        })
    })
}

/// Four f32 lanes: `madd(acc, a, b) = acc + a · b` lane by lane, rounded twice (no fused multiply-add), so every
/// implementation gives the same bits. LLVM does not vectorise the portable one's arrays here (measured 2.5× slower).
#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
mod lanes {
    use core::arch::wasm32::{f32x4, f32x4_add, f32x4_extract_lane, f32x4_mul, v128, v128_load};
    pub type V = v128;
    pub const ZERO: V = f32x4(0.0, 0.0, 0.0, 0.0);
    #[inline(always)]
    pub fn load(p: &[f32; 4]) -> V {
        // SAFETY: `p` is 16 readable bytes; v128.load takes any alignment.
        unsafe { v128_load(p.as_ptr().cast()) }
    }
    #[inline(always)]
    pub fn madd(acc: V, a: V, b: V) -> V {
        f32x4_add(acc, f32x4_mul(a, b))
    }
    #[inline(always)]
    pub fn split(v: V) -> [f32; 4] {
        [f32x4_extract_lane::<0>(v), f32x4_extract_lane::<1>(v), f32x4_extract_lane::<2>(v), f32x4_extract_lane::<3>(v)]
    }
}

/// SSE (part of x86-64's baseline).
#[cfg(target_arch = "x86_64")]
mod lanes {
    use core::arch::x86_64::{__m128, _mm_add_ps, _mm_loadu_ps, _mm_mul_ps, _mm_storeu_ps};
    pub type V = __m128;
    pub const ZERO: V = unsafe { std::mem::transmute::<[f32; 4], __m128>([0.0; 4]) };
    #[inline(always)]
    pub fn load(p: &[f32; 4]) -> V {
        // SAFETY: SSE is always present on x86-64; `p` is 16 readable bytes (an unaligned load).
        unsafe { _mm_loadu_ps(p.as_ptr()) }
    }
    #[inline(always)]
    pub fn madd(acc: V, a: V, b: V) -> V {
        // SAFETY: SSE is always present on x86-64.
        unsafe { _mm_add_ps(acc, _mm_mul_ps(a, b)) }
    }
    #[inline(always)]
    pub fn split(v: V) -> [f32; 4] {
        let mut out = [0f32; 4];
        // SAFETY: SSE is always present on x86-64; `out` is 16 writable bytes.
        unsafe { _mm_storeu_ps(out.as_mut_ptr(), v) };
        out
    }
}

#[cfg(not(any(all(target_arch = "wasm32", target_feature = "simd128"), target_arch = "x86_64")))]
mod lanes {
    pub type V = [f32; 4];
    pub const ZERO: V = [0.0; 4];
    #[inline(always)]
    pub fn load(p: &[f32; 4]) -> V {
        *p
    }
    #[inline(always)]
    pub fn madd(acc: V, a: V, b: V) -> V {
        std::array::from_fn(|l| acc[l] + a[l] * b[l])
    }
    #[inline(always)]
    pub fn split(v: V) -> [f32; 4] {
        v
    }
}

/// Outputs `[o0, o1)` for every row into `out` as `layout` says, [`TILE_COLS`] weight rows × [`TILE_ROWS`] rows at a
/// time (a partial tile repeats its last row or column and drops the copy). Weight rows stored as f16/q8/q4 are
/// dequantized, [`TILE_COLS`] at a time, into a buffer (L1-resident) used for all `rows`.
fn block(x: &[f32], rows: usize, w: &CpuLinear, o0: usize, o1: usize, out: &mut [f32], layout: Layout) {
    let k = w.in_features;
    let f32_rows: Option<&[f32]> = (w.weight.kind == Kind::F32).then(|| bytemuck::cast_slice(&w.weight.words));
    let padded = w.weight.padded_cols();
    let mut buffer = vec![0f32; if f32_rows.is_some() { 0 } else { TILE_COLS * padded }];
    for c0 in (o0..o1).step_by(TILE_COLS) {
        let cols = TILE_COLS.min(o1 - c0);
        if f32_rows.is_none() {
            for (c, dst) in buffer.chunks_exact_mut(padded).take(cols).enumerate() {
                w.weight.dequantize_row_into(c0 + c, dst);
            }
        }
        let wc: [&[f32]; TILE_COLS] = std::array::from_fn(|c| {
            let o = c0 + c.min(cols - 1);
            match f32_rows {
                Some(all) => &all[o * k..][..k],
                None => &buffer[(o - c0) * padded..][..k],
            }
        });
        let bias: [f32; TILE_COLS] = std::array::from_fn(|c| w.bias.as_ref().map_or(0.0, |b| b[c0 + c.min(cols - 1)]));
        for r0 in (0..rows).step_by(TILE_ROWS) {
            let n = TILE_ROWS.min(rows - r0);
            let xr: [&[f32]; TILE_ROWS] = std::array::from_fn(|r| &x[(r0 + r.min(n - 1)) * k..][..k]);
            let dots = tile(xr, wc, k);
            for (r, dots) in dots.iter().enumerate().take(n) {
                for c in 0..cols {
                    out[layout.index(r0 + r, c0 + c - o0)] = dots[c] + bias[c];
                }
            }
        }
    }
}

/// `(rows, in) · (out, in)ᵀ + b → (rows, out)`. With `int8` and q8 weights, the activations are quantized too
/// ([`int8`]); otherwise they stay f32 and the weights are dequantized.
pub fn linear(x: &[f32], rows: usize, w: &CpuLinear, int8: bool) -> Vec<f32> {
    let n = w.out_features;
    let quantized = (int8 && w.weight.kind == Kind::Q8).then(|| int8::quantize_rows(x, rows, w.in_features));
    let run = |o0: usize, o1: usize, out: &mut [f32], layout: Layout| match &quantized {
        Some(q) => int8::block(q, w, o0, o1, out, layout),
        None => block(x, rows, w, o0, o1, out, layout),
    };
    let threads = threads::for_work(rows * n * w.in_features);
    let mut y = vec![0f32; rows * n];
    if threads <= 1 {
        run(0, n, &mut y, Layout { stride: n });
        return y;
    }
    // Part t holds outputs [t·per, (t+1)·per) (an even count: the int8 kernel's tiles are two columns wide), row-major;
    // the calling thread computes part 0 while the pool computes the others, then the rows are copied into place.
    // Every output is the same dot product, in the same order, as on one thread: the result does not depend on the
    // thread count.
    let per = n.div_ceil(threads).next_multiple_of(2);
    let mut parts = vec![0f32; rows * n];
    threads::split(&mut parts, rows, per, |o0, out| {
        let width = out.len() / rows;
        run(o0, o0 + width, out, Layout { stride: width });
    });
    for (t, part) in parts.chunks(per * rows).enumerate() {
        let width = part.len() / rows;
        for (r, src) in part.chunks_exact(width).enumerate() {
            y[r * n + t * per..][..width].copy_from_slice(src);
        }
    }
    y
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn linear_matches_naive_on_odd_sizes() {
        let (rows, inf, outf) = (33, 37, 1029); // odd sizes; big enough to take the threaded path
        let x: Vec<f32> = (0..rows * inf).map(|i| ((i * 37 % 101) as f32 - 50.0) / 50.0).collect();
        let weight: Vec<f32> = (0..outf * inf).map(|i| ((i * 53 % 97) as f32 - 48.0) / 97.0).collect();
        let w = CpuLinear {
            out_features: outf,
            in_features: inf,
            weight: crate::quant::PackedMatrix::from_rows(Kind::F32, outf, inf, &weight),
            bias: Some((0..outf).map(|i| i as f32 * 0.01).collect()),
        };
        let y = linear(&x, rows, &w, true);
        for r in 0..rows {
            for o in 0..outf {
                let naive: f64 =
                    (0..inf).map(|i| x[r * inf + i] as f64 * weight[o * inf + i] as f64).sum::<f64>() + o as f64 * 0.01;
                // f32 accumulation over 37 terms of magnitude ≤ 1: error well under 1e-5
                assert!((y[r * outf + o] as f64 - naive).abs() < 1e-5, "r={r} o={o}");
            }
        }
    }

    /// Every output of a tile is the arithmetic `tile` documents, in scalar f32: the SIMD lanes round as it does.
    #[test]
    fn tile_is_the_documented_arithmetic() {
        let k = 45; // 11 steps of 4 and a tail of 1
        let x: Vec<Vec<f32>> =
            (0..TILE_ROWS).map(|r| (0..k).map(|i| ((i * 31 + r * 7) % 23) as f32 / 7.0 - 1.5).collect()).collect();
        let w: Vec<Vec<f32>> =
            (0..TILE_COLS).map(|c| (0..k).map(|i| ((i * 17 + c * 5) % 19) as f32 / 3.0 - 2.9).collect()).collect();
        let dots =
            tile::<TILE_ROWS, TILE_COLS>(std::array::from_fn(|r| &x[r][..]), std::array::from_fn(|c| &w[c][..]), k);
        for r in 0..TILE_ROWS {
            for c in 0..TILE_COLS {
                let mut lanes = [0f32; 4];
                for i in 0..k / 4 * 4 {
                    lanes[i % 4] += x[r][i] * w[c][i];
                }
                let tail: f32 = (k / 4 * 4..k).map(|i| x[r][i] * w[c][i]).sum();
                let expected = ((lanes[0] + lanes[1]) + (lanes[2] + lanes[3])) + tail;
                assert_eq!(dots[r][c].to_bits(), expected.to_bits(), "row {r}, column {c}");
            }
        }
    }

    /// Split across a pool or not, every output is the same dot product: the results are equal bit for bit, for the
    /// int8 path and the dequantizing one (what the browser's threads build relies on to match the others).
    #[test]
    fn threads_do_not_change_the_result() {
        let (rows, inf, outf) = (50, 256, 1030);
        let x: Vec<f32> = (0..rows * inf).map(|i| ((i * 37 % 101) as f32 - 50.0) / 25.0).collect();
        let weight: Vec<f32> = (0..outf * inf).map(|i| ((i * 53 % 97) as f32 - 48.0) / 97.0).collect();
        for kind in [Kind::Q8, Kind::F16, Kind::Q4, Kind::F32] {
            let w = CpuLinear {
                out_features: outf,
                in_features: inf,
                weight: crate::quant::PackedMatrix::from_rows(kind, outf, inf, &weight),
                bias: Some((0..outf).map(|i| i as f32 * 0.01).collect()),
            };
            let on = |threads: usize| {
                let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
                pool.install(|| {
                    assert_eq!(threads::available(), threads);
                    linear(&x, rows, &w, true)
                })
            };
            let one = on(1);
            for threads in [2, 3, 7] {
                let y = on(threads);
                assert!(one.iter().zip(&y).all(|(a, b)| a.to_bits() == b.to_bits()), "{kind:?}, {threads} threads");
            }
        }
    }
}
