//! The ops every backend provides. The model (src/model) is written once against this trait; the CPU backend is
//! the plain f32 reference, the GPU backend (wgpu) runs the same ops as WGSL kernels.
//!
//! Ops only record work: a backend may run them lazily (the GPU records a whole forward pass into one command
//! buffer). [`Backend::read`] is where results come back, and it is async because mapping a GPU buffer is async —
//! in the browser only the event loop can complete it. Natively, block on it (`pollster::block_on`).
//!
//! Activations are 3-D, row-major `(batch, seq, dim)`: `batch` sequences of `seq` tokens of `dim` features.

pub mod cpu;
pub mod gpu;

use crate::error::Result;
use crate::quant::PackedMatrix;
use crate::tensor::HostTensor;

/// An elementwise activation (HF `hidden_act`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Activation {
    /// `x * sigmoid(1.702 x)` — OpenAI CLIP.
    QuickGelu,
    /// exact erf GELU — HF `"gelu"`.
    Gelu,
    /// tanh approximation — HF `"gelu_new"`, `"gelu_pytorch_tanh"`, `"gelu_fast"`.
    GeluTanh,
}

impl Activation {
    /// The activation HF calls `name`, if supported.
    pub fn from_hf_name(name: &str) -> Option<Self> {
        match name {
            "quick_gelu" => Some(Activation::QuickGelu),
            "gelu" | "gelu_python" => Some(Activation::Gelu),
            "gelu_new" | "gelu_pytorch_tanh" | "gelu_fast" => Some(Activation::GeluTanh),
            _ => None,
        }
    }

    pub fn hf_name(self) -> &'static str {
        match self {
            Activation::QuickGelu => "quick_gelu",
            Activation::Gelu => "gelu",
            Activation::GeluTanh => "gelu_pytorch_tanh",
        }
    }
}

/// `(batch, seq, dim)` of an activation tensor.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Dims {
    pub batch: usize,
    pub seq: usize,
    pub dim: usize,
}

