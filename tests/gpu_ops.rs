//! Every GPU op against the CPU reference (src/backend/cpu) on seeded random inputs, with sizes that are not
//! multiples of the kernels' tiles (64×64 matmul tiles, 256-wide workgroups, 64-key attention chunks).
//!
//! Tolerances, and why:
//! - copies (patchify, add_positions, gather_rows) and the token lookup + position add, add: exact. Each output is
//!   one copy or one correctly rounded f32 addition of the same two numbers on both sides.
//! - matmul: |Δ| ≤ 32 ε · (‖x_row‖₂ ‖w_row‖₂ + |b|) per output, ε = 2⁻²³. Both sides accumulate the length-K dot in
//!   f32 in different orders (GPU: one sequential fma chain; CPU: 8 partial sums); the rounding error of any order is
//!   ≤ K ε Σ|x_k w_k| ≤ K ε ‖x‖‖w‖ (Higham), ~ε‖x‖‖w‖ in practice. Elementwise relative error is not a fair test:
//!   an output near 0 from large cancelling terms has a large relative error in any order (8.9e-4 seen at K=512).
//! - layer norm: |Δ| ≤ 2e-5 · (|w| · |x̂| + |b| + 1) with x̂ the normalised value — the GPU's mean and variance are f32
//!   tree sums over the row, the reference's are f64 (relative error of the statistics ~ a few ε·log2(dim)).
//! - attention: |Δ| ≤ 1e-5 · max|v| — each output is a convex combination of v rows; scores are f32 dots on the GPU
//!   (f64 on the CPU) and exp differs by a few ulp, perturbing each weight by ~1e-6 relative.
//! - activations: |Δ| ≤ 2e-6 · max(1, |x|) — WGSL's exp/tanh are accurate to a few ulp, and erf comes from
//!   Abramowitz–Stegun 7.1.26 (absolute error ≤ 1.5e-7) where the CPU uses libm's erf in f64.
//! - fused epilogues (act(x·Wᵀ + b), residual + x·Wᵀ + b) against the trait's unfused defaults: the matmul
//!   tolerance, plus the activation tolerance.

mod gpu_common;

use gpu_common::{gpu, gpu_with};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use webclip::backend::cpu::Cpu;
use webclip::backend::gpu::{Gpu, GpuOptions};
use webclip::backend::Activation;
use webclip::backend::{Backend, Dims, Mask, Weights};
use webclip::quant::{Kind, PackedMatrix};
use webclip::tensor::HostTensor;

const EPS: f64 = f32::EPSILON as f64;

fn random(rng: &mut ChaCha8Rng, n: usize, lo: f32, hi: f32) -> Vec<f32> {
    (0..n).map(|_| rng.random_range(lo..hi)).collect()
}

fn host(name: &str, shape: &[usize], data: Vec<f32>) -> HostTensor {
    HostTensor { name: name.into(), shape: shape.to_vec(), data }
}

/// A `(rows, cols)` f32 matrix as the backends take weights and tables.
fn mat(rows: usize, cols: usize, data: &[f32]) -> PackedMatrix {
    PackedMatrix::from_rows(Kind::F32, rows, cols, data)
}

fn read<B: Backend>(b: &B, x: &B::Tensor) -> Vec<f32> {
    pollster::block_on(b.read(x)).expect("read")
}

/// Both backends run `op` on the same host data; returns (gpu, cpu) outputs.
fn both<F, G>(g: &Gpu, gpu_op: F, cpu_op: G) -> (Vec<f32>, Vec<f32>)
where
    F: FnOnce(&Gpu) -> <Gpu as Backend>::Tensor,
    G: FnOnce(&Cpu) -> <Cpu as Backend>::Tensor,
{
    let got = gpu_op(g);
    let want = cpu_op(&Cpu::REFERENCE);
    (read(g, &got), read(&Cpu::REFERENCE, &want))
}

fn assert_exact(what: &str, got: &[f32], want: &[f32]) {
    assert_eq!(got.len(), want.len(), "{what}: length");
    if let Some(i) = (0..got.len()).find(|&i| got[i].to_bits() != want[i].to_bits()) {
        panic!("{what}: element {i}: gpu {} vs cpu {}", got[i], want[i]);
    }
}

/// The operands of `x · Wᵀ + b`: `x` `(rows, k)`, `w` `(n, k)`, `b` `(n)`.
struct Operands<'a> {
    x: &'a [f32],
    w: &'a [f32],
    b: Option<&'a [f32]>,
    k: usize,
}

/// Checks `x · Wᵀ + b` outputs against the norm-scaled bound (see the module comment), plus `extra · (1 + |y|)`.
fn assert_matmul_close(what: &str, got: &[f32], want: &[f32], ops: Operands, extra: f64) {
    let Operands { x, w, b, k } = ops;
    let n = w.len() / k;
    let norm = |v: &[f32]| v.iter().map(|&a| (a as f64).powi(2)).sum::<f64>().sqrt();
    let mut worst = 0.0f64;
    for (i, (g, c)) in got.iter().zip(want).enumerate() {
        let (r, o) = (i / n, i % n);
        let scale = norm(&x[r * k..(r + 1) * k]) * norm(&w[o * k..(o + 1) * k]) + b.map_or(0.0, |b| b[o].abs() as f64);
        let err = (*g as f64 - *c as f64).abs();
        let bound = 32.0 * EPS * scale + extra * (1.0 + c.abs() as f64);
        assert!(err <= bound, "{what}: output ({r}, {o}): gpu {g} vs cpu {c}, |Δ| {err:e} > {bound:e}");
        worst = worst.max(err / (EPS * scale.max(1e-30)));
    }
    eprintln!("{what}: worst |Δ| = {worst:.2} ε‖x‖‖w‖");
}

