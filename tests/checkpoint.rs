//! Loading Hugging Face checkpoints: every way a checkpoint can be wrong gives a specific error naming the file
//! or tensor with expected vs got; sharded and f16/bf16 checkpoints load to the same model.

use std::collections::BTreeMap;

use safetensors::tensor::{Dtype, TensorView};
use webclip::backend::cpu::Cpu;
use webclip::model::ModelConfig;
use webclip::tensor::HostTensor;
use webclip::weights::synth::{self, StoreDtype};
use webclip::{Checkpoint, Error, Session};

/// A very small CLIP so each test builds its own in milliseconds.
fn small_config() -> ModelConfig {
    ModelConfig::Clip(small_clip())
}

fn small_clip() -> webclip::model::clip::ClipConfig {
    let mut c = synth::clip_preset("tiny").unwrap();
    c.text.hidden_size = 8;
    c.text.intermediate_size = 16;
    c.text.num_attention_heads = 2;
    c.vision.hidden_size = 16;
    c.vision.intermediate_size = 24;
    c.vision.num_attention_heads = 2;
    c.vision.image_size = 64;
    c.projection_dim = 8;
    c
}

fn parts(config: &ModelConfig, tensors: &[HostTensor]) -> webclip::Result<Checkpoint> {
    let st = synth::safetensors_bytes(tensors, StoreDtype::F32).unwrap();
    Checkpoint::from_parts(config.to_json().as_bytes(), vec![("model.safetensors".into(), st)], None, None)
}

fn build(config: &ModelConfig, tensors: &[HostTensor]) -> webclip::Result<Session<Cpu>> {
    Session::new(Cpu::default(), parts(config, tensors)?)
}

