//! `webclip caption`, `tag`, `index` and `search`: output formats (keys, order, types) stay stable, tags agree
//! with `classify`, `tag` resumes, search agrees with brute-force cosine, bad indexes fail clearly.

mod common;
mod gpu_common;

use std::path::Path;
use std::process::{Command, Output};

use common::{json_lines, ok_json_lines, synth_tiny};
use serde_json::Value;

/// Runs webclip with the caption cache in `cache`.
fn run(cache: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_webclip")).env("WEBCLIP_VOCAB_CACHE", cache).args(args).output().unwrap()
}

fn keys(v: &Value) -> Vec<&str> {
    v.as_object().unwrap().keys().map(String::as_str).collect()
}

fn write_png(path: &Path, f: impl Fn(u32, u32) -> [u8; 3]) {
    image::RgbImage::from_fn(96, 72, |x, y| image::Rgb(f(x, y))).save(path).unwrap();
}

/// photos/{red.png, blue.png, sub/stripes.png, notes.txt, .hidden.png}
fn photos(dir: &Path) {
    std::fs::create_dir_all(dir.join("sub")).unwrap();
    write_png(&dir.join("red.png"), |_, _| [210, 20, 20]);
    write_png(&dir.join("blue.png"), |x, _| [10, 10, 150 + (x % 100) as u8]);
    write_png(&dir.join("sub/stripes.png"), |x, _| if (x / 6) % 2 == 0 { [0; 3] } else { [255; 3] });
    std::fs::write(dir.join("notes.txt"), "not an image").unwrap();
    write_png(&dir.join(".hidden.png"), |_, _| [0, 255, 0]);
}

fn f(v: &Value) -> f64 {
    v.as_f64().unwrap_or_else(|| panic!("{v} is not a number"))
}

#[test]
fn caption_output_is_stable_and_cached() {
    let tmp = tempfile::tempdir().unwrap();
    let (model, cache) = (tmp.path().join("m"), tmp.path().join("cache"));
    synth_tiny(&model, 11);
    photos(&tmp.path().join("p"));
    let red = tmp.path().join("p/red.png");
    let (m, r) = (model.to_str().unwrap(), red.to_str().unwrap());
    let missing = tmp.path().join("p/missing.png");

    let out = run(&cache, &["caption", "--model", m, r, missing.to_str().unwrap(), "--alternatives", "3"]);
    assert_eq!(out.status.code(), Some(1), "a missing file fails the run but not the others");
    let lines = json_lines(&out);
    assert_eq!(keys(&lines[0]), ["alternatives", "caption", "file", "score"]);
    assert_eq!(lines[0]["file"], r);
    let caption = lines[0]["caption"].as_str().unwrap();
    assert!(caption.starts_with('a') && caption.ends_with('.'), "{caption}");
    let alts = lines[0]["alternatives"].as_array().unwrap();
    assert_eq!(alts.len(), 3);
    let mut prev = f(&lines[0]["score"]);
    for a in alts {
        assert_eq!(keys(a), ["caption", "score"]);
        assert!(f(&a["score"]) <= prev && a["caption"] != lines[0]["caption"]);
        prev = f(&a["score"]);
    }
    assert_eq!(keys(&lines[1]), ["error", "file"]);
    let cached: Vec<_> = std::fs::read_dir(&cache).unwrap().collect();
    assert_eq!(cached.len(), 1, "one vocabulary cache file");

    // the score is the cosine of the caption with the image, as `embed` gives them
    let img = ok_json_lines(&common::webclip(&["embed", "--model", m, "--image", r]));
    let txt = ok_json_lines(&common::webclip(&["embed", "--model", m, "--text", caption]));
    let vec = |v: &Value| v["embedding"].as_array().unwrap().iter().map(|x| f(x) as f32).collect::<Vec<f32>>();
    let cos = common::cosine(&vec(&img[0]), &vec(&txt[0]));
    assert!((cos - f(&lines[0]["score"])).abs() < 1e-5, "{cos} vs {}", lines[0]["score"]);

    // same again from the cache: identical output; --subjects restricts the subject
    let again = run(&cache, &["caption", "--model", m, r, "--alternatives", "3"]);
    assert_eq!(json_lines(&again)[0], lines[0]);
    assert!(String::from_utf8_lossy(&again.stderr).contains("read from the cache"));
    let export = tmp.path().join("vocab.safetensors");
    let out = run(&cache, &["caption", "--model", m, r, "--export-vocab", export.to_str().unwrap()]);
    assert!(out.status.success());
    let bytes = std::fs::read(&export).unwrap();
    assert_eq!(
        bytes,
        std::fs::read(cached[0].as_ref().unwrap().path()).unwrap(),
        "the cache file, as the page takes it"
    );
    let out = run(&cache, &["caption", "--model", m, r, "--subjects", "lighthouse,teapot", "--no-cache"]);
    let c = ok_json_lines(&out)[0]["caption"].as_str().unwrap().to_string();
    assert!(c.contains("lighthouse") || c.contains("teapot"), "{c}");
}

