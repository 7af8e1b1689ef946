//! `webclip tag`: multi-label tags (and a caption) for every image under a folder, batched, with progress on
//! stderr; one JSON line per image on stdout, appended to `--out-json` (JSON Lines) and `--out-csv` as each
//! image finishes (flushed: a crash loses at most the image in flight). Running again skips the images both
//! outputs already hold, so an interrupted run resumes.
//!
//! JSON line: `{"file", "tags": [{"tag", "score"}…] (≥ threshold, best first), "scores": {label: score} (all),
//! "caption", "caption_score"}` (`caption` fields are null with --no-caption). `file` is relative to DIR.
//! CSV: `file,tags,caption,caption_score,<one column per label>`; `tags` is the kept labels joined by "; ".

use std::collections::HashSet;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

use serde_json::{json, Value};
use webclip::backend::Backend;
use webclip::tasks::labels::{parse_label_lines, parse_labels};
use webclip::tasks::tag::{view_pixels, Tagger};
use webclip::{Error, Result, Session};

use super::caption::CaptionArgs;

pub struct TagArgs {
    pub labels: Vec<String>,
    pub threshold: f32,
    pub crops: bool,
    pub template: String,
    pub neutral: String,
    pub out_json: Option<PathBuf>,
    pub out_csv: Option<PathBuf>,
    /// None: no captions
    pub caption: Option<CaptionArgs>,
    pub batch: usize,
}

/// `FILE_OR_LIST`: an existing file holds one entry per line (`#` comments allowed, commas kept inside an entry);
/// anything else is a list separated by commas or new lines, as the page reads it. Both are trimmed, inner
/// whitespace collapsed and duplicates dropped ([`webclip::tasks::labels`]).
pub fn labels_arg(arg: &str, flag: &str) -> Result<Vec<String>> {
    let path = Path::new(arg);
    let labels = if path.is_file() {
        parse_label_lines(&std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?)
    } else {
        parse_labels(arg)
    };
    if labels.is_empty() {
        return Err(Error::Input(format!(
            "{flag} is empty; give a file with one entry per line, or a comma-separated list like \"cat,dog\""
        )));
    }
    Ok(labels)
}

/// Image files (png, jpg, jpeg, webp, gif, bmp, tif, tiff) under `dir`, recursively, hidden entries and symlinked
/// folders skipped, sorted by their path relative to `dir` (with '/' separators).
pub fn images_in(dir: &Path) -> Result<Vec<(String, PathBuf)>> {
    if !dir.is_dir() {
        return Err(Error::Input(format!("{} is not a folder; give the folder of photos", dir.display())));
    }
    let mut found = Vec::new();
    let mut stack = vec![(dir.to_path_buf(), String::new())];
    while let Some((path, rel)) = stack.pop() {
        for entry in std::fs::read_dir(&path).map_err(|e| Error::io(&path, e))? {
            let entry = entry.map_err(|e| Error::io(&path, e))?;
            let name = entry.file_name().to_string_lossy().to_string();
            if name.starts_with('.') {
                continue;
            }
            let rel_name = if rel.is_empty() { name.clone() } else { format!("{rel}/{name}") };
            let kind = entry.file_type().map_err(|e| Error::io(entry.path(), e))?;
            if kind.is_dir() {
                stack.push((entry.path(), rel_name));
            } else if is_image_name(&name) && entry.path().is_file() {
                found.push((rel_name, entry.path()));
            }
        }
    }
    found.sort();
    Ok(found)
}

fn is_image_name(name: &str) -> bool {
    let ext = name.rsplit('.').next().unwrap_or("").to_lowercase();
    name.contains('.') && ["png", "jpg", "jpeg", "webp", "gif", "bmp", "tif", "tiff"].contains(&ext.as_str())
}

