//! The `webclip` binary: stable JSON output (one object per input), clear errors, exit codes.

mod common;

use std::path::Path;

use common::{json_lines, synth_tiny, webclip};

fn write_png(path: &Path, rgb: [u8; 3]) {
    image::RgbImage::from_pixel(300, 200, image::Rgb(rgb)).save(path).unwrap();
}

#[test]
fn synth_tokenize_embed_classify() {
    let tmp = tempfile::tempdir().unwrap();
    let model = tmp.path().join("tiny");
    synth_tiny(&model, 5);
    let m = model.to_str().unwrap();

    let out = webclip(&["tokenize", "--model", m, "a photo of a cat.", ""]);
    assert!(out.status.success());
    let lines = json_lines(&out);
    assert_eq!(lines[0]["text"], "a photo of a cat.");
    assert_eq!(lines[0]["ids"], serde_json::json!([49406, 320, 1125, 539, 320, 2368, 269, 49407]));
    assert_eq!(lines[1]["ids"], serde_json::json!([49406, 49407]));

    let out = webclip(&["embed", "--model", m, "--text", "red", "blue"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let lines = json_lines(&out);
    assert_eq!(lines.len(), 2);
    assert_eq!(lines[1]["input"], "blue");
    assert_eq!(lines[1]["embedding"].as_array().unwrap().len(), 64);

    let (red, blue) = (tmp.path().join("red.png"), tmp.path().join("blue.png"));
    write_png(&red, [200, 10, 10]);
    write_png(&blue, [10, 10, 200]);
    let out = webclip(&["embed", "--model", m, "--image", red.to_str().unwrap()]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(json_lines(&out)[0]["embedding"].as_array().unwrap().len(), 64);

    let out =
        webclip(&["classify", "--model", m, "--labels", "cat, dog,car", red.to_str().unwrap(), blue.to_str().unwrap()]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let lines = json_lines(&out);
    assert_eq!(lines.len(), 2);
    let labels = lines[0]["labels"].as_array().unwrap();
    assert_eq!(labels.len(), 3);
    let scores: Vec<f64> = labels.iter().map(|l| l["score"].as_f64().unwrap()).collect();
    assert!(scores.windows(2).all(|w| w[0] >= w[1]), "sorted by score: {scores:?}");
    assert!((scores.iter().sum::<f64>() - 1.0).abs() < 1e-5);
    let mut names: Vec<&str> = labels.iter().map(|l| l["label"].as_str().unwrap()).collect();
    names.sort();
    assert_eq!(names, ["car", "cat", "dog"]);
}

/// `--labels` reads a list the way the page does (src/tasks/labels.rs: commas and new lines, trimmed, inner
/// whitespace collapsed, duplicates dropped), for classify as for tag; a readable file is one label per line.
#[test]
fn classify_reads_labels_as_the_page_does() {
    let tmp = tempfile::tempdir().unwrap();
    let model = tmp.path().join("tiny");
    synth_tiny(&model, 5);
    let m = model.to_str().unwrap();
    let img = tmp.path().join("img.png");
    write_png(&img, [120, 60, 30]);
    let names = |labels: &str| {
        let out = webclip(&["classify", "--model", m, "--labels", labels, img.to_str().unwrap()]);
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let mut names: Vec<String> = json_lines(&out)[0]["labels"]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| l["label"].as_str().unwrap().to_string())
            .collect();
        names.sort();
        names
    };
    assert_eq!(names(" cat\n golden   retriever,cat,\r\ndog "), ["cat", "dog", "golden retriever"]);
    let file = tmp.path().join("labels.txt");
    std::fs::write(&file, "# animals\nzebra, striped\ncat\ncat\n").unwrap();
    assert_eq!(names(file.to_str().unwrap()), ["cat", "zebra, striped"]);
}

#[test]
fn bad_inputs_get_clear_errors_and_other_files_still_run() {
    let tmp = tempfile::tempdir().unwrap();
    let model = tmp.path().join("tiny");
    synth_tiny(&model, 5);
    let m = model.to_str().unwrap();
    let good = tmp.path().join("good.png");
    write_png(&good, [50, 150, 50]);
    let bad = tmp.path().join("notes.txt");
    std::fs::write(&bad, "not an image").unwrap();

    let out = webclip(&["classify", "--model", m, "--labels", "a,b", bad.to_str().unwrap(), good.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let lines = json_lines(&out);
    assert!(lines[0]["error"].as_str().unwrap().contains("notes.txt"), "{:?}", lines[0]);
    assert_eq!(lines[1]["labels"].as_array().unwrap().len(), 2);

    // --backend gpu: works where there is an adapter (tests/gpu_cli.rs checks its output); where there is none, it
    // fails with a message that names the fallback
    let out = webclip(&["classify", "--model", m, "--labels", "a,b", "--backend", "gpu", good.to_str().unwrap()]);
    if !out.status.success() {
        assert_eq!(out.status.code(), Some(1));
        assert!(String::from_utf8_lossy(&out.stderr).contains("--backend cpu"));
    }

    let out = webclip(&["classify", "--model", m, "--labels", " , ", good.to_str().unwrap()]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("--labels is empty"));

    let out = webclip(&["embed", "--model", tmp.path().join("missing").to_str().unwrap(), "--text", "x"]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("does not exist") && err.contains("webclip bundle"), "{err}");
    // a file that is not a bundle (here: a JPEG) is named as such
    let out = webclip(&["embed", "--model", good.to_str().unwrap(), "--text", "x"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.code() == Some(1) && err.contains("not a webclip bundle"), "{err}");
}

/// Arguments that used to be taken silently are refused before any work, each saying what is wrong and what to
/// give instead (issue 14's hostile-input run).
#[test]
fn bad_arguments_are_refused_with_what_to_give() {
    let tmp = tempfile::tempdir().unwrap();
    let model = tmp.path().join("tiny");
    synth_tiny(&model, 5);
    let (m, dir) = (model.to_str().unwrap(), tmp.path().join("photos"));
    std::fs::create_dir(&dir).unwrap();
    let img = dir.join("img.png");
    write_png(&img, [120, 60, 30]);
    let (i, d) = (img.to_str().unwrap(), dir.to_str().unwrap());
    let refused = |args: &[&str], want: &str| {
        let out = webclip(args);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {err}");
        assert!(err.contains(want), "{args:?}: wanted {want:?} in: {err}");
        assert!(out.stdout.is_empty(), "{args:?} printed results");
    };
    let missing = tmp.path().join("labels.txt");
    let missing = missing.to_str().unwrap();
    refused(&["classify", "--model", m, "--labels", missing, i], "labels.txt: no such file");
    refused(&["classify", "--model", m, "--labels", d, i], "is a folder");
    refused(&["classify", "--model", m, "--labels", "a,b", "--template", "a {} or a {}", i], "has 2 {}");
    refused(&["classify", "--model", m, "--labels", "a,b", "--template", "a photo", i], "has no {}");
    for t in ["5", "-0.5", "NaN", "inf"] {
        refused(&["tag", "--model", m, "--labels", "a", "--no-caption", "--threshold", t, d], "is not in [0, 1]");
    }
    refused(&["tag", "--model", m, "--labels", "a", "--no-caption", "--batch", "0", d], "--batch 0");
    refused(&["tag", "--model", m, "--labels", "a", "--no-caption", "--template", "{} {}", d], "has 2 {}");
    let index = tmp.path().join("i.webclip-index");
    refused(&["index", "--model", m, "--out", index.to_str().unwrap(), "--batch", "0", d], "--batch 0");

    // a label that looks like a file name is still a label when the list says so (a trailing comma)
    let out = webclip(&["classify", "--model", m, "--labels", "notes.txt,", i]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    // a JSON array of strings is a label file too (the ImageNet class names ship as one)
    let json = tmp.path().join("labels.json");
    std::fs::write(&json, r#"["tench", "goldfish", "great white shark", "tench"]"#).unwrap();
    let out = webclip(&["classify", "--model", m, "--labels", json.to_str().unwrap(), i]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(json_lines(&out)[0]["labels"].as_array().unwrap().len(), 3);
    std::fs::write(&json, r#"{"not": "a list"}"#).unwrap();
    refused(&["classify", "--model", m, "--labels", json.to_str().unwrap(), i], "not a JSON array of strings");
}

/// A config with 0 layers is refused naming the field; tensors the model does not read are ignored with a
/// warning (as HF's loader ignores them), except the `position_ids` buffers older checkpoints carry.
#[test]
fn zero_layers_are_refused_and_extra_tensors_named() {
    let tmp = tempfile::tempdir().unwrap();
    let model = tmp.path().join("tiny");
    synth_tiny(&model, 5);
    let m = model.to_str().unwrap();
    let config_path = model.join("config.json");
    let config: serde_json::Value = serde_json::from_slice(&std::fs::read(&config_path).unwrap()).unwrap();
    for tower in ["text_config", "vision_config"] {
        let mut zero = config.clone();
        zero[tower]["num_hidden_layers"] = 0.into();
        std::fs::write(&config_path, zero.to_string()).unwrap();
        let out = webclip(&["embed", "--model", m, "--text", "x"]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{err}");
        assert!(err.contains(&format!("{tower}.num_hidden_layers: must be greater than 0")), "{err}");
    }
    std::fs::write(&config_path, config.to_string()).unwrap();

    let weights = model.join("model.safetensors");
    let bytes = std::fs::read(&weights).unwrap();
    let st = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    let extra = [0f32; 4];
    let extra_bytes: &[u8] = bytemuck::cast_slice(&extra);
    let ids = [0f32; 2];
    let ids_bytes: &[u8] = bytemuck::cast_slice(&ids);
    let mut views: Vec<(String, safetensors::tensor::TensorView)> = st.tensors();
    views.push(("classifier.weight".into(), f32_view(extra_bytes)));
    views.push(("text_model.embeddings.position_ids".into(), f32_view(ids_bytes)));
    std::fs::write(&weights, safetensors::serialize(views, None).unwrap()).unwrap();
    let out = webclip(&["embed", "--model", m, "--text", "x"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(err.contains("holds 1 tensor(s) this clip model does not use ('classifier.weight')"), "{err}");
    assert!(!err.contains("position_ids"), "{err}");
}

fn f32_view(bytes: &[u8]) -> safetensors::tensor::TensorView<'_> {
    safetensors::tensor::TensorView::new(safetensors::tensor::Dtype::F32, vec![bytes.len() / 4], bytes).unwrap()
}

/// NaN weights used to print `"score": null` with exit 0, and `convert --quant f16` wrote them into a bundle:
/// now every command refuses the checkpoint at load, naming the tensor, and convert writes nothing.
#[test]
fn non_finite_weights_are_refused_by_every_command() {
    let tmp = tempfile::tempdir().unwrap();
    let model = tmp.path().join("tiny");
    synth_tiny(&model, 5);
    let weights = model.join("model.safetensors");
    let bytes = std::fs::read(&weights).unwrap();
    let st = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    let nan: &[u8] = bytemuck::cast_slice(&[f32::NAN]);
    let mut views: Vec<(String, safetensors::tensor::TensorView)> =
        st.tensors().into_iter().filter(|(n, _)| n != "logit_scale").collect();
    // a scalar, as HF stores logit_scale
    let scalar = safetensors::tensor::TensorView::new(safetensors::tensor::Dtype::F32, vec![], nan).unwrap();
    views.push(("logit_scale".into(), scalar));
    std::fs::write(&weights, safetensors::serialize(views, None).unwrap()).unwrap();
    let img = tmp.path().join("img.png");
    write_png(&img, [120, 60, 30]);
    let (m, out) = (model.to_str().unwrap(), tmp.path().join("m.webclip"));
    for args in [
        vec!["classify", "--model", m, "--labels", "a,b", img.to_str().unwrap()],
        vec!["embed", "--model", m, "--text", "x"],
        vec!["convert", "--model", m, "--quant", "f16", "--out", out.to_str().unwrap()],
    ] {
        let run = webclip(&args);
        let err = String::from_utf8_lossy(&run.stderr);
        assert_eq!(run.status.code(), Some(1), "{args:?}: {err}");
        assert!(err.contains("tensor 'logit_scale' in model.safetensors has a non-finite value (NaN)"), "{err}");
        assert!(run.stdout.is_empty(), "{args:?} printed results");
    }
    assert!(!out.exists(), "convert wrote a bundle from NaN weights");
}