#[test]
fn tag_agrees_with_classify_and_resumes() {
    let tmp = tempfile::tempdir().unwrap();
    let (model, cache, dir) = (tmp.path().join("m"), tmp.path().join("cache"), tmp.path().join("p"));
    synth_tiny(&model, 12);
    photos(&dir);
    let (m, d) = (model.to_str().unwrap(), dir.to_str().unwrap());
    let (js, csv) = (tmp.path().join("tags.jsonl"), tmp.path().join("tags.csv"));
    let labels = tmp.path().join("labels.txt");
    std::fs::write(&labels, "# tags\nred\nblue sky\nzebra, striped\n").unwrap();
    let (l, j, c) = (labels.to_str().unwrap(), js.to_str().unwrap(), csv.to_str().unwrap());
    let tag = |extra: &[&str]| {
        let mut a = vec!["tag", "--model", m, "--labels", l, "--out-json", j, "--out-csv", c, "--threshold", "0.4"];
        a.extend(extra);
        a.push(d);
        run(&cache, &a)
    };
    let out = tag(&["--subjects", "cat,dog", "--batch", "2"]);
    let lines = ok_json_lines(&out);
    let files: Vec<&str> = lines.iter().map(|l| l["file"].as_str().unwrap()).collect();
    assert_eq!(files, ["blue.png", "red.png", "sub/stripes.png"], "images only, hidden skipped, sorted, relative");
    assert_eq!(keys(&lines[0]), ["caption", "caption_score", "file", "scores", "tags"]);
    let labels = ["red", "blue sky", "zebra, striped"];
    for line in &lines {
        let scores = line["scores"].as_object().unwrap();
        assert_eq!(scores.len(), 3);
        // each score is classify's two-way probability of "a photo of a {tag}." against "a photo."
        let file = dir.join(line["file"].as_str().unwrap());
        for label in labels {
            let prompt = format!("a photo of a {}.", label.replace(',', ""));
            let classify = ok_json_lines(&common::webclip(&[
                "classify",
                "--model",
                m,
                "--template",
                "{}",
                "--labels",
                &format!("{prompt},a photo."),
                file.to_str().unwrap(),
            ]));
            let p = classify[0]["labels"].as_array().unwrap().iter().find(|x| x["label"] == prompt.as_str()).unwrap();
            if !label.contains(',') {
                assert!((f(&p["score"]) - f(&scores[label])).abs() < 1e-5, "{label}: {p} vs {}", scores[label]);
            }
        }
        let kept = line["tags"].as_array().unwrap();
        assert_eq!(kept.len(), scores.values().filter(|s| f(s) >= 0.4).count());
        assert!(kept.windows(2).all(|w| f(&w[0]["score"]) >= f(&w[1]["score"])));
        assert!(kept.iter().all(|t| keys(t) == ["score", "tag"]));
        assert!(line["caption"].as_str().unwrap().contains("cat") || line["caption"].as_str().unwrap().contains("dog"));
    }
    // the files hold the same, JSON Lines and CSV
    let stored: Vec<Value> =
        std::fs::read_to_string(&js).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(stored, lines);
    let table = std::fs::read_to_string(&csv).unwrap();
    let rows: Vec<&str> = table.lines().collect();
    assert_eq!(rows[0], "file,tags,caption,caption_score,red,blue sky,\"zebra, striped\"");
    assert_eq!(rows.len(), 4);
    assert!(rows[2].starts_with("red.png,"), "{}", rows[2]);

    // resume: nothing left to do
    let out = tag(&["--subjects", "cat,dog"]);
    assert!(ok_json_lines(&out).is_empty());
    assert!(String::from_utf8_lossy(&out.stderr).contains("3 already tagged"));
    assert_eq!(std::fs::read_to_string(&csv).unwrap(), table);

    // a crash mid-write: the JSON file lost its last line and has half of another; the CSV lacks one row
    let text = std::fs::read_to_string(&js).unwrap();
    let keep: Vec<&str> = text.lines().take(1).collect();
    std::fs::write(&js, format!("{}\n{{\"file\":\"red.p", keep[0])).unwrap();
    std::fs::write(&csv, format!("{}\n{}\n{}\nsub/str", rows[0], rows[1], rows[2])).unwrap();
    let out = tag(&["--subjects", "cat,dog"]);
    let redone: Vec<String> = ok_json_lines(&out).iter().map(|l| l["file"].as_str().unwrap().to_string()).collect();
    assert_eq!(redone, ["red.png", "sub/stripes.png"]);
    let text = std::fs::read_to_string(&js).unwrap();
    let files: Vec<String> =
        text.lines().map(|l| serde_json::from_str::<Value>(l).unwrap()["file"].as_str().unwrap().into()).collect();
    assert_eq!(files, ["blue.png", "red.png", "sub/stripes.png"], "each image once");
    assert_eq!(std::fs::read_to_string(&csv).unwrap(), table, "deterministic rows, each image once");

    // other labels cannot append to this CSV; a broken image is reported and not written
    let out = run(&cache, &["tag", "--model", m, "--labels", "cat", "--out-csv", c, "--no-caption", d]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("other labels"));
    std::fs::write(dir.join("broken.png"), b"\x89PNG but not really").unwrap();
    let out = tag(&["--subjects", "cat,dog"]);
    assert_eq!(out.status.code(), Some(1));
    let lines = json_lines(&out);
    assert_eq!((lines.len(), keys(&lines[0])), (1, vec!["error", "file"]));
    assert!(!std::fs::read_to_string(&js).unwrap().contains("broken.png"));
}

