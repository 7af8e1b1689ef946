//! `y = x · Wᵀ + b` on the CPU. Both operands are row-major with the reduction dimension contiguous
//! (`x` is `(rows, in)`, HF's `W` is `(out, in)`), so every output is one dot product of two contiguous rows.
//! Eight independent accumulators let LLVM vectorise the dot product without reassociating a single sum;
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

/// Outputs `[o0, o1)` for every row into `out` as `layout` says. A weight row stored as f16/q8/q4 is dequantized
/// once into a row buffer (L1-resident) and used for all `rows` dot products.
fn block(x: &[f32], rows: usize, w: &CpuLinear, o0: usize, o1: usize, out: &mut [f32], layout: Layout) {
    let k = w.in_features;
    let f32_rows: Option<&[f32]> = (w.weight.kind == Kind::F32).then(|| bytemuck::cast_slice(&w.weight.words));
    let mut buffer = vec![0f32; if f32_rows.is_some() { 0 } else { w.weight.padded_cols() }];
    for o in o0..o1 {
        let wo = match f32_rows {
            Some(all) => &all[o * k..][..k],
            None => {
                w.weight.dequantize_row_into(o, &mut buffer);
                &buffer[..k]
            }
        };
        let b = w.bias.as_ref().map_or(0.0, |b| b[o]);
        for r in 0..rows {
            out[layout.index(r, o - o0)] = dot(&x[r * k..][..k], wo) + b;
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

    /// Split across a pool or not, every output is the same dot product: the results are equal bit for bit, for the
    /// int8 path and the dequantizing one (what the browser's threads build relies on to match the others).
    #[test]
    fn threads_do_not_change_the_result() {
        let (rows, inf, outf) = (50, 256, 1030);
        let x: Vec<f32> = (0..rows * inf).map(|i| ((i * 37 % 101) as f32 - 50.0) / 25.0).collect();
        let weight: Vec<f32> = (0..outf * inf).map(|i| ((i * 53 % 97) as f32 - 48.0) / 97.0).collect();
        for kind in [Kind::Q8, Kind::F16] {
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
