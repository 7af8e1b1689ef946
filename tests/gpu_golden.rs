//! End to end on the GPU against Hugging Face transformers: the tiny-a / tiny-b checkpoints and goldens of
//! tests/golden.rs (provenance in tests/fixtures/README.md), through the same Session API on the GPU backend.
//!
//! Tolerances: cosine ≥ 0.9999 (the bar) and max abs ≤ 1e-4 against HF's f32 embeddings — the GPU computes
//! in f32 like PyTorch, differing only in summation order and a few-ulp exp/erf; GPU vs CPU ≤ 1e-5 max abs.
//! Also checked: one forward pass is one submission, and batches cut by the binding limit give the same numbers.

mod common;
mod gpu_common;

use common::*;
use gpu_common::gpu_with;
use serde::Deserialize;
use webclip::backend::cpu::Cpu;
use webclip::backend::gpu::{Gpu, GpuOptions};
use webclip::image::Pixels;
use webclip::weights::SafetensorsFile;
use webclip::{Checkpoint, Session};

#[derive(Deserialize)]
struct Goldens {
    texts: Vec<String>,
}

struct Case {
    goldens: Goldens,
    tensors: SafetensorsFile,
    dir: std::path::PathBuf,
}

fn case(name: &str) -> Case {
    let dir = fixtures().join(name);
    let goldens =
        serde_json::from_slice(&std::fs::read(dir.join("goldens.json")).expect("goldens.json")).expect("parse");
    let bytes = std::fs::read(dir.join("goldens.safetensors")).expect("goldens.safetensors");
    let tensors = SafetensorsFile::parse("goldens.safetensors", bytes).expect("parse goldens");
    Case { goldens, tensors, dir }
}

fn session(c: &Case, gpu: Gpu) -> Session<Gpu> {
    let s = Session::new(gpu.clone(), Checkpoint::from_hf_dir(&c.dir).expect("checkpoint")).expect("model on the GPU");
    pollster::block_on(gpu.check("uploading the weights")).expect("weights uploaded");
    s
}

fn pixel_values(c: &Case, s: &Session<Gpu>) -> (usize, Vec<f32>) {
    let (shape, values) = golden_pixels(&c.tensors, &s.preprocess);
    (shape[0], values)
}

/// A device of this test's own: the submission counts below must not see other tests' passes.
fn own_gpu() -> Option<Gpu> {
    gpu_with(GpuOptions::default())
}

fn check_text(name: &str) {
    let Some(gpu) = own_gpu() else { return };
    let c = case(name);
    let s = session(&c, gpu.clone());
    let texts: Vec<&str> = c.goldens.texts.iter().map(String::as_str).collect();
    let before = gpu.submissions();
    let got = s.embed_texts(&texts).expect("text embeddings on the GPU");
    assert_eq!(gpu.submissions() - before, texts.len().div_ceil(32) as u64, "one submission per forward pass");
    let (_, want) = golden(&c.tensors, "text_embeds");
    assert_rows_close(&format!("{name} text_embeds (gpu)"), &got, &want, 0.9999, 1e-4);

    let cpu =
        Session::new(Cpu::default(), Checkpoint::from_hf_dir(&c.dir).unwrap()).unwrap().embed_texts(&texts).unwrap();
    for (g, c) in got.iter().zip(&cpu) {
        assert!(max_abs_diff(g, c) <= 1e-5, "{name}: gpu vs cpu text embedding: {:e}", max_abs_diff(g, c));
    }
}

fn check_images(name: &str) {
    let Some(gpu) = own_gpu() else { return };
    let c = case(name);
    let s = session(&c, gpu.clone());
    let (n, pixels) = pixel_values(&c, &s);
    let before = gpu.submissions();
    let got = s.model.encode_images(&s.backend, &pixels, n).expect("image embeddings on the GPU");
    assert_eq!(gpu.submissions() - before, 1, "the whole vision pass is one submission");
    let (_, want) = golden(&c.tensors, "image_embeds");
    assert_rows_close(&format!("{name} image_embeds (gpu)"), &got, &want, 0.9999, 1e-4);

    // Session cuts the batch so that the largest activation fits the binding limit: with bindings just large enough
    // for the largest weight (and ≥ 2 images' activations), this model runs a few images per pass, and gets the
    // same embeddings.
    let v = &s.model.config.as_clip().expect("a CLIP fixture").vision;
    let largest_weight = 4
        * v.hidden_size
        * (v.intermediate_size.max(v.num_channels * v.patch_size * v.patch_size).max(v.num_positions()));
    let limit = largest_weight.max(2 * s.model.config.image_activation_bytes());
    let Some(small) = gpu_with(GpuOptions { max_binding_bytes: Some(limit as u64), ..Default::default() }) else {
        return;
    };
    let s_small = session(&c, small.clone());
    let per = pixels.len() / n;
    let side = ((per / 3) as f64).sqrt() as usize;
    let images: Vec<Pixels> =
        pixels.chunks(per).map(|p| Pixels { height: side, width: side, data: p.to_vec() }).collect();
    let passes_before = small.submissions();
    let chunked = s_small.embed_images(&images).expect("chunked");
    let passes = small.submissions() - passes_before;
    assert!(passes > 1, "{name}: expected the batch of {n} to be cut, got {passes} pass(es)");
    for (a, b) in chunked.iter().zip(&got) {
        assert!(max_abs_diff(a, b) <= 1e-6, "{name}: chunked vs whole batch");
    }
}