#[test]
fn matmul_matches_cpu_on_odd_sizes() {
    let Some(g) = gpu() else { return };
    let mut rng = ChaCha8Rng::seed_from_u64(1);
    // (rows, in, out): single element, below one tile, just over tile edges, CLIP widths with odd row counts
    for (m, k, n, bias) in [
        (1, 1, 1, true),
        (3, 5, 7, false),
        (65, 17, 129, true),
        (50, 768, 64, false),
        (77, 512, 67, true),
        (130, 3, 200, true),
    ] {
        let x = random(&mut rng, m * k, -2.0, 2.0);
        let w = random(&mut rng, n * k, -1.0, 1.0);
        let b = bias.then(|| random(&mut rng, n, -1.0, 1.0));
        let dims = Dims::new(1, m, k);
        let make = |b: Option<&Vec<f32>>| (mat(n, k, &w), b.map(|b| host("b", &[n], b.clone())));
        let (got, want) = both(
            &g,
            |g| {
                let (wt, bt) = make(b.as_ref());
                g.matmul(&g.upload(&x, dims).unwrap(), &g.linear("w", wt, bt).unwrap()).unwrap()
            },
            |c| {
                let (wt, bt) = make(b.as_ref());
                c.matmul(&c.upload(&x, dims).unwrap(), &c.linear("w", wt, bt).unwrap()).unwrap()
            },
        );
        assert_matmul_close(
            &format!("matmul {m}x{k}x{n}"),
            &got,
            &want,
            Operands { x: &x, w: &w, b: b.as_deref(), k },
            0.0,
        );
    }
}

#[test]
fn fused_epilogues_match_the_unfused_reference() {
    let Some(g) = gpu() else { return };
    let mut rng = ChaCha8Rng::seed_from_u64(2);
    let (batch, seq, k, n) = (2, 37, 48, 70);
    let x = random(&mut rng, batch * seq * k, -2.0, 2.0);
    let w = random(&mut rng, n * k, -0.5, 0.5);
    let b = random(&mut rng, n, -0.5, 0.5);
    let res = random(&mut rng, batch * seq * n, -3.0, 3.0);
    let (dx, dr) = (Dims::new(batch, seq, k), Dims::new(batch, seq, n));
    let lin = || (mat(n, k, &w), Some(host("b", &[n], b.clone())));
    for act in [Activation::QuickGelu, Activation::Gelu, Activation::GeluTanh] {
        let (got, want) = both(
            &g,
            |g| g.matmul_act(&g.upload(&x, dx).unwrap(), &g.linear("w", lin().0, lin().1).unwrap(), act).unwrap(),
            |c| c.matmul_act(&c.upload(&x, dx).unwrap(), &c.linear("w", lin().0, lin().1).unwrap(), act).unwrap(),
        );
        assert_matmul_close(
            &format!("matmul_act {act:?}"),
            &got,
            &want,
            Operands { x: &x, w: &w, b: Some(&b), k },
            2e-6,
        );
    }
    let (got, want) = both(
        &g,
        |g| {
            g.matmul_add(
                &g.upload(&x, dx).unwrap(),
                &g.linear("w", lin().0, lin().1).unwrap(),
                &g.upload(&res, dr).unwrap(),
            )
            .unwrap()
        },
        |c| {
            c.matmul_add(
                &c.upload(&x, dx).unwrap(),
                &c.linear("w", lin().0, lin().1).unwrap(),
                &c.upload(&res, dr).unwrap(),
            )
            .unwrap()
        },
    );
    // the residual adds one rounding of |residual| ≤ 3 on top of the matmul's error
    assert_matmul_close("matmul_add", &got, &want, Operands { x: &x, w: &w, b: Some(&b), k }, 2.0 * EPS);
}

#[test]
fn layer_norm_matches_cpu() {
    let Some(g) = gpu() else { return };
    let mut rng = ChaCha8Rng::seed_from_u64(3);
    for (rows, dim) in [(1, 1), (5, 7), (3, 300), (2, 1030), (300, 64)] {
        // an offset mean and a spread, so the centring matters
        let x: Vec<f32> = random(&mut rng, rows * dim, -1.0, 1.0).iter().map(|v| 3.0 + 2.0 * v).collect();
        let w = random(&mut rng, dim, 0.5, 1.5);
        let b = random(&mut rng, dim, -0.5, 0.5);
        let dims = Dims::new(1, rows, dim);
        let (got, want) = both(
            &g,
            |g| {
                let (wv, bv) =
                    (g.vector(host("w", &[dim], w.clone())).unwrap(), g.vector(host("b", &[dim], b.clone())).unwrap());
                g.layer_norm(&g.upload(&x, dims).unwrap(), &wv, &bv, 1e-5).unwrap()
            },
            |c| c.layer_norm(&c.upload(&x, dims).unwrap(), &w, &b, 1e-5).unwrap(),
        );
        for (i, (gv, cv)) in got.iter().zip(&want).enumerate() {
            let d = i % dim;
            let xhat = (cv - b[d]) / w[d];
            let bound = 2e-5 * ((w[d] * xhat).abs() + b[d].abs() + 1.0);
            assert!((gv - cv).abs() <= bound, "layer_norm {rows}x{dim} [{i}]: gpu {gv} vs cpu {cv}");
        }
    }
}

