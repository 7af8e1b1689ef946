//! The CLIP text tower runs a call's texts as one prefix tree (src/model/nn/prefix_tree.rs, `Mask::Tree`): here
//! against the computation it replaced — every text padded to the longest pooled prefix under a causal mask — on
//! the HF checkpoints tests/fixtures/{tiny-a,tiny-b}, and the rows it saves on a zero-shot template.
//!
//! Tolerance: max |Δ| ≤ 1e-5 per feature of the pooled, final-layer-normed state (values of order 1). Each row sees
//! the same keys in the same order either way, and every other op works row by row, so the two differ at most by
//! the matmul's summation order over a different number of rows (none is seen on the CPU: 0 in practice); the GPU
//! attention sums a tree's keys newest first, a few ulp per layer.

mod common;
mod gpu_common;

use common::{fixtures, max_abs_diff};
use webclip::backend::cpu::Cpu;
use webclip::backend::{Backend, Mask};
use webclip::model::clip::TextTransformer;
use webclip::model::TextTower;
use webclip::{Checkpoint, Session};

/// The tower before prefix sharing: texts padded with 0 to the longest pooled prefix, causal mask, pooled rows.
fn padded<B: Backend>(b: &B, t: &TextTransformer<B>, ids: &[Vec<u32>]) -> Vec<f32> {
    let pooled: Vec<usize> = ids.iter().map(|s| t.pooled_position(s)).collect();
    let seq = pooled.iter().max().unwrap() + 1;
    let flat: Vec<u32> = ids.iter().flat_map(|s| (0..seq).map(|i| s.get(i).copied().unwrap_or(0))).collect();
    let x = b.embed_tokens(&flat, None, ids.len(), &t.token_embedding, &t.position_embedding).unwrap();
    let x = t.encoder.forward(b, x, Mask::Causal).unwrap();
    let x = t.final_layer_norm.forward(b, &x).unwrap();
    let rows: Vec<usize> = pooled.iter().enumerate().map(|(n, p)| n * seq + p).collect();
    pollster::block_on(b.read(&b.gather_rows(&x, &rows).unwrap())).unwrap()
}

fn session<B: Backend>(b: B, name: &str) -> Session<B> {
    Session::new(b, Checkpoint::from_hf_dir(&fixtures().join(name)).expect("checkpoint loads")).expect("model builds")
}

fn clip_text<B: Backend>(s: &Session<B>) -> &TextTransformer<B> {
    match s.model.text().unwrap() {
        TextTower::Clip(t) => &t.text_model,
        _ => panic!("a CLIP checkpoint"),
    }
}

/// The goldens' texts (13 prompts of one template, an empty text, a special token inside, a caption truncated to
/// the context, unicode), plus a duplicate: as the old padded computation gave, on the CPU and the GPU.
#[test]
fn the_tree_gives_what_padding_gave() {
    for name in ["tiny-a", "tiny-b"] {
        let goldens: serde_json::Value =
            serde_json::from_slice(&std::fs::read(fixtures().join(name).join("goldens.json")).unwrap()).unwrap();
        let mut texts: Vec<String> =
            goldens["texts"].as_array().unwrap().iter().map(|t| t.as_str().unwrap().to_string()).collect();
        texts.push(texts[0].clone());
        let check = |b_name: &str, tree: Vec<f32>, want: Vec<f32>, rows: &str| {
            assert_eq!(tree.len(), want.len(), "{name} {b_name}: one row per text");
            let err = max_abs_diff(&tree, &want);
            assert!(err <= 1e-5, "{name} {b_name}: tree vs padded max |Δ| {err:e}");
            eprintln!("{name} {b_name}: {} texts, {rows}; max |Δ| {err:e}", texts.len());
        };
        let s = session(Cpu::REFERENCE, name);
        let ids: Vec<Vec<u32>> = texts.iter().map(|t| s.tokenizer.encode(t).unwrap()).collect();
        let t = clip_text(&s);
        let rows = t.prefix_tree(&ids).unwrap().len();
        let padded_rows = ids.len() * ids.iter().map(|s| t.pooled_position(s) + 1).max().unwrap();
        let rows = format!("{rows} rows instead of {padded_rows}");
        let tree = pollster::block_on(s.backend.read(&t.forward(&s.backend, &ids).unwrap())).unwrap();
        check("cpu", tree.clone(), padded(&s.backend, t, &ids), &rows);
        let dim = tree.len() / texts.len();
        assert_eq!(&tree[..dim], &tree[(texts.len() - 1) * dim..], "{name}: a duplicate text gets the same row");
        let Some(g) = gpu_common::gpu() else { continue };
        let s = session(g, name);
        let t = clip_text(&s);
        let tree = pollster::block_on(s.backend.read(&t.forward(&s.backend, &ids).unwrap())).unwrap();
        check("gpu", tree, padded(&s.backend, t, &ids), &rows);
    }
}

/// Ten zero-shot prompts "a photo of a X." with one-token labels (bos + 6 + eos = 8 tokens, the first 5 shared)
/// are 5 + 10·3 = 35 rows, not 10·8 = 80.
#[test]
fn ten_prompts_of_one_template_are_35_rows() {
    let s = session(Cpu::REFERENCE, "tiny-a");
    let labels = ["cat", "dog", "car", "bird", "fish", "tree", "house", "boat", "horse", "cup"];
    let ids: Vec<Vec<u32>> =
        labels.iter().map(|l| s.tokenizer.encode(&format!("a photo of a {l}.")).unwrap()).collect();
    for (l, i) in labels.iter().zip(&ids) {
        assert_eq!(i.len(), 8, "{l}: {i:?}");
    }
    let t = clip_text(&s);
    assert_eq!(t.prefix_tree(&ids).unwrap().len(), 35);
    assert_eq!(s.model.encode_texts(&s.backend, &ids).unwrap().len(), 10);
}

/// The tower's input errors are unchanged: too long for the context, an empty text, no text.
#[test]
fn bad_token_lists_are_errors() {
    let s = session(Cpu::REFERENCE, "tiny-a");
    let t = clip_text(&s);
    let err = t.forward(&s.backend, &[vec![1; 78]]).map(drop).unwrap_err().to_string();
    assert!(err.contains("78 tokens exceed the model's context length 77"), "{err}");
    for ids in [vec![], vec![vec![49406, 49407], vec![]]] {
        let err = t.forward(&s.backend, &ids).map(drop).unwrap_err().to_string();
        assert!(err.contains("at least one token per text"), "{err}");
    }
}
