//! The webclip command line: tokenize, embed, classify, bench, convert, fidelity, synth. `--model` is a Hugging
//! Face CLIPModel folder or a webclip bundle file everywhere. One JSON object per input on stdout.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};
use serde_json::json;
use webclip::backend::cpu::Cpu;
use webclip::backend::gpu::Gpu;
use webclip::backend::Backend;
use webclip::image::Pixels;
use webclip::model::ModelConfig;
use webclip::model::Towers;
use webclip::tasks::zero_shot;
use webclip::tokenizer::TextTokenizer;
use webclip::weights::synth::{self, StoreDtype};
use webclip::{Checkpoint, Error, Result, Session};

#[derive(Parser)]
#[command(
    name = "webclip",
    version,
    about = "CLIP image and text encoders: tokenize, embed, classify, caption, tag, index, search, convert, fidelity, bench, synth"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Clone, Copy, ValueEnum)]
enum BackendChoice {
    /// the CPU; q8 weights meet activations quantized to 7 bits per block of 32 (integer dot products, the fast path)
    Cpu,
    /// the CPU with f32 activations throughout (q8 weights dequantized): the GPU's arithmetic, for comparisons
    CpuReference,
    /// WebGPU through wgpu (Vulkan, Metal, DX12)
    Gpu,
}

#[derive(Clone, Copy, ValueEnum)]
enum DtypeChoice {
    F32,
    F16,
    Bf16,
}

