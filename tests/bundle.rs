//! The webclip bundle (src/weights/bundle.rs): write → parse gives back exactly what the policy stored; a model
//! built from it embeds like the f32 model (cosine ≥ 0.999 at q8, ≥ 0.99 at q4+ and ≥ 0.98 at q4 on a random
//! 64-wide, 4-layer CLIP — random weights have no redundancy, so these are pessimistic); and
//! every way a download can be damaged — truncated anywhere, a payload byte or any header byte flipped, a plain
//! safetensors file, a future version — gives its own error saying what to do.

mod common;

use std::sync::OnceLock;

use common::{cosine, fixtures};
use safetensors::SafeTensors;
use serde_json::Value;
use sha2::{Digest, Sha256};
use webclip::backend::cpu::Cpu;
use webclip::model::Towers;
use webclip::model::{Model, ModelConfig};
use webclip::quant::{Kind, PackedMatrix};
use webclip::tensor::{HostTensor, TensorSource};
use webclip::tokenizer::TextTokenizer;
use webclip::weights::bundle::{self, Bundle, Policy};
use webclip::weights::synth::{self, StoreDtype};
use webclip::{Checkpoint, Session};

/// The `tiny` preset (64 wide, full vocabulary) with 4 layers per tower, so that `q4+` has q4 layers in the middle;
/// seeded random weights.
fn tiny() -> &'static (ModelConfig, Vec<HostTensor>) {
    static T: OnceLock<(ModelConfig, Vec<HostTensor>)> = OnceLock::new();
    T.get_or_init(|| {
        let mut c = synth::clip_preset("tiny").unwrap();
        c.text.num_hidden_layers = 4;
        c.vision.num_hidden_layers = 4;
        let c = ModelConfig::Clip(c);
        let t = synth::random_tensors(&c, 3).unwrap();
        (c, t)
    })
}

fn checkpoint(c: &ModelConfig, tensors: &[HostTensor]) -> Checkpoint {
    let st = synth::safetensors_bytes(tensors, StoreDtype::F32).unwrap();
    Checkpoint::from_parts(c.to_json().as_bytes(), vec![("model.safetensors".into(), st)], None, None).unwrap()
}

fn write(c: &ModelConfig, tensors: &[HostTensor], policy: &Policy, towers: Towers) -> Vec<u8> {
    let ck = checkpoint(c, tensors);
    Bundle::write(ck.tensors.as_ref(), &ck.config, ck.tokenizer_json.as_deref(), &ck.preprocess, policy, towers)
        .unwrap()
}

/// The tiny model as a q8 bundle (shared: several tests damage copies of it).
fn tiny_q8() -> &'static Vec<u8> {
    static B: OnceLock<Vec<u8>> = OnceLock::new();
    B.get_or_init(|| write(&tiny().0, &tiny().1, &Policy::preset("q8").unwrap(), Towers::Both))
}

/// A session over a bundle, built the way `Session::new` builds one over a checkpoint.
fn session(b: &Bundle) -> Session<Cpu> {
    let context = b.config.text_context();
    let json = b.tokenizer_json.as_deref().expect("bundle has tokenizer.json");
    Session {
        backend: Cpu::default(),
        model: Model::load(&Cpu::default(), b, &b.config, b.towers).expect("model from bundle"),
        tokenizer: TextTokenizer::from_json(json.as_bytes(), context).expect("tokenizer"),
        preprocess: b.preprocess.clone(),
    }
}

/// A session over a vision-only bundle (no tokenizer in it: the bundled CLIP one stands in).
fn session_vision(b: &Bundle) -> Session<Cpu> {
    Session {
        backend: Cpu::default(),
        model: Model::load(&Cpu::default(), b, &b.config, b.towers).expect("model from bundle"),
        tokenizer: TextTokenizer::bundled(b.config.text_context()).expect("tokenizer"),
        preprocess: b.preprocess.clone(),
    }
}

fn err(r: webclip::Result<Bundle>) -> String {
    match r {
        Ok(_) => panic!("expected an error"),
        Err(e) => e.to_string(),
    }
}