/// Layer norm checks that weight, bias and x agree on the feature count, on both backends (the CPU used to zip them,
/// dropping features silently): an error naming the lengths, never a short or padded output.
#[test]
fn layer_norm_refuses_mismatched_lengths() {
    let x = webclip::backend::cpu::CpuTensor {
        dims: Dims::new(1, 2, 4),
        data: vec![1.0, 2.0, 3.0, 4.0, 0.5, 0.0, 1.0, 2.0],
    };
    for (w, b) in [(3, 4), (4, 3), (5, 4), (4, 5)] {
        let err = Cpu::REFERENCE.layer_norm(&x, &vec![1.0; w], &vec![0.0; b], 1e-5).map(|y| y.data.len());
        let err = err.expect_err("mismatched layer norm").to_string();
        assert!(err.contains(&format!("weight {w} and bias {b}")) && err.contains("4 features"), "{err}");
    }
    let short = webclip::backend::cpu::CpuTensor { dims: Dims::new(1, 2, 4), data: vec![1.0; 7] };
    assert!(Cpu::REFERENCE.layer_norm(&short, &vec![1.0; 4], &vec![0.0; 4], 1e-5).is_err(), "7 values for 8");
    let empty = webclip::backend::cpu::CpuTensor { dims: Dims::new(1, 2, 0), data: vec![] };
    assert!(Cpu::REFERENCE.layer_norm(&empty, &vec![], &vec![], 1e-5).is_err(), "zero features");
    assert_eq!(Cpu::REFERENCE.layer_norm(&x, &vec![1.0; 4], &vec![0.0; 4], 1e-5).unwrap().data.len(), 8);

    let Some(g) = gpu() else { return };
    let gx = g.upload(&x.data, x.dims).unwrap();
    let v = |n: usize| g.vector(host("v", &[n], vec![1.0; n])).unwrap();
    assert!(g.layer_norm(&gx, &v(3), &v(4), 1e-5).is_err());
    assert!(g.layer_norm(&gx, &v(4), &v(5), 1e-5).is_err());
}

#[test]
fn attention_matches_cpu_causal_and_not() {
    let Some(g) = gpu() else { return };
    let mut rng = ChaCha8Rng::seed_from_u64(4);
    // (batch, seq, heads, head_dim): one token; odd everything; the text tower's 77; ViT-B/16's 197 keys (4 chunks);
    // 130 = 2 full chunks + 2; the largest head the kernel holds
    // then cross-attention (q_len ≠ kv_len): one pooling probe over 196 patches with SigLIP So400m's head size 72
    // (not a power of two), and 3 queries over 130 keys
    for (batch, seq, kv_len, heads, hd) in [
        (1, 1, 1, 1, 1),
        (2, 5, 5, 2, 3),
        (3, 77, 77, 8, 8),
        (1, 197, 197, 2, 64),
        (2, 130, 130, 3, 5),
        (1, 9, 9, 1, 256),
        (2, 1, 196, 4, 72),
        (1, 3, 130, 2, 12),
    ] {
        let dims = Dims::new(batch, seq, heads * hd);
        let kv_dims = Dims::new(batch, kv_len, heads * hd);
        let q = random(&mut rng, dims.len(), -2.0, 2.0);
        let [k, v] = [0, 1].map(|_| random(&mut rng, kv_dims.len(), -2.0, 2.0));
        let vmax = v.iter().fold(0f32, |m, a| m.max(a.abs()));
        for mask in [Mask::None, Mask::Causal].into_iter().filter(|&m| m == Mask::None || seq == kv_len) {
            let (got, want) = both(
                &g,
                |g| {
                    let (q, k, v) =
                        (g.upload(&q, dims).unwrap(), g.upload(&k, kv_dims).unwrap(), g.upload(&v, kv_dims).unwrap());
                    g.attention(&q, &k, &v, heads, mask).unwrap()
                },
                |c| {
                    let (q, k, v) =
                        (c.upload(&q, dims).unwrap(), c.upload(&k, kv_dims).unwrap(), c.upload(&v, kv_dims).unwrap());
                    c.attention(&q, &k, &v, heads, mask).unwrap()
                },
            );
            assert_eq!(got.len(), dims.len());
            let err = got.iter().zip(&want).map(|(a, b)| (a - b).abs()).fold(0.0, f32::max);
            assert!(
                err <= 1e-5 * vmax,
                "attention {dims:?} over {kv_len} keys, heads {heads} {mask:?}: max |Δ| {err:e}"
            );
        }
    }
    // causal attention needs as many queries as keys: an error on both backends, never a wrong answer
    let (q, k) = (Dims::new(1, 2, 4), Dims::new(1, 3, 4));
    assert!(g
        .attention(
            &g.upload(&[0.0; 8], q).unwrap(),
            &g.upload(&[0.0; 12], k).unwrap(),
            &g.upload(&[0.0; 12], k).unwrap(),
            1,
            Mask::Causal
        )
        .is_err());
    let c = Cpu::REFERENCE;
    assert!(c
        .attention(
            &c.upload(&[0.0; 8], q).unwrap(),
            &c.upload(&[0.0; 12], k).unwrap(),
            &c.upload(&[0.0; 12], k).unwrap(),
            1,
            Mask::Causal
        )
        .is_err());
}

/// A tree of `n` rows, each parent before its child: mostly chains (`parents[i] = i − 1`, so that some chains
/// run past one 64-key chunk) with branches back to a random earlier row or to a new root.
fn random_tree(rng: &mut ChaCha8Rng, n: usize) -> Vec<i32> {
    (0..n as i32).map(|i| if i > 0 && rng.random_bool(0.8) { i - 1 } else { rng.random_range(-1..i) }).collect()
}