/// A resume must be the same run: another model, or any setting that changes a record, is refused naming what
/// differs (the run file beside each output records them); the same run resumes.
#[test]
fn tag_resumes_only_the_same_model_and_settings() {
    let tmp = tempfile::tempdir().unwrap();
    let (cache, dir) = (tmp.path().join("cache"), tmp.path().join("p"));
    let (a, b) = (tmp.path().join("a"), tmp.path().join("b"));
    synth_tiny(&a, 12);
    synth_tiny(&b, 13);
    photos(&dir);
    let js = tmp.path().join("tags.jsonl");
    let (d, j) = (dir.to_str().unwrap(), js.to_str().unwrap());
    let tag = |model: &Path, extra: &[&str]| {
        let mut args = vec!["tag", "--model", model.to_str().unwrap(), "--labels", "red,blue", "--no-caption"];
        args.extend(extra);
        args.extend(["--out-json", j, d]);
        run(&cache, &args)
    };
    let first = tag(&a, &[]);
    assert!(first.status.success(), "{}", String::from_utf8_lossy(&first.stderr));
    let written = std::fs::read_to_string(&js).unwrap();
    let record: Value = serde_json::from_slice(&std::fs::read(tmp.path().join("tags.jsonl.webclip-tag.json")).unwrap())
        .expect("the run file is JSON");
    assert_eq!(record["format"], "webclip-tag 1");
    assert_eq!(
        (record["labels"].clone(), record["threshold"].clone()),
        (serde_json::json!(["red", "blue"]), 0.5.into())
    );

    let refused = |out: Output, want: &str| {
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{err}");
        assert!(err.contains(want) && err.contains("--out-json"), "wanted {want:?} in: {err}");
        assert_eq!(std::fs::read_to_string(&js).unwrap(), written, "nothing appended");
    };
    std::fs::remove_file(dir.join("red.png")).unwrap(); // something left to do, so a bad resume would append
    refused(tag(&b, &[]), "was made with a different model");
    refused(tag(&a, &["--threshold", "0.7"]), "was written with threshold 0.5, but this run has 0.7");
    refused(tag(&a, &["--crops"]), "crops false");
    refused(tag(&a, &["--template", "a picture of {}"]), "template");
    let out = tag(&a, &[]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stderr).contains("2 already tagged, 0 to do"));
}

