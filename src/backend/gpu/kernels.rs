//! Every compute pipeline, built once per device: the WGSL sources in shaders/ (one file per op family), the
//! entry point and the bind-group layout of each kernel.

use std::collections::HashMap;

use crate::quant::Kind;

/// shaders/activation.wgsl: functions only, prepended to the families that apply an activation.
const ACTIVATION: &str = include_str!("../../../shaders/activation.wgsl");
/// shaders/packed.wgsl: functions only, prepended to the families that read packed (f16/q8/q4) weights.
const PACKED: &str = include_str!("../../../shaders/packed.wgsl");

/// The op families, one WGSL file each.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Family {
    Linear,
    LayerNorm,
    Attention,
    Elementwise,
    Embed,
    Pool,
    Similarity,
}

impl Family {
    pub const ALL: [Family; 7] = [
        Family::Linear,
        Family::LayerNorm,
        Family::Attention,
        Family::Elementwise,
        Family::Embed,
        Family::Pool,
        Family::Similarity,
    ];

    pub fn file(self) -> &'static str {
        match self {
            Family::Linear => "linear.wgsl",
            Family::LayerNorm => "layer_norm.wgsl",
            Family::Attention => "attention.wgsl",
            Family::Elementwise => "elementwise.wgsl",
            Family::Embed => "embed.wgsl",
            Family::Pool => "pool.wgsl",
            Family::Similarity => "similarity.wgsl",
        }
    }

    /// The WGSL the device compiles (and the naga test validates): the file, after activation.wgsl if it needs it.
    pub fn source(self) -> String {
        let own = match self {
            Family::Linear => include_str!("../../../shaders/linear.wgsl"),
            Family::LayerNorm => include_str!("../../../shaders/layer_norm.wgsl"),
            Family::Attention => include_str!("../../../shaders/attention.wgsl"),
            Family::Elementwise => include_str!("../../../shaders/elementwise.wgsl"),
            Family::Embed => include_str!("../../../shaders/embed.wgsl"),
            Family::Pool => include_str!("../../../shaders/pool.wgsl"),
            Family::Similarity => include_str!("../../../shaders/similarity.wgsl"),
        };
        match self {
            Family::Linear => format!("{ACTIVATION}\n{PACKED}\n{own}"),
            Family::Embed => format!("{PACKED}\n{own}"),
            Family::Elementwise => format!("{ACTIVATION}\n{own}"),
            _ => own.to_string(),
        }
    }
}

/// How a kernel uses one binding.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Slot {
    Uniform,
    Read,
    ReadWrite,
}

/// One entry point. The cache is keyed by this.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Kernel {
    /// the matmul for weights stored as this kind (dequantized in the kernel)
    Linear(Kind),
    LayerNorm,
    Attention,
    Add,
    Activation,
    /// the token-embedding gather for a table stored as this kind
    EmbedTokens(Kind),
    Patchify,
    AddPositions,
    GatherRows,
    Normalize,
    Logits,
    Softmax,
    Sigmoid,
}

impl Kernel {
    pub fn all() -> Vec<Kernel> {
        let mut all: Vec<Kernel> =
            Kind::ALL.iter().flat_map(|&k| [Kernel::Linear(k), Kernel::EmbedTokens(k)]).collect();
        all.extend([
            Kernel::LayerNorm,
            Kernel::Attention,
            Kernel::Add,
            Kernel::Activation,
            Kernel::Patchify,
            Kernel::AddPositions,
            Kernel::GatherRows,
            Kernel::Normalize,
            Kernel::Logits,
            Kernel::Softmax,
            Kernel::Sigmoid,
        ]);
        all
    }

    pub fn family(self) -> Family {
        match self {
            Kernel::Linear(_) => Family::Linear,
            Kernel::LayerNorm => Family::LayerNorm,
            Kernel::Attention => Family::Attention,
            Kernel::Add | Kernel::Activation => Family::Elementwise,
            Kernel::EmbedTokens(_) | Kernel::Patchify | Kernel::AddPositions => Family::Embed,
            Kernel::GatherRows => Family::Pool,
            Kernel::Normalize | Kernel::Logits | Kernel::Softmax | Kernel::Sigmoid => Family::Similarity,
        }
    }

