//! Building blocks every family is made of, with upstream (HF) names: [`Loader`] reads parameters under a name
//! prefix, [`LayerNorm`], [`Mlp`], [`Attention`] (self- or cross-attention, any [`Mask`](crate::backend::Mask),
//! separate or fused input projections), the pre-norm [`Encoder`] and the [`PrefixTree`] a causal tower shares
//! prefixes with. Written against [`Backend`](crate::backend::Backend) ops only.

mod attention;
mod encoder;
pub mod flops;
mod loader;
mod mlp;
mod prefix_tree;

pub use attention::Attention;
pub use encoder::{Encoder, EncoderLayer, EncoderShape};
pub use loader::{parameters_of, Loader, Param};
pub use mlp::Mlp;
pub use prefix_tree::PrefixTree;

use crate::backend::{Activation, Backend, Weights};
use crate::error::{Error, Result};

/// `nn.LayerNorm(dim, eps)`.
pub struct LayerNorm<W: Weights> {
    pub weight: W::Vector, // (dim)
    pub bias: W::Vector,   // (dim)
    pub eps: f32,
}

impl<B: Backend> LayerNorm<B> {
    pub fn forward(&self, b: &B, x: &B::Tensor) -> Result<B::Tensor> {
        b.layer_norm(x, &self.weight, &self.bias, self.eps)
    }
}

/// `hidden_act` from `field` of `file`, or an error naming the supported ones.
pub fn activation(name: &str, file: &str, field: &str) -> Result<Activation> {
    Activation::from_hf_name(name).ok_or_else(|| {
        Error::config(
            file,
            field,
            format!("activation '{name}' is not supported; use quick_gelu, gelu or gelu_pytorch_tanh"),
        )
    })
}

/// Largest size field a config may give (CLIP's largest is ViT-bigG's 8192-wide MLP; vocabularies reach 256k):
/// bounds the products computed from them (`grid² + 1` positions overflowed on an `image_size` of 2^40, found by
/// fuzzing: fuzz/regressions/bundle/image-size-2-40).
pub const MAX_SIZE: usize = 1 << 20;

/// Every `(field, value)` of `file` is in `1..=MAX_SIZE`, or an error naming the field.
pub fn check_sizes(file: &str, fields: &[(&str, usize)]) -> Result<()> {
    for &(field, value) in fields {
        if value == 0 {
            return Err(Error::config(file, field, "must be greater than 0"));
        }
        if value > MAX_SIZE {
            return Err(Error::config(
                file,
                field,
                format!("is {value}, more than webclip accepts ({MAX_SIZE}, far above any released model): check config.json"),
            ));
        }
    }
    Ok(())
}