/// While one run writes an output it holds the file's lock: a second run on it is refused at once (it would tag
/// every photo again), and runs once the lock is gone.
#[test]
fn tag_refuses_an_output_another_run_is_writing() {
    let tmp = tempfile::tempdir().unwrap();
    let (model, cache, dir) = (tmp.path().join("m"), tmp.path().join("cache"), tmp.path().join("p"));
    synth_tiny(&model, 12);
    photos(&dir);
    let csv = tmp.path().join("tags.csv");
    let args = ["tag", "--model", model.to_str().unwrap(), "--labels", "red", "--no-caption", "--out-csv"];
    let tag = || run(&cache, &[&args[..], &[csv.to_str().unwrap(), dir.to_str().unwrap()]].concat());
    let held = std::fs::File::create(&csv).unwrap();
    held.lock().unwrap(); // what a running `webclip tag` holds
    let out = tag();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("is being written by another `webclip tag` run"), "{err}");
    assert!(out.stdout.is_empty());
    drop(held);
    let out = tag();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(std::fs::read_to_string(&csv).unwrap().lines().count(), 4, "header and 3 photos, once each");
}

/// File names that are not UTF-8 (Latin-1 names from an old camera or share) stay distinct: written with `\xNN`
/// for each byte that is not UTF-8, so a resume skips exactly the photos already tagged.
#[cfg(unix)]
#[test]
fn tag_keeps_non_utf8_names_apart() {
    use std::os::unix::ffi::OsStrExt;
    let tmp = tempfile::tempdir().unwrap();
    let (model, cache, dir) = (tmp.path().join("m"), tmp.path().join("cache"), tmp.path().join("p"));
    synth_tiny(&model, 12);
    std::fs::create_dir(&dir).unwrap();
    let (e_acute, e_grave) = (std::ffi::OsStr::from_bytes(b"caf\xe9.png"), std::ffi::OsStr::from_bytes(b"caf\xe8.png"));
    write_png(&dir.join(e_acute), |_, _| [200, 30, 30]);
    write_png(&dir.join(e_grave), |_, _| [30, 30, 200]);
    let js = tmp.path().join("tags.jsonl");
    let args = ["tag", "--model", model.to_str().unwrap(), "--labels", "red", "--no-caption", "--out-json"];
    let tag = || run(&cache, &[&args[..], &[js.to_str().unwrap(), dir.to_str().unwrap()]].concat());
    let out = tag();
    let files: Vec<String> = ok_json_lines(&out).iter().map(|l| l["file"].as_str().unwrap().to_string()).collect();
    assert_eq!(files, ["caf\\xe8.png", "caf\\xe9.png"]);
    let out = tag();
    assert!(String::from_utf8_lossy(&out.stderr).contains("2 already tagged, 0 to do"));
}

