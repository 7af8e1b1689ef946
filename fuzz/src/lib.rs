//! The bodies of webclip's four fuzz targets, one function per untrusted input a user hands webclip:
//!
//! | target | input | through |
//! |--------|-------|---------|
//! | [`bundle`] | a `.webclip` file | `Bundle::parse`, every tensor read back, `Session` (tokenizer + model load), one forward pass per tower |
//! | [`checkpoint`] | an HF folder's files, [`split`] from one input | `Checkpoint::from_parts` (what `Checkpoint::open` calls on a folder), `SafetensorsFile`, `Session` |
//! | [`image`] | an image file | `image::decode` (webclip's own JPEG decoder, then the image crate's), `image::load` with CLIP's preprocessing |
//! | [`tokenizer`] | any text | the bundled CLIP tokenizer: ids within the context, bos first, eos last |
//!
//! Each returns normally on any `Ok` or `Err` and panics when an invariant breaks: an error whose message is empty,
//! a tensor whose data does not match its shape, token ids without bos/eos. The cargo-fuzz binaries
//! (`fuzz/fuzz_targets/*.rs`) call them, and so does `tests/fuzz_smoke.rs` (`#[path]`-included: it needs only
//! crates the main crate depends on), which runs a bounded, seeded mutation loop over `fuzz/seeds/` in `cargo test`.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use safetensors::tensor::{Dtype, Metadata};
use sha2::{Digest, Sha256};
use webclip::backend::cpu::Cpu;
use webclip::image::{PreprocessConfig, MAX_SIDE};
use webclip::model::{Model, ModelConfig};
use webclip::tensor::TensorSource;
use webclip::tokenizer::TextTokenizer;
use webclip::weights::bundle::Bundle;
use webclip::weights::SafetensorsFile;
use webclip::{Checkpoint, Error, Session};

/// Separates the files of a [`checkpoint`] input: `config.json`, `preprocessor_config.json`, `tokenizer.json`,
/// then one safetensors shard per part. An empty part is a file the folder lacks.
pub const PART: &[u8] = b"\n--webclip-fuzz-part--\n";

/// A forward pass is run only on models this small (the fuzzer looks for crashes, not for slow big models).
const MAX_FORWARD_IMAGE: usize = 64;
const MAX_FORWARD_PARAMS: usize = 1 << 20;
/// tokenizer.json files larger than this are not parsed (CLIP's 2 MB one takes ~0.1 s: the bundled tokenizer is
/// fuzzed by [`tokenizer`]).
const MAX_TOKENIZER_JSON: usize = 64 << 10;

/// CLIP's special tokens in the bundled tokenizer.json.
pub const BOS: u32 = 49406;
pub const EOS: u32 = 49407;
pub const VOCAB: u32 = 49408;

/// Panics unless `e` says something: its message and its free-text part are non-empty.
pub fn check_error(e: &Error) {
    let message = e.to_string();
    assert!(!message.trim().is_empty(), "an error with an empty message: {e:?}");
    let detail = match e {
        Error::Json { file, .. } => file.as_str(),
        Error::Config { problem, .. } => problem,
        Error::Safetensors { detail, .. } | Error::Image { detail, .. } => detail,
        Error::MissingTensor { name, .. } | Error::TensorShape { name, .. } | Error::TensorDtype { name, .. } => name,
        Error::Tokenizer(s) | Error::Input(s) => s,
        _ => message.as_str(),
    };
    assert!(!detail.trim().is_empty(), "an error without its detail: {message:?} ({e:?})");
}

fn ok_or_check<T>(r: webclip::Result<T>) -> Option<T> {
    r.map_err(|e| check_error(&e)).ok()
}

