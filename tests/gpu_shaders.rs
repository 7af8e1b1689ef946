//! Every WGSL file parses and validates with naga (wgpu's own front end), as the device will compile it — no GPU
//! needed. Also checks the house rules: a header comment with the formula, bindings and dispatch grid; ≤ 150 lines.

use webclip::backend::gpu::{max_storage_buffers, required_limits, Family};

fn validate(name: &str, source: &str) -> naga::Module {
    validate_with_info(name, source).0
}

fn validate_with_info(name: &str, source: &str) -> (naga::Module, naga::valid::ModuleInfo) {
    let module =
        naga::front::wgsl::parse_str(source).unwrap_or_else(|e| panic!("{name}: {}", e.emit_to_string(source)));
    // No optional feature: every kernel must run on any WebGPU adapter (no shader-f16, no subgroups). naga's
    // SHADER_FLOAT16_IN_FLOAT32 is not one: it is core WGSL's unpack2x16float (f16 pairs decoded to f32), which
    // every WebGPU adapter has and wgpu grants on Vulkan, Metal and DX12 (not on old GL).
    let mut validator = naga::valid::Validator::new(
        naga::valid::ValidationFlags::all(),
        naga::valid::Capabilities::SHADER_FLOAT16_IN_FLOAT32,
    );
    let info = validator.validate(&module).unwrap_or_else(|e| panic!("{name}: {}", e.emit_to_string(source)));
    (module, info)
}

#[test]
fn every_family_validates_as_compiled() {
    for family in Family::ALL {
        let module = validate(family.file(), &family.source());
        assert!(!module.entry_points.is_empty(), "{}: no entry point", family.file());
        for ep in &module.entry_points {
            let [x, y, z] = ep.workgroup_size;
            assert!(
                x * y * z <= 256,
                "{} {}: {} invocations > WebGPU's default 256",
                family.file(),
                ep.name,
                x * y * z
            );
        }
    }
}

#[test]
fn every_shader_file_validates_and_has_a_header() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("shaders");
    let mut files: Vec<_> = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().path()).collect();
    files.sort();
    assert!(files.len() >= 7, "shaders/ has {} files", files.len());
    for path in files {
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        let source = std::fs::read_to_string(&path).unwrap();
        let lines = source.lines().count();
        assert!(lines <= 150, "{name}: {lines} lines (keep WGSL files ≤ 150)");
        assert!(source.starts_with("//"), "{name}: starts without its header comment");
        if name == "activation.wgsl" || name == "packed.wgsl" {
            validate(&name, &source); // functions only: validates alone too
            continue;
        }
        let header: String = source.lines().take_while(|l| l.starts_with("//")).collect::<Vec<_>>().join("\n");
        for word in ["=", "Dispatch", "workgroup"] {
            assert!(
                header.contains(word),
                "{name}: the header comment should give the formula, bindings and dispatch ({word:?})"
            );
        }
        // the file is one of the families the backend loads
        assert!(Family::ALL.iter().any(|f| f.file() == name), "{name} is not loaded by the GPU backend");
    }
}

/// The device guard (`max_storage_buffers_per_shader_stage`) is counted from the kernels' bind-group layouts; here
/// the WGSL itself says how many storage buffers its entry points read or write: the most any one uses (linear_q8:
/// x, W, bias, residual, y, scales) is what the guard asks for.
#[test]
fn the_storage_buffer_guard_counts_what_the_kernels_bind() {
    let mut most = (0, String::new());
    for family in Family::ALL {
        let (module, info) = validate_with_info(family.file(), &family.source());
        for (i, ep) in module.entry_points.iter().enumerate() {
            let uses = info.get_entry_point(i);
            let storage = module
                .global_variables
                .iter()
                .filter(|(h, g)| matches!(g.space, naga::AddressSpace::Storage { .. }) && !uses[*h].is_empty())
                .count() as u32;
            if storage > most.0 {
                most = (storage, format!("{} {}", family.file(), ep.name));
            }
        }
    }
    assert_eq!(max_storage_buffers(), most.0, "the most storage buffers one entry point uses ({})", most.1);
    assert_eq!(most.0, 6, "{}", most.1);
}

/// An adapter that allows fewer storage buffers per stage than linear.wgsl binds is refused when the device is
/// requested, with the limit named, instead of failing later at pipeline creation.
#[test]
fn an_adapter_short_of_storage_buffers_is_refused() {
    let need = max_storage_buffers();
    let short = wgpu::Limits { max_storage_buffers_per_shader_stage: need - 1, ..wgpu::Limits::default() };
    let err = required_limits(&short).expect_err("an adapter with too few storage buffers per stage");
    assert!(
        err.contains(&format!("max_storage_buffers_per_shader_stage is {}, the kernels need {need}", need - 1)),
        "{err}"
    );
    let enough = wgpu::Limits { max_storage_buffers_per_shader_stage: need, ..wgpu::Limits::default() };
    assert_eq!(required_limits(&enough).map(|l| l.max_storage_buffers_per_shader_stage), Ok(need));
}