pub fn run<B: Backend>(session: &Session<B>, dir: &Path, args: &TagArgs) -> Result<bool> {
    let files = images_in(dir)?;
    let mut json_out = args.out_json.as_deref().map(|p| Output::open(p, None)).transpose()?;
    let mut csv_out = args.out_csv.as_deref().map(|p| Output::open(p, Some(csv_header(&args.labels)))).transpose()?;
    // done = held by every output given (none given: nothing is done)
    let outputs: Vec<&Output> = json_out.iter().chain(csv_out.iter()).collect();
    let is_done = |rel: &str| !outputs.is_empty() && outputs.iter().all(|o| o.has(rel));
    let pending: Vec<&(String, PathBuf)> = files.iter().filter(|(rel, _)| !is_done(rel)).collect();
    drop(outputs);
    let skipped = files.len() - pending.len();
    eprintln!("tag: {} images in {}, {skipped} already tagged, {} to do", files.len(), dir.display(), pending.len());
    if pending.is_empty() {
        return Ok(true);
    }
    let tagger = Tagger::build(session, args.labels.clone(), &args.template, &args.neutral)?;
    let composer = args.caption.as_ref().map(|c| super::caption::composer(session, c)).transpose()?;
    let (started, mut done, mut failed) = (Instant::now(), 0usize, 0usize);
    for chunk in pending.chunks(args.batch.max(1)) {
        // decode every file of the chunk, then one embedding call for all their views (batched passes)
        let mut views = Vec::new();
        let mut counts = Vec::new();
        for (rel, path) in chunk {
            let decoded = std::fs::read(path)
                .map_err(|e| Error::io(path, e))
                .and_then(|b| view_pixels(&b, rel, &session.preprocess, args.crops));
            match decoded {
                Ok(v) => {
                    counts.push(Ok(v.len()));
                    views.extend(v);
                }
                Err(e) => counts.push(Err(e)),
            }
        }
        let mut embeddings = session.embed_images(&views)?.into_iter();
        for ((rel, _), count) in chunk.iter().zip(counts) {
            let result = count.and_then(|n| {
                let mine: Vec<Vec<f32>> = embeddings.by_ref().take(n).collect();
                let scores = tagger.scores(&mine);
                let caption = composer.as_ref().map(|c| c.caption(session, &mine[0])).transpose()?;
                Ok((scores, caption))
            });
            match result {
                Ok((scores, caption)) => {
                    let tags = tagger.tags(&scores, args.threshold);
                    let all: serde_json::Map<String, Value> =
                        args.labels.iter().zip(&scores).map(|(l, s)| (l.clone(), json!(s))).collect();
                    let (text, score) = (caption.as_ref().map(|c| &c.caption), caption.as_ref().map(|c| c.score));
                    let line =
                        json!({ "file": rel, "tags": tags, "scores": all, "caption": text, "caption_score": score });
                    println!("{line}");
                    if let Some(o) = json_out.as_mut().filter(|o| !o.has(rel)) {
                        o.append(&format!("{line}\n"))?;
                    }
                    if let Some(o) = csv_out.as_mut().filter(|o| !o.has(rel)) {
                        let kept: Vec<&str> = tags.iter().map(|t| t.tag.as_str()).collect();
                        let mut row = vec![rel.clone(), kept.join("; "), text.cloned().unwrap_or_default()];
                        row.push(score.map(|s| format!("{s:.4}")).unwrap_or_default());
                        row.extend(scores.iter().map(|s| format!("{s:.4}")));
                        o.append(&csv_record(&row))?;
                    }
                    done += 1;
                }
                Err(e) => {
                    failed += 1;
                    eprintln!("error: {e}");
                    println!("{}", json!({ "file": rel, "error": e.to_string() }));
                }
            }
        }
        let secs = started.elapsed().as_secs_f64();
        let left = pending.len() - done - failed;
        let rate = (done + failed) as f64 / secs.max(1e-9);
        eprintln!(
            "tag: {}/{} done ({failed} failed), {rate:.2} images/s, about {:.0} s left",
            done + failed,
            pending.len(),
            left as f64 / rate.max(1e-9)
        );
    }
    Ok(failed == 0)
}

fn csv_header(labels: &[String]) -> String {
    let mut h: Vec<String> = ["file", "tags", "caption", "caption_score"].map(String::from).to_vec();
    h.extend(labels.iter().cloned());
    csv_record(&h)
}

/// One CSV record (RFC 4180): fields with a comma, quote or line break are quoted, quotes doubled.
fn csv_record(fields: &[String]) -> String {
    let quoted: Vec<String> = fields
        .iter()
        .map(|f| match f.contains([',', '"', '\n', '\r']) {
            true => format!("\"{}\"", f.replace('"', "\"\"")),
            false => f.clone(),
        })
        .collect();
    format!("{}\n", quoted.join(","))
}