/// Attention written from the definition in f64: the full `(q_len, kv_len)` mask (row `i` sees the set of its
/// ancestors, built as `ancestors[i] = ancestors[parent] ∪ {i}`), masked scores at −∞, a plain softmax.
fn masked_reference(q: &[f32], k: &[f32], v: &[f32], dims: Dims, heads: usize, parents: &[i32]) -> Vec<f32> {
    let (seq, dim) = (dims.seq, dims.dim);
    let hd = dim / heads;
    let mut ancestors: Vec<Vec<bool>> = Vec::new();
    for (i, &p) in parents.iter().enumerate() {
        let mut row = if p < 0 { vec![false; seq] } else { ancestors[p as usize].clone() };
        row[i] = true;
        ancestors.push(row);
    }
    let mut out = vec![0f32; dims.len()];
    for b in 0..dims.batch {
        for h in 0..heads {
            for i in 0..seq {
                let at = |t: &[f32], s: usize, d: usize| t[(b * seq + s) * dim + h * hd + d] as f64;
                let scores: Vec<f64> = (0..seq)
                    .map(|j| match ancestors[i][j] {
                        true => (0..hd).map(|d| at(q, i, d) * at(k, j, d)).sum::<f64>() / (hd as f64).sqrt(),
                        false => f64::NEG_INFINITY,
                    })
                    .collect();
                let max = scores.iter().copied().fold(f64::NEG_INFINITY, f64::max);
                let e: Vec<f64> = scores.iter().map(|s| (s - max).exp()).collect();
                let sum: f64 = e.iter().sum();
                for d in 0..hd {
                    let o: f64 = (0..seq).map(|j| e[j] / sum * at(v, j, d)).sum();
                    out[(b * seq + i) * dim + h * hd + d] = o as f32;
                }
            }
        }
    }
    out
}

/// The tree mask (`Mask::Tree`, a causal mask over a prefix tree): the CPU against the masked f64 reference above,
/// `Tree` of a chain against `Causal` (bit for bit: the CPU walks a tree's keys oldest first, as causal), and the
/// GPU against the CPU. Tolerance |Δ| ≤ 1e-5 · max|v| both times, as for the other masks: each output is a convex
/// combination of v rows and the weights differ by f32 rounding of the scores and exp (the GPU also sums the keys
/// in the opposite order, newest first). Sizes: one row; a random tree in odd widths; 150 rows whose chains run past
/// one and two 64-key chunks, with SigLIP So400m's head size 72.
#[test]
fn tree_attention_matches_the_masked_reference_and_the_gpu() {
    let mut rng = ChaCha8Rng::seed_from_u64(31);
    let gpu = gpu();
    for (batch, seq, heads, hd) in [(2, 1, 1, 1), (2, 37, 3, 5), (1, 150, 2, 72)] {
        let parents = random_tree(&mut rng, seq);
        let depth = |mut i: i32| {
            let mut n = 0;
            while i >= 0 {
                (n, i) = (n + 1, parents[i as usize]);
            }
            n
        };
        let deepest = (0..seq as i32).map(depth).max().unwrap_or(0);
        let dims = Dims::new(batch, seq, heads * hd);
        let [q, k, v] = [0, 1, 2].map(|_| random(&mut rng, dims.len(), -2.0, 2.0));
        let vmax = v.iter().fold(0f32, |m, a| m.max(a.abs()));
        let run = |b: &Cpu, mask: Mask| {
            let [q, k, v] = [&q, &k, &v].map(|t| b.upload(t, dims).unwrap());
            read(b, &b.attention(&q, &k, &v, heads, mask).unwrap())
        };
        let c = Cpu::REFERENCE;
        let cpu = run(&c, Mask::Tree(&parents));
        let want = masked_reference(&q, &k, &v, dims, heads, &parents);
        let err = cpu.iter().zip(&want).map(|(a, b)| (a - b).abs()).fold(0.0, f32::max);
        assert!(err <= 1e-5 * vmax, "cpu tree attention {dims:?} (depth {deepest}) vs reference: |Δ| {err:e}");
        let chain: Vec<i32> = (-1..seq as i32 - 1).collect();
        assert_exact(
            &format!("tree of a chain vs causal {dims:?}"),
            &run(&c, Mask::Tree(&chain)),
            &run(&c, Mask::Causal),
        );
        let Some(g) = &gpu else { continue };
        let [gq, gk, gv] = [&q, &k, &v].map(|t| g.upload(t, dims).unwrap());
        let got = read(g, &g.attention(&gq, &gk, &gv, heads, Mask::Tree(&parents)).unwrap());
        let err = got.iter().zip(&cpu).map(|(a, b)| (a - b).abs()).fold(0.0, f32::max);
        assert!(err <= 1e-5 * vmax, "gpu tree attention {dims:?} (depth {deepest}) vs cpu: |Δ| {err:e}");
        eprintln!("tree attention {dims:?}, depth {deepest}: cpu vs reference ok, gpu |Δ| {err:e}");
    }
}