fn header_end(bytes: &[u8]) -> usize {
    8 + u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize
}

#[test]
fn f32_bundle_gives_back_every_tensor_exactly() {
    let (c, tensors) = tiny();
    let b =
        Bundle::parse("tiny-f32.webclip", write(c, tensors, &Policy::preset("f32").unwrap(), Towers::Both)).unwrap();
    let mut names: Vec<String> = tensors.iter().map(|t| t.name.clone()).collect();
    names.sort();
    assert_eq!(b.names(), names);
    for t in tensors {
        assert_eq!(b.kind(&t.name), Some(Kind::F32));
        assert_eq!(b.tensor(&t.name, &t.shape).unwrap().data, t.data, "{}", t.name);
    }
    assert_eq!(
        (b.config.clone(), b.towers, b.policy.clone()),
        (c.clone(), Towers::Both, Policy::preset("f32").unwrap())
    );
    assert!(b.producer.starts_with("webclip "));
}

#[test]
fn quantized_bundle_stores_what_the_reference_packs() {
    let (c, tensors) = tiny();
    let policy = Policy::preset("q4").unwrap();
    let b = Bundle::parse("tiny-q4.webclip", write(c, tensors, &policy, Towers::Both)).unwrap();
    let mut seen = [0; 4];
    let kinds = policy.kinds(&webclip::model::parameters(c, Towers::Both).unwrap());
    assert_eq!(kinds.len(), tensors.len(), "synth's tensors are the model's parameters, in order");
    for (t, &kind) in tensors.iter().zip(&kinds) {
        seen[kind as usize] += 1;
        assert_eq!(b.kind(&t.name), Some(kind), "{}", t.name);
        let got = b.tensor(&t.name, &t.shape).unwrap().data;
        let reference = t.pack(kind).unwrap();
        assert_eq!(got, reference.dequantize(), "{} ({kind})", t.name);
        if kind.is_quantized() {
            let packed = b.packed(&t.name).unwrap();
            assert_eq!(packed, reference, "{}", t.name);
            let raw = b.packed_bytes(&t.name).unwrap();
            assert_eq!(raw.words, bytemuck::cast_slice::<u32, u8>(&reference.words), "{}", t.name);
            assert_eq!(raw.scales, bytemuck::cast_slice::<u32, u8>(&reference.scale_words()), "{}", t.name);
        }
    }
    assert!(seen.iter().all(|&n| n > 0), "every kind is used by the q4 preset: {seen:?}");
    let err = b.tensor("text_projection.weight", &[64, 63]).unwrap_err().to_string();
    assert!(err.contains("text_projection.weight") && err.contains("[64, 64]"), "{err}");
    let err = b.tensor("text_model.no_such.weight", &[1]).unwrap_err().to_string();
    assert!(err.contains("'text_model.no_such.weight' is missing") && err.contains("tiny-q4.webclip"), "{err}");
}

/// `(shape[0], the rest)` as the packed layout reads a tensor; 1-D and scalars are one row.
fn rows_cols(t: &HostTensor) -> (usize, usize) {
    let rows = if t.shape.len() >= 2 { t.shape[0] } else { 1 };
    (rows, t.data.len() / rows)
}

/// What loading copied before: quantized words decoded from their bytes, f32/f16 tensors through f32 and packed
/// again. `Bundle::packed` must give exactly this, bit for bit.
fn copied_packed(b: &Bundle, t: &HostTensor) -> PackedMatrix {
    let kind = b.kind(&t.name).unwrap();
    let (rows, cols) = rows_cols(t);
    if !kind.is_quantized() {
        return PackedMatrix::from_rows(kind, rows, cols, &b.tensor(&t.name, &t.shape).unwrap().data);
    }
    let raw = b.packed_bytes(&t.name).unwrap();
    let words = raw.words.chunks_exact(4).map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect();
    let mut scales: Vec<half::f16> =
        raw.scales.chunks_exact(2).map(|c| half::f16::from_le_bytes([c[0], c[1]])).collect();
    scales.truncate(rows * kind.blocks_per_row(cols));
    PackedMatrix::from_parts(kind, rows, cols, words, scales).unwrap()
}