/// The CSV records of `text`, each a list of fields (quote-aware, so a quoted field may hold line breaks).
fn csv_records(text: &str) -> Vec<Vec<String>> {
    let (mut records, mut record, mut field) = (Vec::new(), Vec::new(), String::new());
    let (mut quoted, mut chars) = (false, text.chars().peekable());
    while let Some(c) = chars.next() {
        match (quoted, c) {
            (true, '"') if chars.peek() == Some(&'"') => {
                chars.next();
                field.push('"');
            }
            (true, '"') => quoted = false,
            (true, c) => field.push(c),
            (false, '"') => quoted = true,
            (false, ',') => record.push(std::mem::take(&mut field)),
            (false, '\n') => {
                record.push(std::mem::take(&mut field).trim_end_matches('\r').to_string());
                records.push(std::mem::take(&mut record));
            }
            (false, c) => field.push(c),
        }
    }
    records
}

/// An output file opened for appending, knowing which images it already holds.
struct Output {
    path: PathBuf,
    file: File,
    done: HashSet<String>,
}

impl Output {
    /// Opens (or creates) `path`. An unfinished last record (a crash mid-write) is cut off. `header`: a CSV
    /// whose first record must be this (written to a new file).
    fn open(path: &Path, header: Option<String>) -> Result<Self> {
        let io = |e| Error::io(path, e);
        let text = match std::fs::read(path) {
            Ok(b) => String::from_utf8(b).map_err(|_| Error::Input(format!("{} is not UTF-8 text", path.display())))?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
            Err(e) => return Err(io(e)),
        };
        let complete = complete_prefix(&text, header.is_some());
        let mut done = HashSet::new();
        if let Some(header) = &header {
            let records = csv_records(complete);
            if let Some(first) = records.first() {
                if *first != csv_records(header)[0] {
                    return Err(Error::Input(format!(
                        "{} was written with other labels (its header is {:?}); give the same --labels to resume, \
                         or a new --out-csv",
                        path.display(),
                        first.join(",")
                    )));
                }
            }
            done.extend(records.into_iter().skip(1).filter_map(|r| r.into_iter().next()));
        } else {
            for (i, line) in complete.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()) {
                let v: Value = serde_json::from_str(line).map_err(|e| {
                    Error::Input(format!(
                        "{} line {}: not JSON ({e}); fix or remove that line to resume",
                        path.display(),
                        i + 1
                    ))
                })?;
                done.extend(v["file"].as_str().map(String::from));
            }
        }
        let file = OpenOptions::new().create(true).append(true).open(path).map_err(io)?;
        file.set_len(complete.len() as u64).map_err(io)?;
        let mut out = Output { path: path.to_path_buf(), file, done };
        if let (Some(h), true) = (header, complete.is_empty()) {
            out.append(&h)?;
        }
        Ok(out)
    }

    fn has(&self, file: &str) -> bool {
        self.done.contains(file)
    }

    /// Appends and flushes to the OS (one write per record).
    fn append(&mut self, record: &str) -> Result<()> {
        self.file.write_all(record.as_bytes()).and_then(|_| self.file.flush()).map_err(|e| Error::io(&self.path, e))
    }
}

/// The text up to the end of its last complete record: through the last line break (outside quotes for CSV).
fn complete_prefix(text: &str, csv: bool) -> &str {
    let mut end = 0;
    let mut quoted = false;
    for (i, c) in text.char_indices() {
        match c {
            '"' if csv => quoted = !quoted,
            '\n' if !quoted => end = i + 1,
            _ => {}
        }
    }
    &text[..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_round_trip_with_quotes_and_partial_tail() {
        let row = vec!["a,b.jpg".to_string(), "say \"hi\"".into(), "two\nlines".into(), "x".into()];
        let text = format!("{}{}partial,\"unfinished", csv_record(&["h".into()]), csv_record(&row));
        let done = complete_prefix(&text, true);
        assert_eq!(csv_records(done), vec![vec!["h".to_string()], row]);
    }
}
