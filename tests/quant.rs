//! The weight formats (src/quant): reference (de)quantization with its stated error bounds, the packed layout
//! pinned word by word on hand-computed examples, the CPU reference dot product, and the per-tensor policy over
//! CLIP's real parameter names.
//!
//! Bounds (see src/quant/mod.rs), with `d` the stored f16 scale of the weight's block:
//! - q8: `|x − x̂| ≤ d/2` for every weight;
//! - q4: `|x − x̂| ≤ |d|/2`, except weights of the sign opposite to the block's extreme with `|x| > 7.5·|d|`,
//!   which clamp (`≤ |d|`).
//!
//! Plus f32 rounding of the division and the product: a slack of `2⁻²⁰·(|x| + |d|)`.

use half::f16;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Normal, StudentT};
use webclip::model::{self, ModelConfig};
use webclip::quant::{dequantize_row, quantize_row, BlockQ4, BlockQ8, Kind, PackedMatrix, QuantBlock, BLOCK};
use webclip::tensor::HostTensor;
use webclip::weights::bundle::Policy;
use webclip::weights::synth;

const SLACK: f32 = 1.0 / (1 << 20) as f32;

/// Rows of awkward lengths and shapes: odd sizes (padding), outliers, constants, zeros, tiny and huge scales.
fn rows() -> Vec<(String, Vec<f32>)> {
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    let mut normal = |n: usize, std: f32| -> Vec<f32> {
        let d = Normal::new(0.0, std).unwrap();
        (0..n).map(|_| d.sample(&mut rng)).collect()
    };
    let mut out = vec![];
    for n in [1, 5, 31, 32, 33, 63, 100, 1000] {
        out.push((format!("normal n={n}"), normal(n, 0.02)));
    }
    let mut outliers = normal(257, 1.0);
    outliers[3] = 40.0;
    outliers[200] = -55.0;
    out.push(("outliers".into(), outliers));
    out.push(("tiny (f16 subnormal scales)".into(), normal(77, 1e-6)));
    out.push(("huge".into(), normal(45, 3e4)));
    out.push(("constant".into(), vec![0.37; 70]));
    out.push(("negative constant".into(), vec![-1.5; 64]));
    out.push(("zeros".into(), vec![0.0; 40]));
    out.push(("ramp".into(), (0..96).map(|i| i as f32 / 7.0 - 6.0).collect()));
    out
}

/// Checks `bound(x, x̂, d)` for every weight and that the padding of the last block decodes to 0.
fn check_row<B: QuantBlock>(label: &str, x: &[f32], bound: impl Fn(f32, f32, f32, f32) -> bool) {
    let blocks = quantize_row::<B>(x);
    assert_eq!(blocks.len(), x.len().div_ceil(BLOCK), "{label}: block count");
    let all: Vec<f32> = blocks.iter().flat_map(|b| b.dequantize()).collect();
    assert!(all[x.len()..].iter().all(|&v| v == 0.0), "{label}: padding must decode to 0, got {:?}", &all[x.len()..]);
    let y = dequantize_row(&blocks, x.len());
    assert_eq!(y.len(), x.len());
    for (k, (&xv, &yv)) in x.iter().zip(&y).enumerate() {
        let block = &x[k / BLOCK * BLOCK..x.len().min(k / BLOCK * BLOCK + BLOCK)];
        let m = block.iter().fold(0f32, |m, &v| if v.abs() > m.abs() { v } else { m });
        let d = blocks[k / BLOCK].scale().to_f32();
        assert!(bound(xv, yv, d, m), "{label}: weight {k}: x = {xv}, x̂ = {yv}, d = {d}, block extreme {m}");
    }
}

#[test]
fn q8_round_trip_within_half_a_step() {
    for (label, x) in rows() {
        check_row::<BlockQ8>(&label, &x, |x, y, d, _| (x - y).abs() <= d / 2.0 + SLACK * (x.abs() + d));
    }
}

#[test]
fn q4_round_trip_within_half_a_step_except_the_clamped_side() {
    for (label, x) in rows() {
        check_row::<BlockQ4>(&label, &x, |x, y, d, m| {
            let clamped = x * m < 0.0 && x.abs() > 7.5 * d.abs();
            let step = if clamped { d.abs() } else { d.abs() / 2.0 };
            (x - y).abs() <= step + SLACK * (x.abs() + d.abs())
        });
    }
}