/// A malformed tree mask is an `Error::Input` on both backends, with the row and what to do.
#[test]
fn bad_tree_masks_are_errors() {
    fn errors<B: Backend>(b: &B) {
        let x = b.upload(&[0.5; 12], Dims::new(1, 3, 4)).unwrap();
        let long = b.upload(&[0.5; 16], Dims::new(1, 4, 4)).unwrap();
        for (parents, want) in [
            (&[-1, 0][..], "tree mask has 2 rows for 3 queries"),
            (&[-1, 1, 0][..], "row 1 has parent 1"),
            (&[-1, 0, 5][..], "row 2 has parent 5"),
            (&[-1, -2, 0][..], "row 1 has parent -2"),
        ] {
            let err = b.attention(&x, &x, &x, 2, Mask::Tree(parents)).map(drop).unwrap_err();
            assert!(matches!(err, webclip::Error::Input(_)) && err.to_string().contains(want), "{parents:?}: {err}");
        }
        let err = b.attention(&x, &long, &long, 2, Mask::Tree(&[-1, 0, 1])).map(drop).unwrap_err().to_string();
        assert!(err.contains("needs as many queries as keys"), "{err}");
        assert!(b.attention(&x, &x, &x, 2, Mask::Tree(&[-1, 0, 0])).is_ok());
    }
    errors(&Cpu::REFERENCE);
    if let Some(g) = gpu() {
        errors(&g);
    }
}

/// Token embeddings at explicit position ids (a prefix tree's depths): `tokens[ids[t]] + positions[position_ids[t]]`
/// on the CPU, and the GPU exactly equal (one f32 addition of the same two numbers), whole and chunked tables; bad
/// position ids are errors on both.
#[test]
fn token_embedding_at_explicit_positions() {
    let mut rng = ChaCha8Rng::seed_from_u64(32);
    let (vocab, dim, ctx) = (300, 20, 9);
    let tokens = random(&mut rng, vocab * dim, -1.0, 1.0);
    let pos = random(&mut rng, ctx * dim, -1.0, 1.0);
    let ids: Vec<u32> = (0..13).map(|_| rng.random_range(0..vocab as u32)).collect();
    let pids: Vec<u32> = vec![0, 1, 2, 3, 4, 5, 6, 7, 8, 5, 6, 7, 2];
    let c = Cpu::REFERENCE;
    let (t, p) = (c.table("tok", mat(vocab, dim, &tokens)).unwrap(), c.table("pos", mat(ctx, dim, &pos)).unwrap());
    let cpu = read(&c, &c.embed_tokens(&ids, Some(&pids), 1, &t, &p).unwrap());
    for (i, (&id, &pid)) in ids.iter().zip(&pids).enumerate() {
        let (id, pid) = (id as usize, pid as usize);
        let expected: Vec<f32> = (0..dim).map(|d| tokens[id * dim + d] + pos[pid * dim + d]).collect();
        assert_exact(&format!("cpu token {i}"), &cpu[i * dim..(i + 1) * dim], &expected);
    }
    // HF's default position ids are what `None` means
    let default: Vec<u32> = (0..13).map(|_| 0).collect();
    let first = read(&c, &c.embed_tokens(&ids[..1], Some(&default[..1]), 1, &t, &p).unwrap());
    assert_exact("None = 0, 1, …", &read(&c, &c.embed_tokens(&ids[..1], None, 1, &t, &p).unwrap()), &first);
    let bad = |b: &dyn Fn(Option<&[u32]>) -> webclip::Result<()>| {
        let err = b(Some(&[0, 9])).unwrap_err().to_string();
        assert!(err.contains("position id 9 is past the model's 9 positions"), "{err}");
        let err = b(Some(&[0])).unwrap_err().to_string();
        assert!(err.contains("1 position ids for 2 token ids"), "{err}");
    };
    bad(&|pids| c.embed_tokens(&[1, 2], pids, 1, &t, &p).map(drop));
    let err = c.embed_tokens(&[1, 2, 3], None, 2, &t, &p).unwrap_err().to_string();
    assert!(err.contains("do not split into 2 sequences"), "{err}");
    for options in [GpuOptions::default(), GpuOptions { max_binding_bytes: Some(2048), ..Default::default() }] {
        let Some(g) = gpu_with(options) else { return };
        let (gt, gp) =
            (g.table("tok", mat(vocab, dim, &tokens)).unwrap(), g.table("pos", mat(ctx, dim, &pos)).unwrap());
        let got = read(&g, &g.embed_tokens(&ids, Some(&pids), 1, &gt, &gp).unwrap());
        assert_exact(&format!("embed_tokens at positions {options:?}"), &got, &cpu);
        bad(&|pids| g.embed_tokens(&[1, 2], pids, 1, &gt, &gp).map(drop));
    }
}

#[test]
fn activations_match_cpu() {
    let Some(g) = gpu() else { return };
    let mut rng = ChaCha8Rng::seed_from_u64(5);
    let mut x = random(&mut rng, 1001, -8.0, 8.0);
    x.extend([0.0, -0.0, 1e-6, -1e-6, 30.0, -30.0, 60.0, -60.0, 100.0, -100.0]); // tails: saturation, exp overflow
    let dims = Dims::new(1, 1, x.len());
    for act in [Activation::QuickGelu, Activation::Gelu, Activation::GeluTanh] {
        let (got, want) = both(
            &g,
            |g| g.activation(&g.upload(&x, dims).unwrap(), act).unwrap(),
            |c| c.activation(&c.upload(&x, dims).unwrap(), act).unwrap(),
        );
        for ((gv, cv), xv) in got.iter().zip(&want).zip(&x) {
            assert!((gv - cv).abs() <= 2e-6 * xv.abs().max(1.0), "{act:?}({xv}): gpu {gv} vs cpu {cv}");
        }
    }
}