/// `__metadata__`'s two hashes recomputed (and the data section padded or cut to the length the header gives), so
/// that a mutated bundle gets past the hash checks to the code behind them. `None` when the header does not parse
/// as safetensors or nothing needed fixing.
pub fn rehash(bytes: &[u8]) -> Option<Vec<u8>> {
    let n = usize::try_from(u64::from_le_bytes(bytes.get(..8)?.try_into().ok()?)).ok()?;
    let header = bytes.get(8..8usize.checked_add(n)?)?;
    let parsed: Metadata = serde_json::from_slice(header).ok()?;
    let mut value: serde_json::Value = serde_json::from_slice(header).ok()?;
    let mut data = bytes[8 + n..].to_vec();
    if parsed.data_len() > 16 << 20 {
        return None;
    }
    data.resize(parsed.data_len(), 0);
    // the same digest Bundle::parse computes: metadata less the hashes, each tensor's dtype and shape
    let meta: BTreeMap<String, String> = parsed.metadata().clone().unwrap_or_default().into_iter().collect();
    let meta: BTreeMap<&str, &str> = meta
        .iter()
        .filter(|(k, _)| !matches!(k.as_str(), "payload_sha256" | "header_sha256"))
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let table: BTreeMap<String, (Dtype, Vec<usize>)> =
        parsed.tensors().into_iter().map(|(k, i)| (k, (i.dtype, i.shape.clone()))).collect();
    let hex = |bytes: &[u8]| Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect::<String>();
    let header_sha = hex(&serde_json::to_vec(&(meta, table)).ok()?);
    let payload_sha = hex(&data);
    let obj = value.as_object_mut()?;
    let meta = obj.entry("__metadata__").or_insert_with(|| serde_json::json!({})).as_object_mut()?;
    meta.insert("header_sha256".into(), header_sha.into());
    meta.insert("payload_sha256".into(), payload_sha.into());
    let header = serde_json::to_vec(&value).ok()?;
    let mut out = Vec::with_capacity(8 + header.len() + data.len());
    out.extend_from_slice(&(header.len() as u64).to_le_bytes());
    out.extend_from_slice(&header);
    out.extend_from_slice(&data);
    (out != bytes).then_some(out)
}

/// A `.webclip` bundle from bytes: as given, then with its hashes fixed up ([`rehash`]).
pub fn bundle(data: &[u8]) {
    bundle_once(data);
    if let Some(fixed) = rehash(data) {
        bundle_once(&fixed);
    }
}

fn bundle_once(data: &[u8]) {
    let Some(b) = ok_or_check(Bundle::parse("fuzz.webclip", data.to_vec())) else { return };
    assert!(b.weights_len() <= b.len());
    for name in b.names() {
        let shape = b.shape(&name).map(<[usize]>::to_vec);
        let shape = shape.unwrap_or_else(|| panic!("'{name}' is listed by names() but has no shape"));
        assert!(b.kind(&name).is_some(), "'{name}' is listed by names() but has no kind");
        if let Some(t) = ok_or_check(b.tensor(&name, &shape)) {
            assert_eq!(t.data.len(), shape.iter().product::<usize>(), "'{name}' {shape:?}: tensor length");
        }
        if let Some(m) = ok_or_check(b.matrix(&name, &shape)) {
            assert_eq!(m.dequantize().len(), shape.iter().product::<usize>(), "'{name}' {shape:?}: matrix length");
        }
        if let Some(p) = b.packed_bytes(&name) {
            assert_eq!(p.rows * p.cols, shape.iter().product::<usize>(), "'{name}' {shape:?}: packed_bytes");
        }
    }
    run_model(b.into_checkpoint());
}

/// Splits a [`checkpoint`] input at [`PART`].
pub fn split(data: &[u8]) -> Vec<&[u8]> {
    let mut parts = Vec::new();
    let mut rest = data;
    while let Some(i) = rest.windows(PART.len()).position(|w| w == PART) {
        parts.push(&rest[..i]);
        rest = &rest[i + PART.len()..];
    }
    parts.push(rest);
    parts
}

/// Joins files into a [`checkpoint`] input (the inverse of [`split`]).
pub fn join(parts: &[&[u8]]) -> Vec<u8> {
    parts.join(PART)
}

/// A structure-aware mutation for the cargo-fuzz binaries (`fuzz_mutator!`): `mutate` (libFuzzer's own, on a
/// buffer, its used length and capacity → new length) applied to one file of a [`checkpoint`] input, chosen by `seed`,
/// so that the small JSON files get as many edits as the big shards; one time in eight to the whole input.
pub fn mutate_part(
    data: &mut [u8],
    size: usize,
    seed: u32,
    mutate: impl FnMut(&mut [u8], usize, usize) -> usize,
) -> usize {
    let parts: Vec<Vec<u8>> = split(&data[..size]).into_iter().map(<[u8]>::to_vec).collect();
    let pick = seed as usize / 8 % parts.len();
    mutate_section(
        data,
        size,
        seed.is_multiple_of(8),
        parts,
        pick,
        |parts| join(&parts.iter().map(Vec::as_slice).collect::<Vec<_>>()),
        mutate,
    )
}

