//! `webclip caption`: one JSON line per image, `{"file", "caption", "score", "alternatives": [{"caption",
//! "score"}…]}`, from the caption composer (webclip::tasks::caption). The vocabulary's text embeddings are made
//! once per model and kept in the cache directory.

use std::path::PathBuf;

use serde_json::json;
use webclip::backend::Backend;
use webclip::tasks::caption::{self, CacheUse, CaptionOptions, Composer, Vocabulary};
use webclip::{Result, Session};

/// The caption flags shared by `caption` and `tag`.
#[derive(clap::Args, Clone)]
pub struct CaptionArgs {
    /// Candidates kept after each slot of the sentence (text passes per image ≤ 4 · beam · shortlist)
    #[arg(long, default_value_t = 3)]
    pub beam: usize,
    /// Entries of each slot (style, scene, attribute, count) tried in every candidate
    #[arg(long, default_value_t = 3)]
    pub shortlist: usize,
    /// Runners-up listed with each caption
    #[arg(long, default_value_t = 4)]
    pub alternatives: usize,
    /// Replace the subject vocabulary (ImageNet-1k + common objects): a file with one subject per line, or a
    /// comma-separated list
    #[arg(long)]
    pub subjects: Option<String>,
    /// Neither read nor write the vocabulary cache ($WEBCLIP_VOCAB_CACHE, else ~/.cache/webclip/vocab)
    #[arg(long)]
    pub no_cache: bool,
    /// Also write the vocabulary embeddings to this file: what the page's `model.importCaptionCache(bytes)` takes,
    /// so a site can ship them next to the model instead of embedding 1,261 phrases in the browser
    #[arg(long)]
    pub export_vocab: Option<PathBuf>,
}

/// The composer for `session`: vocabulary embeddings from the cache, or computed now (and cached).
pub fn composer<B: Backend>(session: &Session<B>, args: &CaptionArgs) -> Result<Composer> {
    let mut vocab = Vocabulary::builtin()?;
    if let Some(subjects) = &args.subjects {
        vocab.subjects = super::tag::labels_arg(subjects, "--subjects")?;
        vocab = vocab.deduplicated().validated()?;
    }
    let options = CaptionOptions { beam: args.beam.max(1), shortlist: args.shortlist, alternatives: args.alternatives };
    let dir = if args.no_cache { None } else { caption::cache_dir() };
    let started = std::time::Instant::now();
    let n = caption::prompts(&vocab).len();
    eprintln!(
        "caption: {n} vocabulary phrases; using the cache in {}",
        dir.as_ref().map_or("(none)".into(), |d| d.display().to_string())
    );
    let (composer, used, note) = Composer::load_or_build(session, vocab, options, dir.as_deref())?;
    if let Some(note) = note {
        eprintln!("caption: {note}");
    }
    let how = match used {
        CacheUse::Hit => "read from the cache",
        CacheUse::Built => "embedded and cached",
        CacheUse::Uncached => "embedded (not cached)",
    };
    eprintln!("caption: vocabulary {how} in {:.1} s", started.elapsed().as_secs_f64());
    if let Some(path) = &args.export_vocab {
        std::fs::write(path, composer.to_bytes()?).map_err(|e| webclip::Error::io(path, e))?;
        eprintln!("caption: vocabulary embeddings written to {}", path.display());
    }
    Ok(composer)
}

pub fn run<B: Backend>(session: &Session<B>, files: &[PathBuf], args: &CaptionArgs) -> Result<bool> {
    let composer = composer(session, args)?;
    let mut failed = Vec::new();
    let ok = super::for_each_image(session, files, |file, emb| match composer.caption(session, emb) {
        Ok(c) => println!(
            "{}",
            json!({ "file": file, "caption": c.caption, "score": c.score, "alternatives": c.alternatives })
        ),
        Err(e) => {
            eprintln!("error: {file}: {e}");
            println!("{}", json!({ "file": file, "error": e.to_string() }));
            failed.push(file.to_string());
        }
    })?;
    Ok(ok && failed.is_empty())
}