#[derive(Subcommand)]
enum Command {
    /// Token ids of each TEXT, exactly as Hugging Face's CLIP tokenizer gives them.
    Tokenize {
        /// Hugging Face CLIPModel directory or webclip bundle
        #[arg(long)]
        model: PathBuf,
        #[arg(required = true)]
        texts: Vec<String>,
    },
    /// Image or text embeddings (unnormalised projection output, as get_image_features / get_text_features).
    Embed {
        #[arg(long)]
        model: PathBuf,
        #[arg(long, value_enum, default_value = "cpu")]
        backend: BackendChoice,
        #[arg(long = "image", num_args = 1.., conflicts_with = "texts", required_unless_present = "texts")]
        images: Vec<PathBuf>,
        #[arg(long = "text", num_args = 1..)]
        texts: Vec<String>,
    },
    /// Zero-shot labels for each image: softmax over exp(logit_scale) · cosine, sorted by score.
    Classify {
        #[arg(long)]
        model: PathBuf,
        /// Labels separated by commas or new lines, e.g. "cat,dog,car" (trimmed, duplicates dropped: as the page
        /// reads them), or a file with one label per line (# comments)
        #[arg(long)]
        labels: String,
        /// Prompt template; {} is replaced by the label
        #[arg(long, default_value = "a photo of a {}.")]
        template: String,
        #[arg(long, value_enum, default_value = "cpu")]
        backend: BackendChoice,
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
    /// Per-tower latency (median of --runs after one warm-up) and GFLOP/s, as one JSON object naming the device.
    Bench {
        #[arg(long)]
        model: PathBuf,
        #[arg(long, value_enum, default_value = "gpu")]
        backend: BackendChoice,
        /// Images (and texts, at the full context length) per forward pass
        #[arg(long, default_value_t = 1)]
        batch: usize,
        #[arg(long, default_value_t = 5)]
        runs: usize,
        /// One more pass per tower timing every op (CPU backends: wall-clock per op)
        #[arg(long)]
        profile: bool,
    },
    /// Convert a Hugging Face CLIPModel folder into one webclip bundle file (f32, f16, q8, q4 or q4+), printing its
    /// size and its fidelity against the f32 model on probe inputs.
    Convert {
        #[arg(long)]
        model: PathBuf,
        /// Weight format: f32, f16, q8, q4, or q4+ (q4 with the first/last layers and projections at q8)
        #[arg(long, default_value = "q8")]
        quant: String,
        #[arg(long)]
        out: PathBuf,
        /// Store the token-embedding table (49408 rows) as this format instead: f32, f16, q8 or q4
        #[arg(long)]
        token_embedding: Option<String>,
        /// Only the text tower (pages that embed queries or labels only)
        #[arg(long, conflicts_with = "vision_only")]
        text_only: bool,
        /// Only the vision tower (pages that use precomputed label embeddings)
        #[arg(long)]
        vision_only: bool,
    },
    /// Fidelity of each format against f32: bundle sizes, embedding cosine per tower, zero-shot top-1 agreement
    /// over the images against the labels (default: the 1000 ImageNet classes). One JSON line per format.
    Fidelity {
        #[arg(long)]
        model: PathBuf,
        /// Formats to compare, comma-separated
        #[arg(long, default_value = "f16,q8,q4,q4+")]
        quant: String,
        /// A folder of photos (default: 8 generated images)
        #[arg(long)]
        images: Option<PathBuf>,
        /// Labels as for classify: a list separated by commas or new lines, or a file with one per line (default:
        /// the 1000 ImageNet class names)
        #[arg(long)]
        labels: Option<String>,
        #[arg(long, default_value = "a photo of a {}.")]
        template: String,
    },
    /// A caption for each image: the sentence from the caption vocabularies (subjects, counts, colours and
    /// materials, scenes, styles) that CLIP scores highest, found by beam search. One JSON line per image:
    /// {"file","caption","score","alternatives":[{"caption","score"}…]}, score = cosine(image, caption).
    Caption {
        #[arg(long)]
        model: PathBuf,
        #[arg(long, value_enum, default_value = "cpu")]
        backend: BackendChoice,
        #[command(flatten)]
        caption: caption::CaptionArgs,
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
    /// Multi-label tags (and a caption) for every image under DIR: each tag scored against a neutral prompt,
    /// kept when ≥ --threshold. Writes JSON Lines and CSV as it goes; a second run skips images already tagged.
    Tag {
        #[arg(long)]
        model: PathBuf,
        #[arg(long, value_enum, default_value = "cpu")]
        backend: BackendChoice,
        /// Tags: a file with one per line (# comments), or a list separated by commas or new lines (trimmed,
        /// duplicates dropped)
        #[arg(long)]
        labels: String,
        /// Keep tags scoring at least this (0.5: the tag beats the neutral prompt)
        #[arg(long, default_value_t = webclip::tasks::tag::DEFAULT_THRESHOLD, allow_negative_numbers = true)]
        threshold: f32,
        /// Also score a 2x2 grid of overlapping crops and keep each tag's best (finds small objects; 5 image passes)
        #[arg(long)]
        crops: bool,
        /// Prompt template; {} is replaced by the tag
        #[arg(long, default_value = "a photo of a {}.")]
        template: String,
        /// The prompt every tag is compared with
        #[arg(long, default_value = webclip::tasks::tag::NEUTRAL_PROMPT)]
        neutral: String,
        /// Append one JSON object per image here (JSON Lines)
        #[arg(long)]
        out_json: Option<PathBuf>,
        /// Append one CSV row per image here
        #[arg(long)]
        out_csv: Option<PathBuf>,
        /// Tags only, no captions (captions cost up to 36 short text passes per image)
        #[arg(long)]
        no_caption: bool,
        /// Images decoded and embedded together
        #[arg(long, default_value_t = 8)]
        batch: usize,
        #[command(flatten)]
        caption: caption::CaptionArgs,
        dir: PathBuf,
    },
    /// Build (or update) the search index of every image under DIR: normalised image embeddings, int8 with a
    /// per-vector scale, in one safetensors file.
    Index {
        #[arg(long)]
        model: PathBuf,
        #[arg(long, value_enum, default_value = "cpu")]
        backend: BackendChoice,
        #[arg(long)]
        out: PathBuf,
        /// Keep only the first N values of each embedding (Matryoshka-style; 0 = all)
        #[arg(long, default_value_t = 0)]
        dims: usize,
        /// Images decoded and embedded together
        #[arg(long, default_value_t = 8)]
        batch: usize,
        dir: PathBuf,
    },
    /// Search an index: text queries → photos, --like IMAGE → similar photos. One JSON line per query with the
    /// --top best {"file","path","score"} by cosine.
    Search {
        #[arg(long)]
        model: PathBuf,
        #[arg(long, value_enum, default_value = "cpu")]
        backend: BackendChoice,
        #[arg(long)]
        index: PathBuf,
        #[arg(long, default_value_t = 10)]
        top: usize,
        /// Photos to find similar photos to
        #[arg(long, num_args = 1..)]
        like: Vec<PathBuf>,
        #[arg(required_unless_present = "like")]
        queries: Vec<String>,
    },
    /// Write a Hugging Face-layout CLIP checkpoint with seeded random weights (a stand-in for real weights).
    Synth {
        #[arg(long, value_parser = synth::PRESETS)]
        preset: String,
        #[arg(long, default_value_t = 0)]
        seed: u64,
        #[arg(long)]
        out: PathBuf,
        /// Storage dtype of model.safetensors
        #[arg(long, value_enum, default_value = "f32")]
        dtype: DtypeChoice,
    },
}

#[path = "webclip/bench.rs"]
mod bench;
#[path = "webclip/caption.rs"]
mod caption;
#[path = "webclip/convert.rs"]
mod convert;
#[path = "webclip/index.rs"]
mod index;
#[path = "webclip/search.rs"]
mod search;
#[path = "webclip/tag.rs"]
mod tag;

/// A session on either backend; `on!` runs the same generic code on whichever it is.
enum AnySession {
    Cpu(Session<Cpu>),
    Gpu(Session<Gpu>),
}

macro_rules! on {
    ($session:expr, $s:ident => $body:expr) => {
        match &$session {
            AnySession::Cpu($s) => $body,
            AnySession::Gpu($s) => $body,
        }
    };
}

fn main() -> ExitCode {
    match run(Cli::parse()) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(1)
        }
    }
}