#[test]
fn copies_and_adds_are_exact() {
    let Some(g) = gpu() else { return };
    let mut rng = ChaCha8Rng::seed_from_u64(6);
    // add over more than one 256-wide workgroup, odd length
    let dims = Dims::new(3, 7, 45);
    let (a, b) = (random(&mut rng, dims.len(), -5.0, 5.0), random(&mut rng, dims.len(), -5.0, 5.0));
    let (got, want) = both(
        &g,
        |g| g.add(&g.upload(&a, dims).unwrap(), &g.upload(&b, dims).unwrap()).unwrap(),
        |c| c.add(&c.upload(&a, dims).unwrap(), &c.upload(&b, dims).unwrap()).unwrap(),
    );
    assert_exact("add", &got, &want);

    // patchify: 2 images 3×40×40 in 16-px patches would leave a remainder; 3×48×40 in 8-px patches (6×5 grid)
    let (c_, h, w, p) = (3, 48, 40, 8);
    let px = random(&mut rng, 2 * c_ * h * w, -2.0, 2.0);
    let pd = Dims::new(2, 1, c_ * h * w);
    let (got, want) = both(
        &g,
        |g| g.patchify(&g.upload(&px, pd).unwrap(), c_, h, w, p).unwrap(),
        |c| c.patchify(&c.upload(&px, pd).unwrap(), c_, h, w, p).unwrap(),
    );
    assert_exact("patchify", &got, &want);

    // add_positions with a prefix row (CLIP's class token) and without (SigLIP), and gather_rows on (2, 30, 24)
    let xd = Dims::new(2, 30, 24);
    let x = random(&mut rng, xd.len(), -2.0, 2.0);
    let class = random(&mut rng, 24, -1.0, 1.0);
    let pos = random(&mut rng, 31 * 24, -1.0, 1.0);
    for prefixed in [true, false] {
        let rows = 30 + prefixed as usize;
        let (got, want) = both(
            &g,
            |g| {
                let (cv, pt) = (
                    g.vector(host("class", &[24], class.clone())).unwrap(),
                    g.table("pos", mat(rows, 24, &pos[..rows * 24])).unwrap(),
                );
                g.add_positions(&g.upload(&x, xd).unwrap(), prefixed.then_some(&cv), &pt).unwrap()
            },
            |c| {
                let pt = c.table("pos", mat(rows, 24, &pos[..rows * 24])).unwrap();
                c.add_positions(&c.upload(&x, xd).unwrap(), prefixed.then_some(&class), &pt).unwrap()
            },
        );
        assert_eq!(got.len(), 2 * rows * 24);
        assert_exact(&format!("add_positions (prefix: {prefixed})"), &got, &want);
        // the CPU reference itself: after the prefix, token s of sequence b is x[b, s − 1] + pos[s]; without, x[b, s]
        let p = prefixed as usize;
        for (b, s, d) in [(0, 0, 3), (1, 0, 7), (1, 17, 5), (1, rows - 1, 23)] {
            let token = if s < p { class[d] } else { x[(b * 30 + s - p) * 24 + d] };
            assert_eq!(want[(b * rows + s) * 24 + d], token + pos[s * 24 + d], "({b}, {s}, {d}) prefix {prefixed}");
        }
    }
    // gather_rows by flat row index over both sequences: the last row of the first, a row of the second, one
    // twice, more rows than sequences
    let rows = [29, 33, 0, 59, 33];
    let (got, want) = both(
        &g,
        |g| g.gather_rows(&g.upload(&x, xd).unwrap(), &rows).unwrap(),
        |c| c.gather_rows(&c.upload(&x, xd).unwrap(), &rows).unwrap(),
    );
    assert_exact("gather_rows", &got, &want);
    let expected: Vec<f32> = rows.iter().flat_map(|&r| x[r * 24..(r + 1) * 24].to_vec()).collect();
    assert_exact("gather_rows (cpu reference)", &want, &expected);
}

/// The token table is split in chunks when it exceeds the binding limit (a 49408 × 768 f32 table does, at WebGPU's
/// default 128 MiB): here a 1000 × 24 table in 8 KiB bindings, i.e. 11 chunks of 85 rows and one of 65.
#[test]
fn token_embedding_matches_cpu_whole_and_chunked() {
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    let (vocab, dim, ctx) = (1000, 24, 77);
    let tokens = random(&mut rng, vocab * dim, -1.0, 1.0);
    let pos = random(&mut rng, ctx * dim, -1.0, 1.0);
    let ids: Vec<u32> =
        (0..3 * 11).map(|i| if i % 11 == 0 { 999 } else { rng.random_range(0..vocab as u32) }).collect();
    let cpu = {
        let (t, p) = (
            Cpu::REFERENCE.table("tok", mat(vocab, dim, &tokens)).unwrap(),
            Cpu::REFERENCE.table("pos", mat(ctx, dim, &pos)).unwrap(),
        );
        read(&Cpu::REFERENCE, &Cpu::REFERENCE.embed_tokens(&ids, None, 3, &t, &p).unwrap())
    };
    for options in [GpuOptions::default(), GpuOptions { max_binding_bytes: Some(8192), ..Default::default() }] {
        let g = match options.max_binding_bytes {
            None => gpu(),
            Some(_) => gpu_with(options),
        };
        let Some(g) = g else { return };
        let (t, p) = (g.table("tok", mat(vocab, dim, &tokens)).unwrap(), g.table("pos", mat(ctx, dim, &pos)).unwrap());
        let got = read(&g, &g.embed_tokens(&ids, None, 3, &t, &p).unwrap());
        assert_exact(&format!("embed_tokens {options:?}"), &got, &cpu);
    }
}

