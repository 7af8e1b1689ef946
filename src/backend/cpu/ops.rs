//! The CPU reference for every op but the matmul: direct transcriptions of the formulas, in f32 (f64 for the
//! layer-norm statistics, sums of hundreds of terms whose mean is subtracted).

use super::matmul::dot;
use super::{threads, Activation};
use super::{CpuTable, CpuTensor};
use crate::backend::{Dims, Mask};

/// `tokens[ids[t]] + positions[position_ids[t]]`, position `t mod seq` when not given.
pub fn embed_tokens(
    ids: &[u32],
    position_ids: Option<&[u32]>,
    batch: usize,
    tokens: &CpuTable,
    positions: &CpuTable,
) -> CpuTensor {
    let seq = ids.len() / batch.max(1);
    let d = tokens.dim;
    let mut data = Vec::with_capacity(ids.len() * d);
    for (i, &id) in ids.iter().enumerate() {
        let pos = position_ids.map_or(i % seq, |p| p[i] as usize);
        let (t, p) = (tokens.row(id as usize), positions.row(pos));
        data.extend(t.iter().zip(p.iter()).map(|(a, b)| a + b));
    }
    CpuTensor { dims: Dims::new(batch, seq, d), data }
}

/// `(batch, 1, C·H·W)` → `(batch, G, C·p·p)` with patches in row-major grid order, each in `(c, ky, kx)` order.
pub fn patchify(pixels: &CpuTensor, channels: usize, height: usize, width: usize, p: usize) -> CpuTensor {
    let (gh, gw) = (height / p, width / p);
    let batch = pixels.dims.batch;
    let patch_len = channels * p * p;
    let mut data = Vec::with_capacity(batch * gh * gw * patch_len);
    for b in 0..batch {
        let img = &pixels.data[b * channels * height * width..][..channels * height * width];
        for gy in 0..gh {
            for gx in 0..gw {
                for c in 0..channels {
                    for ky in 0..p {
                        let row = (c * height + gy * p + ky) * width + gx * p;
                        data.extend_from_slice(&img[row..row + p]);
                    }
                }
            }
        }
    }
    CpuTensor { dims: Dims::new(batch, gh * gw, patch_len), data }
}

/// `[prefix; x] + positions` (see `Backend::add_positions`).
pub fn add_positions(x: &CpuTensor, prefix: Option<&[f32]>, positions: &CpuTable) -> CpuTensor {
    let Dims { batch, seq, dim } = x.dims;
    let out = seq + prefix.is_some() as usize;
    let mut data = Vec::with_capacity(batch * out * dim);
    for b in 0..batch {
        let tokens = prefix.into_iter().chain(x.data[b * seq * dim..][..seq * dim].chunks_exact(dim.max(1)));
        for (s, token) in tokens.enumerate() {
            data.extend(token.iter().zip(positions.row(s).iter()).map(|(t, p)| t + p));
        }
    }
    CpuTensor { dims: Dims::new(batch, out, dim), data }
}

pub fn layer_norm(x: &CpuTensor, weight: &[f32], bias: &[f32], eps: f32) -> CpuTensor {
    let d = x.dims.dim;
    let mut data = Vec::with_capacity(x.data.len());
    for row in x.data.chunks_exact(d) {
        let mean = row.iter().map(|&v| v as f64).sum::<f64>() / d as f64;
        let var = row.iter().map(|&v| (v as f64 - mean).powi(2)).sum::<f64>() / d as f64;
        let inv = 1.0 / (var + eps as f64).sqrt();
        data.extend(row.iter().zip(weight).zip(bias).map(|((&v, &w), &b)| ((v as f64 - mean) * inv) as f32 * w + b));
    }
    CpuTensor { dims: x.dims, data }
}

/// In f32 (libm's `erff`/`tanhf` and [`exp`], within a few ulp): an f64 evaluation would cost a software `exp` per
/// element in wasm, for no difference after rounding the result to f32.
pub fn activation(x: f32, act: Activation) -> f32 {
    match act {
        Activation::QuickGelu => x / (1.0 + exp(-1.702 * x)),
        Activation::Gelu => 0.5 * x * (1.0 + libm::erff(x * std::f32::consts::FRAC_1_SQRT_2)),
        Activation::GeluTanh => {
            let c = (2.0 / std::f32::consts::PI).sqrt();
            0.5 * x * (1.0 + (c * (x + 0.044715 * x * x * x)).tanh())
        }
    }
}

/// [`activation`] of every value, in place: one loop per activation, so that it vectorises.
pub fn activate(xs: &mut [f32], act: Activation) {
    match act {
        Activation::QuickGelu => xs.iter_mut().for_each(|x| *x = activation(*x, Activation::QuickGelu)),
        Activation::Gelu => xs.iter_mut().for_each(|x| *x = activation(*x, Activation::Gelu)),
        Activation::GeluTanh => xs.iter_mut().for_each(|x| *x = activation(*x, Activation::GeluTanh)),
    }
}