/// Ok(false) when some inputs failed (reported on stderr and as JSON) but the others were processed.
fn run(cli: Cli) -> Result<bool> {
    match cli.command {
        Command::Tokenize { model, texts } => {
            let tokenizer = load_tokenizer(&model)?;
            for text in texts {
                println!("{}", json!({ "text": text, "ids": tokenizer.encode(&text)? }));
            }
            Ok(true)
        }
        Command::Embed { model, backend, images, texts } => {
            let session = load_session(&model, backend)?;
            on!(session, s => embed(s, &images, &texts))
        }
        Command::Classify { model, labels, template, backend, files } => {
            let labels = tag::labels_arg(&labels, "--labels")?;
            webclip::tasks::labels::check_template(&template)?;
            let session = load_session(&model, backend)?;
            on!(session, s => classify(s, &labels, &template, &files))
        }
        Command::Bench { model, backend, batch, runs, profile } => {
            if batch == 0 || runs == 0 {
                return Err(Error::Input("--batch and --runs must be at least 1".into()));
            }
            if profile && matches!(backend, BackendChoice::Gpu) {
                return Err(Error::Input(
                    "bench --profile times CPU ops (--backend cpu or cpu-reference); per-kernel GPU timestamps are not \
                     implemented yet"
                        .into(),
                ));
            }
            let session = load_session(&model, backend)?;
            let report = on!(session, s => bench::run(s, &device_json(&session), batch, runs, profile))?;
            println!("{report}");
            Ok(true)
        }
        Command::Convert { model, quant, token_embedding, out, text_only, vision_only } => {
            let towers = match (text_only, vision_only) {
                (true, _) => Towers::Text,
                (_, true) => Towers::Vision,
                _ => Towers::Both,
            };
            let mut policy = webclip::weights::bundle::Policy::preset(&quant)?;
            if let Some(kind) = token_embedding {
                policy.token_embedding = Some(webclip::quant::Kind::parse(&kind)?);
            }
            convert::convert(&model, &quant, &policy, &out, towers)?;
            Ok(true)
        }
        Command::Fidelity { model, quant, images, labels, template } => {
            let labels = match labels {
                Some(list) => tag::labels_arg(&list, "--labels")?,
                None => webclip::tasks::imagenet_classes()?,
            };
            let quants: Vec<String> =
                quant.split(',').map(|q| q.trim().to_string()).filter(|q| !q.is_empty()).collect();
            convert::fidelity(&model, &quants, images.as_deref(), &labels, &template)?;
            Ok(true)
        }
        Command::Caption { model, backend, caption, files } => {
            let session = load_session(&model, backend)?;
            on!(session, s => caption::run(s, &files, &caption))
        }
        Command::Tag {
            model,
            backend,
            labels,
            threshold,
            crops,
            template,
            neutral,
            out_json,
            out_csv,
            no_caption,
            batch,
            caption,
            dir,
        } => {
            let labels = tag::labels_arg(&labels, "--labels")?;
            webclip::tasks::labels::check_template(&template)?;
            webclip::tasks::labels::check_threshold(threshold)?;
            check_batch(batch)?;
            let caption = (!no_caption).then_some(caption);
            let args = tag::TagArgs { labels, threshold, crops, template, neutral, out_json, out_csv, caption, batch };
            let session = load_session(&model, backend)?;
            on!(session, s => tag::run(s, &dir, &args))
        }
        Command::Index { model, backend, out, dims, batch, dir } => {
            check_batch(batch)?;
            let session = load_session(&model, backend)?;
            on!(session, s => index::run(s, &dir, &out, dims, batch))
        }
        Command::Search { model, backend, index, top, like, queries } => {
            let opened = search::open(&index)?;
            let session = load_session(&model, backend)?;
            on!(session, s => search::run(s, &opened, &index.display().to_string(), &queries, &like, top))
        }
        Command::Synth { preset, seed, out, dtype } => {
            let config = synth::preset(&preset)?;
            let dtype = match dtype {
                DtypeChoice::F32 => StoreDtype::F32,
                DtypeChoice::F16 => StoreDtype::F16,
                DtypeChoice::Bf16 => StoreDtype::BF16,
            };
            synth::write_dir(&out, &config, seed, dtype)?;
            eprintln!("wrote synthetic {preset} (seed {seed}) to {}", out.display());
            Ok(true)
        }
    }
}