impl Dims {
    pub fn new(batch: usize, seq: usize, dim: usize) -> Self {
        Dims { batch, seq, dim }
    }
    pub fn rows(&self) -> usize {
        self.batch * self.seq
    }
    pub fn len(&self) -> usize {
        self.batch * self.seq * self.dim
    }
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Which keys each query of [`Backend::attention`] sees.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mask<'a> {
    /// Every key (vision towers, SigLIP's text tower, cross-attention).
    None,
    /// Key `j` for query `i` when `j ≤ i` (needs `q_len == kv_len`).
    Causal,
    /// Query row `i` sees itself and its ancestors `parents[i]`, `parents[parents[i]]`, … up to a `-1`: a causal
    /// mask over a prefix tree (sequences that share a prefix share its rows). Needs
    /// `q_len == kv_len == parents.len()` and `-1 ≤ parents[i] < i`; `Tree` of `[-1, 0, 1, …]` is `Causal`.
    Tree(&'a [i32]),
}

/// An op's precondition: `Error::Input(what())` when it does not hold (bad input is an error, never a panic).
pub(crate) fn check(cond: bool, what: impl FnOnce() -> String) -> Result<()> {
    if cond {
        Ok(())
    } else {
        Err(crate::error::Error::Input(what()))
    }
}

/// `attention`'s shapes: q `(batch, q_len, D)`, k and v `(batch, kv_len, D)`, `D` a multiple of `heads`,
/// `q_len == kv_len` under a causal or tree mask, and a tree of `q_len` rows, each parent before its child.
pub(crate) fn check_attention(q: Dims, k: Dims, v: Dims, heads: usize, mask: Mask) -> Result<()> {
    let shapes = q.batch == k.batch && q.dim == k.dim && k == v && heads > 0 && q.dim.is_multiple_of(heads);
    let square = matches!(mask, Mask::None) || q.seq == k.seq;
    check(shapes && square, || {
        let m = match mask {
            Mask::None => String::new(),
            Mask::Causal => ", causal mask (needs as many queries as keys)".into(),
            Mask::Tree(p) => format!(", tree mask of {} rows (needs as many queries as keys)", p.len()),
        };
        format!("attention: q {q:?}, k {k:?}, v {v:?}, {heads} heads{m}")
    })?;
    if let Mask::Tree(parents) = mask {
        check(parents.len() == q.seq, || {
            format!("attention: tree mask has {} rows for {} queries; give one parent per row", parents.len(), q.seq)
        })?;
        if let Some((i, p)) = parents.iter().enumerate().find(|&(i, &p)| p < -1 || p as i64 >= i as i64) {
            return Err(crate::error::Error::Input(format!(
                "attention: tree mask row {i} has parent {p}; a parent must be -1 (a first token) or a row before it"
            )));
        }
    }
    Ok(())
}

/// `embed_tokens`' inputs: `batch` sequences of equal length, each position id (given or implied) a row of the
/// position table, each token id a row of the token table.
pub(crate) fn check_embed(
    ids: &[u32],
    position_ids: Option<&[u32]>,
    batch: usize,
    tokens: usize,
    positions: usize,
) -> Result<()> {
    check(batch > 0 && ids.len().is_multiple_of(batch), || {
        format!("embed_tokens: {} token ids do not split into {batch} sequences of equal length", ids.len())
    })?;
    match position_ids {
        None => {
            let seq = ids.len() / batch;
            check(seq <= positions, || {
                format!("{seq} tokens but the model has {positions} positions (context length)")
            })?
        }
        Some(p) => {
            check(p.len() == ids.len(), || {
                format!("embed_tokens: {} position ids for {} token ids; give one per token", p.len(), ids.len())
            })?;
            if let Some(&bad) = p.iter().find(|&&p| p as usize >= positions) {
                return Err(crate::error::Error::Input(format!(
                    "position id {bad} is past the model's {positions} positions (context length)"
                )));
            }
        }
    }
    if let Some(&bad) = ids.iter().find(|&&id| id as usize >= tokens) {
        return Err(crate::error::Error::Input(format!(
            "token id {bad} is outside the vocabulary ({tokens} tokens): the tokenizer does not belong to this model"
        )));
    }
    Ok(())
}

/// `gather_rows`' indices: at least one, each a row of `x`.
pub(crate) fn check_gather(x: Dims, rows: &[usize]) -> Result<()> {
    check(!rows.is_empty() && rows.iter().all(|&r| r < x.rows()), || {
        format!("gather_rows: rows {rows:?} for dims {x:?} ({} rows, indexed over batch·seq)", x.rows())
    })
}

/// A linear layer's bias, if any, has one value per output (row of `weight`).
pub(crate) fn check_bias(name: &str, weight: &PackedMatrix, bias: Option<&HostTensor>) -> Result<()> {
    bias.map_or(Ok(()), |b| {
        check(b.len() == weight.rows, || format!("{name}: {} bias values for {} outputs", b.len(), weight.rows))
    })
}

/// Where a model's parameters go when it is loaded: each backend keeps them in its own form (the GPU uploads them
/// once). Split from [`Backend`] so that a model can be "loaded" without any backend at all — to list its
/// parameters (`model::parameters`) with no memory spent on them.
pub trait Weights {
    /// A linear layer: weight `(out, in)` as HF stores it (f32, f16, q8 or q4), optional bias `(out)`.
    type Linear;
    /// A 1-D parameter (layer-norm weight/bias, class embedding).
    type Vector;
    /// A 2-D table `(rows, dim)` (any weight kind): token and position embeddings, rows gathered by id.
    type Table;

    /// Weight `name` `(out, in)` in its stored kind: the matmul reads f16/q8/q4 weights as they are and
    /// dequantizes in registers, accumulating in f32.
    fn linear(&self, name: &str, weight: PackedMatrix, bias: Option<HostTensor>) -> Result<Self::Linear>;
    fn vector(&self, v: HostTensor) -> Result<Self::Vector>;
    /// Table `name` `(rows, dim)` in its stored kind: gathered rows are dequantized on the fly.
    fn table(&self, name: &str, t: PackedMatrix) -> Result<Self::Table>;
}

#[allow(async_fn_in_trait)] // the model is generic over the backend, never `dyn`; no `Send` bound is wanted on wasm
pub trait Backend: Weights {
    /// An activation tensor `(batch, seq, dim)`.
    type Tensor;

    /// Human-readable name for logs and JSON output ("cpu", the adapter name).
    fn name(&self) -> String;

    /// Host data → tensor.
    fn upload(&self, data: &[f32], dims: Dims) -> Result<Self::Tensor>;
    /// Tensor → host data, row-major: runs whatever was recorded and waits for it.
    async fn read(&self, x: &Self::Tensor) -> Result<Vec<f32>>;
    fn dims(&self, x: &Self::Tensor) -> Dims;
    /// The largest tensor one op may produce, in bytes (a GPU's storage-binding limit): callers chunk batches so
    /// that every activation fits.
    fn max_tensor_bytes(&self) -> usize {
        usize::MAX
    }

