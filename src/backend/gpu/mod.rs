//! The GPU backend: the [`Backend`](crate::backend::Backend) ops as WGSL compute shaders (shaders/, one file per op
//! family) on wgpu — WebGPU in the browser, Vulkan/Metal/DX12/GL natively.
//!
//! - `device.rs`: adapter, limits, features; device loss and out-of-memory become [`Error`]s.
//! - `kernels.rs`: the WGSL sources and one pipeline + bind-group layout per kernel, built once.
//! - `recorder.rs`: a forward pass is recorded into one command encoder and submitted once, by the final readback.
//! - `ops.rs`: the `Backend` ops, each one checked dispatch.
//!
//! Weights are uploaded once, at load, in HF's layout (a linear weight stays `(out, in)`: the matmul reads it as is).

// Natively wgpu's types are Send + Sync and a `Gpu` may be shared across threads (the tests do); on the web they are
// not, and everything runs on the page's (or worker's) one thread.
#![cfg_attr(target_arch = "wasm32", allow(clippy::arc_with_non_send_sync))]

mod device;
mod kernels;
mod ops;
mod recorder;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

pub use device::{required_limits, AdapterSummary};
pub use kernels::{max_storage_buffers, Family};

use super::{check, Activation, Dims};
use crate::error::{Error, Result};

use crate::quant::{Kind, PackedMatrix};
use device::Context;
use kernels::{Kernel, Kernels};
use recorder::{Pooled, Recorder};

/// Output tile of linear.wgsl and invocations per workgroup of the elementwise kernels.
const LINEAR_TILE: usize = 64;
const ELEMENTWISE_WORKGROUP: usize = 256;
/// attention.wgsl keeps one query head in workgroup memory and 4 output features per invocation (64 invocations).
pub const MAX_HEAD_DIM: usize = 256;

/// An activation on the GPU: `(batch, seq, dim)` f32 row-major in a pooled storage buffer.
#[derive(Clone)]
pub struct GpuTensor {
    pub dims: Dims,
    buf: Arc<Pooled>,
}

impl GpuTensor {
    fn buffer(&self) -> &wgpu::Buffer {
        self.buf.buffer()
    }
}

impl std::fmt::Debug for GpuTensor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "GpuTensor {:?} ({} B buffer)", self.dims, self.buffer().size())
    }
}

/// A weight matrix on the device as [`PackedMatrix`] lays it out: the kernels pick their entry point by `kind` and
/// read the words as they are (f32 bits, f16 pairs, q8 bytes, q4 nibbles), scales apart.
pub struct PackedBuffers {
    pub kind: Kind,
    /// u32 words per row, and q8/q4 scale blocks per row
    pub words_per_row: usize,
    pub blocks_per_row: usize,
    words: wgpu::Buffer, // (rows, words_per_row) u32
    /// `(rows · blocks_per_row)` f16 as u32 pairs; `None` for f32/f16 (a dummy is bound)
    scales: Option<wgpu::Buffer>,
}

/// `y = x · Wᵀ + b`.
pub struct GpuLinear {
    pub out_features: usize,
    pub in_features: usize,
    pub weight: PackedBuffers,      // (out, in)
    pub bias: Option<wgpu::Buffer>, // (out)
}

/// A 1-D parameter `(len)`.
pub struct GpuVector {
    pub len: usize,
    buffer: wgpu::Buffer,
}

/// A table `(rows, dim)` in row chunks, each within the storage-binding limit (a 49408 × 768 f32 token table is
/// 152 MB, over WebGPU's default 128 MiB), packed in its stored kind.
pub struct GpuTable {
    pub rows: usize,
    pub dim: usize,
    pub kind: Kind,
    chunks: Vec<(usize, usize, PackedBuffers)>, // (first row, rows, (rows, dim) packed)
}

/// Choices made when the device is created.
#[derive(Clone, Copy, Debug, Default)]
pub struct GpuOptions {
    /// Bind at most this many bytes per buffer, below the device's limit (tests use it to exercise the chunking
    /// of large tables and batches with small tensors).
    pub max_binding_bytes: Option<u64>,
    /// Request WebGPU's default limits instead of the adapter's real ones: run as on the least capable browser
    /// adapter (256 invocations per workgroup, 128 MiB bindings, 16 KiB workgroup memory).
    pub webgpu_default_limits: bool,
}

struct Inner {
    ctx: Context,
    /// min(max_storage_buffer_binding_size, max_buffer_size[, GpuOptions::max_binding_bytes])
    max_binding: u64,
    kernels: Kernels,
    rec: Recorder,
    /// bound where a kernel's optional input (bias, residual) is absent
    unused: wgpu::Buffer,
    /// host tensors uploaded by `Backend::upload` so far
    uploads: AtomicU64,
}

/// A wgpu device with every kernel compiled. Cloning shares the device.
#[derive(Clone)]
pub struct Gpu {
    inner: Arc<Inner>,
}

impl Gpu {
    /// The first high-performance adapter (a browser's WebGPU adapter on wasm32).
    pub async fn new() -> Result<Gpu> {
        Gpu::with_context(Context::new().await?, GpuOptions::default()).await
    }