fn embed<B: Backend>(session: &Session<B>, images: &[PathBuf], texts: &[String]) -> Result<bool> {
    if !texts.is_empty() {
        let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
        for (text, emb) in texts.iter().zip(session.embed_texts(&refs)?) {
            println!("{}", json!({ "input": text, "embedding": emb }));
        }
        return Ok(true);
    }
    for_each_image(session, images, |file, emb| {
        println!("{}", json!({ "input": file, "embedding": emb }));
    })
}

fn classify<B: Backend>(session: &Session<B>, labels: &[String], template: &str, files: &[PathBuf]) -> Result<bool> {
    let prompts = webclip::tasks::labels::prompts(template, labels)?;
    let refs: Vec<&str> = prompts.iter().map(String::as_str).collect();
    // uploaded once for every image; normalize, logits and softmax run on the backend after the vision tower (on a
    // GPU: one readback, the probs)
    let text_embeds = session.label_embeddings(&session.embed_texts(&refs)?)?;
    let probs = |p: &Pixels| Ok(session.classify_with(std::slice::from_ref(p), &text_embeds)?.remove(0));
    each_image(session, files, probs, |file, probs| {
        let ranked: Vec<_> = zero_shot::ranked(labels, &probs)
            .into_iter()
            .map(|(label, score)| json!({ "label": label, "score": score }))
            .collect();
        println!("{}", json!({ "file": file, "labels": ranked }));
    })
}

/// Embeds each image; a file that cannot be read or decoded is reported (JSON with "error") and skipped.
fn for_each_image<B: Backend>(
    session: &Session<B>,
    files: &[PathBuf],
    mut emit: impl FnMut(&str, &[f32]),
) -> Result<bool> {
    let embed = |p: &Pixels| Ok(session.embed_images(std::slice::from_ref(p))?.remove(0));
    each_image(session, files, embed, |file, emb: Vec<f32>| emit(file, &emb))
}

/// Runs `run` on each decoded image and hands the result to `emit`; a file that cannot be read, decoded or run is
/// reported (stderr, and JSON with "error") and skipped.
fn each_image<B: Backend, T>(
    session: &Session<B>,
    files: &[PathBuf],
    run: impl Fn(&Pixels) -> Result<T>,
    mut emit: impl FnMut(&str, T),
) -> Result<bool> {
    let mut all_ok = true;
    for file in files {
        let name = file.display().to_string();
        let pixels = std::fs::read(file)
            .map_err(|e| Error::Io { path: file.clone(), source: e })
            .and_then(|b| session.pixels(&b, &name));
        match pixels.and_then(|p| run(&p)) {
            Ok(out) => emit(&name, out),
            Err(e) => {
                all_ok = false;
                eprintln!("error: {e}");
                println!("{}", json!({ "file": name, "error": e.to_string() }));
            }
        }
    }
    Ok(all_ok)
}

