//! One error type for the whole crate. Every variant says what went wrong, where (file, tensor, field),
//! expected vs got where that applies, and what to do next.

use std::path::PathBuf;

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cannot read {path}: {source}. Check that the path exists and is readable.")]
    Io { path: PathBuf, source: std::io::Error },

    #[error(
        "{path} is missing from the checkpoint. A Hugging Face CLIPModel directory holds config.json, \
             model.safetensors (or model.safetensors.index.json with shards), tokenizer.json and \
             preprocessor_config.json; download the missing file from the model's repository."
    )]
    MissingFile { path: PathBuf },

    #[error("{file}: invalid JSON: {source}")]
    Json { file: String, source: serde_json::Error },

    #[error("{file}: {field}: {problem}")]
    Config { file: String, field: String, problem: String },

    #[error(
        "{file}: not a valid safetensors file ({detail}). The file may be truncated or not a safetensors file; \
             download it again."
    )]
    Safetensors { file: String, detail: String },

    #[error(
        "tensor '{name}' is missing (looked in {file}). The checkpoint does not match a Hugging Face CLIPModel \
             with this config.json."
    )]
    MissingTensor { name: String, file: String },

    #[error(
        "tensor '{name}' in {file} has shape {got:?}, but config.json implies {expected:?}. config.json and the \
             weights disagree: use the config.json that was saved with these weights."
    )]
    TensorShape { name: String, file: String, expected: Vec<usize>, got: Vec<usize> },

    #[error(
        "tensor '{name}' in {file} has dtype {got}; webclip reads F32, F16 or BF16 checkpoints. Re-save the \
             model with torch_dtype float32/float16."
    )]
    TensorDtype { name: String, file: String, got: String },

    #[error("tokenizer: {0}")]
    Tokenizer(String),

    #[error("image {source_name}: {detail}")]
    Image { source_name: String, detail: String },

    #[error("input: {0}")]
    Input(String),

    #[error("backend '{name}' is not available: {why}")]
    BackendUnavailable { name: String, why: String },

    #[error(
        "the GPU device was lost ({reason}). Run again: a new device is created when the model is loaded again; \
             if it keeps happening (driver reset, GPU removed), use --backend cpu."
    )]
    GpuDeviceLost { reason: String },

    #[error(
        "GPU out of memory while {what} ({detail}). Use a smaller batch (--batch), a smaller model, close other \
             GPU work, or use --backend cpu."
    )]
    GpuOutOfMemory { what: String, detail: String },

    #[error(
        "{what} needs {bytes} bytes in one GPU buffer, but this adapter binds at most {limit}. Use a smaller \
             batch (--batch), or --backend cpu."
    )]
    GpuLimit { what: String, bytes: u64, limit: u64 },

    #[error(
        "{what} needs {workgroups} GPU workgroups, but this adapter dispatches at most {limit} there \
             (max_compute_workgroups_per_dimension). Use a smaller batch (--batch), shorter inputs, a smaller model, \
             or --backend cpu."
    )]
    GpuDispatchLimit { what: String, workgroups: u64, limit: u64 },

    #[error(
        "GPU error while {what}: {detail}. This is a bug in webclip: please report it with the adapter named \
             by `webclip bench`; --backend cpu works meanwhile."
    )]
    Gpu { what: String, detail: String },
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
}
