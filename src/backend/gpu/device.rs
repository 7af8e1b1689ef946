//! Adapter and device: the limits and features requested, and the failures a caller can act on (no adapter,
//! device lost, out of memory) turned into [`Error`]s instead of wgpu's default panics.

use std::sync::{Arc, Mutex};

use super::kernels::max_storage_buffers;
use crate::error::{Error, Result};

/// What every kernel in shaders/ is written for — WebGPU's default limits, which every WebGPU adapter meets:
/// workgroups of ≤ 256 invocations, ≤ 8.5 KiB of workgroup memory (linear.wgsl's two 64×17 f32 slabs). The storage
/// buffers per dispatch are counted from the kernels' layouts ([`max_storage_buffers`]: 6, linear.wgsl's x, W,
/// bias, residual, y and scales; WebGPU's default allows 8).
pub const KERNEL_INVOCATIONS: u32 = 256;
pub const KERNEL_WORKGROUP_BYTES: u32 = 2 * 64 * 17 * 4;

/// Requested when the adapter has them, so that later kernels (f16 weights, subgroup reductions, GPU timestamps in
/// `bench`) need no other device. Nothing requires them: SwiftShader and GL have no SHADER_F16.
const OPTIONAL_FEATURES: wgpu::Features =
    wgpu::Features::SHADER_F16.union(wgpu::Features::SUBGROUP).union(wgpu::Features::TIMESTAMP_QUERY);

/// The adapter in words, for logs, errors and `bench` output.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AdapterSummary {
    /// e.g. "NVIDIA GeForce RTX 4090", "llvmpipe (LLVM 15.0.6, 256 bits)"
    pub name: String,
    /// "vulkan", "metal", "dx12", "gl", "webgpu"
    pub backend: String,
    /// "discrete", "integrated", "virtual", "cpu", "other"
    pub device_type: String,
    pub driver: String,
}

impl AdapterSummary {
    fn new(info: &wgpu::AdapterInfo) -> Self {
        let device_type = match info.device_type {
            wgpu::DeviceType::DiscreteGpu => "discrete",
            wgpu::DeviceType::IntegratedGpu => "integrated",
            wgpu::DeviceType::VirtualGpu => "virtual",
            wgpu::DeviceType::Cpu => "cpu",
            wgpu::DeviceType::Other => "other",
        };
        let driver = [info.driver.as_str(), info.driver_info.as_str()].join(" ").trim().to_string();
        AdapterSummary {
            name: info.name.clone(),
            backend: info.backend.to_str().to_string(),
            device_type: device_type.into(),
            driver,
        }
    }
}

/// A failure reported by wgpu outside any call that could return it (device-lost callback, uncaptured errors).
#[derive(Clone, Debug)]
enum Fault {
    Lost(String),
    OutOfMemory(String),
    Other(String),
}

/// The device, its queue, what was granted, and the faults reported so far.
pub struct Context {
    pub device: wgpu::Device,
    pub queue: wgpu::Queue,
    pub adapter: AdapterSummary,
    /// as granted: the adapter's real values for the limits that bound batch and model size
    pub limits: wgpu::Limits,
    pub features: wgpu::Features,
    faults: Arc<Mutex<Vec<Fault>>>,
}

fn unavailable(why: impl Into<String>) -> Error {
    Error::BackendUnavailable { name: "gpu".into(), why: why.into() }
}