    /// [`Gpu::new`], waited for (native only: the browser cannot block).
    #[cfg(not(target_arch = "wasm32"))]
    pub fn new_blocking() -> Result<Gpu> {
        pollster::block_on(Gpu::new())
    }

    /// On a given adapter (tests, or a caller that picked its own).
    pub async fn from_adapter(adapter: &wgpu::Adapter, options: GpuOptions) -> Result<Gpu> {
        Gpu::with_context(Context::from_adapter(adapter, !options.webgpu_default_limits).await?, options).await
    }

    async fn with_context(ctx: Context, options: GpuOptions) -> Result<Gpu> {
        let device_max = ctx.limits.max_storage_buffer_binding_size.min(ctx.limits.max_buffer_size);
        let max_binding = options.max_binding_bytes.map_or(device_max, |b| b.min(device_max));
        let scopes = ctx.push_scopes();
        let kernels = Kernels::new(&ctx.device);
        let unused = ctx.device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("webclip unused binding"),
            size: 16,
            usage: wgpu::BufferUsages::STORAGE,
            mapped_at_creation: false,
        });
        scopes.pop("compiling the kernels").await?;
        let rec = Recorder::new(&ctx, max_binding);
        Ok(Gpu { inner: Arc::new(Inner { ctx, max_binding, kernels, rec, unused, uploads: AtomicU64::new(0) }) })
    }

    pub fn adapter(&self) -> &AdapterSummary {
        &self.inner.ctx.adapter
    }

    pub fn limits(&self) -> &wgpu::Limits {
        &self.inner.ctx.limits
    }

    pub fn features(&self) -> wgpu::Features {
        self.inner.ctx.features
    }

    /// Command buffers submitted so far: one per readback, so one per forward pass.
    pub fn submissions(&self) -> u64 {
        self.inner.rec.submissions()
    }

    /// Host tensors uploaded so far by [`Backend::upload`](crate::backend::Backend::upload) (pixels, label
    /// embeddings; not weights, token ids or pooling rows).
    pub fn uploads(&self) -> u64 {
        self.inner.uploads.load(Ordering::Relaxed)
    }

    /// Waits for the device's reports about the work since the last check (e.g. weight uploads at load: in the
    /// browser an out-of-memory there arrives asynchronously) and returns the first as an error.
    pub async fn check(&self, what: &str) -> Result<()> {
        let ctx = &self.inner.ctx;
        let (tx, rx) = futures_channel::oneshot::channel();
        ctx.queue.on_submitted_work_done(move || {
            let _ = tx.send(());
        });
        ctx.queue.submit([]);
        let _ = ctx.device.poll(wgpu::PollType::wait_indefinitely());
        let _ = rx.await;
        ctx.check(what)
    }

    /// Releases the device and its memory now (e.g. a page done with the model); every later call on this `Gpu`
    /// or its clones fails with [`Error::GpuDeviceLost`], as after a real device loss.
    pub fn destroy(&self) {
        self.inner.ctx.device.destroy();
    }

    /// A weight buffer, uploaded once.
    fn weight(&self, name: &str, bytes: &[u8]) -> Result<wgpu::Buffer> {
        let limit = self.inner.max_binding;
        if bytes.len() as u64 > limit {
            return Err(Error::GpuLimit { what: format!("tensor '{name}'"), bytes: bytes.len() as u64, limit });
        }
        self.inner.ctx.buffer_init(name, bytes, wgpu::BufferUsages::STORAGE)
    }

    /// Rows `[row0, row0 + rows)` of a packed matrix, uploaded once.
    fn packed(&self, name: &str, m: &PackedMatrix, row0: usize, rows: usize) -> Result<PackedBuffers> {
        let (wpr, bpr) = (m.words_per_row(), m.blocks_per_row());
        let words = self.weight(name, bytemuck::cast_slice(&m.words[row0 * wpr..(row0 + rows) * wpr]))?;
        let scales = if m.kind.is_quantized() {
            let half: Vec<u16> = m.scales[row0 * bpr..(row0 + rows) * bpr].iter().map(|h| h.to_bits()).collect();
            let pairs: Vec<u32> =
                half.chunks(2).map(|p| p[0] as u32 | (p.get(1).copied().unwrap_or(0) as u32) << 16).collect();
            Some(self.weight(&format!("{name} scales"), bytemuck::cast_slice(&pairs))?)
        } else {
            None
        };
        Ok(PackedBuffers { kind: m.kind, words_per_row: wpr, blocks_per_row: bpr, words, scales })
    }

    fn alloc(&self, dims: Dims) -> Result<GpuTensor> {
        let buf = self.inner.rec.alloc(&self.inner.ctx, (dims.len() * 4) as u64)?;
        Ok(GpuTensor { dims, buf: Arc::new(buf) })
    }

    fn dispatch(&self, kernel: Kernel, params: &[u32], buffers: &[&wgpu::Buffer], groups: [u32; 3]) -> Result<()> {
        let i = &self.inner;
        i.rec.dispatch(&i.ctx, &i.kernels, kernel, params, buffers, groups)
    }

    /// `workgroups` spread over x then y (each dimension is limited, 65535 by default); kernels rebuild the index.
    fn grid(&self, workgroups: usize) -> Result<[u32; 3]> {
        spread(workgroups, self.max_workgroups())
    }

    /// `max_compute_workgroups_per_dimension` as granted.
    fn max_workgroups(&self) -> usize {
        self.inner.ctx.limits.max_compute_workgroups_per_dimension as usize
    }

    fn elementwise_grid(&self, n: usize) -> Result<[u32; 3]> {
        self.grid(n.div_ceil(ELEMENTWISE_WORKGROUP))
    }

    /// `act(x · Wᵀ + b) + residual`: linear.wgsl with its epilogue.
    fn linear_fused(
        &self,
        x: &GpuTensor,
        w: &GpuLinear,
        act: Option<Activation>,
        residual: Option<&GpuTensor>,
    ) -> Result<GpuTensor> {
        check(x.dims.dim == w.in_features, || {
            format!("matmul: input has {} features, weight expects {}", x.dims.dim, w.in_features)
        })?;
        let out_dims = Dims::new(x.dims.batch, x.dims.seq, w.out_features);
        if let Some(r) = residual {
            check(r.dims == out_dims, || format!("matmul residual: {:?} vs {out_dims:?}", r.dims))?;
        }
        let y = self.alloc(out_dims)?;
        let (m, k, n) = (x.dims.rows(), w.in_features, w.out_features);
        let flags = w.bias.is_some() as u32 | (residual.is_some() as u32) << 1 | act_kind(act) << 8;
        let unused = &self.inner.unused;
        let bufs = [
            x.buffer(),
            &w.weight.words,
            w.bias.as_ref().unwrap_or(unused),
            residual.map_or(unused, |r| r.buffer()),
            y.buffer(),
            w.weight.scales.as_ref().unwrap_or(unused),
        ];
        let groups = [n.div_ceil(LINEAR_TILE), m.div_ceil(LINEAR_TILE), 1];
        let groups = checked_grid(groups, self.max_workgroups(), |axis| {
            let side = ["output features", "rows"][axis];
            format!("a {m}×{n} matmul ({side} in {LINEAR_TILE}-wide tiles)")
        })?;
        let (wpr, bpr) = (w.weight.words_per_row as u32, w.weight.blocks_per_row as u32);
        self.dispatch(Kernel::Linear(w.weight.kind), &[m as u32, k as u32, n as u32, flags, wpr, bpr], &bufs, groups)?;
        Ok(y)
    }
}

