//! Bounded fuzzing on stable, in `cargo test`: the bodies of the four cargo-fuzz targets (`fuzz/src/lib.rs`: bundle,
//! checkpoint, image, tokenizer) on their seeds (`fuzz/seeds/TARGET/`), on every input that once crashed them
//! (`fuzz/regressions/TARGET/`), and on a few thousand deterministic mutations of the seeds each: byte flips,
//! interesting bytes, truncations, deletions, splices from other seeds, inserted length fields, and numbers in the
//! JSON swapped for edge values. A case fails when the target panics — an `Err` with an empty message counts, the
//! target checks that — and the report names the seed, the mutations and a file holding the input
//! (`target/fuzz-smoke/`), which `cargo +nightly fuzz run TARGET FILE` replays.

#[allow(dead_code)]
#[path = "../fuzz/src/lib.rs"]
mod targets;

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// SplitMix64: the same cases on every run and machine.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// uniform in `0..n` (`n > 0`)
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

const INTERESTING_BYTES: [u8; 8] = [0x00, 0x01, 0x7F, 0x80, 0xFF, b'{', b'"', b'9'];
const INTERESTING_NUMBERS: [&str; 13] = [
    "0",
    "1",
    "-1",
    "3",
    "65536",
    "16385",
    "4294967295",
    "4294967296",
    "1099511627776",
    "9007199254740993",
    "18446744073709551615",
    "18446744073709551616",
    "1e309",
];

fn files(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let Ok(entries) = std::fs::read_dir(dir) else { return Vec::new() };
    let mut out: Vec<(String, Vec<u8>)> = entries
        .filter_map(|e| e.ok())
        .filter(|e| e.path().is_file())
        .map(|e| (e.file_name().to_string_lossy().into_owned(), std::fs::read(e.path()).expect("readable seed")))
        .collect();
    out.sort();
    out
}

fn fuzz_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fuzz")
}

/// One mutation of `data` (seeds: the target's other inputs, for splices); its name goes into the report.
fn mutate(rng: &mut Rng, data: &mut Vec<u8>, seeds: &[(String, Vec<u8>)]) -> String {
    if data.is_empty() {
        data.push(rng.next() as u8);
        return "push".into();
    }
    let len = data.len();
    // offsets near the start are where the length fields and headers are: half the edits go to the first 256 bytes
    let at = if rng.below(2) == 0 { rng.below(len.min(256)) } else { rng.below(len) };
    match rng.below(9) {
        0 => {
            let bit = rng.below(8);
            data[at] ^= 1 << bit;
            format!("flip bit {bit} at {at}")
        }
        1 => {
            let b = *rng.pick(&INTERESTING_BYTES);
            data[at] = b;
            format!("set byte {at} = {b:#04x}")
        }
        2 => {
            data.truncate(at);
            format!("truncate to {at}")
        }
        3 => {
            let n = 1 + rng.below((len - at).min(64));
            data.drain(at..at + n);
            format!("delete {n} at {at}")
        }
        4 => {
            let (name, other) = rng.pick(seeds);
            let from = rng.below(other.len().max(1)).min(other.len());
            let n = rng.below((other.len() - from).min(512) + 1);
            let chunk = &other[from..from + n];
            data.splice(at..at, chunk.iter().copied());
            format!("splice {n} bytes of {name}@{from} at {at}")
        }
        5 => {
            let n = 1 + rng.below((len - at).min(64));
            let chunk = data[at..at + n].to_vec();
            data.splice(at..at, chunk);
            format!("duplicate {n} at {at}")
        }
        6 | 7 => {
            // a length field: 2, 4 or 8 bytes, little or big endian, overwritten or inserted
            let width = *rng.pick(&[2usize, 4, 8]);
            let value: u64 = match rng.below(6) {
                0 => 0,
                1 => u64::MAX >> (64 - 8 * width),
                2 => 1 << (8 * width - 1),
                3 => len as u64,
                4 => (len as u64).wrapping_add(1 + rng.below(16) as u64),
                _ => rng.next() >> (64 - 8 * width),
            };
            let le = rng.below(2) == 0;
            let bytes = if le { value.to_le_bytes() } else { value.to_be_bytes() };
            let field = if le { &bytes[..width] } else { &bytes[8 - width..] };
            let insert = rng.below(2) == 0;
            if insert {
                data.splice(at..at, field.iter().copied());
            } else {
                let end = (at + width).min(len);
                data[at..end].copy_from_slice(&field[..end - at]);
            }
            let how = if insert { "insert" } else { "write" };
            format!("{how} {width}-byte {} length {value} at {at}", if le { "LE" } else { "BE" })
        }
        _ => {
            // a JSON number (a run of digits, the header and configs are full of them) → an edge value
            let runs = digit_runs(data);
            // half the time a field's value (`"key": 77`): the config fields, rather than the many offsets
            let values: Vec<(usize, usize)> =
                runs.iter().copied().filter(|&(s, _)| data[..s].trim_ascii_end().ends_with(b":")).collect();
            let runs = if !values.is_empty() && rng.below(2) == 0 { values } else { runs };
            let Some(&(start, end)) = (!runs.is_empty()).then(|| rng.pick(&runs)) else {
                data[at] ^= 0x20;
                return format!("flip case at {at}");
            };
            let num = *rng.pick(&INTERESTING_NUMBERS);
            data.splice(start..end, num.bytes());
            format!("number at {start} = {num}")
        }
    }
}

