//! One error type for the whole crate. Every variant says what went wrong, where (file, tensor, field),
//! expected vs got where that applies ([`Error::message`]), and what to do next ([`Error::hint`]); `Display` is
//! the two together, as the CLI prints them. [`Error::code`] names the variant for programs: the wasm façade hands
//! it to JavaScript (src/wasm/mod.rs), which decides by code, never by the message text.
//!
//! | code                  | variant              | what happened                                                  |
//! |-----------------------|----------------------|----------------------------------------------------------------|
//! | `io`                  | `Io`                 | a file cannot be read                                          |
//! | `missing-file`        | `MissingFile`        | a checkpoint file (config.json, model.safetensors, …) is absent |
//! | `json`                | `Json`               | a JSON file or field is not valid JSON                         |
//! | `config`              | `Config`             | a config/preprocessor/bundle-metadata field has a bad value    |
//! | `safetensors`         | `Safetensors`        | not a valid safetensors file: truncated, cut short, malformed  |
//! | `not-a-bundle`        | `NotABundle`         | a safetensors file without the webclip bundle header           |
//! | `bundle-version`      | `BundleVersion`      | a bundle of another format version than this build reads       |
//! | `bundle-damaged`      | `BundleDamaged`      | a bundle whose bytes fail its stored SHA-256 (corrupted copy)  |
//! | `missing-tensor`      | `MissingTensor`      | a parameter the config implies is not in the weights           |
//! | `tensor-shape`        | `TensorShape`        | a parameter's shape disagrees with the config                  |
//! | `tensor-dtype`        | `TensorDtype`        | a parameter's dtype is not one webclip reads                   |
//! | `tensor-non-finite`   | `TensorNonFinite`    | a parameter holds NaN or ±Inf (a damaged or diverged checkpoint) |
//! | `missing-tower`       | `MissingTower`       | a text-only/vision-only bundle asked for the other tower       |
//! | `tokenizer`           | `Tokenizer`          | tokenizer.json cannot be parsed, or a text cannot be tokenized |
//! | `image`               | `Image`              | an image file cannot be decoded or preprocessed                |
//! | `input`               | `Input`              | any other bad argument (empty labels, wrong lengths, …)        |
//! | `backend-unavailable` | `BackendUnavailable` | no usable GPU adapter or device                                |
//! | `gpu-device-lost`     | `GpuDeviceLost`      | the GPU device went away (driver reset, destroyed, removed)    |
//! | `gpu-out-of-memory`   | `GpuOutOfMemory`     | the GPU ran out of memory                                      |
//! | `gpu-limit`           | `GpuLimit`           | a buffer larger than the adapter can bind                      |
//! | `gpu-dispatch-limit`  | `GpuDispatchLimit`   | more workgroups in one grid dimension than the adapter allows  |
//! | `gpu`                 | `Gpu`                | any other GPU error (validation: a bug in webclip)             |
//!
//! Codes are stable: a new variant gets a new code (and a row here and in www/lib/errors.js), an existing code
//! never changes meaning.

use std::path::PathBuf;

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
#[error("{}", self.text())]
pub enum Error {
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    MissingFile {
        path: PathBuf,
    },
    Json {
        file: String,
        source: serde_json::Error,
    },
    Config {
        file: String,
        field: String,
        problem: String,
    },
    Safetensors {
        file: String,
        detail: String,
    },
    /// `got`: the `__metadata__.format` value as shown (`"pt"`), or `missing`
    NotABundle {
        file: String,
        got: String,
    },
    BundleVersion {
        file: String,
        got: String,
        reads: String,
    },
    /// `field`: the hash field that disagrees; `detail`: stored vs computed
    BundleDamaged {
        file: String,
        field: String,
        detail: String,
    },
    MissingTensor {
        name: String,
        file: String,
    },
    TensorShape {
        name: String,
        file: String,
        expected: Vec<usize>,
        got: Vec<usize>,
    },
    TensorDtype {
        name: String,
        file: String,
        got: String,
    },
    /// `index`: the first non-finite element (flat, row-major); `value`: NaN, inf or -inf
    TensorNonFinite {
        name: String,
        file: String,
        index: usize,
        value: f32,
    },
    /// `model`: the bundle's name, or "this model"; `has` / `missing`: "text" or "vision"
    MissingTower {
        model: String,
        has: String,
        missing: String,
    },
    Tokenizer(String),
    Image {
        source_name: String,
        detail: String,
    },
    Input(String),
    BackendUnavailable {
        name: String,
        why: String,
    },
    GpuDeviceLost {
        reason: String,
    },
    GpuOutOfMemory {
        what: String,
        detail: String,
    },
    GpuLimit {
        what: String,
        bytes: u64,
        limit: u64,
    },
    GpuDispatchLimit {
        what: String,
        workgroups: u64,
        limit: u64,
    },
    Gpu {
        what: String,
        detail: String,
    },
}

