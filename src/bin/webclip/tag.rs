//! `webclip tag`: multi-label tags (and a caption) for every image under a folder, batched, with progress on
//! stderr; one JSON line per image on stdout, appended to `--out-json` (JSON Lines) and `--out-csv` as each
//! image finishes (flushed: a crash loses at most the image in flight). Running again skips the images both
//! outputs already hold, so an interrupted run resumes.
//!
//! Each output is locked while a run writes it (a second run on the same file is refused, not interleaved), and
//! beside it `<output>.webclip-tag.json` records what wrote it: the model's [`Fingerprint`] and every setting
//! that changes a record (labels, template, neutral prompt, threshold, crops, caption options). A resume with
//! another model or other settings is refused, naming what differs, instead of appending mismatched records.
//!
//! JSON line: `{"file", "tags": [{"tag", "score"}…] (≥ threshold, best first), "scores": {label: score} (all),
//! "caption", "caption_score"}` (`caption` fields are null with --no-caption). `file` is relative to DIR.
//! CSV: `file,tags,caption,caption_score,<one column per label>`; `tags` is the kept labels joined by "; ".

use std::collections::{HashMap, HashSet};
use std::ffi::OsStr;
use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::time::Instant;

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use webclip::backend::Backend;
use webclip::tasks::fingerprint::Fingerprint;
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