/// `groups` (x, y, z) as a dispatch, or [`Error::GpuDispatchLimit`] for the first dimension over `max`
/// (`what(axis)` names the work and what that dimension counts).
fn checked_grid(groups: [usize; 3], max: usize, what: impl FnOnce(usize) -> String) -> Result<[u32; 3]> {
    match groups.iter().position(|&g| g > max) {
        Some(axis) => {
            Err(Error::GpuDispatchLimit { what: what(axis), workgroups: groups[axis] as u64, limit: max as u64 })
        }
        None => Ok(groups.map(|g| g as u32)),
    }
}

/// `workgroups` spread over x then y, each at most `max`.
fn spread(workgroups: usize, max: usize) -> Result<[u32; 3]> {
    let max = max.max(1);
    let x = workgroups.clamp(1, max);
    let y = workgroups.div_ceil(x);
    if y > max {
        return Err(Error::GpuDispatchLimit {
            what: "an elementwise or per-row dispatch (spread over x and y)".into(),
            workgroups: workgroups as u64,
            limit: (max as u64).saturating_mul(max as u64),
        });
    }
    Ok([x as u32, y as u32, 1])
}

/// The activation kinds of shaders/activation.wgsl.
fn act_kind(act: Option<Activation>) -> u32 {
    match act {
        None => 0,
        Some(Activation::QuickGelu) => 1,
        Some(Activation::Gelu) => 2,
        Some(Activation::GeluTanh) => 3,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dispatch_limits_give_the_true_workgroup_counts() {
        assert_eq!(spread(70_000, 65_535).unwrap(), [65_535, 2, 1]);
        assert_eq!(spread(0, 65_535).unwrap(), [1, 0, 1]);
        match spread(17, 4) {
            Err(Error::GpuDispatchLimit { workgroups: 17, limit: 16, .. }) => {}
            other => panic!("17 workgroups in a 4×4 grid: {other:?}"),
        }
        assert_eq!(checked_grid([3, 4, 1], 4, |_| unreachable!()).unwrap(), [3, 4, 1]);
        match checked_grid([3, 9, 1], 4, |axis| format!("axis {axis}")) {
            Err(Error::GpuDispatchLimit { what, workgroups: 9, limit: 4 }) => assert_eq!(what, "axis 1"),
            other => panic!("9 workgroups along y, at most 4: {other:?}"),
        }
    }
}
