//! Shared by the integration tests: fixture paths and embedding comparisons with stated tolerances.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

use webclip::image::PreprocessConfig;
use webclip::weights::SafetensorsFile;

pub fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

/// The bytes of `tests/assets/<rel>` (the real photos and reference files, provenance in tests/assets/README.md).
/// A missing file fails the test, saying which file and where it comes from.
pub fn test_asset(rel: &str) -> Vec<u8> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/assets").join(rel);
    std::fs::read(&path).unwrap_or_else(|e| {
        panic!("cannot read {}: {e}; it is part of the repository (tests/assets/README.md): restore it", path.display())
    })
}

/// A golden tensor with its stored shape.
pub fn golden(file: &SafetensorsFile, name: &str) -> (Vec<usize>, Vec<f32>) {
    let shape = file.shape(name).unwrap_or_else(|| panic!("{name} missing from {}", file.name)).to_vec();
    let t = file.tensor(name, &shape).expect("golden tensor");
    (shape, t.data)
}

pub fn cosine(a: &[f32], b: &[f32]) -> f64 {
    let dot: f64 = a.iter().zip(b).map(|(x, y)| *x as f64 * *y as f64).sum();
    let na: f64 = a.iter().map(|x| (*x as f64).powi(2)).sum::<f64>().sqrt();
    let nb: f64 = b.iter().map(|x| (*x as f64).powi(2)).sum::<f64>().sqrt();
    dot / (na * nb)
}

pub fn max_abs_diff(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len(), "length mismatch");
    a.iter().zip(b).map(|(x, y)| (x - y).abs()).fold(0.0, f32::max)
}

/// Asserts `got` matches `want` row by row: cosine ≥ `min_cos` and max abs error ≤ `max_abs`.
pub fn assert_rows_close(what: &str, got: &[Vec<f32>], want: &[f32], min_cos: f64, max_abs: f32) {
    let dim = want.len() / got.len();
    for (i, (g, w)) in got.iter().zip(want.chunks_exact(dim)).enumerate() {
        let (cos, err) = (cosine(g, w), max_abs_diff(g, w));
        assert!(
            cos >= min_cos && err <= max_abs,
            "{what}[{i}]: cosine {cos:.7} (≥ {min_cos}), max abs {err:e} (≤ {max_abs:e})"
        );
    }
}

/// HF's `pixel_values` `(N, 3, S, S)` from a goldens file, which stores the 8-bit values behind them; normalised
/// here as CLIPImageProcessor does (`(v / 255 - mean) / std`; the formula itself is pinned by tests/preprocess.rs).
pub fn golden_pixels(goldens: &SafetensorsFile, p: &PreprocessConfig) -> (Vec<usize>, Vec<f32>) {
    let shape = goldens.shape("pixel_values_u8").expect("pixel_values_u8").to_vec();
    let bytes = goldens.raw("pixel_values_u8").expect("raw bytes");
    let plane = shape[2] * shape[3];
    let values = bytes
        .iter()
        .enumerate()
        .map(|(i, &v)| {
            let ch = (i / plane) % 3;
            ((v as f64 * p.rescale_factor - p.image_mean[ch] as f64) / p.image_std[ch] as f64) as f32
        })
        .collect();
    (shape, values)
}

/// Runs the `webclip` binary built for these tests.
pub fn webclip(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_webclip")).args(args).output().expect("run webclip")
}

/// Stdout as one JSON object per line.
pub fn json_lines(out: &Output) -> Vec<Value> {
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("one JSON object per line"))
        .collect()
}

/// [`json_lines`] of a run that must have succeeded.
pub fn ok_json_lines(out: &Output) -> Vec<Value> {
    assert!(out.status.success(), "webclip failed: {}", String::from_utf8_lossy(&out.stderr));
    json_lines(out)
}

/// `webclip synth --preset tiny --seed SEED --out DIR`, checking it wrote a complete checkpoint.
pub fn synth_tiny(dir: &Path, seed: u64) {
    let out = webclip(&["synth", "--preset", "tiny", "--seed", &seed.to_string(), "--out", dir.to_str().unwrap()]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    for f in ["config.json", "model.safetensors", "tokenizer.json", "preprocessor_config.json"] {
        assert!(dir.join(f).is_file(), "synth wrote no {f}");
    }
}