/// `Bundle::packed` borrows the stored words (the matrix's words are the bundle's own bytes: loading holds the
/// weights once) and gives the copying path's matrix bit for bit; f16 tensors stay f16 (no trip through f32). An
/// odd f16 row length (no CLIP matrix has one) is repacked from the f16 bits.
#[test]
fn packed_matrices_borrow_the_bundle_bytes() {
    let (c, tensors) = tiny();
    let mut odd = synth::clip_preset("tiny").unwrap();
    (odd.text.hidden_size, odd.text.intermediate_size, odd.text.num_attention_heads) = (63, 37, 3);
    (odd.vision.hidden_size, odd.vision.intermediate_size, odd.vision.num_attention_heads) = (45, 29, 3);
    odd.projection_dim = 33;
    let odd = ModelConfig::Clip(odd);
    let odd_tensors = synth::random_tensors(&odd, 4).unwrap();
    let cases = [(c, tensors, "q8"), (c, tensors, "q4+"), (c, tensors, "f16"), (&odd, &odd_tensors, "f16")];
    for (config, tensors, preset) in cases {
        let b =
            Bundle::parse("b.webclip", write(config, tensors, &Policy::preset(preset).unwrap(), Towers::Both)).unwrap();
        let (mut borrowed, mut repacked) = (0, 0);
        for t in tensors {
            let m = b.packed(&t.name).unwrap();
            let kind = b.kind(&t.name).unwrap();
            assert_eq!(m.kind, kind, "{preset} {}", t.name);
            assert_eq!(m, copied_packed(&b, t), "{preset} {}: borrowed vs copied", t.name);
            match b.packed_bytes(&t.name) {
                Some(raw) => {
                    assert_eq!(m.words.as_ptr() as *const u8, raw.words.as_ptr(), "{preset} {}: a copy", t.name);
                    assert!(m.words.is_shared());
                    borrowed += 1;
                }
                None => {
                    assert!(kind == Kind::F16 && rows_cols(t).1 % 2 == 1, "{preset} {}", t.name);
                    repacked += 1;
                }
            }
        }
        let f16 = tensors.iter().filter(|t| b.kind(&t.name) == Some(Kind::F16)).count();
        assert!(preset != "f16" || f16 > 0, "{preset}: no f16 tensors");
        assert_eq!((borrowed + repacked, repacked > 0), (tensors.len(), *config == odd), "{preset}");
    }
}

#[test]
fn sessions_from_bundles_embed_like_the_f32_model() {
    let (c, tensors) = tiny();
    let reference = Session::new(Cpu::default(), checkpoint(c, tensors)).unwrap();
    let texts = ["a photo of a cat.", "a diagram of a transformer", "two dogs playing in the snow", "!!"];
    let photos: Vec<_> = ["baseline_422.jpg", "gray.jpg", "cmyk.jpg"]
        .iter()
        .map(|f| reference.pixels(&std::fs::read(fixtures().join("images").join(f)).unwrap(), f).unwrap())
        .collect();
    let (want_t, want_i) = (reference.embed_texts(&texts).unwrap(), reference.embed_images(&photos).unwrap());
    let cases = [
        ("f16", Policy::preset("f16").unwrap(), 0.99999),
        ("q8", Policy::preset("q8").unwrap(), 0.999),
        // measured 0.9899: its q8 layers meet 7-bit activations on the CPU (0.9906 when they were 8-bit)
        ("q4+", Policy::preset("q4+").unwrap(), 0.985),
        ("q4", Policy::preset("q4").unwrap(), 0.98), // measured 0.9816: every layer q4, and random weights
    ];
    for (label, policy, floor) in cases {
        let b = Bundle::parse(label, write(c, tensors, &policy, Towers::Both)).unwrap();
        let s = session(&b);
        let (got_t, got_i) = (s.embed_texts(&texts).unwrap(), s.embed_images(&photos).unwrap());
        let cos: Vec<f64> =
            want_t.iter().zip(&got_t).chain(want_i.iter().zip(&got_i)).map(|(a, b)| cosine(a, b)).collect();
        let worst = cos.iter().copied().fold(1.0, f64::min);
        eprintln!("{label}: {} bytes, worst cosine vs f32 {worst:.6} (texts then images: {cos:.5?})", b.len());
        assert!(worst >= floor, "{label}: cosine {worst} < {floor}");
    }
}

