//! `webclip bench`: per-tower latency and throughput of the loaded model on its backend.
//!
//! Each tower runs one warm-up pass (pipeline and buffer creation, caches), then `runs` timed passes; a pass is the
//! whole forward from host inputs to host embeddings (upload, every kernel, readback). Reported: the median and the
//! minimum, and GFLOP/s = FLOPs from the config (`ModelConfig::image_flops`, per family) / median. Images are fixed pseudo-random pixels
//! (preprocessing is not timed); texts are tokenized to the full context length (the text tower runs on the real
//! token count, so this is its longest pass). `labels` times zero-shot's text side: ten labels in the template
//! "a photo of a {}." embedded in one call (their shared prefix is computed once).

use std::time::Instant;

use serde_json::{json, Value};
use webclip::backend::{cpu, Backend};
use webclip::{Result, Session};

/// With `profile` (CPU backends), one more pass per tower records the time of every op ([`cpu::profile`]).
pub fn run<B: Backend>(
    session: &Session<B>,
    device: &Value,
    batch: usize,
    runs: usize,
    profile: bool,
) -> Result<Value> {
    let model = &session.model;
    let c = &model.config;

    let per_image = c.pixels_per_image();
    let mut state = 0x2545_f491_4f6c_dd1du64;
    let pixels: Vec<f32> = (0..batch * per_image)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 40) as f32 / (1u64 << 24) as f32 * 4.0 - 2.0 // uniform in [-2, 2), like normalised pixels
        })
        .collect();
    let vision = time(runs, || model.encode_images(&session.backend, &pixels, batch).map(drop))?;
    let vision_ops = profile.then(|| profiled(|| model.encode_images(&session.backend, &pixels, batch).map(drop)));

    let long_text = "a photo of a small orange cat sitting on a wooden table next to a cup of coffee ".repeat(20);
    let ids = session.tokenizer.encode(&long_text)?;
    let tokens = ids.len();
    let texts = vec![ids; batch];
    let text = time(runs, || model.encode_texts(&session.backend, &texts).map(drop))?;
    let text_ops = profile.then(|| profiled(|| model.encode_texts(&session.backend, &texts).map(drop)));

    // zero-shot's text side: ten labels in one template (a shared prompt prefix, as classify embeds them)
    let labels = ["cat", "dog", "car", "bird", "tree", "house", "person", "boat", "flower", "computer"];
    let prompts: Vec<Vec<u32>> =
        labels.iter().map(|l| session.tokenizer.encode(&format!("a photo of a {l}."))).collect::<Result<_>>()?;
    let label_pass = time(runs, || model.encode_texts(&session.backend, &prompts).map(drop))?;
    let label_ops = profile.then(|| profiled(|| model.encode_texts(&session.backend, &prompts).map(drop)));

    let tower = |(median, min): (f64, f64), flop_per_item: f64, tokens: usize| {
        let gflop = flop_per_item * batch as f64 / 1e9;
        json!({
            "tokens": tokens,
            "gflop_per_pass": round(gflop, 4),
            "median_ms": round(median * 1e3, 3),
            "min_ms": round(min * 1e3, 3),
            "ms_per_item": round(median * 1e3 / batch as f64, 3),
            "gflop_per_s": round(gflop / median, 3),
        })
    };
    let mut report = json!({
        "backend": session.backend.name(),
        "device": device,
        "batch": batch,
        "runs": runs,
        "vision": tower(vision, c.image_flops(), c.vision_tokens()),
        "text": tower(text, c.text_flops(tokens), tokens),
        "labels": {
            "prompts": labels.len(),
            "template": "a photo of a {}.",
            "median_ms": round(label_pass.0 * 1e3, 3),
            "min_ms": round(label_pass.1 * 1e3, 3),
        },
    });
    if let Some(ops) = label_ops {
        report["labels"]["profile"] = ops?;
    }
    if let (Some(vision_ops), Some(text_ops)) = (vision_ops, text_ops) {
        report["vision"]["profile"] = vision_ops?;
        report["text"]["profile"] = text_ops?;
    }
    Ok(report)
}

/// One pass with [`cpu::profile`] recording: `{total_ms, ops: [{op, ms, share, calls}]}`, slowest op first; `share`
/// is of the pass's wall-clock time (what the ops leave is the model's own code: reshapes, allocation).
fn profiled(pass: impl FnOnce() -> Result<()>) -> Result<Value> {
    cpu::profile::start();
    let t0 = Instant::now();
    let result = pass();
    let total = t0.elapsed().as_secs_f64();
    let mut ops = cpu::profile::take();
    result?;
    ops.sort_by(|a, b| b.seconds.total_cmp(&a.seconds));
    let ops: Vec<Value> = ops
        .iter()
        .map(|o| json!({ "op": o.op, "ms": round(o.seconds * 1e3, 3), "share": round(o.seconds / total, 4), "calls": o.calls }))
        .collect();
    Ok(json!({ "total_ms": round(total * 1e3, 3), "ops": ops }))
}

/// (median, min) seconds of `runs` calls after one warm-up call.
fn time(runs: usize, mut pass: impl FnMut() -> Result<()>) -> Result<(f64, f64)> {
    pass()?;
    let mut secs = Vec::with_capacity(runs);
    for _ in 0..runs {
        let t0 = Instant::now();
        pass()?;
        secs.push(t0.elapsed().as_secs_f64());
    }
    secs.sort_by(f64::total_cmp);
    let n = secs.len();
    let median = if n % 2 == 1 { secs[n / 2] } else { (secs[n / 2 - 1] + secs[n / 2]) / 2.0 };
    Ok((median, secs[0]))
}

fn round(v: f64, digits: i32) -> f64 {
    let f = 10f64.powi(digits);
    (v * f).round() / f
}
