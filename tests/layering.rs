//! The crate's layers import only downwards (README, Layout): a `use crate::X` or `crate::X::` in module `M` is
//! allowed only when X is below M. Read from the source files, so a new upward import fails here, naming the line.

use std::path::Path;

/// Bottom to top; a module may use any module before it. `image` and `tokenizer` are leaves (they use `error` only).
const ORDER: [&str; 13] = [
    "error",
    "quant",
    "tensor",
    "image",
    "tokenizer",
    "backend",
    "model",
    "weights",
    "session",
    "tasks",
    "fidelity",
    "wasm",
    "bin",
];

fn module_of(path: &Path) -> String {
    let rel = path.strip_prefix(concat!(env!("CARGO_MANIFEST_DIR"), "/src")).unwrap();
    let first = rel.components().next().unwrap().as_os_str().to_string_lossy().to_string();
    first.trim_end_matches(".rs").to_string()
}

fn files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

#[test]
fn no_module_imports_a_layer_above_it() {
    let mut all = Vec::new();
    files(Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/src")), &mut all);
    let rank = |m: &str| ORDER.iter().position(|o| *o == m);
    let mut bad = Vec::new();
    for path in &all {
        let module = module_of(path);
        let Some(own) = rank(&module) else { continue }; // lib.rs
        let text = std::fs::read_to_string(path).unwrap();
        for (n, line) in text.lines().enumerate() {
            let line = line.trim_start();
            if line.starts_with("//") {
                continue;
            }
            let mut rest = line;
            while let Some(i) = rest.find("crate::") {
                rest = &rest[i + 7..];
                let target: String = rest.chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect();
                if let Some(r) = rank(&target) {
                    if r > own {
                        bad.push(format!("{}:{}: {module} uses {target}", path.display(), n + 1));
                    }
                }
            }
        }
    }
    assert!(bad.is_empty(), "imports that point up the stack:\n{}", bad.join("\n"));
}