#[test]
fn scale_is_rounded_up_to_f16_and_extremes_are_kept() {
    // absmax/127 and m/−8 are not f16 values: the stored scale is the next larger magnitude
    let mut x = [0f32; BLOCK];
    x[0] = 1.2345;
    x[1] = -0.5;
    let q8 = BlockQ8::quantize(&x);
    assert!(q8.d.to_f32() >= 1.2345 / 127.0 && q8.d.to_f32() < 1.2345 / 127.0 * (1.0 + 1.0 / 1024.0));
    assert_eq!(q8.qs[0], 127);
    let q4 = BlockQ4::quantize(&x);
    assert!(q4.d.to_f32() <= 1.2345 / -8.0, "q4 scale is m/−8, negative here: {}", q4.d);
    assert_eq!(q4.qs[0] & 0xF, 0, "the extreme maps to q = 0 (value −8·d)");
    assert!((q4.dequantize()[0] - 1.2345).abs() <= 8.0 * 1.2345 / 8.0 / 1024.0);
}

#[test]
fn q8_and_q4_error_on_gaussian_weights_is_as_documented() {
    // relative RMSE over 2^16 N(0,1) weights: q8 ≈ 0.0054, q4 ≈ 0.086 (symmetric absmax/7 would give ≈ 0.097)
    let mut rng = ChaCha8Rng::seed_from_u64(1);
    let x: Vec<f32> = (0..1 << 16).map(|_| Normal::new(0.0, 1.0).unwrap().sample(&mut rng)).collect();
    let rel = |y: &[f32]| {
        let e: f64 = x.iter().zip(y).map(|(a, b)| ((a - b) as f64).powi(2)).sum();
        (e / x.iter().map(|a| (*a as f64).powi(2)).sum::<f64>()).sqrt()
    };
    let q8 = rel(&dequantize_row(&quantize_row::<BlockQ8>(&x), x.len()));
    let q4 = rel(&dequantize_row(&quantize_row::<BlockQ4>(&x), x.len()));
    assert!((0.0050..0.0058).contains(&q8), "q8 relative RMSE {q8}");
    assert!((0.082..0.090).contains(&q4), "q4 relative RMSE {q4}");
    // heavy tails (Student-t, 3 dof) still within 1.6× of the Gaussian figure
    let t: Vec<f32> = (0..1 << 16).map(|_| StudentT::new(3.0).unwrap().sample(&mut rng) as f32).collect();
    let y = dequantize_row(&quantize_row::<BlockQ4>(&t), t.len());
    let e: f32 = t.iter().zip(&y).map(|(a, b)| (a - b).powi(2)).sum::<f32>() / t.iter().map(|a| a * a).sum::<f32>();
    assert!(e.sqrt() < 0.14, "q4 relative RMSE on Student-t(3): {}", e.sqrt());
}

/// One row of 40 integers: block 0 quantizes exactly (q8: absmax 127 → d = 1; q4: extreme −8 → d = 1).
fn exact_row(kind: Kind) -> Vec<f32> {
    let mut x = vec![0f32; 40];
    let head: &[f32] = match kind {
        Kind::Q8 => &[1.0, -2.0, 3.0, 127.0, -127.0, 0.0, 5.0, -6.0],
        _ => &[-8.0, 7.0, 0.0, 1.0, -1.0, 2.0, 3.0, 4.0],
    };
    x[..8].copy_from_slice(head);
    x[32] = 0.5; // block 1: a lone weight, then padding
    x
}

#[test]
fn q8_packed_layout_pinned() {
    let m = PackedMatrix::from_rows(Kind::Q8, 1, 40, &exact_row(Kind::Q8));
    assert_eq!((m.words_per_row(), m.blocks_per_row()), (16, 2));
    // word 0 = weights 0..3, byte j (bits 8j..) = weight j as i8: 01, FE, 03, 7F
    assert_eq!(m.words[0], 0x7F03_FE01);
    // weights 4..7 = −127, 0, 5, −6 → 81, 00, 05, FA
    assert_eq!(m.words[1], 0xFA05_0081);
    assert!(m.words[2..8].iter().all(|&w| w == 0));
    assert_eq!(m.scales[0].to_bits(), 0x3C00, "scale 1.0 as f16");
    // block 1: 0.5 alone → d = 0.5/127 rounded up, q = 127; weights 33..63 are padding = 0
    assert_eq!(m.words[8], 0x0000_007F);
    assert!(m.words[9..16].iter().all(|&w| w == 0));
    assert_eq!(m.scale_words(), vec![0x3C00 | ((m.scales[1].to_bits() as u32) << 16)]);
}

