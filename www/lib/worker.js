/**
 * The webclip inference worker (a module worker): it owns the wasm module and the one loaded model, so downloads,
 * WebGPU pipeline creation and both towers never block the page. Start it with
 * `new Worker(new URL('./worker.js', import.meta.url), {type: 'module'})`, or use lib/client.js.
 *
 * Protocol. The page posts requests `{id, type, ...fields}`; the worker handles them one at a time, in order, and
 * answers each with exactly one `{id, ok: true, result}` or `{id, ok: false, error: {code, message, hint, fatal,
 * engineCode}}` (codes: lib/errors.js, mapped from the engine's by code; `engineCode`: the engine's own, or null;
 * `fatal`: the wasm instance is unusable, start a new worker). While working it may post
 * `{id, progress: {stage, ...}}`.
 *
 * | type     | fields                                                   | result                                       |
 * |----------|----------------------------------------------------------|----------------------------------------------|
 * | load     | model: URL or "" (default), base: page URL,              | model info: {name, url, id, quant, policy,   |
 * |          | backend: "auto" / "gpu" / "cpu"                          | towers, dim, logitScale, backend, requested, |
 * |          |                                                          | choice (why "auto" took the CPU), fallback,  |
 * |          |                                                          | fromCache, stored, captions, captionCache,   |
 * |          |                                                          | bytes, ms, warnings: [{code, message}],      |
 * |          |                                                          | webclip (version), cpuFeatures (the wasm     |
 * |          |                                                          | build: "relaxed-simd-threads", "relaxed-simd"|
 * |          |                                                          | or "simd128"), threads (the CPU backend's)}  |
 * | labels   | labels: string[], templates: {id, list: string[]}        | {count, cached, computed, ms}                |
 * | classify | image: {id, name, bytes: Uint8Array}, labels, templates  | {ranked: [{label, p}], timings: {image, text,|
 * |          |                                                          | textComputed}, backend, fallback}            |
 * | caption  | image: {id, name, bytes: Uint8Array}                     | {caption, score, alternatives: [{caption,    |
 * |          |                                                          | score}], ms, vocabularyMs, backend, fallback}|
 * | clear    | –                                                        | {models, texts}: how many entries were removed|
 * | info     | –                                                        | {models: [{url, bytes}], texts, usage, quota}|
 *
 * For the JavaScript API (webclip.js) — embeddings as `webclip embed` prints them (unnormalised projections):
 *
 * | type        | fields                                                | result                                       |
 * |-------------|-------------------------------------------------------|----------------------------------------------|
 * | embed-image | image: {id, name, bytes: Uint8Array}                  | {embedding: Float32Array, ms, backend}       |
 * | embed-text  | texts: string[] (the text itself, no template)        | {embeddings: Float32Array[], ms, backend}    |
 *
 * For the collection view (collection.html): multi-label tags and a search index the page keeps (IndexedDB).
 *
 * | type   | fields                                                      | result                                     |
 * |--------|-------------------------------------------------------------|--------------------------------------------|
 * | tag    | image: {id, name, bytes}, labels: string[], threshold,      | {tags: [{tag, score}] (≥ threshold, best   |
 * |        | crops: bool, dims: index dims (0: all)                      | first), scores: number[] (label order),    |
 * |        |                                                             | vector: Int8Array (dims), scale, ms,       |
 * |        |                                                             | backend}                                   |
 * | search | query: {text}, {image: {id, name, bytes}} or              | {hits: [{index, score}] (best first),      |
 * |        | {vector: Int8Array, scale} (a stored row),                  | ms}: score = cosine(query, row)            |
 * |        | vectors: Int8Array (n × dims rows), dims, top               |                                            |
 *
 * `tag` scores as `webclip tag` (model.tag: "a photo of a {tag}." against "a photo.", sigmoid) and quantizes the
 * image embedding as `webclip index` (quantizeEmbedding). The embedding is the one model.tag computed for the whole
 * image (no second pass), kept like any image's, so a caption of the same image.id reuses it. A text query is embedded as
 * `webclip search` does (the text itself, no template).
 *
 * Progress stages: {stage: "download", file, loaded, total} · {stage: "convert", quant} · {stage: "compile",
 * backend} · {stage: "warmup"} · {stage: "fallback", reason} · {stage: "text", done, total} · {stage: "image"} ·
 * {stage: "vocabulary"} (the first caption of a model embeds the caption vocabulary, ~1,260 short texts).
 *
 * `templates.list` holds one template ("a photo of a {}.") or several, averaged as the CLIP prompt ensemble;
 * `templates.id` names the set in the text-embedding cache. `image.id` names an image for this model: a second
 * classify of the same id (new labels) reuses its embedding and caption instead of running the image tower again.
 * `timings` are milliseconds, null for what came from a cache; `image` covers decode + preprocessing + the image
 * tower (the wasm API does all three in one call). Captions are a separate request so labels show at once: the
 * first caption of a model embeds the vocabulary (seconds on a GPU, minutes on a CPU), which is then kept in
 * IndexedDB (`captionCache`: "imported" when a stored one was loaded). A build without model.caption reports
 * `captions: false` and answers caption requests with an error.
 */

