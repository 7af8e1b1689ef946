//! End to end against Hugging Face transformers: tests/fixtures/{tiny-a,tiny-b} are checkpoints written by
//! `save_pretrained` with every parameter random, and their goldens came from `CLIPModel` itself
//! (tests/fixtures/make_goldens.py; versions and seeds in goldens.json).
//!
//! Tolerances: embeddings cosine ≥ 0.99999 and max abs error ≤ 1e-4 (f32 vs f32, differing only in summation
//! order); pixels ≤ 1e-5 (identical 8-bit resize and crop); probabilities ≤ 1e-4.

mod common;

use common::*;
use serde::Deserialize;
use webclip::backend::cpu::Cpu;
use webclip::tasks::zero_shot;
use webclip::weights::SafetensorsFile;
use webclip::{Checkpoint, Session};

#[derive(Deserialize)]
struct Goldens {
    photos: Vec<String>,
    texts: Vec<String>,
    input_ids: Vec<Vec<u32>>,
    label_texts_count: usize,
    logit_scale: f32,
}

struct Case {
    goldens: Goldens,
    tensors: SafetensorsFile,
    session: Session<Cpu>,
}

fn load(name: &str) -> Case {
    let dir = fixtures().join(name);
    let goldens: Goldens =
        serde_json::from_slice(&std::fs::read(dir.join("goldens.json")).expect("goldens.json")).expect("parse");
    let bytes = std::fs::read(dir.join("goldens.safetensors")).expect("goldens.safetensors");
    let tensors = SafetensorsFile::parse("goldens.safetensors", bytes).expect("parse goldens");
    let session =
        Session::new(Cpu::default(), Checkpoint::from_hf_dir(&dir).expect("checkpoint loads")).expect("model builds");
    Case { goldens, tensors, session }
}

fn check_text(name: &str) {
    let c = load(name);
    for (text, ids) in c.goldens.texts.iter().zip(&c.goldens.input_ids) {
        assert_eq!(&c.session.tokenizer.encode(text).unwrap(), ids, "{name}: ids of {text:?}");
    }
    let texts: Vec<&str> = c.goldens.texts.iter().map(String::as_str).collect();
    let got = c.session.embed_texts(&texts).expect("text embeddings");
    let (_, want) = golden(&c.tensors, "text_embeds");
    assert_rows_close(&format!("{name} text_embeds"), &got, &want, 0.99999, 1e-4);
    // one at a time gives the same as batched (batches are padded only to the longest pooled prefix)
    let single = c.session.embed_texts(&texts[..1]).unwrap();
    assert!(max_abs_diff(&single[0], &got[0]) <= 1e-6);
}

fn pixel_values(c: &Case) -> (Vec<usize>, Vec<f32>) {
    golden_pixels(&c.tensors, &c.session.preprocess)
}

fn check_image(name: &str) {
    let c = load(name);
    let (shape, pixels) = pixel_values(&c);
    let got = c.session.model.encode_images(&c.session.backend, &pixels, shape[0]).expect("image embeddings");
    let (_, want) = golden(&c.tensors, "image_embeds");
    assert_rows_close(&format!("{name} image_embeds"), &got, &want, 0.99999, 1e-4);

    // zero-shot probabilities over the label texts, as CLIPModel.logits_per_image.softmax(-1)
    let labels: Vec<&str> = c.goldens.texts[..c.goldens.label_texts_count].iter().map(String::as_str).collect();
    let text_embeds = c.session.embed_texts(&labels).unwrap();
    assert!((c.session.model.logit_scale - c.goldens.logit_scale).abs() < 1e-6);
    let (_, probs) = golden(&c.tensors, "probs");
    for (i, img) in got.iter().enumerate() {
        let p = zero_shot::probabilities(img, &text_embeds, c.session.logit_scale());
        let err = max_abs_diff(&p, &probs[i * labels.len()..(i + 1) * labels.len()]);
        assert!(err <= 1e-4, "{name} probs[{}]: max abs {err:e}", c.goldens.photos[i]);
    }
}

fn check_pixels(name: &str) {
    let c = load(name);
    let (shape, pixels) = pixel_values(&c);
    let per = shape[1] * shape[2] * shape[3];
    for (i, photo) in c.goldens.photos.iter().enumerate() {
        let bytes = test_asset(&format!("photos/{photo}"));
        let got = c.session.pixels(&bytes, photo).expect("preprocess");
        let err = max_abs_diff(&got.data, &pixels[i * per..(i + 1) * per]);
        assert!(err <= 1e-5, "{name} pixel_values[{photo}]: max abs {err:e}");
    }
}

#[test]
fn tiny_a_text_matches_hf() {
    check_text("tiny-a");
}
#[test]
fn tiny_b_text_matches_hf() {
    check_text("tiny-b");
}
#[test]
fn tiny_a_images_match_hf() {
    check_image("tiny-a");
}
#[test]
fn tiny_b_images_match_hf() {
    check_image("tiny-b");
}
#[test]
fn tiny_a_preprocessing_matches_hf() {
    check_pixels("tiny-a");
}
#[test]
fn tiny_b_preprocessing_matches_hf() {
    check_pixels("tiny-b");
}

/// A full-size synthetic ViT-B/32 (`webclip synth --preset vit-b-32 --seed 0`, rebuilt here in memory) classifies
/// the 13 real photos as Hugging Face's CLIPModel does on the same weights (tests/fixtures/vit-b-32-seed0-classify.json):
/// same ranking, probabilities within 1e-5 (12 layers of f32 in a different summation order; measured 9e-8).
#[test]
fn vit_b_32_synth_classifies_photos_like_hf() {
    use webclip::weights::synth::{self, StoreDtype};
    #[derive(Deserialize)]
    struct Scored {
        label: String,
        score: f32,
    }
    #[derive(Deserialize)]
    struct PhotoResult {
        file: String,
        labels: Vec<Scored>,
    }
    #[derive(Deserialize)]
    struct Reference {
        seed: u64,
        template: String,
        labels: Vec<String>,
        results: Vec<PhotoResult>,
    }
    let r: Reference = serde_json::from_slice(&std::fs::read(fixtures().join("vit-b-32-seed0-classify.json")).unwrap())
        .expect("reference");
    let config = synth::preset("vit-b-32").unwrap();
    let st = synth::safetensors_bytes(&synth::random_tensors(&config, r.seed).unwrap(), StoreDtype::F32).unwrap();
    let ck = Checkpoint::from_parts(config.to_json().as_bytes(), vec![("model.safetensors".into(), st)], None, None);
    let session = Session::new(Cpu::default(), ck.unwrap()).unwrap();
    let prompts: Vec<String> = r.labels.iter().map(|l| r.template.replace("{}", l)).collect();
    let texts = session.embed_texts(&prompts.iter().map(String::as_str).collect::<Vec<_>>()).unwrap();
    for want in &r.results {
        let bytes = test_asset(&format!("photos/{}", want.file));
        let pixels = session.pixels(&bytes, &want.file).unwrap();
        let image = session.embed_images(&[pixels]).unwrap().remove(0);
        let probs = zero_shot::probabilities(&image, &texts, session.logit_scale());
        let got = zero_shot::ranked(&r.labels, &probs);
        for (g, w) in got.iter().zip(&want.labels) {
            assert_eq!(g.0, w.label, "{}: ranking differs from HF", want.file);
            assert!((g.1 - w.score).abs() <= 1e-5, "{} {}: {} vs HF {}", want.file, w.label, g.1, w.score);
        }
    }
}