#[test]
fn q4_packed_layout_pinned() {
    let m = PackedMatrix::from_rows(Kind::Q4, 1, 40, &exact_row(Kind::Q4));
    assert_eq!((m.words_per_row(), m.blocks_per_row()), (8, 2));
    // q = x + 8 for weights 0..7: 0, F, 8, 9, 7, A, B, C; nibble j at bits 4j
    assert_eq!(m.words[0], 0xCBA7_98F0);
    assert!(m.words[1..4].iter().all(|&w| w == 0x8888_8888), "zeros are q = 8");
    assert_eq!(m.scales[0].to_bits(), 0x3C00, "d = (−8)/(−8) = 1.0");
    // block 1: 0.5 alone → d = −0.0625, q = 0; weights 33..63 are padding, q = 8
    assert_eq!(m.words[4], 0x8888_8880);
    assert!(m.words[5..8].iter().all(|&w| w == 0x8888_8888));
    assert_eq!(m.scales[1], f16::from_f32(-0.0625));
    assert_eq!(m.dequantize_row(0), exact_row(Kind::Q4), "this row is exactly representable");
}

#[test]
fn f16_and_f32_packed_layout_pinned() {
    let m = PackedMatrix::from_rows(Kind::F16, 2, 3, &[1.0, -2.0, 0.5, 3.0, 4.0, 5.0]);
    assert_eq!(
        m.words,
        vec![0xC000_3C00, 0x0000_3800, 0x4400_4200, 0x0000_4500],
        "low half first, rows padded to even"
    );
    assert!(m.scales.is_empty());
    let m = PackedMatrix::from_rows(Kind::F32, 1, 2, &[1.0, -2.0]);
    assert_eq!(m.words, vec![1f32.to_bits(), (-2f32).to_bits()]);
}

fn random_matrix(rows: usize, cols: usize, seed: u64) -> HostTensor {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let d = Normal::new(0.0, 0.05).unwrap();
    HostTensor {
        name: "m".into(),
        shape: vec![rows, cols],
        data: (0..rows * cols).map(|_| d.sample(&mut rng)).collect(),
    }
}

#[test]
fn packed_matrix_matches_the_block_reference_and_row_dot() {
    for (rows, cols) in [(3, 32), (5, 77), (4, 512), (2, 1)] {
        let t = random_matrix(rows, cols, (rows * cols) as u64);
        let x: Vec<f32> = (0..cols).map(|k| ((k * 37 % 11) as f32 - 5.0) / 5.0).collect();
        for kind in Kind::ALL {
            let m = t.pack(kind).unwrap();
            assert_eq!((m.rows, m.cols, m.words.len()), (rows, cols, rows * kind.words_per_row(cols)));
            assert_eq!(m.scales.len(), rows * kind.blocks_per_row(cols));
            assert_eq!(m.bytes(), 4 * m.words.len() + 2 * m.scales.len().next_multiple_of(2));
            let full = m.dequantize();
            for o in 0..rows {
                let row = &t.data[o * cols..][..cols];
                let expected = match kind {
                    Kind::F32 => row.to_vec(),
                    Kind::F16 => row.iter().map(|&v| f16::from_f32(v).to_f32()).collect(),
                    Kind::Q8 => dequantize_row(&quantize_row::<BlockQ8>(row), cols),
                    Kind::Q4 => dequantize_row(&quantize_row::<BlockQ4>(row), cols),
                };
                assert_eq!(m.dequantize_row(o), expected, "{kind} ({rows}, {cols}) row {o}");
                assert_eq!(&full[o * cols..][..cols], &expected[..]);
                // the kernel reference (per-block partial sums × scale) vs a plain dot of the dequantized row:
                // equal up to f32 summation order, i.e. ≤ 1e-5 of Σ|w·x|
                let plain: f32 = expected.iter().zip(&x).map(|(w, v)| w * v).sum();
                let budget = 1e-5 * expected.iter().zip(&x).map(|(w, v)| (w * v).abs()).sum::<f32>() + 1e-12;
                assert!((m.row_dot(o, &x) - plain).abs() <= budget, "{kind} row_dot {} vs {plain}", m.row_dot(o, &x));
            }
            let rebuilt = PackedMatrix::from_parts(kind, rows, cols, m.words.to_vec(), m.scales.clone()).unwrap();
            assert_eq!(rebuilt, m);
        }
    }
}