import { WebclipError, isGpuFailure, toWebclipError } from './errors.js';
import { bundleMetadata, describeBundle } from './bundle-header.js';
import { build, buildCpu, fetchBundle, warmUp } from './loader.js';
import { cachedModel, clearModels, formatBytes, listModels, storeModel } from './model-store.js';
import { resolveSource } from './source.js';
import { engine, loadEngine } from './engine.js';
import * as store from './embedding-store.js';
import { ensemble, probabilities, ranked } from './zero-shot.js';
import { fillTemplate, checkTemplates } from './labels.js';

const TEXT_BATCH = 64; // prompts per embedTexts call: progress stays fluid for 1000 labels × 80 templates
const KEEP_IMAGES = 256; // image embeddings (and captions) remembered per model
const KEEP_LABEL_SETS = 4;

let current = null; // {model: Model, info, source, bytes (kept only when not stored), auto}
const images = new Map(); // image id → {embedding: Float32Array, caption}
const labelSets = new Map(); // JSON [templates.id, labels] → normalised Float32Array[]

const remember = (map, key, value, max) => {
  map.delete(key);
  map.set(key, value);
  while (map.size > max) map.delete(map.keys().next().value);
};

async function load({ model: input, base, backend = 'auto' }, progress) {
  const { build: engineBuild, threads, threadsError } = await loadEngine();
  let source;
  try {
    source = resolveSource(input, base);
  } catch (e) {
    throw new WebclipError('not-found', e.message);
  }
  const ms = {};
  let t = performance.now();
  let got;
  try {
    got = await fetchBundle(source, progress);
  } catch (e) {
    // a mistyped URL or a lost connection keeps the model that is loaded: the page goes on with it
    throw Object.assign(toWebclipError(e, 'model'), { kept: current ? current.info.name : null });
  }
  ms.download = performance.now() - t;
  current?.model.free(); // only now: one model's weights in memory at a time (phones have ~1.5 GB a tab)
  current = null;
  images.clear();
  labelSets.clear();
  const meta = bundleMetadata(got.bytes);
  t = performance.now();
  let { model, fallback, choice } = await build(got.bytes, source.name, backend, progress);
  ms.compile = performance.now() - t;
  t = performance.now();
  progress({ stage: 'warmup', backend: model.backend === 'cpu' ? 'cpu' : 'gpu' });
  try {
    await warmUp(model);
  } catch (e) {
    if (!(backend === 'auto' && isGpuFailure(e) && model.backend !== 'cpu')) throw toWebclipError(e, 'warm-up');
    model.free();
    fallback = `WebGPU failed while warming up: ${e.message ?? e}`;
    progress({ stage: 'fallback', reason: fallback });
    model = await buildCpu(got.bytes, source.name, progress);
    await warmUp(model);
  }
  ms.warmup = performance.now() - t;

  const warnings = threadsError ? [{ code: 'threads', message: threadsError }] : [];
  let stored = got.fromCache;
  if (!got.fromCache) {
    const err = await storeModel(source.cacheKey, got.bytes, got);
    if (err) warnings.push(err.toPlain());
    stored = !err;
  }
  const about = describeBundle(meta ?? {}, got.bytes);
  const id = about.id ?? `${source.cacheKey}:${got.bytes.length}`;
  const captions = typeof model.caption === 'function';
  const captionCache = captions ? await importCaptionCache(model, id) : 'none';
  const info = {
    ...about,
    id,
    name: source.name,
    url: source.url,
    kind: source.kind,
    towers: model.towers,
    dim: model.embeddingDim,
    logitScale: model.logitScale,
    logitBias: model.logitBias,
    scoring: model.scoring,
    architecture: model.architecture,
    backend: model.backend,
    requested: backend,
    choice,
    fallback,
    fromCache: got.fromCache,
    stored,
    captions,
    captionCache,
    webclip: engine().version(),
    cpuFeatures: engineBuild,
    threads,
    ms,
    warnings,
  };
  current = { model, info, source, auto: backend === 'auto', bytes: stored ? null : got.bytes,
    vocabulary: captionCache === 'imported' };
  return info;
}