#[test]
fn bundled_tokenizer_json_is_minified_and_tokenizes_the_same() {
    #[derive(serde::Deserialize)]
    struct Case {
        text: String,
        ids: Vec<u32>,
    }
    let cases: Vec<Case> =
        serde_json::from_slice(&std::fs::read(fixtures().join("tokenizer_cases.json")).unwrap()).unwrap();
    let b = Bundle::parse("m", tiny_q8().clone()).unwrap();
    let json = b.tokenizer_json.as_deref().unwrap();
    assert!(json.len() < 1_600_000 && !json.contains("\n  "), "{} bytes", json.len());
    // stored deflated in a U8 tensor, not in the header
    let st = SafeTensors::deserialize(tiny_q8()).unwrap();
    let stored = st.tensor(bundle::TOKENIZER_TENSOR).unwrap();
    assert!(stored.data().len() < 600_000, "deflated tokenizer: {} bytes", stored.data().len());
    assert!(!String::from_utf8_lossy(&tiny_q8()[..header_end(tiny_q8())]).contains("\"vocab\""));
    let tokenizer = TextTokenizer::from_json(json.as_bytes(), 77).unwrap();
    for case in &cases {
        assert_eq!(tokenizer.encode(&case.text).unwrap(), case.ids, "{:?}", case.text);
    }
}

#[test]
fn bundle_is_deterministic_aligned_standard_safetensors() {
    let (c, tensors) = tiny();
    let bytes = tiny_q8();
    assert_eq!(&write(c, tensors, &Policy::preset("q8").unwrap(), Towers::Both), bytes, "same input, same bytes");
    let st = SafeTensors::deserialize(bytes).expect("the safetensors crate reads a bundle");
    assert_eq!(header_end(bytes) % 8, 0);
    for (name, view) in st.tensors() {
        let offset = view.data().as_ptr() as usize - bytes.as_ptr() as usize;
        assert_eq!(offset % 4, 0, "{name} starts at byte {offset}: not 4-aligned");
    }
    let (_, meta) = SafeTensors::read_metadata(bytes).unwrap();
    let meta = meta.metadata().clone().unwrap();
    assert_eq!((meta["format"].as_str(), meta["webclip_version"].as_str()), ("webclip", "2"));
    assert_eq!(meta["architecture"], "clip");
    assert_eq!(meta["towers"], "both");
    assert_eq!(ModelConfig::from_json(meta["config.json"].as_bytes()).unwrap(), *c);
    assert_eq!(meta["payload_sha256"], hex(&Sha256::digest(&bytes[header_end(bytes)..])));
    // `plan` predicts the weights' share of the data section without reading a weight; the rest is the tokenizer
    let plan = bundle::plan(c, &Policy::preset("q8").unwrap(), Towers::Both).unwrap();
    let tokenizer = st.tensor(bundle::TOKENIZER_TENSOR).unwrap().data().len();
    assert_eq!(plan.iter().map(|p| p.bytes()).sum::<usize>() + tokenizer, bytes.len() - header_end(bytes));
}

