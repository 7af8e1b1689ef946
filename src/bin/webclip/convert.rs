//! `webclip convert` (HF folder → one bundle file, with sizes and a fidelity check) and `webclip fidelity` (the
//! f16/q8/q4 report against f32: sizes, cosine per tower, zero-shot top-1 agreement).

use std::path::{Path, PathBuf};
use std::time::Instant;

use serde_json::json;
use webclip::backend::cpu::Cpu;
use webclip::fidelity::{probe_images, Agreement, Embeddings, TowerFidelity, PROBE_TEXTS};
use webclip::image::Pixels;
use webclip::model::Towers;
use webclip::weights::bundle::Bundle;
use webclip::weights::bundle::Policy;
use webclip::{Error, Result, Session};

const MB: f64 = 1e6;

/// Writes the bundle, prints its size per part, then loads it and reports cosine vs the f32 model on probe inputs.
pub fn convert(model: &Path, quant: &str, policy: &Policy, out: &Path, towers: Towers) -> Result<()> {
    let checkpoint = super::open_checkpoint(model)?;
    if checkpoint.towers != Towers::Both && towers != checkpoint.towers {
        return Err(Error::Input(format!(
            "{} holds only the {} tower; convert from the Hugging Face checkpoint for {} towers",
            model.display(),
            checkpoint.towers.name(),
            towers.name()
        )));
    }
    eprintln!("converting {} → {} ({}: {})", model.display(), out.display(), quant, policy.describe());
    let started = Instant::now();
    let bytes = checkpoint.to_bundle(policy, towers)?;
    std::fs::write(out, &bytes).map_err(|e| Error::io(out, e))?;
    let seconds = started.elapsed().as_secs_f64();

    let bundle = Bundle::parse(out.display().to_string(), bytes)?;
    let (size, weights) = (bundle.len(), bundle.weights_len());
    let candidate = Session::new(Cpu::default(), bundle.into_checkpoint())?;
    let reference = Session::new(Cpu::default(), checkpoint)?;
    let report = probe_fidelity(&reference, &candidate)?;
    println!(
        "{}",
        json!({
            "out": out.display().to_string(),
            "quant": quant,
            "towers": towers.name(),
            "policy": policy.describe(),
            "bytes": size,
            "mb": round(size as f64 / MB, 2),
            "weights_mb": round(weights as f64 / MB, 2),
            "other_mb": round(size.saturating_sub(weights) as f64 / MB, 2),
            "seconds": round(seconds, 2),
            "fidelity_vs_f32": report,
        })
    );
    Ok(())
}

/// Cosine vs f32 on [`PROBE_TEXTS`] and four generated images, for the towers the candidate has.
fn probe_fidelity(reference: &Session<Cpu>, candidate: &Session<Cpu>) -> Result<serde_json::Value> {
    let p = &reference.preprocess;
    let images = probe_images(4, p.crop_height as usize, p.image_mean, p.image_std);
    let want = Embeddings::of(reference, &PROBE_TEXTS, &images)?;
    let got = Embeddings::of(candidate, &PROBE_TEXTS, &images)?;
    Ok(json!({
        "text": pair(&want.texts, &got.texts).map(|(a, b)| TowerFidelity::measure(a, b)),
        "image": pair(&want.images, &got.images).map(|(a, b)| TowerFidelity::measure(a, b)),
        "inputs": "12 probe prompts, 4 generated images (use `webclip fidelity --images DIR` for photos)",
    }))
}

fn pair<'a, T>(a: &'a Option<T>, b: &'a Option<T>) -> Option<(&'a T, &'a T)> {
    a.as_ref().zip(b.as_ref())
}

fn round(x: f64, digits: i32) -> f64 {
    let p = 10f64.powi(digits);
    (x * p).round() / p
}

/// The fidelity report: for each format, bundle sizes (both towers, text-only, vision-only), cosine vs f32 per
/// tower over the label prompts and the images, and zero-shot top-1 agreement with f32.
pub fn fidelity(
    model: &Path,
    quants: &[String],
    images: Option<&Path>,
    labels: &[String],
    template: &str,
) -> Result<()> {
    let checkpoint = super::open_checkpoint(model)?;
    if checkpoint.towers != Towers::Both {
        return Err(Error::Input(format!(
            "{} is a {}-only bundle; the fidelity report needs the f32 reference of both towers: pass the Hugging \
             Face checkpoint folder",
            model.display(),
            checkpoint.towers.name()
        )));
    }
    let reference = Session::with_checkpoint(Cpu::default(), &checkpoint)?;
    let (pixels, image_source) = match images {
        Some(dir) => (read_images(&reference, dir)?, dir.display().to_string()),
        None => {
            let p = &reference.preprocess;
            (probe_images(8, p.crop_height as usize, p.image_mean, p.image_std), "8 generated images".into())
        }
    };
    let prompts = webclip::tasks::labels::prompts(template, labels)?;
    let prompts: Vec<&str> = prompts.iter().map(String::as_str).collect();
    let started = Instant::now();
    let want = Embeddings::of(&reference, &prompts, &pixels)?;
    eprintln!(
        "f32 reference: {} prompts, {} images in {:.1} s",
        prompts.len(),
        pixels.len(),
        started.elapsed().as_secs_f64()
    );
    let (want_t, want_i) = (want.texts.unwrap_or_default(), want.images.unwrap_or_default());
    for quant in quants {
        let policy = Policy::preset(quant)?;
        let size = |towers| checkpoint.to_bundle(&policy, towers).map(|b| b.len());
        let (text_only, vision_only) = (size(Towers::Text)?, size(Towers::Vision)?);
        let bytes = checkpoint.to_bundle(&policy, Towers::Both)?;
        let both = bytes.len();
        let candidate =
            Session::new(Cpu::default(), Bundle::parse(format!("{quant} bundle"), bytes)?.into_checkpoint())?;
        let started = Instant::now();
        let got = Embeddings::of(&candidate, &prompts, &pixels)?;
        let (got_t, got_i) = (got.texts.unwrap_or_default(), got.images.unwrap_or_default());
        println!(
            "{}",
            json!({
                "quant": quant,
                "policy": policy.describe(),
                "mb": { "both": round(both as f64 / MB, 2), "text": round(text_only as f64 / MB, 2),
                        "vision": round(vision_only as f64 / MB, 2) },
                "text": TowerFidelity::measure(&want_t, &got_t),
                "image": TowerFidelity::measure(&want_i, &got_i),
                "top1_agreement": Agreement::measure((&want_i, &want_t), (&got_i, &got_t)),
                "images": image_source,
                "seconds": round(started.elapsed().as_secs_f64(), 1),
            })
        );
    }
    Ok(())
}

/// Every decodable image in `dir` (sorted by name); files that are not images are skipped with a note.
fn read_images(session: &Session<Cpu>, dir: &Path) -> Result<Vec<Pixels>> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| Error::io(dir, e))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    let mut out = Vec::new();
    for file in files {
        let bytes = std::fs::read(&file).map_err(|e| Error::io(&file, e))?;
        match session.pixels(&bytes, &file.display().to_string()) {
            Ok(p) => out.push(p),
            Err(e) => eprintln!("skipping {}: {e}", file.display()),
        }
    }
    if out.is_empty() {
        return Err(Error::Input(format!(
            "{} has no images webclip can read (JPEG, PNG, WebP, GIF, BMP, TIFF)",
            dir.display()
        )));
    }
    Ok(out)
}