/** Loads the stored caption vocabulary of model `id` (one per model: any backend's is within 1e-5 of another's). */
async function importCaptionCache(model, id) {
  const bytes = await store.getCaptionCache(id).catch(() => null);
  if (!bytes) return 'none';
  try {
    await model.importCaptionCache(bytes);
    return 'imported';
  } catch (e) {
    console.warn(`webclip: the stored caption vocabulary was not used (${e.message ?? e}); it is embedded again`);
    return 'none';
  }
}

/** Runs `fn(model)`; when WebGPU fails mid-session ("auto" only), rebuilds the model on the CPU and runs it again. */
async function withFallback(fn, progress) {
  const c = needModel();
  try {
    return await fn(c.model);
  } catch (e) {
    if (!(c.auto && c.info.backend !== 'cpu' && isGpuFailure(e))) throw e;
    const bytes = c.bytes ?? (await cachedModel(c.source.cacheKey))?.bytes;
    if (!bytes) throw e;
    const reason = `WebGPU failed (${e.message ?? e}); switched to the CPU`;
    progress({ stage: 'fallback', reason });
    c.model.free();
    c.model = await buildCpu(bytes, c.source.name, progress);
    Object.assign(c.info, { backend: c.model.backend, fallback: reason });
    images.clear();
    labelSets.clear();
    c.vocabulary = c.info.captions && (await importCaptionCache(c.model, c.info.id)) === 'imported';
    return fn(c.model);
  }
}

function needModel() {
  if (!current) throw new WebclipError('no-model', 'no model is loaded yet');
  return current;
}

// ---- labels and images ----

async function labelEmbeddings({ labels, templates }, progress) {
  if (!labels?.length) throw new WebclipError('labels', 'the label list is empty');
  checkTemplates(templates.list);
  const c = needModel();
  const setKey = JSON.stringify([c.info.backend, templates.id, labels]);
  if (labelSets.has(setKey)) return { vectors: labelSets.get(setKey), cached: labels.length, computed: 0, ms: null };

  const t0 = performance.now();
  const backendKind = c.info.backend === 'cpu' ? 'cpu' : 'gpu';
  const key = (label) => store.textKey(c.info.id, backendKind, templates.id, label);
  const stored = await store.getMany(labels.map(key));
  const missing = labels.filter((l) => !stored.has(key(l)));
  const per = Math.max(1, Math.floor(TEXT_BATCH / templates.list.length));
  for (let i = 0; i < missing.length; i += per) {
    progress({ stage: 'text', done: i, total: missing.length });
    const chunk = missing.slice(i, i + per);
    const prompts = chunk.flatMap((l) => templates.list.map((t) => fillTemplate(t, l)));
    const out = await withFallback((m) => m.embedTexts(prompts), progress);
    const entries = chunk.map((l, j) =>
      [key(l), ensemble(out.slice(j * templates.list.length, (j + 1) * templates.list.length))]);
    entries.forEach(([k, v]) => stored.set(k, v));
    await store.putMany(entries);
  }
  if (missing.length) progress({ stage: 'text', done: missing.length, total: missing.length });
  const vectors = labels.map((l) => stored.get(key(l)));
  remember(labelSets, setKey, vectors, KEEP_LABEL_SETS);
  return { vectors, cached: labels.length - missing.length, computed: missing.length,
    ms: missing.length ? performance.now() - t0 : null };
}