#[test]
fn packed_matrix_flattens_conv_weights_and_rejects_bad_input() {
    let mut t = random_matrix(4, 3 * 2 * 2, 3);
    t.shape = vec![4, 3, 2, 2];
    let m = t.pack(Kind::Q8).unwrap();
    assert_eq!((m.rows, m.cols), (4, 12));
    t.data[5] = f32::NAN;
    t.name = "vision_model.embeddings.patch_embedding.weight".into();
    let err = t.pack(Kind::Q4).unwrap_err().to_string();
    assert!(err.contains("patch_embedding.weight") && err.contains("non-finite") && err.contains("index 5"), "{err}");
    let err = PackedMatrix::from_parts(Kind::Q4, 2, 64, vec![0; 15], vec![f16::ZERO; 4]).unwrap_err().to_string();
    assert!(err.contains("16 words") && err.contains("got 15"), "{err}");
}

#[test]
fn kinds_and_sizes() {
    assert_eq!(Kind::parse("q4").unwrap(), Kind::Q4);
    assert!(Kind::parse("q5").unwrap_err().to_string().contains("f32, f16, q8, q4"));
    // ViT-B/32's fc1 (3072, 768): q8 8.5 bits, q4 4.5 bits per weight
    assert_eq!(Kind::Q8.packed_bytes(3072, 768), 3072 * 768 * 17 / 16);
    assert_eq!(Kind::Q4.packed_bytes(3072, 768), 3072 * 768 * 9 / 16);
    assert_eq!(Kind::F16.words_per_row(77), 39);
    assert_eq!(Kind::Q4.words_per_row(33), 8);
}

/// The `tiny` preset with 3 layers per tower (first, middle, last), and its parameters as `CLIPModel` names them.
fn tiny3() -> (ModelConfig, Vec<HostTensor>) {
    let mut c = synth::clip_preset("tiny").unwrap();
    c.text.num_hidden_layers = 3;
    c.vision.num_hidden_layers = 3;
    let c = ModelConfig::Clip(c);
    let t = synth::random_tensors(&c, 0).unwrap();
    (c, t)
}

/// The expected kind of every real CLIP parameter name, under a q4 default with and without the q8 exceptions.
fn expected(name: &str, layers: usize, keep: bool) -> Kind {
    let layer = name.split(".layers.").nth(1).and_then(|r| r.split('.').next()).and_then(|i| i.parse::<usize>().ok());
    let edge = layer.is_some_and(|i| i == 0 || i + 1 == layers) || name.ends_with("_projection.weight");
    if name.ends_with(".bias") || name.contains("norm") || name.ends_with("class_embedding") || name == "logit_scale" {
        Kind::F32
    } else if name.contains("position_embedding") {
        Kind::F16
    } else if name.contains("patch_embedding") || (keep && edge) {
        Kind::Q8
    } else {
        Kind::Q4
    }
}