#[test]
fn bad_inputs_are_errors_not_panics() {
    let Some(g) = gpu() else { return };
    let x = g.upload(&[0.0; 12], Dims::new(1, 3, 4)).unwrap();
    let w = g.linear("w", mat(2, 5, &[0.0; 10]), None).unwrap();
    assert!(g.matmul(&x, &w).unwrap_err().to_string().contains("weight expects 5"));
    assert!(g.upload(&[0.0; 5], Dims::new(1, 3, 4)).is_err());
    assert!(g.attention(&x, &x, &x, 3, Mask::None).is_err()); // 4 features in 3 heads
    let t = g.table("tok", mat(10, 4, &[0.0; 40])).unwrap();
    let err = g.embed_tokens(&[3, 10], None, 1, &t, &t).unwrap_err().to_string();
    assert!(err.contains("token id 10"), "{err}");
    assert!(g.gather_rows(&x, &[3]).is_err());
}

/// Work wider than the device's workgroup grid (`max_compute_workgroups_per_dimension`, 65535 by default) is
/// refused before any dispatch with the true counts: attention runs one workgroup per head and one per token.
#[test]
fn dispatches_past_the_workgroup_limit_are_dispatch_errors() {
    let Some(g) = gpu() else { return };
    let max = g.limits().max_compute_workgroups_per_dimension as usize;
    let wide = max + 1;
    let x = g.upload(&vec![0.5; wide], Dims::new(1, 1, wide)).unwrap();
    let long = g.upload(&vec![0.5; wide], Dims::new(1, wide, 1)).unwrap();
    for (what, q, heads, axis) in [("heads", &x, wide, "head"), ("tokens", &long, 1, "token")] {
        match g.attention(q, q, q, heads, Mask::None) {
            Err(webclip::Error::GpuDispatchLimit { what: w, workgroups, limit }) => {
                assert_eq!((workgroups, limit), (wide as u64, max as u64), "{what}");
                assert!(w.contains(&format!("one workgroup per {axis}")), "{what}: {w}");
            }
            Err(e) => panic!("{what}: {wide} {what} should be a GpuDispatchLimit, got {e}"),
            Ok(y) => {
                panic!("{what}: {wide} {what} should be refused, got {:?} ({:?})", y, pollster::block_on(g.read(&y)))
            }
        }
    }
}

/// A lost device is an error the caller can act on, never a panic: here the loss is `Gpu::destroy` on a device of
/// this test's own.
#[test]
fn device_loss_is_an_error() {
    let Some(g) = gpu_with(GpuOptions::default()) else { return };
    let w = g.linear("w", mat(3, 4, &[0.5; 12]), None).unwrap();
    let x = g.upload(&[1.0; 8], Dims::new(1, 2, 4)).unwrap();
    assert_eq!(read(&g, &g.matmul(&x, &w).unwrap()), vec![2.0; 6]);
    g.destroy();
    let result = g
        .upload(&[1.0; 8], Dims::new(1, 2, 4))
        .and_then(|x| g.matmul(&x, &w))
        .and_then(|y| pollster::block_on(g.read(&y)));
    let err = result.expect_err("a destroyed device cannot compute").to_string();
    assert!(err.contains("GPU device was lost") && err.contains("--backend cpu"), "{err}");
}

/// The matmul on packed f16/q8/q4 weights (linear_f16/q8/q4 in shaders/linear.wgsl, dequantized while staged)
/// against the CPU backend on the same packed matrix (which dequantizes a row, then does the f32 dot). Both multiply
/// x by exactly the same dequantized values (q·d is exact in f32), so the f32 matmul bound applies with W the
/// dequantized matrix. Sizes: rows not a multiple of the 32-block (k = 37, 100: padded tails), one tile edge, and a
/// CLIP width; q4's second half-tile of invocations and f16's odd k are covered.
#[test]
fn quantized_matmul_matches_cpu_on_odd_sizes() {
    let Some(g) = gpu() else { return };
    let mut rng = ChaCha8Rng::seed_from_u64(11);
    for kind in [Kind::F16, Kind::Q8, Kind::Q4] {
        for (m, k, n) in [(1, 37, 5), (3, 33, 65), (50, 768, 70), (9, 100, 130), (2, 15, 3)] {
            let x = random(&mut rng, m * k, -2.0, 2.0);
            let w = PackedMatrix::from_rows(kind, n, k, &random(&mut rng, n * k, -1.0, 1.0));
            let b = random(&mut rng, n, -1.0, 1.0);
            let dims = Dims::new(1, m, k);
            let bias = || Some(host("b", &[n], b.clone()));
            let (got, want) = both(
                &g,
                |g| g.matmul(&g.upload(&x, dims).unwrap(), &g.linear("w", w.clone(), bias()).unwrap()).unwrap(),
                |c| c.matmul(&c.upload(&x, dims).unwrap(), &c.linear("w", w.clone(), bias()).unwrap()).unwrap(),
            );
            let wd = w.dequantize();
            let ops = Operands { x: &x, w: &wd, b: Some(&b), k };
            assert_matmul_close(&format!("{kind} matmul {m}x{k}x{n}"), &got, &want, ops, 0.0);
        }
    }
}