#[test]
fn tower_only_bundles() {
    let (c, tensors) = tiny();
    let policy = Policy::preset("q8").unwrap();
    let text = Bundle::parse("text.webclip", write(c, tensors, &policy, Towers::Text)).unwrap();
    let vision = Bundle::parse("vision.webclip", write(c, tensors, &policy, Towers::Vision)).unwrap();
    let both = Bundle::parse("both.webclip", tiny_q8().clone()).unwrap();
    assert!(text.names().iter().all(|n| n.starts_with("text_") || n == "logit_scale"));
    assert!(vision.names().iter().all(|n| n.starts_with("vision_") || n.starts_with("visual_") || n == "logit_scale"));
    assert_eq!(text.names().len() + vision.names().len(), both.names().len() + 1, "logit_scale is in both");
    assert!(text.tokenizer_json.is_some() && vision.tokenizer_json.is_none());
    assert!(vision.len() < text.len(), "the vision-only bundle has no tokenizer and no token embedding");
    let err = text.tensor("vision_model.post_layernorm.bias", &[64]).unwrap_err().to_string();
    assert!(err.contains("text-only webclip bundle") && err.contains("--text-only/--vision-only"), "{err}");
    // a session over a tower-only bundle runs its tower and says what is missing for the other
    let (text_session, vision_session) = (session(&text), session_vision(&vision));
    assert_eq!(text_session.embed_texts(&["a cat"]).unwrap().len(), 1);
    let image = vision_session.pixels(&std::fs::read(fixtures().join("images/gray.jpg")).unwrap(), "gray.jpg").unwrap();
    assert_eq!(vision_session.embed_images(std::slice::from_ref(&image)).unwrap().len(), 1);
    let err = text_session.embed_images(&[image]).unwrap_err().to_string();
    assert!(err.contains("no vision tower") && err.contains("text-only"), "{err}");
    let err = vision_session.embed_texts(&["a cat"]).unwrap_err().to_string();
    assert!(err.contains("no text tower") && err.contains("vision-only"), "{err}");
    // what a bundle of each tower holds is exactly what the model of that tower reads
    for t in tensors.iter().filter(|t| vision.shape(&t.name).is_some()) {
        assert_eq!(vision.tensor(&t.name, &t.shape).unwrap().data, both.tensor(&t.name, &t.shape).unwrap().data);
    }
}

#[test]
fn truncated_bundles_say_so() {
    let bytes = tiny_q8();
    let h = header_end(bytes);
    for cut in [0, 3, 8, 100, h - 1, h, h + 1000, bytes.len() / 2, bytes.len() - 1] {
        let e = err(Bundle::parse("model.webclip", bytes[..cut].to_vec()));
        assert!(e.contains("model.webclip") && e.contains("truncated") && e.contains("cut short"), "cut at {cut}: {e}");
    }
    let mut longer = bytes.clone();
    longer.push(0);
    assert!(err(Bundle::parse("m", longer)).contains("1 unexpected bytes after the last tensor"));
}

#[test]
fn flipped_payload_byte_is_a_hash_error() {
    let bytes = tiny_q8();
    for at in [header_end(bytes), header_end(bytes) + 12345, bytes.len() - 1] {
        let mut damaged = bytes.clone();
        damaged[at] ^= 0x10;
        let e = err(Bundle::parse("model.webclip", damaged));
        assert!(
            e.contains("payload_sha256") && e.contains("corrupted download") && e.contains("download it again"),
            "{e}"
        );
    }
}

#[test]
fn flipped_header_bytes_are_caught() {
    let bytes = tiny_q8();
    let h = header_end(bytes);
    // a changed value that is still valid JSON and a valid config: only the header hash can tell
    let at = find(&bytes[..h], b"2.6592").expect("logit_scale_init_value in config.json") + 5;
    let mut damaged = bytes.clone();
    damaged[at] = b'3';
    let e = err(Bundle::parse("model.webclip", damaged));
    assert!(e.contains("header_sha256") && e.contains("corrupted download"), "{e}");
    let mut damaged = bytes.clone();
    damaged[8] = b'[';
    assert!(err(Bundle::parse("model.webclip", damaged)).contains("header is not valid JSON"));

    // every byte of a small header, flipped two ways: always an error, never a silently different model
    let (c, tensors) = tiny();
    let small = write(c, tensors, &Policy::preset("q4").unwrap(), Towers::Vision);
    for at in 0..header_end(&small) {
        for mask in [0x01, 0xFF] {
            let mut damaged = small.clone();
            damaged[at] ^= mask;
            assert!(Bundle::parse("v", damaged).is_err(), "byte {at} ^ {mask:#x} went unnoticed");
        }
    }
}