/// The same for a [`bundle`]: three edits in four go to the header JSON, and the length field is rewritten to match
/// (the target fixes the hashes).
pub fn mutate_header(
    data: &mut [u8],
    size: usize,
    seed: u32,
    mutate: impl FnMut(&mut [u8], usize, usize) -> usize,
) -> usize {
    let n = data[..size].get(..8).map(|b| u64::from_le_bytes(b.try_into().unwrap_or_default()) as usize);
    let Some(n) = n.filter(|&n| n <= size - 8) else { return whole(data, size, mutate) };
    let parts = vec![data[8..8 + n].to_vec(), data[8 + n..size].to_vec()];
    let rebuild = |parts: &[Vec<u8>]| [&(parts[0].len() as u64).to_le_bytes()[..], &parts[0], &parts[1]].concat();
    mutate_section(data, size, seed.is_multiple_of(8), parts, usize::from(seed % 4 == 3), rebuild, mutate)
}

fn whole(data: &mut [u8], size: usize, mut mutate: impl FnMut(&mut [u8], usize, usize) -> usize) -> usize {
    let cap = data.len();
    mutate(data, size, cap)
}

fn mutate_section(
    data: &mut [u8],
    size: usize,
    everything: bool,
    mut parts: Vec<Vec<u8>>,
    pick: usize,
    rebuild: impl Fn(&[Vec<u8>]) -> Vec<u8>,
    mut mutate: impl FnMut(&mut [u8], usize, usize) -> usize,
) -> usize {
    if everything {
        return whole(data, size, mutate);
    }
    let part_len = parts[pick].len();
    let cap = data.len().saturating_sub(size - part_len).max(part_len);
    let mut buf = std::mem::take(&mut parts[pick]);
    buf.resize(cap, 0);
    let n = mutate(&mut buf, part_len, cap).min(cap);
    buf.truncate(n);
    parts[pick] = buf;
    let out = rebuild(&parts);
    if out.len() > data.len() {
        return whole(data, size, mutate);
    }
    data[..out.len()].copy_from_slice(&out);
    out.len()
}

/// A Hugging Face folder's files ([`split`]): config.json, preprocessor_config.json, tokenizer.json, shards.
pub fn checkpoint(data: &[u8]) {
    let parts = split(data);
    let part = |i: usize| parts.get(i).copied().filter(|p| !p.is_empty());
    let config = part(0).unwrap_or_default();
    let shards: Vec<(String, Vec<u8>)> =
        parts.iter().skip(3).enumerate().map(|(i, p)| (format!("model-{i:05}.safetensors"), p.to_vec())).collect();
    // each file on its own, so that one bad file does not hide the others
    ok_or_check(ModelConfig::from_json(config));
    if let Some(p) = part(1) {
        ok_or_check(PreprocessConfig::from_json(p, "preprocessor_config.json"));
    }
    for (name, bytes) in &shards {
        let Some(file) = ok_or_check(SafetensorsFile::parse(name.clone(), bytes.clone())) else { continue };
        for tensor in file.tensor_names() {
            let shape = file.shape(&tensor).map(<[usize]>::to_vec).unwrap_or_default();
            assert!(file.contains(&tensor) && file.raw(&tensor).is_some(), "'{tensor}' listed but absent");
            if let Some(t) = ok_or_check(file.tensor(&tensor, &shape)) {
                assert_eq!(t.data.len(), shape.iter().product::<usize>(), "'{tensor}' {shape:?}: tensor length");
            }
        }
    }
    let tokenizer = part(2).map(<[u8]>::to_vec);
    let Some(ckpt) = ok_or_check(Checkpoint::from_parts(config, shards, tokenizer, part(1))) else { return };
    run_model(ckpt);
}