    pub fn entry_point(self) -> &'static str {
        match self {
            Kernel::Linear(Kind::F32) => "linear_f32",
            Kernel::Linear(Kind::F16) => "linear_f16",
            Kernel::Linear(Kind::Q8) => "linear_q8",
            Kernel::Linear(Kind::Q4) => "linear_q4",
            Kernel::EmbedTokens(Kind::F32) => "embed_tokens_f32",
            Kernel::EmbedTokens(Kind::F16) => "embed_tokens_f16",
            Kernel::EmbedTokens(Kind::Q8) => "embed_tokens_q8",
            Kernel::EmbedTokens(Kind::Q4) => "embed_tokens_q4",
            Kernel::LayerNorm => "layer_norm",
            Kernel::Attention => "attention",
            Kernel::Add => "add",
            Kernel::Activation => "activation",
            Kernel::Patchify => "patchify",
            Kernel::AddPositions => "add_positions",
            Kernel::GatherRows => "gather_rows",
            Kernel::Normalize => "normalize",
            Kernel::Logits => "logits",
            Kernel::Softmax => "softmax",
            Kernel::Sigmoid => "sigmoid",
        }
    }

    /// `(binding, use)` in the order the op passes its buffers — as declared in the WGSL header of the family.
    pub fn slots(self) -> &'static [(u32, Slot)] {
        use Slot::*;
        match self {
            Kernel::Linear(_) => &[(0, Uniform), (1, Read), (2, Read), (3, Read), (4, Read), (5, ReadWrite), (6, Read)],
            Kernel::LayerNorm => &[(0, Uniform), (1, Read), (2, Read), (3, Read), (4, ReadWrite)],
            Kernel::Attention => &[(0, Uniform), (1, Read), (2, Read), (3, Read), (4, ReadWrite), (5, Read)],
            Kernel::Add | Kernel::GatherRows | Kernel::Logits => &[(0, Uniform), (1, Read), (2, Read), (3, ReadWrite)],
            Kernel::Activation | Kernel::Normalize | Kernel::Softmax | Kernel::Sigmoid => {
                &[(0, Uniform), (1, Read), (3, ReadWrite)]
            }
            Kernel::EmbedTokens(_) => {
                &[(0, Uniform), (1, Read), (2, Read), (3, Read), (4, ReadWrite), (5, Read), (6, Read)]
            }
            Kernel::AddPositions => &[(0, Uniform), (1, Read), (2, Read), (3, Read), (4, ReadWrite)],
            Kernel::Patchify => &[(0, Uniform), (1, Read), (4, ReadWrite)],
        }
    }

    /// Storage buffers in this kernel's bind-group layout (every slot but the uniform parameters): what counts
    /// against the device's `max_storage_buffers_per_shader_stage`, whether or not the entry point reads them all.
    pub fn storage_buffers(self) -> u32 {
        self.slots().iter().filter(|(_, slot)| *slot != Slot::Uniform).count() as u32
    }
}

/// The most storage buffers any kernel's layout binds (linear.wgsl: x, W, bias, residual, y, scales): the
/// `max_storage_buffers_per_shader_stage` a device must grant.
pub fn max_storage_buffers() -> u32 {
    Kernel::all().into_iter().map(Kernel::storage_buffers).max().unwrap_or(0)
}

/// A compiled kernel.
pub struct Pipeline {
    pub pipeline: wgpu::ComputePipeline,
    pub layout: wgpu::BindGroupLayout,
}

/// Every kernel, compiled at device creation (a shader the device rejects fails there, not mid-forward).
pub struct Kernels {
    pipelines: HashMap<Kernel, Pipeline>,
}

impl Kernels {
    pub fn new(device: &wgpu::Device) -> Kernels {
        let modules: HashMap<Family, wgpu::ShaderModule> = Family::ALL
            .iter()
            .map(|&f| {
                let source = wgpu::ShaderSource::Wgsl(f.source().into());
                (f, device.create_shader_module(wgpu::ShaderModuleDescriptor { label: Some(f.file()), source }))
            })
            .collect();
        let pipelines = Kernel::all()
            .into_iter()
            .map(|k| {
                let entries: Vec<wgpu::BindGroupLayoutEntry> = k
                    .slots()
                    .iter()
                    .map(|&(binding, slot)| wgpu::BindGroupLayoutEntry {
                        binding,
                        visibility: wgpu::ShaderStages::COMPUTE,
                        ty: match slot {
                            Slot::Uniform => wgpu::BufferBindingType::Uniform,
                            Slot::Read => wgpu::BufferBindingType::Storage { read_only: true },
                            Slot::ReadWrite => wgpu::BufferBindingType::Storage { read_only: false },
                        }
                        .into_binding_type(),
                        count: None,
                    })
                    .collect();
                let label = k.entry_point();
                let layout = device.create_bind_group_layout(&wgpu::BindGroupLayoutDescriptor {
                    label: Some(label),
                    entries: &entries,
                });
                let pipeline_layout = device.create_pipeline_layout(&wgpu::PipelineLayoutDescriptor {
                    label: Some(label),
                    bind_group_layouts: &[Some(&layout)],
                    immediate_size: 0,
                });
                let pipeline = device.create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
                    label: Some(label),
                    layout: Some(&pipeline_layout),
                    module: &modules[&k.family()],
                    entry_point: Some(label),
                    compilation_options: Default::default(),
                    cache: None,
                });
                (k, Pipeline { pipeline, layout })
            })
            .collect();
        Kernels { pipelines }
    }

    pub fn get(&self, k: Kernel) -> &Pipeline {
        &self.pipelines[&k]
    }
}

trait IntoBindingType {
    fn into_binding_type(self) -> wgpu::BindingType;
}

impl IntoBindingType for wgpu::BufferBindingType {
    fn into_binding_type(self) -> wgpu::BindingType {
        wgpu::BindingType::Buffer { ty: self, has_dynamic_offset: false, min_binding_size: None }
    }
}
