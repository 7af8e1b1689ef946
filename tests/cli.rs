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