fn err_text(r: webclip::Result<Session<Cpu>>) -> String {
    match r {
        Ok(_) => panic!("expected an error"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn complete_checkpoint_loads_and_embeds() {
    let c = small_config();
    let s = build(&c, &synth::random_tensors(&c, 1).unwrap()).unwrap();
    let e = s.embed_texts(&["a photo of a cat."]).unwrap();
    assert_eq!(e[0].len(), 8);
    assert!(e[0].iter().all(|v| v.is_finite()));
}

#[test]
fn missing_tensor_is_named() {
    let c = small_config();
    let mut t = synth::random_tensors(&c, 1).unwrap();
    t.retain(|t| t.name != "vision_model.post_layernorm.bias");
    let err = err_text(build(&c, &t));
    assert!(
        err.contains("'vision_model.post_layernorm.bias' is missing") && err.contains("model.safetensors"),
        "{err}"
    );
}

#[test]
fn wrong_shape_names_tensor_expected_and_got() {
    let c = small_config();
    let t = synth::random_tensors(&c, 1).unwrap();
    let mut other = small_clip();
    other.vision.intermediate_size = 32; // the config now disagrees with the weights
    let other = ModelConfig::Clip(other);
    let err = err_text(build(&other, &t));
    assert!(err.contains("vision_model.encoder.layers.0.mlp.fc1.weight"), "{err}");
    assert!(err.contains("[24, 16]") && err.contains("[32, 16]"), "{err}");
}

#[test]
fn vocab_disagreement_is_reported() {
    let c = small_config();
    let t = synth::random_tensors(&c, 1).unwrap();
    let mut other = small_clip();
    other.text.vocab_size = 49000;
    let other = ModelConfig::Clip(other);
    let err = err_text(build(&other, &t));
    assert!(err.contains("text_model.embeddings.token_embedding.weight") && err.contains("49000"), "{err}");
}

#[test]
fn unsupported_dtype_is_named() {
    let c = small_config();
    let t = synth::random_tensors(&c, 1).unwrap();
    let mut encoded: BTreeMap<String, (Dtype, Vec<usize>, Vec<u8>)> = t
        .iter()
        .map(|t| (t.name.clone(), (Dtype::F32, t.shape.clone(), bytemuck::cast_slice(&t.data).to_vec())))
        .collect();
    encoded.insert("logit_scale".into(), (Dtype::I64, vec![], 3i64.to_le_bytes().to_vec()));
    let views: Vec<(String, TensorView)> =
        encoded.iter().map(|(n, (d, s, b))| (n.clone(), TensorView::new(*d, s.clone(), b).unwrap())).collect();
    let st = safetensors::serialize(views, None).unwrap();
    let ck = Checkpoint::from_parts(c.to_json().as_bytes(), vec![("model.safetensors".into(), st)], None, None);
    let err = err_text(ck.and_then(|ck| Session::new(Cpu::default(), ck)));
    assert!(err.contains("'logit_scale'") && err.contains("I64"), "{err}");
}

/// NaN or ±Inf anywhere (logit_scale too) used to load and print `"score": null`: now it is refused at load, naming
/// the tensor, the file and the first bad element, in every stored dtype.
#[test]
fn non_finite_weights_are_refused_at_load() {
    let c = small_config();
    let clean = synth::random_tensors(&c, 1).unwrap();
    for (tensor, index, value) in
        [("logit_scale", 0, f32::NAN), ("text_model.encoder.layers.0.mlp.fc1.weight", 5, f32::INFINITY)]
    {
        let mut t = clean.clone();
        t.iter_mut().find(|t| t.name == tensor).unwrap().data[index] = value;
        for dtype in [StoreDtype::F32, StoreDtype::F16, StoreDtype::BF16] {
            let st = synth::safetensors_bytes(&t, dtype).unwrap();
            let ck = Checkpoint::from_parts(c.to_json().as_bytes(), vec![("m.safetensors".into(), st)], None, None);
            let e = ck.and_then(|ck| Session::new(Cpu::default(), ck)).err().expect("a NaN/Inf weight must be refused");
            assert_eq!(e.code(), "tensor-non-finite", "{e}");
            let text = e.to_string();
            let want = format!("tensor '{tensor}' in m.safetensors has a non-finite value ({value}) at index {index}");
            assert!(text.contains(&want) && text.contains("download it again"), "{dtype:?}: {text}");
        }
    }
}

#[test]
fn truncated_and_garbage_files_are_errors() {
    let c = small_config();
    let st = synth::safetensors_bytes(&synth::random_tensors(&c, 1).unwrap(), StoreDtype::F32).unwrap();
    for bytes in [st[..st.len() - 100].to_vec(), st[..5].to_vec(), b"definitely not safetensors".to_vec(), vec![]] {
        let r = Checkpoint::from_parts(c.to_json().as_bytes(), vec![("model.safetensors".into(), bytes)], None, None);
        let err = r.err().expect("must fail").to_string();
        assert!(err.contains("model.safetensors") && err.contains("not a valid safetensors"), "{err}");
    }
}

#[test]
fn f16_bf16_and_sharded_checkpoints_give_the_same_model() {
    let c = small_config();
    let t = synth::random_tensors(&c, 7).unwrap();
    let reference = build(&c, &t).unwrap().embed_texts(&["two dogs"]).unwrap().remove(0);

    for dtype in [StoreDtype::F16, StoreDtype::BF16] {
        let st = synth::safetensors_bytes(&t, dtype).unwrap();
        let ck = Checkpoint::from_parts(c.to_json().as_bytes(), vec![("m.safetensors".into(), st)], None, None);
        let e = Session::new(Cpu::default(), ck.unwrap()).unwrap().embed_texts(&["two dogs"]).unwrap().remove(0);
        let cos = webclip::tensor::cosine(&e, &reference);
        assert!(cos > 0.99, "{dtype:?}: cosine {cos} to f32"); // rounded weights: close, not equal
    }

    let dir = tempfile::tempdir().unwrap();
    let (first, second) = t.split_at(t.len() / 2);
    let mut map = serde_json::Map::new();
    for (file, part) in [("model-00001-of-00002.safetensors", first), ("model-00002-of-00002.safetensors", second)] {
        std::fs::write(dir.path().join(file), synth::safetensors_bytes(part, StoreDtype::F32).unwrap()).unwrap();
        for t in part {
            map.insert(t.name.clone(), file.into());
        }
    }
    let index = serde_json::json!({ "metadata": {}, "weight_map": map });
    std::fs::write(dir.path().join("model.safetensors.index.json"), index.to_string()).unwrap();
    std::fs::write(dir.path().join("config.json"), c.to_json()).unwrap();
    let s = Session::new(Cpu::default(), Checkpoint::from_hf_dir(dir.path()).unwrap()).unwrap();
    assert_eq!(s.embed_texts(&["two dogs"]).unwrap()[0], reference);
}

#[test]
fn missing_files_say_what_to_do() {
    let dir = tempfile::tempdir().unwrap();
    let err = Checkpoint::from_hf_dir(dir.path()).err().unwrap();
    assert!(matches!(err, Error::MissingFile { .. }) && err.to_string().contains("config.json"), "{err}");

    std::fs::write(dir.path().join("config.json"), small_config().to_json()).unwrap();
    let err = Checkpoint::from_hf_dir(dir.path()).err().unwrap().to_string();
    assert!(err.contains("model.safetensors"), "{err}");

    std::fs::write(dir.path().join("pytorch_model.bin"), b"pickle").unwrap();
    let err = Checkpoint::from_hf_dir(dir.path()).err().unwrap().to_string();
    assert!(err.contains("safe_serialization=True"), "{err}");

    let err = Checkpoint::from_hf_dir(&dir.path().join("nope")).err().unwrap().to_string();
    assert!(err.contains("not a directory"), "{err}");
}

#[test]
fn mismatched_preprocessor_config_is_reported() {
    let c = small_config();
    let st = synth::safetensors_bytes(&synth::random_tensors(&c, 1).unwrap(), StoreDtype::F32).unwrap();
    let pre = webclip::image::PreprocessConfig::clip_default(224).to_json();
    let r = Checkpoint::from_parts(
        c.to_json().as_bytes(),
        vec![("model.safetensors".into(), st)],
        None,
        Some(pre.as_bytes()),
    );
    let err = r.err().expect("must fail").to_string();
    assert!(err.contains("preprocessor_config.json") && err.contains("224") && err.contains("64"), "{err}");
}

/// The crop must match the model only when there is a crop: without `do_center_crop` the resize decides the
/// output size (an exact `size: {height, width}` of image_size loads whatever `crop_size` says; a shortest-edge
/// resize, whose output follows each image, is refused). A processor other than CLIP's is refused by name.
#[test]
fn preprocessor_crop_and_type_are_checked_as_used() {
    let c = small_config();
    let st = synth::safetensors_bytes(&synth::random_tensors(&c, 1).unwrap(), StoreDtype::F32).unwrap();
    let load = |pre: &str| {
        Checkpoint::from_parts(
            c.to_json().as_bytes(),
            vec![("model.safetensors".into(), st.clone())],
            None,
            Some(pre.as_bytes()),
        )
    };
    let field = |pre: &str| match load(pre) {
        Err(Error::Config { file, field, problem }) => {
            assert_eq!(file, "preprocessor_config.json", "{pre}");
            (field, problem)
        }
        Err(e) => panic!("{pre}: expected a Config error, got {e}"),
        Ok(_) => panic!("{pre}: expected an error"),
    };
    // no crop, exact resize to 64x64: the unused crop_size (CLIP's default 224) does not matter
    let exact = r#"{"do_center_crop": false, "size": {"height": 64, "width": 64}, "crop_size": 224}"#;
    let ck = load(exact).expect("an exact resize to image_size without a crop loads");
    assert_eq!(ck.preprocess.fixed_output(), Some((64, 64)));
    let (f, problem) = field(r#"{"do_center_crop": false, "size": {"height": 64, "width": 48}, "crop_size": 64}"#);
    assert_eq!(f, "size", "{problem}");
    assert!(problem.contains("64x48") && problem.contains("image_size is 64"), "{problem}");
    let (f, problem) = field(r#"{"do_center_crop": false, "size": {"shortest_edge": 64}, "crop_size": 64}"#);
    assert_eq!(f, "do_center_crop", "{problem}");
    assert!(problem.contains("64x64"), "{problem}");
    // with a crop, the crop decides (as before)
    assert_eq!(field(r#"{"size": 64, "crop_size": 60}"#).0, "crop_size");
    assert!(load(r#"{"size": 80, "crop_size": 64}"#).is_ok());
    // the processor type
    let (f, problem) = field(r#"{"image_processor_type": "SiglipImageProcessor", "size": 64, "crop_size": 64}"#);
    assert_eq!(f, "image_processor_type");
    assert!(problem.contains("SiglipImageProcessor") && problem.contains("CLIPImageProcessor"), "{problem}");
    assert!(load(r#"{"feature_extractor_type": "CLIPFeatureExtractor", "size": 64, "crop_size": 64}"#).is_ok());
}

#[test]
fn synth_is_deterministic_per_seed() {
    let c = small_config();
    let a = synth::safetensors_bytes(&synth::random_tensors(&c, 3).unwrap(), StoreDtype::F32).unwrap();
    let b = synth::safetensors_bytes(&synth::random_tensors(&c, 3).unwrap(), StoreDtype::F32).unwrap();
    let d = synth::safetensors_bytes(&synth::random_tensors(&c, 4).unwrap(), StoreDtype::F32).unwrap();
    assert_eq!(a, b);
    assert_ne!(a, d);
}
