//! `webclip convert` and `webclip fidelity` end to end, and bundles wherever a model is accepted: the converter's
//! report (sizes, fidelity vs f32) is what loading the file gives; every CLI command takes the bundle; tower-only
//! and damaged bundles fail with messages that say what to do.

mod common;

use common::*;
use webclip::fidelity::{Agreement, TowerFidelity};

fn convert(model: &str, out: &str, extra: &[&str]) -> serde_json::Value {
    let mut args = vec!["convert", "--model", model, "--out", out];
    args.extend_from_slice(extra);
    let lines = ok_json_lines(&webclip(&args));
    assert_eq!(lines.len(), 1, "convert prints one JSON report");
    lines[0].clone()
}

#[test]
fn convert_reports_sizes_and_fidelity_and_every_command_takes_the_bundle() {
    let tmp = tempfile::tempdir().unwrap();
    let hf = tmp.path().join("hf");
    synth_tiny(&hf, 4);
    let (hf, dir) = (hf.to_str().unwrap(), tmp.path());
    let photo = fixtures().join("images/baseline_422.jpg");
    let photo = photo.to_str().unwrap();

    let mut sizes = vec![];
    for (quant, min_cos) in [("f32", 0.99999), ("f16", 0.9999), ("q8", 0.999), ("q4", 0.97)] {
        let out = dir.join(format!("m.{quant}.webclip"));
        let r = convert(hf, out.to_str().unwrap(), &["--quant", quant]);
        assert_eq!(r["bytes"].as_u64().unwrap(), std::fs::metadata(&out).unwrap().len(), "{quant}: reported size");
        for tower in ["text", "image"] {
            let cos = r["fidelity_vs_f32"][tower]["min_cosine"].as_f64().unwrap();
            assert!(cos >= min_cos, "{quant} {tower}: cosine {cos} < {min_cos}");
        }
        sizes.push(r["bytes"].as_u64().unwrap());
    }
    assert!(sizes.windows(2).all(|w| w[0] > w[1]), "f32 > f16 > q8 > q4 in size: {sizes:?}");

    // every command accepts the bundle, and gives what the HF folder gives to within the quantization
    let q8 = dir.join("m.q8.webclip");
    let q8 = q8.to_str().unwrap();
    assert_eq!(
        ok_json_lines(&webclip(&["tokenize", "--model", q8, "a photo of a cat."]))[0]["ids"],
        ok_json_lines(&webclip(&["tokenize", "--model", hf, "a photo of a cat."]))[0]["ids"]
    );
    let embed = |m: &str| {
        ok_json_lines(&webclip(&["embed", "--model", m, "--image", photo]))[0]["embedding"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_f64().unwrap() as f32)
            .collect::<Vec<f32>>()
    };
    assert!(cosine(&embed(q8), &embed(hf)) >= 0.999);
    let labels = ok_json_lines(&webclip(&["classify", "--model", q8, "--labels", "cat,dog,car", photo]));
    assert_eq!(labels[0]["labels"].as_array().unwrap().len(), 3);

    // tower-only bundles: each runs its tower and names the missing one
    let text = dir.join("text.webclip");
    let vision = dir.join("vision.webclip");
    let t = convert(hf, text.to_str().unwrap(), &["--quant", "q8", "--text-only"]);
    let v = convert(hf, vision.to_str().unwrap(), &["--quant", "q8", "--vision-only"]);
    assert!(t["fidelity_vs_f32"]["image"].is_null() && v["fidelity_vs_f32"]["text"].is_null());
    assert!(ok_json_lines(&webclip(&["embed", "--model", text.to_str().unwrap(), "--text", "a cat"])).len() == 1);
    let out = webclip(&["embed", "--model", vision.to_str().unwrap(), "--text", "a cat"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && err.contains("no text tower") && err.contains("vision-only"), "{err}");
    let out = webclip(&["embed", "--model", text.to_str().unwrap(), "--image", photo]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(!out.status.success() && stdout.contains("no vision tower"), "{stdout}");

    // a truncated download: the CLI says so and what to do
    let bytes = std::fs::read(q8).unwrap();
    let cut = dir.join("cut.webclip");
    std::fs::write(&cut, &bytes[..bytes.len() / 2]).unwrap();
    let out = webclip(&["embed", "--model", cut.to_str().unwrap(), "--text", "x"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("truncated") && err.contains("download it again"), "{err}");

    // unknown format names are refused before any work
    let out = webclip(&["convert", "--model", hf, "--quant", "q3", "--out", dir.join("x").to_str().unwrap()]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("choose f32, f16, q8, q4 or q4+"));
}

#[test]
fn fidelity_report_lines() {
    let tmp = tempfile::tempdir().unwrap();
    let hf = tmp.path().join("hf");
    synth_tiny(&hf, 5);
    let images = fixtures().join("images");
    let out = webclip(&[
        "fidelity",
        "--model",
        hf.to_str().unwrap(),
        "--quant",
        "q8,q4",
        "--images",
        images.to_str().unwrap(),
        "--labels",
        "cat,dog,car,tree,house",
    ]);
    let lines = ok_json_lines(&out);
    assert_eq!(lines.iter().map(|l| l["quant"].as_str().unwrap()).collect::<Vec<_>>(), ["q8", "q4"]);
    for l in &lines {
        let agreement = &l["top1_agreement"];
        assert!(agreement["images"].as_u64() >= Some(4) && agreement["labels"].as_u64() == Some(5), "{l}");
        assert!(l["mb"]["both"].as_f64().unwrap() > l["mb"]["vision"].as_f64().unwrap());
        assert!(l["text"]["mean_cosine"].as_f64().unwrap() > 0.9);
    }
}

#[test]
fn agreement_and_cosine_measures() {
    let labels = vec![vec![1.0, 0.0], vec![0.0, 1.0], vec![0.7, 0.7]];
    let images = vec![vec![1.0, 0.1], vec![0.1, 1.0]];
    let same = Agreement::measure((&images, &labels), (&images, &labels));
    assert_eq!((same.agree, same.fraction, same.in_reference_top5), (2, 1.0, 1.0));
    // the candidate swaps the first two labels: both images now pick the other one, still in the reference's top 5
    let swapped = vec![labels[1].clone(), labels[0].clone(), labels[2].clone()];
    let flipped = Agreement::measure((&images, &labels), (&images, &swapped));
    assert_eq!((flipped.agree, flipped.fraction, flipped.in_reference_top5), (0, 0.0, 1.0));
    assert!(same.reference_margin_median > 0.0);
    let t = TowerFidelity::measure(&images, &[vec![2.0, 0.2], vec![0.0, 1.0]]);
    assert!((t.mean_cosine - (1.0 + 0.995037) / 2.0).abs() < 1e-5 && (t.min_cosine - 0.995037).abs() < 1e-5);
}