    /// `token_embedding[ids[t]] + position_embedding[position_ids[t]]` for each token `t` → `(batch, seq, dim)`;
    /// `ids` and `position_ids` are `(batch, seq)`, and without `position_ids` token `s` of each sequence is at
    /// position `s` (HF's default `position_ids`).
    fn embed_tokens(
        &self,
        ids: &[u32],
        position_ids: Option<&[u32]>,
        batch: usize,
        tokens: &Self::Table,
        positions: &Self::Table,
    ) -> Result<Self::Tensor>;
    /// Images `(batch, 1, C·H·W)` (CHW each) → non-overlapping `p×p` patches `(batch, (H/p)·(W/p), C·p·p)`,
    /// each patch flattened in `(c, ky, kx)` order so a `Conv2d(stride=p)` becomes a linear layer.
    fn patchify(
        &self,
        pixels: &Self::Tensor,
        channels: usize,
        height: usize,
        width: usize,
        patch: usize,
    ) -> Result<Self::Tensor>;
    /// `[prefix; x] + positions` → `(batch, seq', dim)`: with a `prefix` row (CLIP's class embedding) it comes first
    /// in every sequence and `seq' = seq + 1`, else `seq' = seq`; row `s` of `positions` is added to token `s`.
    /// `positions` must have exactly `seq'` rows.
    fn add_positions(
        &self,
        x: &Self::Tensor,
        prefix: Option<&Self::Vector>,
        positions: &Self::Table,
    ) -> Result<Self::Tensor>;
    /// LayerNorm over `dim`.
    fn layer_norm(
        &self,
        x: &Self::Tensor,
        weight: &Self::Vector,
        bias: &Self::Vector,
        eps: f32,
    ) -> Result<Self::Tensor>;
    /// `x · Wᵀ + b` over the last dim.
    fn matmul(&self, x: &Self::Tensor, w: &Self::Linear) -> Result<Self::Tensor>;
    /// `act(x · Wᵀ + b)` (the MLP's first layer). Backends may fuse it; this default is its reference.
    fn matmul_act(&self, x: &Self::Tensor, w: &Self::Linear, act: Activation) -> Result<Self::Tensor> {
        self.activation(&self.matmul(x, w)?, act)
    }
    /// `residual + x · Wᵀ + b` (a residual branch's last layer). Backends may fuse it; this default is its reference.
    fn matmul_add(&self, x: &Self::Tensor, w: &Self::Linear, residual: &Self::Tensor) -> Result<Self::Tensor> {
        self.add(residual, &self.matmul(x, w)?)
    }
    /// Elementwise activation.
    fn activation(&self, x: &Self::Tensor, act: Activation) -> Result<Self::Tensor>;
    /// `a + b`, same dims (residual connections).
    fn add(&self, a: &Self::Tensor, b: &Self::Tensor) -> Result<Self::Tensor>;
    /// Multi-head scaled dot-product attention: queries `q` `(batch, q_len, heads·head_dim)` over keys and values
    /// `k, v` `(batch, kv_len, heads·head_dim)` → `(batch, q_len, heads·head_dim)`; `mask` says which
    /// keys each query sees ([`Mask`]).
    fn attention(
        &self,
        q: &Self::Tensor,
        k: &Self::Tensor,
        v: &Self::Tensor,
        heads: usize,
        mask: Mask,
    ) -> Result<Self::Tensor>;
    /// Rows of `x` by flat index over its `batch·seq` rows (row `s` of sequence `b` is `b·seq + s`) →
    /// `(rows.len(), 1, dim)` (pooling).
    fn gather_rows(&self, x: &Self::Tensor, rows: &[usize]) -> Result<Self::Tensor>;
    /// Each row (over `dim`) to unit L2 length: `x / max(‖x‖₂, 1e-12)`.
    fn normalize(&self, x: &Self::Tensor) -> Result<Self::Tensor>;
    /// `scale · aᵢ · bⱼ + bias` for every row `i` of `a` and `j` of `b` (same `dim`) → `(1, rows(a), rows(b))`: with
    /// unit rows, `logits_per_image` (CLIP: `scale = exp(logit_scale)`, `bias = 0`; SigLIP adds its `logit_bias`).
    fn logits(&self, a: &Self::Tensor, b: &Self::Tensor, scale: f32, bias: f32) -> Result<Self::Tensor>;
    /// Softmax over `dim` of each row.
    fn softmax(&self, x: &Self::Tensor) -> Result<Self::Tensor>;
    /// `1 / (1 + e^-x)` elementwise.
    fn sigmoid(&self, x: &Self::Tensor) -> Result<Self::Tensor>;
}
