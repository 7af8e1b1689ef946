//! A deterministic safetensors writer for the task files (caption caches, search indexes): the same content always
//! gives the same bytes, so files can be compared, hashed and shipped. (`safetensors::serialize` takes the
//! metadata as a HashMap, whose order changes from run to run.)
//!
//! Layout, as the safetensors format defines it: u64 little-endian header length N, N bytes of JSON
//! `{"__metadata__": {…}, "NAME": {"dtype", "shape", "data_offsets": [begin, end]}, …}` (keys sorted, padded with
//! spaces to a multiple of 8), then the tensors' bytes in the order given.

use std::collections::BTreeMap;

use serde_json::{json, Value};

/// One tensor: name, safetensors dtype name ("F32", "I8", …), shape, little-endian bytes.
pub(crate) struct Tensor<'a> {
    pub name: &'a str,
    pub dtype: &'static str,
    pub shape: Vec<usize>,
    pub data: &'a [u8],
}

pub(crate) fn serialize(tensors: &[Tensor], metadata: &BTreeMap<String, String>) -> Vec<u8> {
    let mut header: BTreeMap<String, Value> = BTreeMap::new();
    header.insert("__metadata__".into(), json!(metadata));
    let mut offset = 0;
    for t in tensors {
        let end = offset + t.data.len();
        header.insert(t.name.into(), json!({ "dtype": t.dtype, "shape": t.shape, "data_offsets": [offset, end] }));
        offset = end;
    }
    // serde_json writes a BTreeMap in key order
    let mut text = serde_json::to_vec(&header).unwrap_or_default();
    text.resize(text.len().next_multiple_of(8), b' ');
    let mut out = Vec::with_capacity(8 + text.len() + offset);
    out.extend((text.len() as u64).to_le_bytes());
    out.extend(text);
    for t in tensors {
        out.extend_from_slice(t.data);
    }
    out
}