async function classify({ image, labels, templates }, progress) {
  const text = await labelEmbeddings({ labels, templates }, progress);
  const c = needModel();
  const timings = { image: null, text: text.ms, textComputed: text.computed };
  const seen = await imageEmbedding(image, progress, timings);
  const probs = probabilities(seen.embedding, text.vectors, c.info.logitScale,
    { scoring: c.info.scoring, bias: c.info.logitBias });
  return { ranked: ranked(labels, probs), timings, backend: c.info.backend, fallback: c.info.fallback };
}

/** The image's remembered entry, running the image tower (timed into `timings.image`) when it is new. */
async function imageEmbedding(image, progress, timings) {
  let seen = images.get(image.id);
  if (seen) return seen;
  progress({ stage: 'image' });
  const t0 = performance.now();
  let embedding;
  try {
    embedding = await withFallback((m) => m.embedImage(image.bytes, image.name), progress);
  } catch (e) {
    throw toWebclipError(e, 'image', image.name);
  }
  timings.image = performance.now() - t0;
  seen = { embedding, caption: null };
  remember(images, image.id, seen, KEEP_IMAGES);
  return seen;
}

async function caption({ image }, progress) {
  const c = needModel();
  if (!c.info.captions) {
    throw new WebclipError('internal', `this build of webclip (${engine().version()}) has no captioner (model.caption)`);
  }
  const seen = images.get(image.id);
  if (seen?.caption) return { ...seen.caption, ms: null, vocabularyMs: null, backend: c.info.backend };
  const building = !c.vocabulary;
  if (building) progress({ stage: 'vocabulary' });
  const t0 = performance.now();
  let r;
  try {
    // an image the page already classified has its embedding: no second image pass
    r = plainCaption(await withFallback((m) => (seen?.embedding && m.captionEmbedding
      ? m.captionEmbedding(seen.embedding) : m.caption(image.bytes, image.name)), progress));
  } catch (e) {
    throw toWebclipError(e, 'image', image.name);
  }
  const ms = performance.now() - t0;
  if (building) {
    c.vocabulary = true;
    // kept for the next visit; a failure only means embedding the vocabulary again then
    c.model.exportCaptionCache().then((bytes) => store.putCaptionCache(c.info.id, bytes))
      .catch((e) => console.warn(`webclip: caption vocabulary not stored: ${e.message ?? e}`));
  }
  if (seen) seen.caption = r;
  return { ...r, ms, vocabularyMs: building ? ms : null, backend: c.info.backend, fallback: c.info.fallback };
}

/** model.caption's answer {caption, score, alternatives: [{caption, score}]} as plain data. */
function plainCaption(r) {
  const plain = (o) => (o instanceof Map ? Object.fromEntries(o) : o);
  const c = plain(r);
  return { caption: String(c.caption), score: c.score, alternatives: (c.alternatives ?? []).map(plain) };
}

async function clear() {
  const models = await clearModels();
  const textsRemoved = await store.clear();
  if (current) current.info.stored = false; // still loaded; downloaded again on the next visit
  return { models, texts: textsRemoved };
}

async function info() {
  const estimate = await navigator.storage?.estimate?.().catch(() => null);
  return { models: await listModels(), texts: await store.count(), usage: estimate?.usage ?? null,
    quota: estimate?.quota ?? null, usageText: estimate ? formatBytes(estimate.usage) : null };
}

// ---- embeddings for the JavaScript API (webclip.js) ----

async function embedImageRequest({ image }, progress) {
  const c = needModel();
  const timings = { image: null };
  const seen = await imageEmbedding(image, progress, timings);
  return { embedding: seen.embedding, ms: timings.image, backend: c.info.backend };
}