impl Context {
    /// The first high-performance adapter: WebGPU in a browser that has it, else Vulkan/Metal/DX12/GL (`WGPU_BACKEND`
    /// and `WGPU_ADAPTER_NAME` choose natively).
    pub async fn new() -> Result<Context> {
        let mut desc = wgpu::InstanceDescriptor::new_without_display_handle_from_env();
        if cfg!(target_arch = "wasm32") {
            // wgpu's WebGPU backend panics where the browser has none: ask first.
            if !wgpu::util::is_browser_webgpu_supported().await {
                return Err(unavailable(
                    "this browser offers no WebGPU adapter (navigator.gpu is missing or requestAdapter() gave none); \
                     use the \"cpu\" backend, or a browser with WebGPU enabled",
                ));
            }
            desc.backends = wgpu::Backends::BROWSER_WEBGPU;
        }
        let instance = wgpu::Instance::new(desc);
        let options = wgpu::RequestAdapterOptions {
            power_preference: wgpu::PowerPreference::HighPerformance,
            ..Default::default()
        };
        let adapter = instance.request_adapter(&options).await.map_err(|e| {
            unavailable(format!(
                "no GPU adapter ({e}). Install a Vulkan, Metal or DX12 driver (on Linux without a GPU, \
                 mesa-vulkan-drivers gives the llvmpipe software adapter) or use --backend cpu"
            ))
        })?;
        Context::from_adapter(&adapter, true).await
    }

    /// A device on `adapter` with [`required_limits`] (`raise`: the adapter's real values where they help; else
    /// WebGPU's defaults, what the least capable browser adapter grants) and whichever optional features it has.
    pub async fn from_adapter(adapter: &wgpu::Adapter, raise: bool) -> Result<Context> {
        let info = AdapterSummary::new(&adapter.get_info());
        let have = adapter.limits();
        let limits = if raise {
            required_limits(&have)
        } else {
            check_kernels(wgpu::Limits::default().or_worse_values_from(&have))
        }
        .map_err(|why| unavailable(format!("{}: {why}", info.name)))?;
        let features = adapter.features() & OPTIONAL_FEATURES;
        let desc = wgpu::DeviceDescriptor {
            label: Some("webclip"),
            required_features: features,
            required_limits: limits.clone(),
            memory_hints: wgpu::MemoryHints::Performance,
            ..Default::default()
        };
        let (device, queue) = adapter
            .request_device(&desc)
            .await
            .map_err(|e| unavailable(format!("{}: the device request failed: {e}; use --backend cpu", info.name)))?;
        let faults = Arc::new(Mutex::new(Vec::new()));
        let lost = faults.clone();
        // `Destroyed` comes from `Gpu::destroy` (or the device's drop, when nobody is left to see it)
        device.set_device_lost_callback(move |reason, message| {
            push(&lost, Fault::Lost(format!("{reason:?}: {message}")))
        });
        let uncaptured = faults.clone();
        device.on_uncaptured_error(Arc::new(move |e: wgpu::Error| {
            push(
                &uncaptured,
                match e {
                    wgpu::Error::OutOfMemory { source } => Fault::OutOfMemory(source.to_string()),
                    other => Fault::Other(other.to_string()),
                },
            )
        }));
        Ok(Context { device, queue, adapter: info, limits, features, faults })
    }

    /// The first fault reported since the last check, as an error for `what` (e.g. "embedding images").
    /// A lost device stays lost: every later call fails too.
    pub fn check(&self, what: &str) -> Result<()> {
        let mut faults = self.faults.lock().unwrap_or_else(|p| p.into_inner());
        let Some(first) = faults.first().cloned() else { return Ok(()) };
        if !matches!(first, Fault::Lost(_)) {
            faults.clear();
        }
        Err(match first {
            Fault::Lost(reason) => Error::GpuDeviceLost { reason },
            Fault::OutOfMemory(detail) => Error::GpuOutOfMemory { what: what.into(), detail },
            Fault::Other(detail) => Error::Gpu { what: what.into(), detail },
        })
    }