#[test]
fn tiny_a_text_on_gpu_matches_hf() {
    check_text("tiny-a");
}
#[test]
fn tiny_b_text_on_gpu_matches_hf() {
    check_text("tiny-b");
}
#[test]
fn tiny_a_images_on_gpu_match_hf() {
    check_images("tiny-a");
}
#[test]
fn tiny_b_images_on_gpu_match_hf() {
    check_images("tiny-b");
}

/// The kernels need nothing beyond WebGPU's default limits (what the least capable browser adapter grants): both
/// towers on a device created with exactly those, against the same goldens.
#[test]
fn both_towers_under_webgpu_default_limits() {
    let Some(gpu) = gpu_with(GpuOptions { webgpu_default_limits: true, ..Default::default() }) else { return };
    let l = gpu.limits();
    assert_eq!((l.max_compute_invocations_per_workgroup, l.max_storage_buffer_binding_size), (256, 128 << 20));
    for name in ["tiny-a", "tiny-b"] {
        let c = case(name);
        let s = session(&c, gpu.clone());
        let texts: Vec<&str> = c.goldens.texts.iter().map(String::as_str).collect();
        let (_, want) = golden(&c.tensors, "text_embeds");
        assert_rows_close(
            &format!("{name} text_embeds (default limits)"),
            &s.embed_texts(&texts).unwrap(),
            &want,
            0.9999,
            1e-4,
        );
        let (n, pixels) = pixel_values(&c, &s);
        let (_, want) = golden(&c.tensors, "image_embeds");
        let got = s.model.encode_images(&s.backend, &pixels, n).unwrap();
        assert_rows_close(&format!("{name} image_embeds (default limits)"), &got, &want, 0.9999, 1e-4);
    }
}

/// f16, q8 and q4 bundles on the GPU (packed weights read by linear_{f16,q8,q4} and the token gather) give the CPU
/// backend's answers on the same bundle: both use exactly the same dequantized weights, so they differ only by f32
/// summation order, as the f32 paths do (≤ 1e-5 max abs). Against HF's f32 goldens the quantization error shows:
/// cosine ≥ 0.9999 (f16), ≥ 0.999 (q8), ≥ 0.9 (q4: these random 8/32-wide weights have no redundancy; measured
/// 0.930 worst — the fidelity report in the README has the ViT-B/32 numbers).
#[test]
fn quantized_bundles_on_gpu_match_the_cpu_backend() {
    use webclip::model::Towers;
    use webclip::weights::bundle::{Bundle, Policy};
    let Some(gpu) = own_gpu() else { return };
    let c = case("tiny-a");
    let ck = Checkpoint::from_hf_dir(&c.dir).unwrap();
    let texts: Vec<&str> = c.goldens.texts.iter().map(String::as_str).collect();
    let (_, want_t) = golden(&c.tensors, "text_embeds");
    let (_, want_i) = golden(&c.tensors, "image_embeds");
    for (quant, min_cos) in [("f16", 0.9999), ("q8", 0.999), ("q4", 0.9)] {
        let policy = Policy::preset(quant).unwrap();
        let bytes = ck.to_bundle(&policy, Towers::Both).unwrap();
        let open = || Bundle::parse(quant, bytes.clone()).unwrap().into_checkpoint();
        let g = Session::new(gpu.clone(), open()).unwrap();
        pollster::block_on(gpu.check("uploading the weights")).unwrap();
        let cpu = Session::new(Cpu::REFERENCE, open()).unwrap();
        let (n, pixels) = {
            let (shape, values) = golden_pixels(&c.tensors, &g.preprocess);
            (shape[0], values)
        };
        let got_t = g.embed_texts(&texts).unwrap();
        let got_i = g.model.encode_images(&g.backend, &pixels, n).unwrap();
        let cpu_t = cpu.embed_texts(&texts).unwrap();
        let cpu_i = cpu.model.encode_images(&cpu.backend, &pixels, n).unwrap();
        for (what, a, b) in [("text", &got_t, &cpu_t), ("image", &got_i, &cpu_i)] {
            for (x, y) in a.iter().zip(b.iter()) {
                assert!(max_abs_diff(x, y) <= 1e-5, "{quant} {what}: gpu vs cpu {:e}", max_abs_diff(x, y));
            }
        }
        assert_rows_close(&format!("{quant} text vs HF f32"), &got_t, &want_t, min_cos, 1.0);
        assert_rows_close(&format!("{quant} images vs HF f32"), &got_i, &want_i, min_cos, 1.0);
    }
}