#[test]
fn a_plain_safetensors_file_is_not_a_bundle() {
    let (_, tensors) = tiny();
    let e = err(Bundle::parse("model.safetensors", synth::safetensors_bytes(&tensors[..3], StoreDtype::F16).unwrap()));
    assert!(e.contains("__metadata__.format: is \"pt\", not \"webclip\"") && e.contains("webclip convert"), "{e}");
    let e = err(Bundle::parse("x", rewrite(tiny_q8(), |m| drop(m.remove("format")))));
    assert!(e.contains("format: is missing"), "{e}");
}

#[test]
fn a_future_version_says_what_to_do() {
    let e = err(Bundle::parse(
        "model.webclip",
        rewrite(tiny_q8(), |m| drop(m.insert("webclip_version".into(), "3".into()))),
    ));
    assert!(e.contains("format version 3") && e.contains("reads versions 1 and 2"), "{e}");
    assert!(e.contains("Update webclip") && e.contains("re-convert"), "{e}");
}

/// Version 1 bundles (written before model families: no `architecture`) still load, as CLIP, to the same model.
#[test]
fn a_version_1_bundle_still_loads() {
    let v1 = rehash(rewrite(tiny_q8(), |m| {
        m.insert("webclip_version".into(), "1".into());
        m.remove("architecture");
    }));
    let (old, new) =
        (Bundle::parse("v1.webclip", v1).unwrap(), Bundle::parse("v2.webclip", tiny_q8().clone()).unwrap());
    assert_eq!(old.config, new.config);
    let texts = ["a photo of a cat.", "a diagram"];
    assert_eq!(session(&old).embed_texts(&texts).unwrap(), session(&new).embed_texts(&texts).unwrap());
    // an architecture that disagrees with config.json is damage, named
    let wrong = rehash(rewrite(tiny_q8(), |m| drop(m.insert("architecture".into(), "siglip".into()))));
    let e = err(Bundle::parse("m", wrong));
    assert!(e.contains("__metadata__.architecture") && e.contains("'siglip'") && e.contains("'clip'"), "{e}");
}