    /// A buffer of `usage` holding `contents` (zero-padded to a multiple of 16 bytes, at least 16), written at
    /// creation: no ordering question with work already recorded. Fails, instead of panicking as
    /// `DeviceExt::create_buffer_init` does, when the device is lost or out of memory.
    pub fn buffer_init(&self, label: &str, contents: &[u8], usage: wgpu::BufferUsages) -> Result<wgpu::Buffer> {
        let what = format!("creating buffer '{label}'");
        self.check(&what)?;
        let size = (contents.len() as u64).max(16).next_multiple_of(16);
        let buffer = self.device.create_buffer(&wgpu::BufferDescriptor {
            label: Some(label),
            size,
            usage,
            mapped_at_creation: true,
        });
        match buffer.get_mapped_range_mut(..) {
            Ok(mut view) => {
                view.slice(..contents.len()).copy_from_slice(contents); // new buffers are zeroed: the padding is 0
            }
            Err(e) => {
                // the device's own report (lost, out of memory) says more; natively it arrives on a poll
                let _ = self.device.poll(wgpu::PollType::Poll);
                self.check(&what)?;
                return Err(Error::GpuOutOfMemory { what, detail: e.to_string() });
            }
        }
        buffer.unmap();
        Ok(buffer)
    }

    /// Catches the out-of-memory and validation errors of the work between this call and [`Scopes::pop`], on the
    /// same thread (wgpu's error scopes are per thread).
    pub fn push_scopes(&self) -> Scopes {
        Scopes {
            oom: self.device.push_error_scope(wgpu::ErrorFilter::OutOfMemory),
            validation: self.device.push_error_scope(wgpu::ErrorFilter::Validation),
        }
    }
}

fn push(faults: &Mutex<Vec<Fault>>, fault: Fault) {
    faults.lock().unwrap_or_else(|p| p.into_inner()).push(fault);
}

/// Two error scopes, popped together (innermost first).
pub struct Scopes {
    oom: wgpu::ErrorScopeGuard,
    validation: wgpu::ErrorScopeGuard,
}

impl Scopes {
    pub async fn pop(self, what: &str) -> Result<()> {
        let validation = self.validation.pop().await;
        let oom = self.oom.pop().await;
        match (oom, validation) {
            (Some(e), _) => Err(Error::GpuOutOfMemory { what: what.into(), detail: e.to_string() }),
            (None, Some(e)) => Err(Error::Gpu { what: what.into(), detail: e.to_string() }),
            (None, None) => Ok(()),
        }
    }
}

/// WebGPU's defaults, raised to the adapter's real values where a larger value lets us hold larger weights or run
/// larger batches; an adapter below the defaults somewhere (GL, old mobile) keeps its own value there, and is refused
/// only if it cannot run the kernels at all.
pub fn required_limits(adapter: &wgpu::Limits) -> std::result::Result<wgpu::Limits, String> {
    let want = wgpu::Limits {
        max_storage_buffer_binding_size: adapter.max_storage_buffer_binding_size,
        max_buffer_size: adapter.max_buffer_size,
        max_compute_invocations_per_workgroup: adapter.max_compute_invocations_per_workgroup,
        max_compute_workgroup_size_x: adapter.max_compute_workgroup_size_x,
        max_compute_workgroup_size_y: adapter.max_compute_workgroup_size_y,
        max_compute_workgroup_storage_size: adapter.max_compute_workgroup_storage_size,
        max_compute_workgroups_per_dimension: adapter.max_compute_workgroups_per_dimension,
        ..wgpu::Limits::default()
    }
    .or_worse_values_from(adapter);
    check_kernels(want)
}

/// `limits`, or what is short of what the kernels need.
fn check_kernels(want: wgpu::Limits) -> std::result::Result<wgpu::Limits, String> {
    let short = [
        ("max_compute_invocations_per_workgroup", want.max_compute_invocations_per_workgroup, KERNEL_INVOCATIONS),
        ("max_compute_workgroup_size_x", want.max_compute_workgroup_size_x, KERNEL_INVOCATIONS),
        ("max_compute_workgroup_storage_size", want.max_compute_workgroup_storage_size, KERNEL_WORKGROUP_BYTES),
        ("max_storage_buffers_per_shader_stage", want.max_storage_buffers_per_shader_stage, max_storage_buffers()),
    ];
    match short.iter().find(|(_, have, need)| have < need) {
        Some((name, have, need)) => Err(format!("the adapter's {name} is {have}, the kernels need {need}")),
        None => Ok(want),
    }
}
