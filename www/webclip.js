/**
 * webclip's JavaScript API: CLIP zero-shot labels, captions and embeddings for any page, computed on the visitor's
 * device (WebGPU, or the CPU in WebAssembly) in a Web Worker. Types: webclip.d.ts. No build step:
 *
 *   import { load } from './webclip.js';
 *   const model = await load('models/default.webclip', { onProgress: (p) => console.log(p.stage) });
 *   const { labels } = await model.classify(document.querySelector('img'), ['cat', 'dog'], { topK: 1 });
 *   model.dispose();
 *
 * One model per page: every load() of the same model URL (resolved against the page) shares one worker and one
 * download; the worker stops when the last handle is disposed. Each distinct model gets its own worker.
 * Errors are WebclipError {code, message, title, hint, fatal, engineCode} (lib/errors.js): what went wrong, where,
 * and what to do; decide on `code` (engine errors arrive mapped from their own code, kept as `engineCode`).
 */

import { WebclipClient } from './lib/client.js';
import { WebclipError } from './lib/errors.js';
import { toImageBytes } from './webclip-image.js';
import { ENSEMBLE, SINGLE_TEMPLATE, checkTemplates, loadList, parseLabels } from './lib/labels.js';
import { resolveSource } from './lib/source.js';

export { WebclipError };
export const DEFAULT_TEMPLATE = SINGLE_TEMPLATE;

const WORKER_URL = new URL('./lib/worker.js', import.meta.url);
const HERE = new URL('./', import.meta.url).href; // pkg/assets/prompts/… (the 80-template ensemble) lives beside us
const BACKENDS = ['auto', 'gpu', 'cpu'];
const registry = new Map(); // resolved model URL → SharedModel

/** One worker with one model in it, shared by every handle of that model URL (reference counted). */
class SharedModel {
  users = 0;
  listeners = new Set(); // onProgress callbacks of loads still waiting
  ready = null; // Promise of the worker's model info; null: (re)load on the next request

  constructor(key, source, backend) {
    this.key = key;
    this.source = source;
    this.backend = backend;
    this.client = new WebclipClient(WORKER_URL);
  }

  loaded() {
    this.ready ??= this.client.request('load', { model: this.source, base: globalThis.document?.baseURI ?? HERE,
      backend: this.backend }, { onProgress: (p) => this.listeners.forEach((f) => call(f, p)) })
      .catch((e) => {
        this.ready = null;
        throw e;
      });
    return this.ready;
  }

  async request(type, fields, onProgress) {
    await this.loaded();
    try {
      return await this.client.request(type, fields, { onProgress });
    } catch (e) {
      // the worker restarted itself without the model: the next request loads it again (from Cache Storage)
      if (e.fatal || e.code === 'crashed') this.ready = null;
      throw e;
    }
  }

  release() {
    if (--this.users > 0) return;
    registry.delete(this.key);
    this.client.terminate();
  }
}

const call = (f, ...args) => {
  try {
    f(...args);
  } catch (e) {
    console.error('webclip: an onProgress callback threw', e);
  }
};

/**
 * Loads `modelUrl` (a .webclip bundle, a folder URL ending in / with a Hugging Face CLIPModel, or
 * https://huggingface.co/owner/repo), relative to the page. `backend`: "auto" (WebGPU, else the CPU), "gpu" or
 * "cpu"; a model already loaded by another user of this page is shared as it is. `onProgress({stage, ...})` sees
 * the stages of lib/worker.js (download with loaded/total bytes, compile, warmup, fallback).
 */
export async function load(modelUrl, { backend = 'auto', onProgress } = {}) {
  if (typeof modelUrl !== 'string' && !(modelUrl instanceof URL)) {
    throw new WebclipError('not-found', `load(modelUrl) needs the model's URL as a string, got ${typeof modelUrl}`);
  }
  if (!BACKENDS.includes(backend)) {
    throw new WebclipError('internal', `load(): backend "${backend}" is not one of ${BACKENDS.join(', ')}`);
  }
  let key;
  try {
    key = resolveSource(String(modelUrl), globalThis.document?.baseURI ?? HERE).url;
  } catch (e) {
    throw new WebclipError('not-found', `load(): ${e.message}`);
  }
  let shared = registry.get(key);
  if (!shared) registry.set(key, (shared = new SharedModel(key, key, backend)));
  shared.users += 1;
  if (onProgress) shared.listeners.add(onProgress);
  try {
    return new WebclipModel(shared, await shared.loaded());
  } catch (e) {
    shared.release();
    throw e;
  } finally {
    shared.listeners.delete(onProgress);
  }
}

