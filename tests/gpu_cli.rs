//! `webclip --backend gpu` and `webclip bench` from the command line: the GPU gives the CPU's embeddings, and bench
//! prints one JSON object naming the device, with per-tower latency and GFLOP/s.

mod common;
mod gpu_common;

use common::{ok_json_lines, synth_tiny, webclip};
use serde_json::Value;

fn embeddings(lines: &[Value]) -> Vec<Vec<f64>> {
    lines.iter().map(|l| l["embedding"].as_array().unwrap().iter().map(|v| v.as_f64().unwrap()).collect()).collect()
}

#[test]
fn embed_on_gpu_equals_cpu() {
    if gpu_common::adapter().is_none() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let model = tmp.path().join("tiny");
    synth_tiny(&model, 9);
    let m = model.to_str().unwrap();
    let png = tmp.path().join("grey.png");
    image::RgbImage::from_fn(64, 48, |x, y| image::Rgb([(x * 4) as u8, (y * 5) as u8, 90])).save(&png).unwrap();
    let p = png.to_str().unwrap();
    for args in
        [vec!["embed", "--model", m, "--text", "a red car", "two dogs"], vec!["embed", "--model", m, "--image", p]]
    {
        let cpu = embeddings(&ok_json_lines(&webclip(&[&args[..], &["--backend", "cpu"]].concat())));
        let gpu = embeddings(&ok_json_lines(&webclip(&[&args[..], &["--backend", "gpu"]].concat())));
        assert_eq!(cpu.len(), gpu.len());
        for (c, g) in cpu.iter().zip(&gpu) {
            let err = c.iter().zip(g).map(|(a, b)| (a - b).abs()).fold(0.0, f64::max);
            assert!(err <= 1e-5, "{args:?}: gpu vs cpu max |Δ| {err:e}");
        }
    }
    let out = ok_json_lines(&webclip(&["classify", "--model", m, "--labels", "cat,dog", "--backend", "gpu", p]));
    assert_eq!(out[0]["labels"].as_array().unwrap().len(), 2);
}

fn check_bench(report: &Value, backend: &str, batch: u64) {
    assert_eq!(report["batch"], batch);
    assert!(report["device"]["backend"].as_str().is_some(), "{report}");
    assert!(report["device"]["name"].as_str().is_some_and(|n| !n.is_empty()), "{report}");
    assert!(report["backend"].as_str().unwrap().starts_with(backend), "{report}");
    for tower in ["vision", "text"] {
        let t = &report[tower];
        for field in ["median_ms", "min_ms", "gflop_per_pass", "gflop_per_s", "ms_per_item"] {
            assert!(t[field].as_f64().is_some_and(|v| v > 0.0), "{tower}.{field} in {report}");
        }
    }
    assert_eq!(report["vision"]["tokens"], 50); // tiny: 224 px in 32-px patches + class token
    assert_eq!(report["text"]["tokens"], 77); // the full context
}

#[test]
fn bench_prints_one_json_object_per_backend() {
    let tmp = tempfile::tempdir().unwrap();
    let model = tmp.path().join("tiny");
    synth_tiny(&model, 9);
    let m = model.to_str().unwrap();
    let cpu = ok_json_lines(&webclip(&["bench", "--model", m, "--backend", "cpu", "--batch", "2", "--runs", "1"]));
    assert_eq!(cpu.len(), 1);
    check_bench(&cpu[0], "cpu", 2);
    assert_eq!(cpu[0]["device"]["device_type"], "cpu");

    if gpu_common::adapter().is_none() {
        return;
    }
    let gpu = ok_json_lines(&webclip(&["bench", "--model", m, "--backend", "gpu", "--batch", "3", "--runs", "2"]));
    check_bench(&gpu[0], "gpu", 3);
    assert!(gpu[0]["device"]["device_type"].as_str().is_some());
    eprintln!("{}", gpu[0]);

    let out = webclip(&["bench", "--model", m, "--backend", "cpu", "--runs", "0"]);
    assert_eq!(out.status.code(), Some(1));
}