/// `FILE_OR_LIST`: an existing file holds one entry per line (`#` comments allowed, commas kept inside an entry),
/// or a JSON array of strings (`.json`, like src/assets/prompts/imagenet_classnames.json); anything else is a list
/// separated by commas or new lines, as the page reads it. Both are trimmed, inner whitespace collapsed and
/// duplicates dropped ([`webclip::tasks::labels`]). A single entry that names a file (`labels.txt`, `tags/x`) which
/// does not exist is an error, not a label.
pub fn labels_arg(arg: &str, flag: &str) -> Result<Vec<String>> {
    let path = Path::new(arg);
    let labels = if path.is_file() {
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        match path.extension().is_some_and(|e| e.eq_ignore_ascii_case("json")) {
            true => json_labels(&text, path, flag)?,
            false => parse_label_lines(&text),
        }
    } else if path.is_dir() {
        return Err(Error::Input(format!("{flag} {arg}: is a folder; give a file with one entry per line, or a list")));
    } else if looks_like_a_path(arg) {
        return Err(Error::Input(format!(
            "{flag} {arg}: no such file; give an existing file (one entry per line), or a comma-separated list like \
             \"cat,dog\" (a single label that looks like a file name: end it with a comma, \"{arg},\")"
        )));
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

/// A `.json` label file: an array of strings, each cleaned like one line of a label file.
fn json_labels(text: &str, path: &Path, flag: &str) -> Result<Vec<String>> {
    let list: Vec<String> = serde_json::from_str(text)
        .map_err(|e| Error::Input(format!("{flag} {}: not a JSON array of strings ({e})", path.display())))?;
    Ok(parse_label_lines(&list.iter().map(|l| l.replace(['\n', '#'], " ")).collect::<Vec<_>>().join("\n")))
}

/// One entry with a path separator or a label-file extension: meant as a file, never as a label.
fn looks_like_a_path(arg: &str) -> bool {
    const EXTENSIONS: [&str; 7] = ["txt", "csv", "tsv", "json", "list", "lst", "labels"];
    let one_entry = !arg.contains([',', '\n']);
    let ext = arg.rsplit_once('.').map(|(_, e)| e.to_ascii_lowercase());
    one_entry && (arg.contains(['/', '\\']) || ext.is_some_and(|e| EXTENSIONS.contains(&e.as_str())))
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
            let name = name_text(&entry.file_name());
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
    // outputs know a photo by this text: two files must never share one (resume would skip the second)
    let mut seen: HashMap<&str, &Path> = HashMap::new();
    for (rel, path) in &found {
        if let Some(other) = seen.insert(rel, path) {
            return Err(Error::Input(format!(
                "{} and {} are both named \"{rel}\" once written as text (their names are not valid UTF-8); rename \
                 one of them",
                other.display(),
                path.display()
            )));
        }
    }
    Ok(found)
}

/// A file name as text, losslessly: valid UTF-8 as it is, each byte that is not (a name from another system's
/// encoding) as `\xNN`, so two different names never become the same text (as `to_string_lossy`'s U+FFFD would
/// make them); [`images_in`] refuses the one way left to collide (a real name spelled `\xNN`).
fn name_text(name: &OsStr) -> String {
    #[cfg(unix)]
    {
        use std::fmt::Write as _;
        use std::os::unix::ffi::OsStrExt;
        let mut out = String::new();
        for chunk in name.as_bytes().utf8_chunks() {
            out.push_str(chunk.valid());
            for b in chunk.invalid() {
                let _ = write!(out, "\\x{b:02x}");
            }
        }
        out
    }
    #[cfg(not(unix))]
    {
        name.to_string_lossy().into_owned()
    }
}

fn is_image_name(name: &str) -> bool {
    let ext = name.rsplit('.').next().unwrap_or("").to_lowercase();
    name.contains('.') && ["png", "jpg", "jpeg", "webp", "gif", "bmp", "tif", "tiff"].contains(&ext.as_str())
}

pub fn run<B: Backend>(session: &Session<B>, dir: &Path, args: &TagArgs) -> Result<bool> {
    let files = images_in(dir)?;
    let mut json_out = args.out_json.as_deref().map(|p| Output::open(p, None, "--out-json")).transpose()?;
    let csv_header = Some(csv_header(&args.labels));
    let mut csv_out = args.out_csv.as_deref().map(|p| Output::open(p, csv_header, "--out-csv")).transpose()?;
    if json_out.is_some() || csv_out.is_some() {
        let run = RunRecord::new(Fingerprint::of(session, true, true)?, settings(args));
        json_out.iter().chain(csv_out.iter()).try_for_each(|o| o.check_run(&run))?;
    }
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
    for chunk in pending.chunks(args.batch) {
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

/// Every setting that changes what a record holds, as JSON (what the run file stores and a resume compares).
fn settings(args: &TagArgs) -> serde_json::Map<String, Value> {
    let caption = args.caption.as_ref().map(
        |c| json!({ "beam": c.beam, "shortlist": c.shortlist, "alternatives": c.alternatives, "subjects": c.subjects }),
    );
    let v = json!({
        "labels": args.labels,
        "template": args.template,
        "neutral": args.neutral,
        // as typed (0.7, not the f32's 0.699999988…)
        "threshold": args.threshold.to_string().parse::<f64>().unwrap_or(f64::NAN),
        "crops": args.crops,
        "caption": caption,
    });
    v.as_object().cloned().unwrap_or_default()
}

/// What wrote an output: `<output>.webclip-tag.json`, `{"format", "model": {"dim", "text", "image"}, <settings>}`.
#[derive(Serialize, Deserialize)]
struct RunRecord {
    format: String,
    model: Fingerprint,
    #[serde(flatten)]
    settings: serde_json::Map<String, Value>,
}

impl RunRecord {
    const FORMAT: &str = "webclip-tag 1";

    fn new(model: Fingerprint, settings: serde_json::Map<String, Value>) -> Self {
        RunRecord { format: Self::FORMAT.into(), model, settings }
    }

    fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).map(|t| t + "\n").unwrap_or_default()
    }

    /// The record in `text`; `None` when it is not one this build wrote.
    fn parse(text: &str) -> Option<Self> {
        serde_json::from_str(text).ok().filter(|r: &RunRecord| r.format == Self::FORMAT)
    }
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

/// An output file opened for appending and locked, knowing which images it already holds.
struct Output {
    path: PathBuf,
    /// the flag that named it, for messages
    flag: &'static str,
    file: File,
    done: HashSet<String>,
}

impl Output {
    /// Opens (or creates) `path` and takes its lock (held until the run ends, released by the OS even if the
    /// run is killed). An unfinished last record (a crash mid-write) is cut off. `header`: a CSV whose first
    /// record must be this (written to a new file).
    fn open(path: &Path, header: Option<String>, flag: &'static str) -> Result<Self> {
        let io = |e| Error::io(path, e);
        let mut file = OpenOptions::new().create(true).read(true).append(true).open(path).map_err(io)?;
        match file.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => {
                return Err(Error::Input(format!(
                    "{} is being written by another `webclip tag` run (it holds the file's lock); wait for that run \
                     to finish (it skips nothing: running again afterwards resumes), or give another {flag}",
                    path.display()
                )))
            }
            // a file system without locks (some network mounts): go on, as before locks were taken
            Err(TryLockError::Error(e)) if e.kind() == std::io::ErrorKind::Unsupported => {
                eprintln!("warning: {} cannot be locked ({e}); do not run two `webclip tag` on it", path.display())
            }
            Err(TryLockError::Error(e)) => return Err(io(e)),
        }
        let mut bytes = Vec::new();
        file.read_to_end(&mut bytes).map_err(io)?;
        let text = String::from_utf8(bytes).map_err(|_| {
            Error::Input(format!(
                "{} is not UTF-8 text: not a file `webclip tag` wrote; give another {flag}",
                path.display()
            ))
        })?;
        let complete = complete_prefix(&text, header.is_some());
        let mut done = HashSet::new();
        if let Some(header) = &header {
            let records = csv_records(complete);
            if let Some(first) = records.first() {
                if *first != csv_records(header)[0] {
                    return Err(Error::Input(format!(
                        "{} was written with other labels (its header is {:?}); give the same --labels to resume, \
                         or a new {flag}",
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
        file.set_len(complete.len() as u64).map_err(io)?;
        let mut out = Output { path: path.to_path_buf(), flag, file, done };
        if let (Some(h), true) = (header, complete.is_empty()) {
            out.append(&h)?;
        }
        Ok(out)
    }

    /// `<output>.webclip-tag.json`: what wrote the output.
    fn run_path(&self) -> PathBuf {
        let mut name = self.path.file_name().unwrap_or_default().to_os_string();
        name.push(".webclip-tag.json");
        self.path.with_file_name(name)
    }

    /// Resuming: the output's records were made by this model with these settings (its run file says so), else
    /// an error naming what differs. A new (or empty) output gets `run` as its run file.
    fn check_run(&self, run: &RunRecord) -> Result<()> {
        let at = self.run_path();
        let write = || std::fs::write(&at, run.to_json()).map_err(|e| Error::io(&at, e));
        if self.done.is_empty() {
            return write();
        }
        let text = match std::fs::read_to_string(&at) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                eprintln!(
                    "warning: {} has no {} (written by an older webclip): cannot check that its records come from \
                     this model and these settings; resuming, and recording them now",
                    self.path.display(),
                    at.display()
                );
                return write();
            }
            Err(e) => return Err(Error::io(&at, e)),
        };
        let what = format!("{} (by {})", self.path.display(), at.display());
        let stored = RunRecord::parse(&text).ok_or_else(|| {
            Error::Input(format!(
                "{} is not a run file this webclip wrote; delete it to resume without the check, or give another {}",
                at.display(),
                self.flag
            ))
        })?;
        run.model.check(&stored.model, &what).map_err(|e| match e {
            Error::Input(m) => Error::Input(format!("{m}; or give another {}", self.flag)),
            other => other,
        })?;
        for (key, now) in &run.settings {
            let then = stored.settings.get(key).unwrap_or(&Value::Null);
            if then != now {
                return Err(Error::Input(format!(
                    "{what} was written with {key} {then}, but this run has {now}: its records would disagree; \
                     give the same settings to resume, or another {}",
                    self.flag
                )));
            }
        }
        Ok(())
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