#[test]
fn inconsistent_contents_are_named() {
    // header re-hashed as documented, so these get past the hashes to the content checks
    let e = err(Bundle::parse("m", rehash(rewrite(tiny_q8(), |m| drop(m.remove("config.json"))))));
    assert!(e.contains("__metadata__.config.json: is missing"), "{e}");
    let words = "text_model.encoder.layers.1.mlp.fc1.weight.q8.words";
    let damaged = rehash(rewrite_tensor(tiny_q8(), words, |info| info["dtype"] = "I32".into()));
    let e = err(Bundle::parse("m", damaged));
    assert!(e.contains(words) && e.contains("I32") && e.contains("needs U32"), "{e}");
    // sizes from the header never overflow, whatever a crafted file says
    let huge = rehash(rewrite(tiny_q8(), |m| {
        let mut q: Value = serde_json::from_str(m["quantized"].as_str().unwrap()).unwrap();
        q["text_projection.weight"]["shape"] = serde_json::json!([u64::MAX / 2, 3]);
        m.insert("quantized".into(), q.to_string().into());
    }));
    let e = err(Bundle::parse("m", huge));
    assert!(e.contains("'text_projection.weight' has shape") && e.contains("larger than the file"), "{e}");
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// `bytes` with the header JSON edited by `f` (the data section kept).
fn edit_header(bytes: &[u8], f: impl FnOnce(&mut serde_json::Map<String, Value>)) -> Vec<u8> {
    let h = header_end(bytes);
    let mut header: serde_json::Map<String, Value> = serde_json::from_slice(&bytes[8..h]).unwrap();
    f(&mut header);
    let mut json = serde_json::to_vec(&header).unwrap();
    json.resize(json.len().next_multiple_of(8), b' ');
    let mut out = (json.len() as u64).to_le_bytes().to_vec();
    out.extend(json);
    out.extend(&bytes[h..]);
    out
}

fn rewrite(bytes: &[u8], f: impl FnOnce(&mut serde_json::Map<String, Value>)) -> Vec<u8> {
    edit_header(bytes, |h| f(h["__metadata__"].as_object_mut().unwrap()))
}

fn rewrite_tensor(bytes: &[u8], name: &str, f: impl FnOnce(&mut Value)) -> Vec<u8> {
    edit_header(bytes, |h| f(&mut h[name]))
}

/// A tokenizer tensor that is not deflate data (hashes recomputed, as a buggy writer would leave it) is named.
/// A bundle holding NaN/Inf (written by an older webclip, or edited and re-hashed) is refused at load like an HF
/// checkpoint, for native f32/f16 tensors and for the f16 scales of q8/q4 ones.
#[test]
fn non_finite_weights_in_a_bundle_are_refused() {
    let (c, t) = tiny();
    let f16 = write(c, t, &Policy::uniform(Kind::F16), Towers::Both);
    let scales = "text_model.encoder.layers.0.mlp.fc1.weight.q8.scales";
    for (bytes, name) in [(&f16, "logit_scale"), (tiny_q8(), "logit_scale"), (tiny_q8(), scales)] {
        let mut bytes = bytes.clone();
        let h = header_end(&bytes);
        let info = SafeTensors::read_metadata(&bytes).unwrap().1.info(name).unwrap().clone();
        let bad: &[u8] = match info.dtype {
            safetensors::tensor::Dtype::F16 => &[0x00, 0x7e],             // NaN
            safetensors::tensor::Dtype::F32 => &[0x00, 0x00, 0x80, 0xff], // -inf
            other => panic!("{name} is {other:?}"),
        };
        let start = h + info.data_offsets.0;
        bytes[start..start + bad.len()].copy_from_slice(bad);
        let payload = hex(&Sha256::digest(&bytes[h..]));
        let bytes = rehash(rewrite(&bytes, |m| drop(m.insert("payload_sha256".into(), payload.into()))));
        let e = Bundle::parse("m.webclip", bytes).err().expect("must be refused");
        assert_eq!(e.code(), "tensor-non-finite", "{name}: {e}");
        let want = format!("tensor '{name}' in m.webclip has a non-finite value");
        assert!(e.to_string().contains(&want) && e.to_string().contains("at index 0"), "{e}");
    }
}

/// Valid JSON of the wrong shape is not called "not valid JSON": the two get their own messages.
#[test]
fn a_header_of_the_wrong_shape_is_not_called_invalid_json() {
    let with_header = |json: &str| {
        let mut bytes = (json.len() as u64).to_le_bytes().to_vec();
        bytes.extend(json.as_bytes());
        err(Bundle::parse("m.webclip", bytes))
    };
    let e = with_header(r#"{"w": {"dtype": "F32", "shape": "two", "data_offsets": [0, 8]}}"#);
    assert!(e.contains("the header is JSON but not a safetensors header") && !e.contains("not valid JSON"), "{e}");
    let e = with_header(r#"{"w": {"dtype": "F32", "#);
    assert!(e.contains("the header is not valid JSON"), "{e}");
}

#[test]
fn a_damaged_tokenizer_tensor_is_named() {
    let mut bytes = tiny_q8().clone();
    let st = SafeTensors::read_metadata(&bytes).unwrap().1;
    let (start, end) = st.info(bundle::TOKENIZER_TENSOR).unwrap().data_offsets;
    let h = header_end(&bytes);
    bytes[h + start..h + end].fill(0xff);
    let payload = hex(&Sha256::digest(&bytes[h..]));
    let bytes = rehash(rewrite(&bytes, |m| drop(m.insert("payload_sha256".into(), payload.into()))));
    let e = err(Bundle::parse("m.webclip", bytes));
    assert!(e.contains("webclip.tokenizer_json.deflate") && e.contains("re-convert"), "{e}");
}

/// Recomputes `header_sha256` as bundle.rs documents it: SHA-256 of the compact JSON
/// `[{metadata less the two hashes}, {NAME: [dtype, shape]}]`, keys sorted.
fn rehash(bytes: Vec<u8>) -> Vec<u8> {
    let h = header_end(&bytes);
    let header: serde_json::Map<String, Value> = serde_json::from_slice(&bytes[8..h]).unwrap();
    let mut meta: std::collections::BTreeMap<String, Value> =
        header["__metadata__"].as_object().unwrap().clone().into_iter().collect();
    meta.remove("header_sha256");
    meta.remove("payload_sha256");
    let table: std::collections::BTreeMap<&String, Value> = header
        .iter()
        .filter(|(k, _)| *k != "__metadata__")
        .map(|(k, v)| (k, Value::Array(vec![v["dtype"].clone(), v["shape"].clone()])))
        .collect();
    let digest = hex(&Sha256::digest(serde_json::to_vec(&(meta, table)).unwrap()));
    rewrite(&bytes, |m| drop(m.insert("header_sha256".into(), digest.into())))
}

/// Sizes and fidelity of a full-size synthetic ViT-B/32 (random weights, so fidelity is indicative only: trained
/// weights have outliers that random ones lack). ~2 GB of memory, a minute or two:
/// `cargo test --test bundle vit_b_32 -- --ignored --nocapture`. Measured (MB = 10⁶ bytes; worst cosine vs f32
/// over 4 texts and 2 photos):
///
/// | policy | both towers | text only | vision only | cosine |
/// |--------|-------------|-----------|-------------|--------|
/// | f16    | 304.7       | 128.7     | 176.0       | 1.00000 |
/// | q8     | 163.2       | 69.4      | 93.8        | 0.99989 |
/// | q4+    | 99.4        | 41.0      | 58.4        | 0.9848 |
/// | q4     | 88.9        | 37.7      | 51.1        | 0.9766 |
#[test]
#[ignore]
fn vit_b_32_sizes_and_fidelity() {
    let c = synth::preset("vit-b-32").unwrap();
    let tensors = synth::random_tensors(&c, 0).unwrap();
    let ck = checkpoint(&c, &tensors);
    let reference = Session::new(Cpu::default(), checkpoint(&c, &tensors)).unwrap();
    let texts = ["a photo of a cat.", "a diagram of a transformer", "two dogs playing in the snow", "a red car"];
    let photos: Vec<_> = ["baseline_422.jpg", "gray.jpg"]
        .iter()
        .map(|f| reference.pixels(&std::fs::read(fixtures().join("images").join(f)).unwrap(), f).unwrap())
        .collect();
    let (want_t, want_i) = (reference.embed_texts(&texts).unwrap(), reference.embed_images(&photos).unwrap());
    drop(reference);
    let mb = |n: usize| n as f64 / 1e6;
    for name in ["f16", "q8", "q4", "q4+"] {
        let policy = Policy::preset(name).unwrap();
        let mut sizes = vec![];
        for towers in [Towers::Both, Towers::Text, Towers::Vision] {
            let bytes = Bundle::write(ck.tensors.as_ref(), &c, None, &ck.preprocess, &policy, towers).unwrap();
            sizes.push(format!(
                "{} {:.1} MB (header {:.2} MB)",
                towers.name(),
                mb(bytes.len()),
                mb(header_end(&bytes))
            ));
            if towers == Towers::Both {
                let b = Bundle::parse(name, bytes).unwrap();
                let s = session(&b);
                let (got_t, got_i) = (s.embed_texts(&texts).unwrap(), s.embed_images(&photos).unwrap());
                let ct: Vec<f64> = want_t.iter().zip(&got_t).map(|(a, b)| cosine(a, b)).collect();
                let ci: Vec<f64> = want_i.iter().zip(&got_i).map(|(a, b)| cosine(a, b)).collect();
                eprintln!("{name}: cosine vs f32: texts {ct:.5?}, images {ci:.5?}");
            }
        }
        eprintln!("{name}: {}", sizes.join(", "));
    }
}
