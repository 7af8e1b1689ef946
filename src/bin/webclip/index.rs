//! `webclip index`: the search index of every image under a folder (webclip::tasks::search), written to
//! `--out`. Incremental: with an existing index made by the same model and `--dims`, images already in it are
//! kept without a new pass, new ones are added and vanished ones dropped. The file is rewritten atomically
//! (temporary file, then rename) every CHECKPOINT new images and at the end, so a crash keeps finished work.
//! Prints `{"file", "error"}` for images that fail, then one summary line:
//! `{"index", "files", "added", "kept", "removed", "failed", "dims", "bytes"}`.

use std::path::Path;
use std::time::Instant;

use serde_json::json;
use webclip::backend::Backend;
use webclip::tasks::fingerprint::Fingerprint;
use webclip::tasks::search::Index;
use webclip::{Error, Result, Session};

/// New images between two rewrites of the index file.
const CHECKPOINT: usize = 64;

pub fn run<B: Backend>(session: &Session<B>, dir: &Path, out: &Path, dims: usize, batch: usize) -> Result<bool> {
    let files = super::tag::images_in(dir)?;
    let fingerprint = Fingerprint::of(session, true, true)?;
    let mut index = match std::fs::read(out) {
        Ok(bytes) => {
            let name = out.display().to_string();
            let old = Index::from_bytes(&bytes, &name)?;
            fingerprint.check(&old.fingerprint, &format!("index {name}"))?;
            if dims != 0 && dims != old.dims {
                return Err(Error::Input(format!(
                    "index {name} stores {} dims, --dims asks for {dims}: write to a new --out, or drop --dims",
                    old.dims
                )));
            }
            old
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Index::new(fingerprint, dims, dir.display().to_string())?,
        Err(e) => return Err(Error::io(out, e)),
    };
    // vanished files leave; what stays keeps its vector
    let present: std::collections::HashSet<&str> = files.iter().map(|(r, _)| r.as_str()).collect();
    let before = index.len();
    index.retain(|f| present.contains(f));
    let removed = before - index.len();
    let todo: Vec<&(String, std::path::PathBuf)> = files.iter().filter(|(r, _)| index.position(r).is_none()).collect();
    let kept = index.len();
    eprintln!("index: {} images in {}, {kept} already indexed, {} to embed", files.len(), dir.display(), todo.len());
    let (started, mut added, mut failed, mut since_save) = (Instant::now(), 0usize, 0usize, 0usize);
    for chunk in todo.chunks(batch.max(1)) {
        let mut ok = Vec::new();
        let mut pixels = Vec::new();
        for (rel, path) in chunk {
            match std::fs::read(path).map_err(|e| Error::io(path, e)).and_then(|b| session.pixels(&b, rel)) {
                Ok(p) => {
                    ok.push(rel);
                    pixels.push(p);
                }
                Err(e) => {
                    failed += 1;
                    eprintln!("error: {e}");
                    println!("{}", json!({ "file": rel, "error": e.to_string() }));
                }
            }
        }
        for (rel, e) in ok.into_iter().zip(session.embed_images(&pixels)?) {
            index.insert(rel, &e)?;
            added += 1;
            since_save += 1;
        }
        if since_save >= CHECKPOINT {
            save(&index, out)?;
            since_save = 0;
        }
        let rate = (added + failed) as f64 / started.elapsed().as_secs_f64().max(1e-9);
        eprintln!("index: {}/{} embedded ({failed} failed), {rate:.2} images/s", added + failed, todo.len());
    }
    let bytes = save(&index, out)?;
    let summary = json!({ "index": out.display().to_string(), "files": index.len(), "added": added, "kept": kept,
        "removed": removed, "failed": failed, "dims": index.dims, "bytes": bytes });
    println!("{summary}");
    Ok(failed == 0)
}

/// Writes the index atomically; returns its size in bytes.
fn save(index: &Index, out: &Path) -> Result<usize> {
    let bytes = index.to_bytes()?;
    let tmp = out.with_extension(format!("tmp{}", std::process::id()));
    std::fs::write(&tmp, &bytes).map_err(|e| Error::io(&tmp, e))?;
    std::fs::rename(&tmp, out).map_err(|e| Error::io(out, e))?;
    Ok(bytes.len())
}