/// SigLIP and SigLIP 2 on the GPU (tests/siglip_golden.rs has the CPU side): embeddings against HF's
/// (cosine ≥ 0.9999, max abs ≤ 1e-4) and the sigmoid scores computed on the device (≤ 1e-4).
#[test]
fn siglip_on_gpu_matches_hf() {
    let Some(gpu) = own_gpu() else { return };
    for name in ["siglip-tiny", "siglip2-tiny"] {
        let c = case(name);
        let s = session(&c, gpu.clone());
        let (_, want_t) = golden(&c.tensors, "text_embeds");
        let texts: Vec<&str> = c.goldens.texts.iter().map(String::as_str).collect();
        #[derive(Deserialize)]
        struct Ids {
            input_ids: Vec<Vec<u32>>,
        }
        let ids: Ids = serde_json::from_slice(&std::fs::read(c.dir.join("goldens.json")).unwrap()).unwrap();
        let got_t = s.model.encode_texts(&s.backend, &ids.input_ids).expect("text embeddings");
        assert_rows_close(&format!("{name} text_embeds (gpu)"), &got_t, &want_t, 0.9999, 1e-4);
        let (n, pixels) = pixel_values(&c, &s);
        let got_i = s.model.encode_images(&s.backend, &pixels, n).expect("image embeddings");
        let (_, want_i) = golden(&c.tensors, "image_embeds");
        assert_rows_close(&format!("{name} image_embeds (gpu)"), &got_i, &want_i, 0.9999, 1e-4);
        let labels = s.embed_texts(&texts[..8]).unwrap();
        let per = pixels.len() / n;
        let side = ((per / 3) as f64).sqrt() as usize;
        let images: Vec<Pixels> =
            pixels.chunks(per).map(|p| Pixels { height: side, width: side, data: p.to_vec() }).collect();
        let probs = s.classify(&images, &labels).unwrap();
        let (_, want) = golden(&c.tensors, "probs");
        let err = max_abs_diff(&probs.concat(), &want);
        assert!(err <= 1e-4, "{name} sigmoid probs on the GPU: max abs {err:e}");
    }
}

/// `classify` image by image (as the CLI does) uploads the label embeddings once, not once per image: the prepared
/// labels stay on the device, each image uploads only its pixels; the probabilities are bit for bit those of the
/// one-call path (which uploads the labels with every call), and match the CPU backend.
#[test]
fn classify_uploads_the_label_embeddings_once() {
    let Some(gpu) = own_gpu() else { return };
    let c = case("tiny-a");
    let s = session(&c, gpu.clone());
    let (shape, values) = golden_pixels(&c.tensors, &s.preprocess);
    let per = shape[1] * shape[2] * shape[3];
    let images: Vec<Pixels> =
        values.chunks_exact(per).map(|d| Pixels { height: shape[2], width: shape[3], data: d.to_vec() }).collect();
    assert!(images.len() >= 2, "tiny-a has {} golden images", images.len());
    let texts = s.embed_texts(&["a photo of a cat.", "a photo of a dog.", "a red square"]).unwrap();
    let before = gpu.uploads();
    let each_call: Vec<Vec<f32>> =
        images.iter().map(|p| s.classify(std::slice::from_ref(p), &texts).unwrap().remove(0)).collect();
    assert_eq!(gpu.uploads() - before, 2 * images.len() as u64, "one call per image: labels + pixels each time");

    let before = gpu.uploads();
    let labels = s.label_embeddings(&texts).unwrap();
    assert_eq!((gpu.uploads() - before, labels.len()), (1, 3), "the labels: one upload");
    let before = gpu.uploads();
    let prepared: Vec<Vec<f32>> =
        images.iter().map(|p| s.classify_with(std::slice::from_ref(p), &labels).unwrap().remove(0)).collect();
    assert_eq!(gpu.uploads() - before, images.len() as u64, "one upload per image (its pixels), none for the labels");
    assert_eq!(prepared, each_call, "the same probabilities, bit for bit");

    let cpu = Session::new(Cpu::default(), Checkpoint::from_hf_dir(&c.dir).unwrap()).unwrap();
    let cpu_labels = cpu
        .label_embeddings(&cpu.embed_texts(&["a photo of a cat.", "a photo of a dog.", "a red square"]).unwrap())
        .unwrap();
    for (p, g) in images.iter().zip(&prepared) {
        let want = cpu.classify_with(std::slice::from_ref(p), &cpu_labels).unwrap().remove(0);
        assert!(max_abs_diff(g, &want) <= 1e-4, "gpu {g:?} vs cpu {want:?}");
    }
}
