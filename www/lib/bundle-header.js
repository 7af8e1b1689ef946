// Reads the metadata of a webclip bundle without validating it (the wasm side does that, hashes included):
// u64 LE header length, then the safetensors header JSON whose "__metadata__" holds webclip's keys
// (src/weights/bundle.rs documents them). The page uses it to name the model and key its caches.

/** The bundle's `__metadata__` object, or null when the bytes do not start like a safetensors header. */
export function bundleMetadata(bytes) {
  if (bytes.length < 8) return null;
  const n = Number(new DataView(bytes.buffer, bytes.byteOffset, 8).getBigUint64(0, true));
  if (!(n > 1) || 8 + n > bytes.length || n > 100_000_000) return null;
  try {
    return JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + n))).__metadata__ ?? null;
  } catch {
    return null;
  }
}

/** What the page shows about a bundle: identity (the payload hash, so equal bytes share caches), kind, size. */
export function describeBundle(meta, bytes) {
  let policy = {};
  try {
    policy = JSON.parse(meta.policy ?? '{}');
  } catch { /* older producers: no policy; the summary text still shows */ }
  let config = {};
  try {
    config = JSON.parse(meta['config.json'] ?? '{}');
  } catch { /* shown as unknown */ }
  return {
    // weights and header (config, tokenizer, preprocessing) together decide every embedding
    id: meta.payload_sha256 && meta.header_sha256 ? `${meta.payload_sha256}:${meta.header_sha256}` : null,
    quant: policy.default ? `${policy.default}${policy.keep_first_last_at_q8 ? '+' : ''}` : 'unknown',
    policy: meta.policy_summary ?? '',
    towers: meta.towers ?? 'unknown',
    producer: meta.producer ?? '',
    architecture: architecture(config),
    bytes: bytes.length,
  };
}

/** "ViT-B/32-like: image 224 px, patch 32, 12×768; text 12×512; 512-d" from a CLIP config.json. */
function architecture(c) {
  const v = c.vision_config ?? c.vision_config_dict ?? {};
  const t = c.text_config ?? c.text_config_dict ?? {};
  const [vl, vw, tl, tw] = [v.num_hidden_layers ?? 12, v.hidden_size ?? 768, t.num_hidden_layers ?? 12, t.hidden_size ?? 512];
  return `image ${v.image_size ?? 224} px, patch ${v.patch_size ?? 32}, ${vl}×${vw}; text ${tl}×${tw}; ` +
    `${c.projection_dim ?? 512}-d embeddings`;
}
