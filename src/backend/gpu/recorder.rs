//! Recording a forward pass: every op appends one dispatch to the same command encoder and compute pass; the
//! readback of the final tensor finishes them, submits once and maps one staging buffer.
//!
//! Where memory and time go:
//! - Activations come from a pool of buffers keyed by size. A tensor dropped while the pass is still being recorded
//!   hands its buffer to a later op: the dispatches run in order and wgpu puts a barrier between two that touch the
//!   same buffer, so the reuse is safe, and a 12-layer pass holds a few layers' worth of activations, not all.
//! - Op parameters (a few u32 each) are gathered on the host and written with one `write_buffer` per 64 KiB arena
//!   at submit; each dispatch binds its own 256-byte-aligned slot (write_buffer lands before the submitted commands).
//! - One bind group per dispatch (cheap next to the dispatch); pipelines and layouts are built once (kernels.rs).

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use super::device::Context;
use super::kernels::{Kernel, Kernels};
use crate::error::{Error, Result};

/// Bytes of parameters one dispatch may pass (8 × u32): every Params struct in shaders/ fits.
pub const PARAM_BYTES: u64 = 32;
const ARENA_BYTES: u64 = 64 * 1024;
const ACTIVATION_USAGE: wgpu::BufferUsages =
    wgpu::BufferUsages::STORAGE.union(wgpu::BufferUsages::COPY_SRC).union(wgpu::BufferUsages::COPY_DST);

/// Free activation buffers by size in bytes, each with the submission count when it came back.
#[derive(Default)]
struct Pool {
    free: HashMap<u64, Vec<(wgpu::Buffer, u64)>>,
    /// submissions so far
    epoch: u64,
}

impl Pool {
    /// At a submission: frees the buffers that no op took during the whole recording just submitted. Passes of the
    /// same shapes reuse everything; a text pass of another length leaves buffers of sizes nobody asks for again.
    fn trim(&mut self) {
        self.epoch += 1;
        let keep_from = self.epoch - 1;
        for list in self.free.values_mut() {
            list.retain(|(_, since)| *since >= keep_from);
        }
        self.free.retain(|_, list| !list.is_empty());
    }
}

/// An activation buffer that goes back to the pool when the last tensor using it is dropped.
pub struct Pooled {
    buffer: Option<wgpu::Buffer>,
    pool: Arc<Mutex<Pool>>,
}

impl Pooled {
    pub fn buffer(&self) -> &wgpu::Buffer {
        // Some from creation until drop
        self.buffer.as_ref().expect("pooled buffer used after drop")
    }
}