/** Cosine similarity of two embeddings (any length-matched numeric arrays), computed in doubles. */
export function similarity(a, b) {
  if (!a?.length || a.length !== b?.length) {
    throw new WebclipError('internal', `similarity(a, b) needs two embeddings of the same length, got ` +
      `${a?.length ?? typeof a} and ${b?.length ?? typeof b}`);
  }
  let dot = 0, na = 0, nb = 0;
  for (let i = 0; i < a.length; i++) {
    dot += a[i] * b[i];
    na += a[i] * a[i];
    nb += b[i] * b[i];
  }
  return dot / Math.max(Math.sqrt(na) * Math.sqrt(nb), 1e-24);
}

/** A loaded model. Every method runs in the shared worker and returns a Promise. */
export class WebclipModel {
  #shared;

  constructor(shared, info) {
    this.#shared = shared;
    /** {name, url, dim, logitScale, backend, fallback, quant, towers, captions, fromCache, ms, warnings, …} */
    this.info = info;
  }

  get disposed() {
    return this.#shared === null;
  }

  #use(what) {
    if (!this.#shared) {
      throw new WebclipError('no-model', `${what}: this model was disposed; call load() again for a new handle`);
    }
    return this.#shared;
  }

  /**
   * Zero-shot labels, as `webclip classify`: {labels: [{label, score}] best first (topK of them), timings,
   * backend}. `labels`: an array or a comma/new-line separated string. `template` ("a photo of a {}.") or
   * `templates`: a list averaged as the CLIP prompt ensemble, or "ensemble" for OpenAI's 80 ImageNet prompts.
   */
  async classify(image, labels, { template, templates, topK, onProgress } = {}) {
    const shared = this.#use('classify');
    const list = Array.isArray(labels) ? labels.map((l) => String(l).trim()).filter(Boolean)
      : typeof labels === 'string' ? parseLabels(labels) : null;
    if (!list?.length) {
      throw new WebclipError('labels', 'classify(image, labels): labels must be a non-empty array of strings or ' +
        '"cat, dog"');
    }
    const t = await templateSet(template, templates);
    const img = await toImageBytes(image);
    const r = await shared.request('classify', { image: img, labels: list, templates: t }, onProgress);
    const k = topK == null ? list.length : Math.max(1, Math.floor(topK));
    return { labels: r.ranked.slice(0, k).map(({ label, p }) => ({ label, score: p })), image: img.name,
      timings: r.timings, backend: r.backend, fallback: r.fallback ?? null };
  }

  /** A composed caption: {caption, score, alternatives: [{caption, score}], ms}. The first one per model also
   *  embeds the caption vocabulary (seconds on a GPU, a minute or more on a CPU), kept in IndexedDB. */
  async caption(image, { onProgress } = {}) {
    const shared = this.#use('caption');
    const r = await shared.request('caption', { image: await toImageBytes(image) }, onProgress);
    return { caption: r.caption, score: r.score, alternatives: r.alternatives, ms: r.ms, backend: r.backend };
  }

  /** The image embedding (Float32Array, unnormalised), as `webclip embed --image`. */
  async embedImage(image, { onProgress } = {}) {
    const shared = this.#use('embedImage');
    return (await shared.request('embed-image', { image: await toImageBytes(image) }, onProgress)).embedding;
  }

  /** Text embeddings (unnormalised) as `webclip embed --text`: a Float32Array for a string, an array for an array. */
  async embedText(text, { onProgress } = {}) {
    const shared = this.#use('embedText');
    const one = typeof text === 'string';
    const texts = one ? [text] : text;
    if (!Array.isArray(texts) || !texts.length || !texts.every((s) => typeof s === 'string')) {
      throw new WebclipError('labels', 'embedText(text) needs a string or a non-empty array of strings');
    }
    const { embeddings } = await shared.request('embed-text', { texts }, onProgress);
    return one ? embeddings[0] : embeddings;
  }

  similarity(a, b) {
    return similarity(a, b);
  }

  /** Releases this handle; the worker (and the model's memory) goes when the page's last handle is disposed. */
  dispose() {
    this.#shared?.release();
    this.#shared = null;
  }
}

/** {id, list} for the worker: one template, a list (ensemble), or "ensemble" (OpenAI's 80 ImageNet prompts). */
async function templateSet(template, templates) {
  if (template != null && templates != null) {
    throw new WebclipError('template', 'classify(): pass either template or templates, not both');
  }
  if (templates === 'ensemble') return { id: ENSEMBLE.id, list: await loadList(ENSEMBLE, HERE) };
  const list = templates ?? [template ?? DEFAULT_TEMPLATE];
  if (!Array.isArray(list) || !list.length || !list.every((s) => typeof s === 'string')) {
    throw new WebclipError('template', 'classify(): templates must be a non-empty array of strings or "ensemble"');
  }
  checkTemplates(list);
  // the id names the list in the label-embedding cache (IndexedDB); one template is its own id, as on the page
  return { id: list.length === 1 ? list[0] : `list:${JSON.stringify(list)}`, list };
}
