//! `y = x · Wᵀ + b` on the CPU. Both operands are row-major with the reduction dimension contiguous
//! (`x` is `(rows, in)`, HF's `W` is `(out, in)`), so every output is one dot product of two contiguous rows.
//! Eight independent accumulators let LLVM vectorise the dot product without reassociating a single sum;
//! natively the output features are split across threads (wasm runs single-threaded).

use super::{int8, CpuLinear};
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

/// Where output `(r, o)` of a block of outputs `[o0, o1)` goes in its slice.
#[derive(Clone, Copy, Debug)]
pub enum Layout {
    /// `out[(o - o0) · rows + r]`: a thread's block of outputs is one contiguous slice.
    Transposed,
    /// `out[r · n + o]` (with `o0 = 0`): the result itself, no transposition after (one thread).
    RowMajor { n: usize },
}

impl Layout {
    #[inline(always)]
    pub fn index(self, r: usize, o_rel: usize, rows: usize) -> usize {
        match self {
            Layout::Transposed => o_rel * rows + r,
            Layout::RowMajor { n } => r * n + o_rel,
        }
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
            out[layout.index(r, o - o0, rows)] = dot(&x[r * k..][..k], wo) + b;
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
    let threads = thread_count(rows * n * w.in_features);
    let mut y = vec![0f32; rows * n];
    if threads <= 1 {
        run(0, n, &mut y, Layout::RowMajor { n });
        return y;
    }
    #[cfg(not(target_arch = "wasm32"))]
    {
        let mut transposed = vec![0f32; rows * n];
        std::thread::scope(|s| {
            let per = n.div_ceil(threads);
            for (t, chunk) in transposed.chunks_mut(per * rows).enumerate() {
                let o0 = t * per;
                let o1 = (o0 + per).min(n);
                let run = &run;
                s.spawn(move || run(o0, o1, chunk, Layout::Transposed));
            }
        });
        for o in 0..n {
            for r in 0..rows {
                y[r * n + o] = transposed[o * rows + r];
            }
        }
    }
    y
}

/// Threads worth starting for `macs` multiply-adds (none below ~1M: spawning costs more).
fn thread_count(macs: usize) -> usize {
    #[cfg(target_arch = "wasm32")]
    {
        let _ = macs;
        1
    }
    #[cfg(not(target_arch = "wasm32"))]
    {
        if macs < 1 << 20 {
            1
        } else {
            std::thread::available_parallelism().map_or(1, |n| n.get())
        }
    }
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
}
