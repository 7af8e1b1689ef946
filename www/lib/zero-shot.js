// Zero-shot scoring on embeddings, exactly as `webclip classify` computes it (src/model/mod.rs `Scorer`): CLIP's
// probs = softmax(exp(logit_scale) · cos(image, text_i)); SigLIP's per label sigmoid(exp(logit_scale) · cos +
// logit_bias); sums and norms in double precision. Prompt ensembles are
// the standard CLIP recipe: normalise each template's text embedding, average over templates, renormalise.

/** v / ‖v‖ as a Float32Array (the norm computed in doubles, like the Rust `normalize`). */
export function normalize(v) {
  let sum = 0;
  for (let i = 0; i < v.length; i++) sum += v[i] * v[i];
  const norm = Math.max(Math.sqrt(sum), 1e-12);
  const out = new Float32Array(v.length);
  for (let i = 0; i < v.length; i++) out[i] = v[i] / norm;
  return out;
}

/** The ensemble embedding of one label: normalised mean of the normalised per-template embeddings. */
export function ensemble(embeddings) {
  if (embeddings.length === 1) return normalize(embeddings[0]);
  const mean = new Float64Array(embeddings[0].length);
  for (const e of embeddings) {
    const n = normalize(e);
    for (let i = 0; i < n.length; i++) mean[i] += n[i];
  }
  return normalize(mean);
}

/** Numerically stable softmax over plain numbers. */
export function softmax(logits) {
  const max = Math.max(...logits);
  const exps = logits.map((l) => Math.exp(l - max));
  const sum = exps.reduce((a, b) => a + b, 0);
  return exps.map((e) => e / sum);
}

/**
 * Probabilities of each label for one image: `image` unnormalised, `texts` already normalised (Float32Array each),
 * `scale` = exp(logit_scale); `scoring` "softmax" (CLIP) or "sigmoid" (SigLIP, with its `bias`). Returns numbers in
 * label order.
 */
export function probabilities(image, texts, scale, { scoring = 'softmax', bias = 0 } = {}) {
  const img = normalize(image);
  const logits = texts.map((t) => {
    if (t.length !== img.length) {
      throw new Error(`a text embedding has ${t.length} values but the image embedding ${img.length}`);
    }
    let dot = 0;
    for (let i = 0; i < img.length; i++) dot += img[i] * t[i];
    return Math.fround(Math.fround(scale * Math.fround(dot)) + bias); // f32 logits, as the Rust code
  });
  if (scoring === 'sigmoid') return logits.map((l) => 1 / (1 + Math.exp(-l)));
  return softmax(logits);
}

/** [{label, p}] sorted by descending probability (ties keep label order, as `zero_shot::ranked`). */
export function ranked(labels, probs) {
  return labels.map((label, i) => ({ label, p: probs[i], i }))
    .sort((a, b) => b.p - a.p || a.i - b.i)
    .map(({ label, p }) => ({ label, p }));
}
