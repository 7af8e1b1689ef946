//! Every WGSL file parses and validates with naga (wgpu's own front end), as the device will compile it — no GPU
//! needed. Also checks the house rules: a header comment with the formula, bindings and dispatch grid; ≤ 150 lines.

use webclip::backend::gpu::Family;

fn validate(name: &str, source: &str) -> naga::Module {
    let module =
        naga::front::wgsl::parse_str(source).unwrap_or_else(|e| panic!("{name}: {}", e.emit_to_string(source)));
    // No optional feature: every kernel must run on any WebGPU adapter (no shader-f16, no subgroups). naga's
    // SHADER_FLOAT16_IN_FLOAT32 is not one: it is core WGSL's unpack2x16float (f16 pairs decoded to f32), which
    // every WebGPU adapter has and wgpu grants on Vulkan, Metal and DX12 (not on old GL).
    let mut validator = naga::valid::Validator::new(
        naga::valid::ValidationFlags::all(),
        naga::valid::Capabilities::SHADER_FLOAT16_IN_FLOAT32,
    );
    validator.validate(&module).unwrap_or_else(|e| panic!("{name}: {}", e.emit_to_string(source)));
    module
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