#[test]
fn index_and_search() {
    let tmp = tempfile::tempdir().unwrap();
    let (model, other, cache, dir) =
        (tmp.path().join("m"), tmp.path().join("o"), tmp.path().join("c"), tmp.path().join("p"));
    synth_tiny(&model, 13);
    synth_tiny(&other, 14);
    photos(&dir);
    let (m, d) = (model.to_str().unwrap(), dir.to_str().unwrap());
    let idx = tmp.path().join("photos.webclip-index");
    let i = idx.to_str().unwrap();

    let summary = ok_json_lines(&run(&cache, &["index", "--model", m, "--out", i, "--dims", "32", d]));
    assert_eq!(keys(&summary[0]), ["added", "bytes", "dims", "failed", "files", "index", "kept", "removed"]);
    assert_eq!(
        (summary[0]["files"].as_u64(), summary[0]["added"].as_u64(), summary[0]["dims"].as_u64()),
        (Some(3), Some(3), Some(32))
    );

    let out = run(&cache, &["search", "--model", m, "--index", i, "--top", "2", "a red square", "stripes"]);
    let lines = ok_json_lines(&out);
    assert_eq!(lines.len(), 2);
    assert_eq!(keys(&lines[0]), ["query", "results"]);
    let results = lines[0]["results"].as_array().unwrap();
    assert_eq!(results.len(), 2);
    assert_eq!(keys(&results[0]), ["file", "path", "score"]);
    assert_eq!(results[0]["path"].as_str().unwrap(), dir.join(results[0]["file"].as_str().unwrap()).to_str().unwrap());
    // brute force: cosine of the query (cut to 32 dims) with each stored vector, from the library
    let index = webclip::tasks::search::Index::from_bytes(&std::fs::read(&idx).unwrap(), i).unwrap();
    let q = ok_json_lines(&common::webclip(&["embed", "--model", m, "--text", "a red square"]));
    let q: Vec<f32> = q[0]["embedding"].as_array().unwrap().iter().map(|x| f(x) as f32).collect();
    let q = webclip::tasks::search::prepare(&q, 32);
    let mut brute: Vec<(String, f64)> =
        (0..index.len()).map(|r| (index.files()[r].clone(), common::cosine(&q, &index.vector(r)))).collect();
    brute.sort_by(|a, b| b.1.total_cmp(&a.1));
    for (got, (file, score)) in results.iter().zip(&brute) {
        assert_eq!(got["file"], file.as_str());
        assert!((f(&got["score"]) - score).abs() < 1e-5);
    }

    // photo → similar photos: a photo finds itself first
    let stripes = dir.join("sub/stripes.png");
    let out = ok_json_lines(&run(&cache, &["search", "--model", m, "--index", i, "--like", stripes.to_str().unwrap()]));
    assert_eq!(keys(&out[0]), ["like", "results"]);
    assert_eq!(out[0]["results"][0]["file"], "sub/stripes.png");
    assert!(f(&out[0]["results"][0]["score"]) > 0.999);
    assert_eq!(out[0]["results"].as_array().unwrap().len(), 3);

    // incremental: a new photo is added, a removed one dropped, the rest kept
    write_png(&dir.join("green.png"), |_, _| [20, 200, 20]);
    std::fs::remove_file(dir.join("blue.png")).unwrap();
    let s = ok_json_lines(&run(&cache, &["index", "--model", m, "--out", i, d]));
    assert_eq!((s[0]["added"].as_u64(), s[0]["kept"].as_u64(), s[0]["removed"].as_u64()), (Some(1), Some(2), Some(1)));

    // errors: another model, a damaged file, not an index
    let out = run(&cache, &["search", "--model", other.to_str().unwrap(), "--index", i, "red"]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("was made with a different model"), "{err}");
    let out = run(&cache, &["index", "--model", other.to_str().unwrap(), "--out", i, d]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("different model"));
    let mut bytes = std::fs::read(&idx).unwrap();
    let n = bytes.len();
    bytes[n - 3] ^= 0xff;
    std::fs::write(&idx, &bytes).unwrap();
    let out = run(&cache, &["search", "--model", m, "--index", i, "red"]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("corrupt"), "{}", String::from_utf8_lossy(&out.stderr));
    let out = run(&cache, &["search", "--model", m, "--index", dir.join("red.png").to_str().unwrap(), "red"]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("not a webclip index"));
}

#[test]
fn gpu_gives_the_cpu_results() {
    if gpu_common::adapter().is_none() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let (model, cache, dir) = (tmp.path().join("m"), tmp.path().join("cache"), tmp.path().join("p"));
    synth_tiny(&model, 15);
    photos(&dir);
    let (m, d) = (model.to_str().unwrap(), dir.to_str().unwrap());
    let red = dir.join("red.png");
    let on = |backend: &str, args: &[&str]| ok_json_lines(&run(&cache, &[args, &["--backend", backend]].concat()));

    let caption = ["caption", "--model", m, "--subjects", "cat,dog,car", red.to_str().unwrap()];
    let (cpu, gpu) = (on("cpu", &caption), on("gpu", &caption));
    assert!((f(&cpu[0]["score"]) - f(&gpu[0]["score"])).abs() < 1e-4, "{} vs {}", cpu[0], gpu[0]);
    assert_eq!(std::fs::read_dir(&cache).unwrap().count(), 2, "one vocabulary cache per backend");

    let tag = ["tag", "--model", m, "--labels", "red,stripes", "--no-caption", "--crops", d];
    let (cpu, gpu) = (on("cpu", &tag), on("gpu", &tag));
    for (c, g) in cpu.iter().zip(&gpu) {
        for label in ["red", "stripes"] {
            assert!((f(&c["scores"][label]) - f(&g["scores"][label])).abs() < 1e-4, "{c} vs {g}");
        }
    }

    // an index made on the GPU is the same model's for the CPU (the fingerprint tolerates the backend)
    let idx = tmp.path().join("gpu.webclip-index");
    on("gpu", &["index", "--model", m, "--out", idx.to_str().unwrap(), d]);
    let found = on("cpu", &["search", "--model", m, "--index", idx.to_str().unwrap(), "--like", red.to_str().unwrap()]);
    assert_eq!(found[0]["results"][0]["file"], "red.png");
}