/// What a page or the CLI does with a checkpoint: a session (its tokenizer and the model on the CPU backend), then
/// one image and one text through it when the model is small.
fn run_model(ckpt: Checkpoint) {
    let config = ckpt.config.clone();
    let small_tokenizer = ckpt.tokenizer_json.as_ref().is_some_and(|j| j.len() <= MAX_TOKENIZER_JSON);
    if !small_tokenizer {
        // the bundled tokenizer would be used: skip parsing it, load the model alone
        ok_or_check(Model::load(&Cpu::default(), ckpt.tensors.as_ref(), &config, ckpt.towers));
        return;
    }
    let Some(session) = ok_or_check(Session::new(Cpu::default(), ckpt)) else { return };
    // a forward pass only for small models: the parameters the config lists (the token table, only gathered from,
    // left out)
    let params: usize = webclip::model::parameters(&config, webclip::model::Towers::Both)
        .map(|ps| {
            ps.iter()
                .filter(|p| !p.name.contains("token_embedding"))
                .map(|p| p.shape.iter().fold(1usize, |n, &d| n.saturating_mul(d)))
                .fold(0, usize::saturating_add)
        })
        .unwrap_or(usize::MAX);
    let small = params <= 2 * MAX_FORWARD_PARAMS;
    if session.model.vision.is_some() && config.image_size() <= MAX_FORWARD_IMAGE && small {
        let (s, c) = (config.image_size(), config.image_size());
        let pixels = webclip::image::Pixels { height: s, width: c, data: vec![0.5; 3 * s * c] };
        if let Some(e) = ok_or_check(session.embed_images(&[pixels])) {
            assert_eq!((e.len(), e[0].len()), (1, config.embedding_dim()), "image embedding shape");
        }
    }
    if session.model.text.is_some() && small {
        if let Some(e) = ok_or_check(session.embed_texts(&["a photo of a cat", ""])) {
            assert_eq!((e.len(), e[0].len()), (2, config.embedding_dim()), "text embedding shape");
        }
    }
}

/// An image file: decoded (size within the limits, RGB), then preprocessed as CLIP does.
pub fn image(data: &[u8]) {
    let Some(img) = ok_or_check(webclip::image::decode(data, "fuzz.img")) else { return };
    let (w, h) = img.dimensions();
    assert!((1..=MAX_SIDE).contains(&w) && (1..=MAX_SIDE).contains(&h), "decoded {w}x{h}");
    assert_eq!(img.as_raw().len(), w as usize * h as usize * 3, "decoded {w}x{h}: RGB bytes");
    let cfg = PreprocessConfig::clip_default(32);
    if let Some(p) = ok_or_check(webclip::image::load(data, "fuzz.img", &cfg)) {
        assert_eq!((p.height, p.width, p.data.len()), (32, 32, 3 * 32 * 32), "preprocessed shape");
    }
}

/// The context lengths the tokenizer is checked at: CLIP's, and short ones where truncation does the work.
pub const CONTEXTS: [usize; 3] = [77, 8, 2];

fn tokenizers() -> &'static [TextTokenizer] {
    static TOKENIZERS: OnceLock<Vec<TextTokenizer>> = OnceLock::new();
    TOKENIZERS.get_or_init(|| {
        CONTEXTS.iter().map(|&c| TextTokenizer::bundled(c).expect("the bundled tokenizer.json parses")).collect()
    })
}

/// Any text (the bytes read as UTF-8, invalid sequences replaced) → ids: never an error, at most the context
/// length, `<|startoftext|>` first, `<|endoftext|>` last, every id in the vocabulary.
pub fn tokenizer(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    for tok in tokenizers() {
        let ctx = tok.context_length();
        let ids = tok.encode(&text).unwrap_or_else(|e| panic!("{text:?} does not tokenize at context {ctx}: {e}"));
        assert!((2..=ctx).contains(&ids.len()), "{text:?} at context {ctx}: {} ids {ids:?}", ids.len());
        assert_eq!((ids[0], ids[ids.len() - 1]), (BOS, EOS), "{text:?} at context {ctx}: {ids:?}");
        assert!(ids.iter().all(|&id| id < VOCAB), "{text:?}: {ids:?}");
    }
}