/// `--batch` of `tag` and `index`: at least one image per pass.
fn check_batch(batch: usize) -> Result<()> {
    match batch {
        0 => Err(Error::Input("--batch 0: give at least 1 (images decoded and embedded together; default 8)".into())),
        _ => Ok(()),
    }
}

/// [`Checkpoint::open`], warning on stderr about tensors the model does not read (another architecture's files, a
/// fine-tuned head): they are ignored, as Hugging Face's loader ignores them.
fn open_checkpoint(model: &Path) -> Result<Checkpoint> {
    let checkpoint = Checkpoint::open(model)?;
    let unused = checkpoint.unused_tensors()?;
    if let Some(first) = unused.first() {
        let more = if unused.len() > 1 { format!(" and {} more", unused.len() - 1) } else { String::new() };
        eprintln!(
            "warning: {} holds {} tensor(s) this {} model does not use ('{first}'{more}); they are ignored. Check \
             that config.json belongs to these weights.",
            model.display(),
            unused.len(),
            checkpoint.config.architecture().name()
        );
    }
    Ok(checkpoint)
}

fn load_session(model: &Path, backend: BackendChoice) -> Result<AnySession> {
    let checkpoint = open_checkpoint(model)?;
    Ok(match backend {
        BackendChoice::Cpu => AnySession::Cpu(Session::new(Cpu::default(), checkpoint)?),
        BackendChoice::CpuReference => AnySession::Cpu(Session::new(Cpu::REFERENCE, checkpoint)?),
        BackendChoice::Gpu => {
            let gpu = Gpu::new_blocking()?;
            let session = Session::new(gpu.clone(), checkpoint)?;
            pollster::block_on(gpu.check("uploading the weights"))?;
            AnySession::Gpu(session)
        }
    })
}

/// The device in `bench` output: the adapter (name, backend, device type), or the CPU and its threads.
fn device_json(session: &AnySession) -> serde_json::Value {
    match session {
        AnySession::Cpu(s) => {
            let threads = webclip::backend::cpu::threads::available();
            let q8 = format!("{:?}", s.backend.quant_matmul).to_lowercase();
            json!({ "name": format!("cpu ({threads} threads)"), "backend": "cpu", "device_type": "cpu", "q8_matmul": q8 })
        }
        AnySession::Gpu(s) => {
            let a = s.backend.adapter();
            json!({ "name": a.name, "backend": a.backend, "device_type": a.device_type, "driver": a.driver })
        }
    }
}

/// A CLIP folder: only config.json (for the context length) and tokenizer.json, no weights read. A bundle is parsed
/// whole; a SigLIP folder is read as a checkpoint (its tokenizer is built from tokenizer.json or spiece.model and
/// tokenizer_config.json).
fn load_tokenizer(model: &Path) -> Result<TextTokenizer> {
    let read = |name: &str| {
        let path = model.join(name);
        std::fs::read(&path).map_err(|_| Error::MissingFile { path })
    };
    let clip_folder = model.is_dir()
        && ModelConfig::from_json(&read("config.json")?)?.architecture() == webclip::model::Architecture::Clip;
    if !clip_folder {
        let checkpoint = Checkpoint::open(model)?;
        if checkpoint.towers == Towers::Vision {
            return Err(Error::Input(format!("{} is a vision-only bundle: it has no tokenizer", model.display())));
        }
        return webclip::session::text_tokenizer(&checkpoint.config, checkpoint.tokenizer_json.as_deref());
    }
    let context = ModelConfig::from_json(&read("config.json")?)?.text_context();
    match read("tokenizer.json") {
        Ok(json) => TextTokenizer::from_json(&json, context),
        Err(_) => TextTokenizer::bundled(context),
    }
}