/// `(start, end)` of every run of ASCII digits in the first 64 KB (headers and JSON files).
fn digit_runs(data: &[u8]) -> Vec<(usize, usize)> {
    let mut runs = Vec::new();
    let mut start = None;
    for (i, b) in data.iter().take(64 << 10).enumerate() {
        match (b.is_ascii_digit(), start) {
            (true, None) => start = Some(i),
            (false, Some(s)) => {
                runs.push((s, i));
                start = None;
            }
            _ => {}
        }
    }
    runs
}

struct Failure {
    what: String,
    message: String,
    file: PathBuf,
}

/// Runs `target` on `input`; a panic becomes a [`Failure`] with the input saved to a file.
fn run_case(name: &str, target: fn(&[u8]), input: &[u8], what: String, failures: &mut Vec<Failure>) -> Duration {
    let started = Instant::now();
    let result = catch_unwind(AssertUnwindSafe(|| target(input)));
    let took = started.elapsed();
    if let Err(panic) = result {
        let message = panic
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_else(|| "(non-string panic)".into());
        let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("fuzz-smoke");
        std::fs::create_dir_all(&dir).expect("target dir is writable");
        let file = dir.join(format!("{name}-{}.bin", failures.len()));
        std::fs::write(&file, input).expect("target dir is writable");
        failures.push(Failure { what, message, file });
    }
    took
}

/// Every seed and regression input as is, then `cases` mutated seeds (1 to 4 mutations each).
fn smoke(name: &str, target: fn(&[u8]), cases: usize) {
    let seeds = files(&fuzz_dir().join("seeds").join(name));
    assert!(!seeds.is_empty(), "no seeds in fuzz/seeds/{name}: run fuzz/make_seeds.py");
    let regressions = files(&fuzz_dir().join("regressions").join(name));
    let mut failures = Vec::new();
    let started = Instant::now();
    let mut slowest = (Duration::ZERO, String::new());
    let mut note = |took: Duration, what: &str| {
        if took > slowest.0 {
            slowest = (took, what.to_string());
        }
    };
    for (file, bytes) in seeds.iter().chain(&regressions) {
        let took = run_case(name, target, bytes, format!("{file} as is"), &mut failures);
        note(took, file);
    }
    let mut rng = Rng(0x5EED_0000 ^ name.bytes().fold(0u64, |h, b| h.wrapping_mul(31).wrapping_add(u64::from(b))));
    for case in 0..cases {
        let (seed_name, seed) = rng.pick(&seeds);
        let mut input = seed.clone();
        let steps: Vec<String> = (0..1 + rng.below(4)).map(|_| mutate(&mut rng, &mut input, &seeds)).collect();
        let what = format!("case {case}: {seed_name}, {}", steps.join(", "));
        let took = run_case(name, target, &input, what.clone(), &mut failures);
        note(took, &what);
    }
    eprintln!(
        "fuzz smoke {name}: {} seeds + {} regressions + {cases} mutated cases in {:.1} s; slowest {:.0} ms ({})",
        seeds.len(),
        regressions.len(),
        started.elapsed().as_secs_f64(),
        slowest.0.as_secs_f64() * 1e3,
        slowest.1
    );
    let report: Vec<String> = failures
        .iter()
        .take(10)
        .map(|f| format!("- {}\n  panicked: {}\n  input: {}", f.what, f.message, f.file.display()))
        .collect();
    assert!(failures.is_empty(), "{name}: {} of {} inputs panicked:\n{}", failures.len(), cases, report.join("\n"));
}

#[test]
fn bundle() {
    smoke("bundle", targets::bundle, 3000);
}

#[test]
fn checkpoint() {
    smoke("checkpoint", targets::checkpoint, 3000);
}

#[test]
fn image() {
    smoke("image", targets::image, 4000);
}

#[test]
fn tokenizer() {
    smoke("tokenizer", targets::tokenizer, 4000);
}

/// The harness itself: a target that panics on some inputs is reported, with the input saved.
#[test]
fn a_panicking_target_is_reported() {
    fn picky(data: &[u8]) {
        assert!(!data.contains(&0xFF), "found 0xFF");
    }
    let mut failures = Vec::new();
    run_case("selftest", picky, b"abc", "clean".into(), &mut failures);
    run_case("selftest", picky, &[1, 0xFF], "dirty".into(), &mut failures);
    assert_eq!(failures.len(), 1);
    assert!(failures[0].message.contains("found 0xFF"), "{}", failures[0].message);
    assert_eq!(std::fs::read(&failures[0].file).unwrap(), [1, 0xFF]);
    // and an error without a message is a failure of the target
    let empty = catch_unwind(|| targets::check_error(&webclip::Error::Input(String::new())));
    assert!(empty.is_err(), "an empty error message must fail the case");
}