/// The token gather from f16/q8/q4 tables (embed_tokens_{f16,q8,q4}), whole and chunked: exact, since both
/// sides dequantize to the same f32 (q·d is exact) and add the same position value. Chunked: 1536-byte bindings
/// hold 19 (f16), 24 (q8) or 48 (q4) rows of 40, so the 301 rows span 7 to 16 chunks.
#[test]
fn quantized_token_embedding_matches_cpu_whole_and_chunked() {
    let mut rng = ChaCha8Rng::seed_from_u64(12);
    let (vocab, dim, ctx) = (301, 40, 9);
    let pos = random(&mut rng, ctx * dim, -1.0, 1.0);
    let ids: Vec<u32> = (0..9).map(|i| if i == 0 { 300 } else { rng.random_range(0..vocab as u32) }).collect();
    for kind in [Kind::F16, Kind::Q8, Kind::Q4] {
        let table = PackedMatrix::from_rows(kind, vocab, dim, &random(&mut rng, vocab * dim, -1.0, 1.0));
        let cpu = {
            let (t, p) = (
                Cpu::REFERENCE.table("tok", table.clone()).unwrap(),
                Cpu::REFERENCE.table("pos", mat(ctx, dim, &pos)).unwrap(),
            );
            read(&Cpu::REFERENCE, &Cpu::REFERENCE.embed_tokens(&ids, None, 1, &t, &p).unwrap())
        };
        for options in [GpuOptions::default(), GpuOptions { max_binding_bytes: Some(1536), ..Default::default() }] {
            let Some(g) = gpu_with(options) else { return };
            let (t, p) = (g.table("tok", table.clone()).unwrap(), g.table("pos", mat(ctx, dim, &pos)).unwrap());
            let got = read(&g, &g.embed_tokens(&ids, None, 1, &t, &p).unwrap());
            assert_exact(&format!("{kind} embed_tokens {options:?}"), &got, &cpu);
        }
    }
}

/// The similarity family (shaders/similarity.wgsl) against the CPU reference: normalize (|Δ| ≤ 4ε per unit-length
/// component: one f32 tree sum of squares vs f64), logits (|Δ| ≤ 8ε · scale · √dim‖a‖‖b‖ with unit rows: an f32
/// fma chain vs f64), softmax (|Δ| ≤ 4e-7: exp differs by a few ulp; probabilities are ≤ 1). Odd sizes: rows not a
/// multiple of the 64-wide workgroup, 1000 labels (ImageNet), dims 1 and 77.
#[test]
fn similarity_family_matches_cpu() {
    let Some(g) = gpu() else { return };
    let mut rng = ChaCha8Rng::seed_from_u64(21);
    for (n_a, n_b, dim) in [(1, 1, 1), (3, 1000, 77), (9, 130, 512)] {
        let a = random(&mut rng, n_a * dim, -2.0, 2.0);
        let b = random(&mut rng, n_b * dim, -2.0, 2.0);
        let (da, db) = (Dims::new(n_a, 1, dim), Dims::new(n_b, 1, dim));
        let (got, want) = both(
            &g,
            |g| g.normalize(&g.upload(&a, da).unwrap()).unwrap(),
            |c| c.normalize(&c.upload(&a, da).unwrap()).unwrap(),
        );
        let worst = got.iter().zip(&want).map(|(x, y)| (x - y).abs() as f64).fold(0.0, f64::max);
        assert!(worst <= 4.0 * EPS, "normalize {n_a}x{dim}: |Δ| {worst:e}");
        let (scale, bias) = (100.0, -12.5); // SigLIP's logit_bias is about −10 … −17
        let (got, want) = both(
            &g,
            |g| {
                g.logits(
                    &g.normalize(&g.upload(&a, da).unwrap()).unwrap(),
                    &g.normalize(&g.upload(&b, db).unwrap()).unwrap(),
                    scale,
                    bias,
                )
                .unwrap()
            },
            |c| {
                c.logits(
                    &c.normalize(&c.upload(&a, da).unwrap()).unwrap(),
                    &c.normalize(&c.upload(&b, db).unwrap()).unwrap(),
                    scale,
                    bias,
                )
                .unwrap()
            },
        );
        assert_eq!(got.len(), n_a * n_b);
        let bound = 8.0 * EPS * scale as f64 * (dim as f64).sqrt() + 8.0 * EPS * (scale + bias.abs()) as f64;
        let worst = got.iter().zip(&want).map(|(x, y)| (x - y).abs() as f64).fold(0.0, f64::max);
        assert!(worst <= bound, "logits {n_a}x{n_b}x{dim}: |Δ| {worst:e} > {bound:e}");
        let x = random(&mut rng, n_a * n_b, -30.0, 30.0);
        let dx = Dims::new(1, n_a, n_b);
        let (got, want) = both(
            &g,
            |g| g.softmax(&g.upload(&x, dx).unwrap()).unwrap(),
            |c| c.softmax(&c.upload(&x, dx).unwrap()).unwrap(),
        );
        let worst = got.iter().zip(&want).map(|(x, y)| (x - y).abs() as f64).fold(0.0, f64::max);
        assert!(worst <= 4e-7, "softmax {n_a}x{n_b}: |Δ| {worst:e}");
        // sigmoid: both sides round one exp and one division (|Δ| ≤ a few ε of the result, ≤ 1)
        let (got, want) = both(
            &g,
            |g| g.sigmoid(&g.upload(&x, dx).unwrap()).unwrap(),
            |c| c.sigmoid(&c.upload(&x, dx).unwrap()).unwrap(),
        );
        let worst = got.iter().zip(&want).map(|(x, y)| (x - y).abs() as f64).fold(0.0, f64::max);
        assert!(worst <= 4.0 * EPS, "sigmoid {n_a}x{n_b}: |Δ| {worst:e}");
        eprintln!("similarity {n_a}x{n_b}x{dim}: ok");
    }
}
