//! webclip: CLIP image and text encoders from one Rust core, natively and in the browser.
//!
//! The pipeline in one screen:
//! ```text
//! bytes ──weights::Checkpoint (HF folder, or a webclip bundle: f32/f16/q8/q4)──┐
//!                                                                              ├─ model::Clip<B: Backend> ─┐
//! backend::{cpu::Cpu (f32 reference), gpu::Gpu (WGSL on wgpu)} ────────────────┘                           │
//! text  ──tokenizer::TextTokenizer (HF tokenizer.json, exact ids)──→ ids ──→ encode_texts ──→ embeddings
//! image ──image::{decode, preprocess} (PIL-exact bicubic, crop, norm)──→ pixels ──→ encode_images ──┘
//! embeddings ──tasks::{zero_shot, caption, tag, search}──→ labels, captions, tags, ranked photos
//! ```
//! Weights stay in their stored kind (`quant::PackedMatrix`): the kernels dequantize in registers.
//! [`Session`] ties a backend, the weights, the tokenizer and the preprocessing together. A forward pass is
//! recorded op by op and read back once, asynchronously (`*_async`; the native `embed_*` block on it).

pub mod backend;
pub mod error;
pub mod fidelity;
pub mod image;
pub mod model;
pub mod quant;
pub mod session;
pub mod tasks;
pub mod tensor;
pub mod tokenizer;
pub mod weights;

#[cfg(target_arch = "wasm32")]
mod wasm;

pub use error::{Error, Result};
pub use session::{LabelEmbeddings, Session};
pub use weights::Checkpoint;