impl Drop for Pooled {
    fn drop(&mut self) {
        if let Some(b) = self.buffer.take() {
            let mut pool = lock(&self.pool);
            let epoch = pool.epoch;
            pool.free.entry(b.size()).or_default().push((b, epoch));
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// The commands recorded since the last submit.
struct Recording {
    encoder: wgpu::CommandEncoder,
    pass: wgpu::ComputePass<'static>,
}

#[derive(Default)]
struct State {
    recording: Option<Recording>,
    /// parameters of the recorded dispatches, slot i at `i · slot_stride`
    params: Vec<u8>,
    arenas: Vec<wgpu::Buffer>,
}

pub struct Recorder {
    state: Mutex<State>,
    pool: Arc<Mutex<Pool>>,
    /// `min_uniform_buffer_offset_alignment`, usually 256
    slot_stride: u64,
    /// the largest buffer one binding may hold
    max_binding: u64,
    submissions: AtomicU64,
}

impl Recorder {
    pub fn new(ctx: &Context, max_binding: u64) -> Recorder {
        let slot_stride = (ctx.limits.min_uniform_buffer_offset_alignment as u64).max(PARAM_BYTES);
        Recorder {
            state: Mutex::default(),
            pool: Arc::default(),
            slot_stride,
            max_binding,
            submissions: AtomicU64::new(0),
        }
    }

    /// Command buffers submitted so far (one per readback).
    pub fn submissions(&self) -> u64 {
        self.submissions.load(Ordering::Relaxed)
    }

    /// An activation buffer of `bytes` (rounded up to 16), from the pool when one of that size is free.
    pub fn alloc(&self, ctx: &Context, bytes: u64) -> Result<Pooled> {
        ctx.check("recording the forward pass")?;
        let size = bytes.max(16).next_multiple_of(16);
        if size > self.max_binding {
            return Err(Error::GpuLimit { what: "an activation tensor".into(), bytes: size, limit: self.max_binding });
        }
        let reused = lock(&self.pool).free.get_mut(&size).and_then(Vec::pop).map(|(b, _)| b);
        let buffer = reused.unwrap_or_else(|| {
            ctx.device.create_buffer(&wgpu::BufferDescriptor {
                label: Some(&format!("webclip activation {size} B")),
                size,
                usage: ACTIVATION_USAGE,
                mapped_at_creation: false,
            })
        });
        Ok(Pooled { buffer: Some(buffer), pool: self.pool.clone() })
    }

    /// A new activation buffer holding `data` (written at creation: no ordering question with recorded work; never
    /// from the pool, whose buffers may still be read by recorded work).
    pub fn upload(&self, ctx: &Context, label: &str, data: &[u8]) -> Result<Pooled> {
        if data.len() as u64 > self.max_binding {
            return Err(Error::GpuLimit { what: label.into(), bytes: data.len() as u64, limit: self.max_binding });
        }
        let buffer = ctx.buffer_init(label, data, ACTIVATION_USAGE)?;
        Ok(Pooled { buffer: Some(buffer), pool: self.pool.clone() })
    }

    /// Appends one dispatch of `kernel`: `params` go to binding 0, `buffers` to the kernel's other slots in order.
    pub fn dispatch(
        &self,
        ctx: &Context,
        kernels: &Kernels,
        kernel: Kernel,
        params: &[u32],
        buffers: &[&wgpu::Buffer],
        groups: [u32; 3],
    ) -> Result<()> {
        ctx.check("recording the forward pass")?;
        let slots = kernel.slots();
        debug_assert_eq!(slots.len(), buffers.len() + 1, "{kernel:?}: buffers for every slot but the params");
        let mut st = lock(&self.state);
        // parameters into the next slot, its arena created on first use
        let slot = st.params.len() as u64 / self.slot_stride;
        let per_arena = ARENA_BYTES / self.slot_stride;
        let (arena, offset) = ((slot / per_arena) as usize, (slot % per_arena) * self.slot_stride);
        let mut bytes = [0u8; PARAM_BYTES as usize];
        for (chunk, v) in bytes.chunks_exact_mut(4).zip(params) {
            chunk.copy_from_slice(&v.to_le_bytes());
        }
        let start = st.params.len();
        st.params.resize(start + self.slot_stride as usize, 0);
        st.params[start..start + bytes.len()].copy_from_slice(&bytes);
        while st.arenas.len() <= arena {
            let n = st.arenas.len();
            st.arenas.push(ctx.device.create_buffer(&wgpu::BufferDescriptor {
                label: Some(&format!("webclip op params {n}")),
                size: ARENA_BYTES,
                usage: wgpu::BufferUsages::UNIFORM | wgpu::BufferUsages::COPY_DST,
                mapped_at_creation: false,
            }));
        }
        let params_binding =
            wgpu::BufferBinding { buffer: &st.arenas[arena], offset, size: wgpu::BufferSize::new(PARAM_BYTES) };
        let mut entries =
            vec![wgpu::BindGroupEntry { binding: slots[0].0, resource: wgpu::BindingResource::Buffer(params_binding) }];
        entries.extend(
            slots[1..]
                .iter()
                .zip(buffers)
                .map(|(&(binding, _), b)| wgpu::BindGroupEntry { binding, resource: b.as_entire_binding() }),
        );
        let pipeline = kernels.get(kernel);
        let bind_group = ctx.device.create_bind_group(&wgpu::BindGroupDescriptor {
            label: Some(kernel.entry_point()),
            layout: &pipeline.layout,
            entries: &entries,
        });
        let recording = st.recording.get_or_insert_with(|| {
            let mut encoder =
                ctx.device.create_command_encoder(&wgpu::CommandEncoderDescriptor { label: Some("webclip forward") });
            let pass = encoder
                .begin_compute_pass(&wgpu::ComputePassDescriptor {
                    label: Some("webclip forward"),
                    timestamp_writes: None,
                })
                .forget_lifetime();
            Recording { encoder, pass }
        });
        recording.pass.set_pipeline(&pipeline.pipeline);
        recording.pass.set_bind_group(0, &bind_group, &[]);
        recording.pass.dispatch_workgroups(groups[0], groups[1], groups[2]);
        Ok(())
    }

    /// Ends the recording with a copy of `src`'s first `bytes` into a mappable buffer, submits everything once and
    /// reads the copy back.
    pub async fn read(&self, ctx: &Context, src: &wgpu::Buffer, bytes: u64) -> Result<Vec<u8>> {
        let size = bytes.max(4).next_multiple_of(4);
        let staging = ctx.device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("webclip readback"),
            size,
            usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        });
        let scopes = ctx.push_scopes();
        {
            // Submitted under the lock, so that submissions keep the order of recording: a pooled buffer or a
            // params slot reused by a later recording must not be written by a submission that overtakes this one.
            let mut st = lock(&self.state);
            let mut encoder = match st.recording.take() {
                Some(Recording { encoder, pass }) => {
                    drop(pass);
                    encoder
                }
                None => ctx
                    .device
                    .create_command_encoder(&wgpu::CommandEncoderDescriptor { label: Some("webclip readback") }),
            };
            encoder.copy_buffer_to_buffer(src, 0, &staging, 0, size);
            let params = std::mem::take(&mut st.params);
            for (arena, chunk) in st.arenas.iter().zip(params.chunks(ARENA_BYTES as usize)) {
                ctx.queue.write_buffer(arena, 0, chunk);
            }
            ctx.queue.submit([encoder.finish()]);
            self.submissions.fetch_add(1, Ordering::Relaxed);
            lock(&self.pool).trim();
        }
        scopes.pop("running the forward pass").await?;

        let (tx, rx) = futures_channel::oneshot::channel();
        staging.slice(..).map_async(wgpu::MapMode::Read, move |r| {
            let _ = tx.send(r);
        });
        // Natively this waits for the GPU and runs the callback; in the browser it is a no-op and the event loop does.
        let polled = ctx.device.poll(wgpu::PollType::wait_indefinitely());
        let mapped = match polled {
            Ok(_) => rx.await.ok(),
            Err(_) => None,
        };
        // a lost device or an out-of-memory report explains a failed wait or map better than the failure itself
        ctx.check("running the forward pass")?;
        let detail = match (polled, mapped) {
            (Err(e), _) => Some(e.to_string()),
            (Ok(_), None) => Some("the map callback was dropped".to_string()),
            (Ok(_), Some(Err(e))) => Some(e.to_string()),
            (Ok(_), Some(Ok(()))) => None,
        };
        if let Some(detail) = detail {
            return Err(Error::Gpu { what: "reading results".into(), detail });
        }
        let data = staging
            .slice(..)
            .get_mapped_range()
            .map_err(|e| Error::Gpu { what: "reading results".into(), detail: e.to_string() })?
            .to_vec();
        staging.unmap();
        data.get(..bytes as usize)
            .map(<[u8]>::to_vec)
            .ok_or_else(|| Error::Gpu { what: "reading results".into(), detail: "short readback".into() })
    }
}