impl Error {
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io { path: path.into(), source }
    }

    pub(crate) fn config(file: &str, field: &str, problem: impl Into<String>) -> Self {
        Error::Config { file: file.to_string(), field: field.to_string(), problem: problem.into() }
    }

    pub(crate) fn image(source_name: &str, detail: impl Into<String>) -> Self {
        Error::Image { source_name: source_name.to_string(), detail: detail.into() }
    }

    /// The variant's stable kebab-case code (the table above).
    pub fn code(&self) -> &'static str {
        match self {
            Error::Io { .. } => "io",
            Error::MissingFile { .. } => "missing-file",
            Error::Json { .. } => "json",
            Error::Config { .. } => "config",
            Error::Safetensors { .. } => "safetensors",
            Error::NotABundle { .. } => "not-a-bundle",
            Error::BundleVersion { .. } => "bundle-version",
            Error::BundleDamaged { .. } => "bundle-damaged",
            Error::MissingTensor { .. } => "missing-tensor",
            Error::TensorShape { .. } => "tensor-shape",
            Error::TensorDtype { .. } => "tensor-dtype",
            Error::TensorNonFinite { .. } => "tensor-non-finite",
            Error::MissingTower { .. } => "missing-tower",
            Error::Tokenizer(_) => "tokenizer",
            Error::Image { .. } => "image",
            Error::Input(_) => "input",
            Error::BackendUnavailable { .. } => "backend-unavailable",
            Error::GpuDeviceLost { .. } => "gpu-device-lost",
            Error::GpuOutOfMemory { .. } => "gpu-out-of-memory",
            Error::GpuLimit { .. } => "gpu-limit",
            Error::GpuDispatchLimit { .. } => "gpu-dispatch-limit",
            Error::Gpu { .. } => "gpu",
        }
    }

    /// What went wrong and where, expected vs got: the error without its hint.
    pub fn message(&self) -> String {
        match self {
            Error::Io { path, source } => format!("cannot read {}: {source}.", path.display()),
            Error::MissingFile { path } => format!("{} is missing from the checkpoint.", path.display()),
            Error::Json { file, source } => format!("{file}: invalid JSON: {source}"),
            Error::Config { file, field, problem } => format!("{file}: {field}: {problem}"),
            Error::Safetensors { file, detail } => format!("{file}: not a valid safetensors file ({detail})."),
            Error::NotABundle { file, got } => format!(
                "{file}: __metadata__.format: is {got}, not \"webclip\": this is a plain safetensors file, not a \
                 webclip bundle."
            ),
            Error::BundleVersion { file, got, reads } => format!(
                "{file}: __metadata__.webclip_version: this bundle is format version {got}, but this build of \
                 webclip reads {reads}."
            ),
            Error::BundleDamaged { file, field, detail } => {
                format!("{file}: {field}: {detail}: the file is damaged (corrupted download).")
            }
            Error::MissingTensor { name, file } => format!("tensor '{name}' is missing (looked in {file})."),
            Error::TensorShape { name, file, expected, got } => {
                format!("tensor '{name}' in {file} has shape {got:?}, but config.json implies {expected:?}.")
            }
            Error::TensorDtype { name, file, got } => {
                format!("tensor '{name}' in {file} has dtype {got}; webclip reads F32, F16 or BF16 checkpoints.")
            }
            Error::TensorNonFinite { name, file, index, value } => format!(
                "tensor '{name}' in {file} has a non-finite value ({value}) at index {index}: every score computed \
                 from it would be NaN."
            ),
            Error::MissingTower { model, has, missing } => {
                format!("{model} is a {has}-only webclip bundle: it has no {missing} tower.")
            }
            Error::Tokenizer(detail) => format!("tokenizer: {detail}"),
            Error::Image { source_name, detail } => format!("image {source_name}: {detail}"),
            Error::Input(detail) => format!("input: {detail}"),
            Error::BackendUnavailable { name, why } => format!("backend '{name}' is not available: {why}"),
            Error::GpuDeviceLost { reason } => format!("the GPU device was lost ({reason})."),
            Error::GpuOutOfMemory { what, detail } => format!("GPU out of memory while {what} ({detail})."),
            Error::GpuLimit { what, bytes, limit } => {
                format!("{what} needs {bytes} bytes in one GPU buffer, but this adapter binds at most {limit}.")
            }
            Error::GpuDispatchLimit { what, workgroups, limit } => format!(
                "{what} needs {workgroups} GPU workgroups, but this adapter dispatches at most {limit} there \
                 (max_compute_workgroups_per_dimension)."
            ),
            Error::Gpu { what, detail } => format!("GPU error while {what}: {detail}."),
        }
    }

    /// What to do next, for a person at the CLI (flags included); "" where the message itself says it (the
    /// variants that carry a free-form detail).
    pub fn hint(&self) -> &'static str {
        match self {
            Error::Io { .. } => "Check that the path exists and is readable.",
            Error::MissingFile { .. } => {
                "A Hugging Face model directory holds config.json, model.safetensors (or \
                 model.safetensors.index.json with shards), the tokenizer (tokenizer.json; SigLIP: spiece.model) and \
                 preprocessor_config.json; download the missing file from the model's repository."
            }
            Error::Safetensors { .. } => "The file may be truncated or not a safetensors file; download it again.",
            Error::NotABundle { .. } => {
                "Load a Hugging Face checkpoint as a folder (config.json, model.safetensors, …) or make a bundle \
                 with `webclip convert`."
            }
            Error::BundleVersion { .. } => {
                "Update webclip to read it, or re-convert the model with this build (`webclip convert`)."
            }
            Error::BundleDamaged { .. } => "Delete the cached file and download it again.",
            Error::MissingTensor { .. } => {
                "The checkpoint does not match a Hugging Face model (CLIPModel, SiglipModel) with this config.json."
            }
            Error::TensorShape { .. } => {
                "config.json and the weights disagree: use the config.json that was saved with these weights."
            }
            Error::TensorDtype { .. } => "Re-save the model with torch_dtype float32/float16.",
            Error::TensorNonFinite { .. } => {
                "The checkpoint is damaged (or its training diverged): download it again or re-save it; a bundle \
                 made from it must be re-converted from a good checkpoint."
            }
            Error::MissingTower { .. } => {
                "Use a bundle converted with both towers (`webclip convert` without --text-only/--vision-only), \
                 or the Hugging Face checkpoint."
            }
            Error::GpuDeviceLost { .. } => {
                "Run again: a new device is created when the model is loaded again; if it keeps happening (driver \
                 reset, GPU removed), use --backend cpu."
            }
            Error::GpuOutOfMemory { .. } => {
                "Use a smaller batch (--batch), a smaller model, close other GPU work, or use --backend cpu."
            }
            Error::GpuLimit { .. } => "Use a smaller batch (--batch), or --backend cpu.",
            Error::GpuDispatchLimit { .. } => {
                "Use a smaller batch (--batch), shorter inputs, a smaller model, or --backend cpu."
            }
            Error::Gpu { .. } => {
                "This is a bug in webclip: please report it with the adapter named by `webclip bench`; --backend \
                 cpu works meanwhile."
            }
            Error::Json { .. }
            | Error::Config { .. }
            | Error::Tokenizer(_)
            | Error::Image { .. }
            | Error::Input(_)
            | Error::BackendUnavailable { .. } => "",
        }
    }

    /// `Display`: the message, then the hint.
    fn text(&self) -> String {
        match self.hint() {
            "" => self.message(),
            hint => format!("{} {hint}", self.message()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Error;
    use std::collections::BTreeSet;

    /// One value of every variant. `index` is an exhaustive match: a new variant does not compile until it is
    /// listed there, and the count check below then fails until it has a sample here.
    fn one_of_each() -> Vec<Error> {
        let s = |x: &str| x.to_string();
        let json = serde_json::from_str::<u8>("x").unwrap_err();
        vec![
            Error::io("m/config.json", std::io::Error::other("denied")),
            Error::MissingFile { path: "m/tokenizer.json".into() },
            Error::Json { file: s("config.json"), source: json },
            Error::config("config.json", "projection_dim", "expected a positive integer"),
            Error::Safetensors { file: s("m.webclip"), detail: s("truncated") },
            Error::NotABundle { file: s("m.safetensors"), got: s("\"pt\"") },
            Error::BundleVersion { file: s("m.webclip"), got: s("3"), reads: s("versions 1 and 2") },
            Error::BundleDamaged { file: s("m.webclip"), field: s("__metadata__.payload_sha256"), detail: s("x") },
            Error::MissingTensor { name: s("logit_scale"), file: s("model.safetensors") },
            Error::TensorShape { name: s("w"), file: s("f"), expected: vec![2], got: vec![3] },
            Error::TensorDtype { name: s("w"), file: s("f"), got: s("I64") },
            Error::TensorNonFinite { name: s("logit_scale"), file: s("f"), index: 0, value: f32::NAN },
            Error::MissingTower { model: s("m.webclip"), has: s("text"), missing: s("vision") },
            Error::Tokenizer(s("cannot tokenize")),
            Error::image("cat.jpg", "not an image"),
            Error::Input(s("no tags given")),
            Error::BackendUnavailable { name: s("gpu"), why: s("no adapter") },
            Error::GpuDeviceLost { reason: s("Destroyed") },
            Error::GpuOutOfMemory { what: s("uploading"), detail: s("x") },
            Error::GpuLimit { what: s("t"), bytes: 2, limit: 1 },
            Error::GpuDispatchLimit { what: s("attention"), workgroups: 70000, limit: 65535 },
            Error::Gpu { what: s("reading results"), detail: s("x") },
        ]
    }

    fn index(e: &Error) -> usize {
        match e {
            Error::Io { .. } => 0,
            Error::MissingFile { .. } => 1,
            Error::Json { .. } => 2,
            Error::Config { .. } => 3,
            Error::Safetensors { .. } => 4,
            Error::NotABundle { .. } => 5,
            Error::BundleVersion { .. } => 6,
            Error::BundleDamaged { .. } => 7,
            Error::MissingTensor { .. } => 8,
            Error::TensorShape { .. } => 9,
            Error::TensorDtype { .. } => 10,
            Error::MissingTower { .. } => 11,
            Error::Tokenizer(_) => 12,
            Error::Image { .. } => 13,
            Error::Input(_) => 14,
            Error::BackendUnavailable { .. } => 15,
            Error::GpuDeviceLost { .. } => 16,
            Error::GpuOutOfMemory { .. } => 17,
            Error::GpuLimit { .. } => 18,
            Error::Gpu { .. } => 19,
            Error::GpuDispatchLimit { .. } => 20,
            Error::TensorNonFinite { .. } => 21,
        }
    }
    const VARIANTS: usize = 22;

    #[test]
    fn every_variant_has_a_distinct_documented_kebab_case_code() {
        let all = one_of_each();
        let covered: BTreeSet<usize> = all.iter().map(index).collect();
        assert_eq!(covered, (0..VARIANTS).collect(), "one_of_each() must hold every variant once");
        assert_eq!(all.len(), VARIANTS);
        let codes: BTreeSet<&str> = all.iter().map(Error::code).collect();
        assert_eq!(codes.len(), VARIANTS, "two variants share a code: {codes:?}");
        // the module's table, the one place the codes are documented
        let table: BTreeSet<&str> =
            include_str!("error.rs").lines().filter_map(|l| l.strip_prefix("//! | `")?.split('`').next()).collect();
        for e in &all {
            let code = e.code();
            assert!(
                !code.is_empty() && code.split('-').all(|w| !w.is_empty() && w.bytes().all(|b| b.is_ascii_lowercase())),
                "{code}"
            );
            assert!(table.contains(code), "{code} is missing from the table at the top of error.rs");
        }
        assert_eq!(table, codes, "the table at the top of error.rs lists codes that no variant has");
    }

    #[test]
    fn display_is_the_message_then_the_hint() {
        for e in one_of_each() {
            let (message, hint, shown) = (e.message(), e.hint(), e.to_string());
            assert!(!message.is_empty(), "{e:?}");
            if hint.is_empty() {
                assert_eq!(shown, message);
            } else {
                assert_eq!(shown, format!("{message} {hint}"));
                assert!(!message.contains(hint), "{e:?}: the hint is said twice");
            }
        }
        // as the CLI printed these before message and hint were separated
        let io = Error::io("m/config.json", std::io::Error::other("denied"));
        assert_eq!(io.to_string(), "cannot read m/config.json: denied. Check that the path exists and is readable.");
        let lost = Error::GpuDeviceLost { reason: "Destroyed".into() };
        assert_eq!(
            lost.to_string(),
            "the GPU device was lost (Destroyed). Run again: a new device is created when the model is loaded \
             again; if it keeps happening (driver reset, GPU removed), use --backend cpu."
        );
    }
}