/// `eˣ` in f32 within 2 ulp, branch-free so that a loop over a tensor vectorises (libm's `expf` is a call per
/// element, and in WebAssembly a software one): Cephes' `expf` — `x = n·ln 2 + r` with `|r| ≤ ln 2 / 2` (ln 2 in
/// two parts, so `r` is exact), a degree-6 polynomial for `eʳ`, and `2ⁿ` put in the exponent bits. `x` is clamped
/// to [−87, 88] (results from 1.6e−38 to 1.7e38): past either end the activations it serves are already 0 or `x`.
#[inline(always)]
pub fn exp(x: f32) -> f32 {
    const MAGIC: f32 = 12_582_912.0; // 1.5 · 2²³: adding and subtracting it rounds to the nearest integer
    let x = x.clamp(-87.0, 88.0);
    let n = (x * std::f32::consts::LOG2_E + MAGIC) - MAGIC;
    let r = x - n * 0.693_359_4 - n * -2.121_944_4e-4;
    let mut p = 1.987_569_1e-4f32;
    for c in [1.398_199_9e-3, 8.333_452e-3, 4.166_579_6e-2, 0.166_666_65, 0.5] {
        p = p * r + c;
    }
    let er = p * r * r + r + 1.0;
    er * f32::from_bits(((n as i32 + 127) as u32) << 23)
}

/// Head `h` of token `s` of sequence `b`.
fn head(t: &CpuTensor, b: usize, s: usize, h: usize, hd: usize) -> &[f32] {
    &t.data[(b * t.dims.seq + s) * t.dims.dim + h * hd..][..hd]
}

/// The keys query `i` sees under `mask`, in ascending order, into `keys` (a tree's chain is walked from `i` up and
/// reversed, so that `Tree` of a chain sums in exactly `Causal`'s order).
fn visible_keys(mask: Mask, i: usize, kv_len: usize, keys: &mut Vec<usize>) {
    keys.clear();
    match mask {
        Mask::None => keys.extend(0..kv_len),
        Mask::Causal => keys.extend(0..=i),
        Mask::Tree(parents) => {
            let mut node = i as i32;
            while node >= 0 {
                keys.push(node as usize);
                node = parents[node as usize];
            }
            keys.reverse();
        }
    }
}

/// softmax(q·kᵀ / √head_dim, over the keys `mask` lets each query see) · v, per sequence and head.
///
/// In f32: scores are 8-lane dot products ([`dot`]), `exp` of `score - max ≤ 0`, and the softmax sum has at most
/// `kv_len` terms in (0, 1] (relative error ≤ kv_len · 2⁻²⁴).
pub fn attention(q: &CpuTensor, k: &CpuTensor, v: &CpuTensor, heads: usize, mask: Mask) -> CpuTensor {
    let Dims { batch, seq, dim } = q.dims;
    let kv_len = k.dims.seq;
    let hd = dim / heads;
    let scale = 1.0 / (hd as f32).sqrt();
    let mut out = vec![0f32; q.data.len()];
    // rows (b, i) are independent: split across threads, each part with its own scratch
    let threads = threads::for_work(batch * seq * kv_len * dim * 2);
    threads::split(&mut out, dim, (batch * seq).div_ceil(threads), |first, part| {
        let mut scores = vec![0f32; kv_len];
        let mut keys = Vec::with_capacity(kv_len);
        for (r, o_row) in part.chunks_exact_mut(dim).enumerate() {
            let (b, i) = ((first + r) / seq, (first + r) % seq);
            visible_keys(mask, i, kv_len, &mut keys);
            let scores = &mut scores[..keys.len()];
            for h in 0..heads {
                let qi = head(q, b, i, h, hd);
                for (score, &j) in scores.iter_mut().zip(&keys) {
                    *score = dot(qi, head(k, b, j, h, hd)) * scale;
                }
                let max = scores.iter().copied().fold(f32::NEG_INFINITY, f32::max);
                let mut sum = 0.0;
                for s in scores.iter_mut() {
                    *s = exp(*s - max);
                    sum += *s;
                }
                let inv = 1.0 / sum;
                let o = &mut o_row[h * hd..][..hd];
                for (&p, &j) in scores.iter().zip(&keys) {
                    let p = p * inv;
                    for (oo, &vv) in o.iter_mut().zip(head(v, b, j, h, hd)) {
                        *oo += p * vv;
                    }
                }
            }
        }
    });
    CpuTensor { dims: q.dims, data: out }
}

#[cfg(test)]
mod tests {
    #[test]
    fn exp_is_within_two_ulp_of_f64() {
        let mut worst = 0f64;
        for i in 0..=1_750_000 {
            let x = -87.0 + i as f32 * 1e-4;
            let want = (x as f64).exp();
            let got = super::exp(x) as f64;
            worst = worst.max((got - want).abs() / want);
        }
        assert!(worst <= 2.0 * f32::EPSILON as f64, "worst relative error {worst:e}");
        assert_eq!(super::exp(0.0), 1.0);
        assert!(super::exp(-1000.0) > 0.0 && super::exp(1000.0).is_finite(), "clamped, never 0 or inf");
    }

    /// Rows split across a pool or not, attention gives the same values bit for bit (each row is computed alone).
    #[test]
    fn attention_does_not_depend_on_the_thread_count() {
        use super::{attention, CpuTensor, Dims, Mask};
        let dims = Dims { batch: 2, seq: 80, dim: 128 };
        let tensor = |seed: usize| CpuTensor {
            dims,
            data: (0..2 * 80 * 128).map(|i| (((i * 31 + seed * 17) % 97) as f32 - 48.0) / 24.0).collect(),
        };
        let (q, k, v) = (tensor(1), tensor(2), tensor(3));
        for mask in [Mask::None, Mask::Causal] {
            let on = |threads: usize| {
                let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
                pool.install(|| attention(&q, &k, &v, 4, mask).data)
            };
            let one = on(1);
            for threads in [2, 3] {
                let got = on(threads);
                assert!(one.iter().zip(&got).all(|(a, b)| a.to_bits() == b.to_bits()), "{threads} threads");
            }
        }
    }
}