#[test]
fn policy_over_the_real_clip_names() {
    let (c, tensors) = tiny3();
    let names: Vec<&str> = tensors.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(names.len(), 2 * 3 * 16 + 14, "16 per encoder layer; embeddings, 3 norms, 2 projections, logit_scale");
    assert!(
        names.contains(&"vision_model.pre_layrnorm.weight")
            && names.contains(&"text_model.encoder.layers.2.mlp.fc2.weight")
    );
    for keep in [false, true] {
        let p = Policy { default: Kind::Q4, keep_first_last_at_q8: keep, token_embedding: None };
        let params = model::parameters(&c, model::Towers::Both).unwrap();
        for (param, kind) in params.iter().zip(p.kinds(&params)) {
            let n = param.name.as_str();
            assert_eq!(kind, expected(n, 3, keep), "{n} (keep_first_last_at_q8 = {keep})");
            assert_eq!(p.kind(n, 3, 3), kind, "{n}");
        }
    }
    // spot checks in words, on the 3-layer config
    let q4 = Policy::preset("q4").unwrap();
    assert_eq!(q4, Policy::uniform(Kind::Q4));
    assert_eq!(q4.kind("vision_model.embeddings.patch_embedding.weight", 3, 3), Kind::Q8);
    assert_eq!(q4.kind("text_model.encoder.layers.2.mlp.fc1.weight", 3, 3), Kind::Q4);
    assert_eq!(q4.kind("visual_projection.weight", 3, 3), Kind::Q4);
    let p = Policy::preset("q4+").unwrap();
    assert_eq!(p.kind("visual_projection.weight", 3, 3), Kind::Q8);
    assert_eq!(p.kind("text_model.encoder.layers.1.mlp.fc1.weight", 3, 3), Kind::Q4);
    assert_eq!(p.kind("text_model.encoder.layers.2.mlp.fc1.weight", 3, 3), Kind::Q8);
    assert_eq!(p.kind("vision_model.encoder.layers.0.self_attn.q_proj.weight", 3, 3), Kind::Q8);
    assert_eq!(p.kind("vision_model.encoder.layers.1.self_attn.q_proj.bias", 3, 3), Kind::F32);
    assert_eq!(p.kind("text_model.embeddings.token_embedding.weight", 3, 3), Kind::Q4);
    assert_eq!(p.kind("text_model.embeddings.position_embedding.weight", 3, 3), Kind::F16);
    assert_eq!(p.kind("logit_scale", 3, 3), Kind::F32);
    // q8 and f16 defaults: no exceptions beyond the f32 ones; f32: everything f32
    for n in &names {
        let q8 = Policy::preset("q8").unwrap().kind(n, 3, 3);
        assert!(q8 == Kind::Q8 || q8 == expected(n, 3, false), "{n}: {q8}");
        assert_eq!(Policy::preset("f32").unwrap().kind(n, 3, 3), Kind::F32);
    }
    let p = Policy { token_embedding: Some(Kind::Q8), ..Policy::uniform(Kind::Q4) };
    assert_eq!(p.kind("text_model.embeddings.token_embedding.weight", 3, 3), Kind::Q8);
    assert_eq!(Policy::from_json(&p.to_json(), "t").unwrap(), p);
    assert!(Policy::preset("q4+").unwrap().describe().starts_with("q4 (q8: patch conv, first and last encoder layers"));
    assert!(Policy::preset("q8+").unwrap_err().to_string().contains("q4+"));
}

/// The CPU backend's matmul on packed weights against `PackedMatrix::row_dot` (the per-block reference: integer
/// weights times x summed per block, then scaled). The two sum in different orders, so they agree to f32 rounding:
/// |Δ| ≤ 32 ε ‖x‖ ‖W_o‖ (dequantized row), as for the f32 matmul.
#[test]
fn cpu_matmul_on_packed_weights_matches_row_dot() {
    use webclip::backend::{cpu::Cpu, Backend, Dims, Weights};
    let (m, k, n) = (7, 100, 45);
    let x: Vec<f32> = (0..m * k).map(|i| ((i * 29 % 83) as f32 - 41.0) / 41.0).collect();
    for kind in Kind::ALL {
        let t = random_matrix(n, k, 5);
        let w = t.pack(kind).unwrap();
        let lin = Cpu::REFERENCE.linear("w", w.clone(), None).unwrap();
        let y = pollster::block_on(
            Cpu::REFERENCE
                .read(&Cpu::REFERENCE.matmul(&Cpu::REFERENCE.upload(&x, Dims::new(1, m, k)).unwrap(), &lin).unwrap()),
        )
        .unwrap();
        let norm = |v: &[f32]| v.iter().map(|&a| (a as f64).powi(2)).sum::<f64>().sqrt();
        for r in 0..m {
            let xr = &x[r * k..(r + 1) * k];
            for o in 0..n {
                let want = w.row_dot(o, xr) as f64;
                let bound = 32.0 * f32::EPSILON as f64 * norm(xr) * norm(&w.dequantize_row(o));
                let got = y[r * n + o] as f64;
                assert!((got - want).abs() <= bound, "{kind} ({r}, {o}): {got} vs row_dot {want}");
            }
        }
    }
}

/// `dequantize_row_into` (the CPU matmul's fast path) equals `dequantize_row` (built from the block reference)
/// bit for bit, padding included.
#[test]
fn fast_row_dequantization_equals_the_reference() {
    for kind in Kind::ALL {
        let w = random_matrix(6, 77, 9).pack(kind).unwrap();
        let mut buf = vec![f32::NAN; w.padded_cols()];
        for o in 0..6 {
            w.dequantize_row_into(o, &mut buf);
            let want = w.dequantize_row(o);
            assert!(buf[..77].iter().zip(&want).all(|(a, b)| a.to_bits() == b.to_bits()), "{kind} row {o}");
            assert!(buf[77..].iter().all(|&v| v == 0.0), "{kind} row {o}: padding decodes to 0");
        }
    }
}