async function embedTextRequest({ texts }, progress) {
  if (!Array.isArray(texts) || !texts.length || !texts.every((t) => typeof t === 'string')) {
    throw new WebclipError('labels', 'embed-text needs texts: a non-empty array of strings');
  }
  const c = needModel();
  const t0 = performance.now();
  const embeddings = [];
  for (let i = 0; i < texts.length; i += TEXT_BATCH) {
    progress({ stage: 'text', done: i, total: texts.length });
    embeddings.push(...await withFallback((m) => m.embedTexts(texts.slice(i, i + TEXT_BATCH)), progress));
  }
  return { embeddings, ms: performance.now() - t0, backend: c.info.backend };
}

// ---- collection: tags and a search index (collection.html) ----

async function tagRequest({ image, labels, threshold = 0.5, crops = false, dims = 0 }, progress) {
  if (!Array.isArray(labels) || !labels.length || !labels.every((l) => typeof l === 'string' && l.trim())) {
    throw new WebclipError('labels', 'tag needs labels: a non-empty array of tags');
  }
  const c = needModel();
  if (typeof c.model.tag !== 'function') {
    throw new WebclipError('internal', `this build of webclip (${engine().version()}) has no tagger (model.tag)`);
  }
  const t0 = performance.now();
  let r;
  try {
    progress({ stage: 'image' });
    r = await withFallback((m) => m.tag(image.bytes, image.name, labels, threshold, crops), progress);
  } catch (e) {
    throw toWebclipError(e, 'image', image.name);
  }
  const plain = (o) => (o instanceof Map ? Object.fromEntries(o) : o);
  // model.tag returns the whole image's embedding (older builds did not: then a second image pass)
  const given = plain(r).embedding;
  if (given?.length && !images.has(image.id)) {
    remember(images, image.id, { embedding: Float32Array.from(given), caption: null }, KEEP_IMAGES);
  }
  const seen = await imageEmbedding(image, progress, {});
  const { vector, scale } = engine().quantizeEmbedding(seen.embedding, dims);
  const tags = [...(plain(r).tags ?? [])].map(plain).map((t) => ({ tag: String(t.tag), score: t.score }));
  return { tags, scores: Array.from(plain(r).scores), vector, scale, ms: performance.now() - t0,
    backend: c.info.backend };
}

async function searchRequest({ query, vectors, dims, top = 10 }, progress) {
  needModel();
  const t0 = performance.now();
  let q;
  if (typeof query?.text === 'string' && query.text.trim()) {
    [q] = await withFallback((m) => m.embedTexts([query.text]), progress);
  } else if (query?.image?.bytes) {
    q = (await imageEmbedding(query.image, progress, {})).embedding; // the tag request's, when it is remembered
  } else if (query?.vector instanceof Int8Array) {
    q = Float32Array.from(query.vector, (x) => x * (query.scale ?? 1)); // a stored photo: any norm will do
  } else {
    throw new WebclipError('internal', 'search needs query: {text} (non-empty), {image} or {vector: Int8Array, scale}');
  }
  const hits = vectors.length ? engine().searchIndex(q, vectors, dims, top) : [];
  return { hits: hits.map((h) => (h instanceof Map ? Object.fromEntries(h) : h)), ms: performance.now() - t0 };
}

// ---- dispatch ----

const HANDLERS = {
  load,
  labels: async (req, progress) => {
    const { vectors, ...rest } = await labelEmbeddings(req, progress);
    return { count: vectors.length, ...rest };
  },
  classify,
  caption,
  clear,
  info,
  'embed-image': embedImageRequest,
  'embed-text': embedTextRequest,
  tag: tagRequest,
  search: searchRequest,
};

let queue = Promise.resolve();
self.onmessage = ({ data }) => {
  const { id, type } = data ?? {};
  const progress = (p) => self.postMessage({ id, progress: p });
  queue = queue.then(async () => {
    try {
      const handler = HANDLERS[type];
      if (!handler) throw new WebclipError('internal', `unknown request type "${type}"`);
      self.postMessage({ id, ok: true, result: await handler(data, progress) });
    } catch (e) {
      const err = toWebclipError(e, 'internal');
      if (!(e instanceof WebclipError)) console.error(`webclip worker: ${type} failed`, e);
      self.postMessage({ id, ok: false, error: err.toPlain() });
    }
  });
};
