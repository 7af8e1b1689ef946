//! The GPU for the tests: the default adapter (on machines without a GPU, lavapipe's `llvmpipe` through Vulkan, or
//! llvmpipe through GL), one device per test binary. A test skips — loudly — only when there is no adapter at all
//! (and fails instead under `./build.sh test`, which sets WEBCLIP_REQUIRE_GPU);
//! an adapter on which the device or the kernels fail is a test failure.
#![allow(dead_code)]

use std::sync::OnceLock;

use webclip::backend::gpu::{Gpu, GpuOptions};

/// The default adapter, if any.
pub fn adapter() -> Option<wgpu::Adapter> {
    let instance = wgpu::Instance::new(wgpu::InstanceDescriptor::new_without_display_handle_from_env());
    let options =
        wgpu::RequestAdapterOptions { power_preference: wgpu::PowerPreference::HighPerformance, ..Default::default() };
    match pollster::block_on(instance.request_adapter(&options)) {
        Ok(a) => Some(a),
        // ./build.sh test sets WEBCLIP_REQUIRE_GPU=1 (it installs lavapipe): there, no adapter is a failure
        Err(e) if std::env::var_os("WEBCLIP_REQUIRE_GPU").is_some() => {
            panic!("no GPU adapter ({e}) and WEBCLIP_REQUIRE_GPU is set; `apt-get install mesa-vulkan-drivers` gives llvmpipe")
        }
        Err(e) => {
            eprintln!("SKIPPED: no GPU adapter ({e}); on Debian `apt-get install mesa-vulkan-drivers` gives llvmpipe");
            None
        }
    }
}

/// A device on the default adapter with `options`.
pub fn gpu_with(options: GpuOptions) -> Option<Gpu> {
    let adapter = adapter()?;
    let info = adapter.get_info();
    match pollster::block_on(Gpu::from_adapter(&adapter, options)) {
        Ok(gpu) => Some(gpu),
        Err(e) => panic!("adapter {} ({:?}) exists but the GPU backend cannot use it: {e}", info.name, info.backend),
    }
}

/// The shared device of this test binary; `None` (and a SKIPPED line) when there is no adapter.
pub fn gpu() -> Option<Gpu> {
    static GPU: OnceLock<Option<Gpu>> = OnceLock::new();
    let gpu = GPU.get_or_init(|| {
        let gpu = gpu_with(GpuOptions::default());
        if let Some(g) = &gpu {
            let a = g.adapter();
            eprintln!("GPU tests on {} ({}, {})", a.name, a.backend, a.device_type);
        }
        gpu
    });
    if gpu.is_none() {
        eprintln!("SKIPPED: no GPU adapter");
    }
    gpu.clone()
}
