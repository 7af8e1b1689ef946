// webclip bench in the browser: per-tower latency and GFLOP/s of a model on WebGPU and/or the CPU (wasm), with the
// fields of the native `webclip bench` JSON (src/bin/webclip/bench.rs) plus the user agent. Query parameters fill
// the form: ?model=URL&backend=gpu|cpu|both&batch=N&runs=N, URL a Hugging Face folder (ending in /) or a webclip
// bundle (.webclip: f32/f16/q8/q4 weights); &wasm=simd128 runs the SIMD128 engine build where relaxed SIMD would be
// picked (lib/wasm-features.js). window.webclipBench holds the state for tests.
// No inline scripts anywhere, so the page can run under a strict Content-Security-Policy.

import { bundleMetadata, describeBundle } from './lib/bundle-header.js';
import { wasmUrl } from './lib/wasm-features.js';

const $ = (id) => document.getElementById(id);
const MAKE_MODEL =
  'cargo run --release -- synth --preset vit-b-32 --seed 0 --out www/models/vit-b-32\n' +
  'cargo run --release -- synth --preset tiny --seed 0 --out www/models/tiny';
// the CLI's text (bench.rs): tokenized to the full context length, the text tower's longest pass
const PROMPT = 'a photo of a small orange cat sitting on a wooden table next to a cup of coffee '.repeat(20);
const SOFTWARE = /swiftshader|llvmpipe|lavapipe|softpipe|software|microsoft basic render|warp/i;

const bench = (window.webclipBench = { state: 'loading', reports: null, error: null });
let wc = null;

function show(id, text, state) {
  const el = $(id);
  el.textContent = text;
  el.dataset.state = state; // wait | ok | warn | error: styled in style.css
}

function setState(state, text, look) {
  bench.state = state;
  show('state', text, look);
}

// ---- FLOPs, exactly as src/model/flops.rs counts them (config defaults as src/model/config.rs applies them) ----

function clipConfig(json) {
  const tower = (keys) => keys.map((k) => json[k]).find((v) => v != null) ?? {};
  const t = tower(['text_config', 'text_config_dict']);
  const v = tower(['vision_config', 'vision_config_dict']);
  return {
    text: {
      hidden_size: t.hidden_size ?? 512,
      intermediate_size: t.intermediate_size ?? 2048,
      num_hidden_layers: t.num_hidden_layers ?? 12,
      max_position_embeddings: t.max_position_embeddings ?? 77,
    },
    vision: {
      hidden_size: v.hidden_size ?? 768,
      intermediate_size: v.intermediate_size ?? 3072,
      num_hidden_layers: v.num_hidden_layers ?? 12,
      num_channels: v.num_channels ?? 3,
      image_size: v.image_size ?? 224,
      patch_size: v.patch_size ?? 32,
    },
    projection_dim: json.projection_dim ?? 512,
  };
}

/** One encoder layer over `s` tokens of width `d`, MLP width `i` (2·M·N·K per matmul). */
function layerFlops(s, d, i) {
  const projections = 4 * 2 * s * d * d; // q, k, v, out
  const mlp = 2 * 2 * s * d * i; // fc1, fc2
  const attention = 2 * 2 * s * s * d; // q·kᵀ and p·v over all heads
  return projections + mlp + attention;
}

const grid = (v) => Math.floor(v.image_size / v.patch_size);
const visionTokens = (v) => grid(v) * grid(v) + 1; // class token + one per patch

function imageFlops(c) {
  const v = c.vision;
  const d = v.hidden_size;
  const patch = 2 * grid(v) * grid(v) * (v.num_channels * v.patch_size * v.patch_size) * d;
  return patch + v.num_hidden_layers * layerFlops(visionTokens(v), d, v.intermediate_size) + 2 * d * c.projection_dim;
}

function textFlops(c, tokens) {
  const t = c.text;
  return t.num_hidden_layers * layerFlops(tokens, t.hidden_size, t.intermediate_size) + 2 * t.hidden_size * c.projection_dim;
}

const round = (v, digits) => Math.round(v * 10 ** digits) / 10 ** digits;

// ---- inputs ----

async function fetchBytes(url, optional = false) {
  let r;
  try {
    r = await fetch(url);
  } catch (e) {
    throw new Error(`GET ${url}: ${e.message ?? e}`);
  }
  if (!r.ok) {
    if (optional) return undefined;
    throw Object.assign(new Error(`GET ${url}: HTTP ${r.status}`), { missingModel: true });
  }
  return new Uint8Array(await r.arrayBuffer());
}

async function fetchModel(base) {
  if (new URL(base, location.href).pathname.endsWith('.webclip')) {
    const bundle = await fetchBytes(base);
    const meta = bundleMetadata(bundle);
    if (!meta?.['config.json']) throw new Error(`${base} is not a webclip bundle (no config.json in its header)`);
    const { quant } = describeBundle(meta, bundle);
    return { bundle, name: base, weights: quant, json: JSON.parse(meta['config.json']) };
  }
  const url = (name) => new URL(name, base).href;
  const [config, weights, tokenizer, preprocessor] = await Promise.all([
    fetchBytes(url('config.json')),
    fetchBytes(url('model.safetensors')),
    fetchBytes(url('tokenizer.json')),
    fetchBytes(url('preprocessor_config.json'), true), // optional: OpenAI CLIP defaults
  ]);
  return { config, weights, tokenizer, preprocessor, json: JSON.parse(new TextDecoder().decode(config)) };
}

/** The model on `backend`: a bundle through Model.fromBundle, HF files through Model.load. */
function loadModel(files, backend) {
  if (files.bundle) return wc.Model.fromBundle(files.bundle, files.name, backend);
  return wc.Model.load(files.config, files.weights, files.tokenizer, files.preprocessor, backend);
}

/** A PNG of `size`² fixed pseudo-random pixels (the CLI's xorshift), encoded once. */
async function testImage(size) {
  const pixels = new ImageData(size, size);
  let state = 0x2545f4914f6cdd1dn;
  const mask = (1n << 64n) - 1n;
  for (let i = 0; i < pixels.data.length; i++) {
    if (i % 4 === 3) { pixels.data[i] = 255; continue; }
    state ^= (state << 13n) & mask;
    state ^= state >> 7n;
    state ^= (state << 17n) & mask;
    pixels.data[i] = Number(state >> 56n);
  }
  let blob;
  if (typeof OffscreenCanvas !== 'undefined') {
    const canvas = new OffscreenCanvas(size, size);
    canvas.getContext('2d').putImageData(pixels, 0, 0);
    blob = await canvas.convertToBlob({ type: 'image/png' });
  } else {
    const canvas = Object.assign(document.createElement('canvas'), { width: size, height: size });
    canvas.getContext('2d').putImageData(pixels, 0, 0);
    blob = await new Promise((ok) => canvas.toBlob(ok, 'image/png'));
  }
  return new Uint8Array(await blob.arrayBuffer());
}

// ---- devices ----

async function gpuAdapter() {
  if (!navigator.gpu) {
    return { error: `navigator.gpu is missing (${isSecureContext ? 'no WebGPU in this browser' : 'not a secure context'})` };
  }
  try {
    const adapter = await navigator.gpu.requestAdapter();
    if (!adapter) return { error: 'navigator.gpu.requestAdapter() gave no adapter' };
    const info = adapter.info ?? (await adapter.requestAdapterInfo?.()) ?? {};
    const fallback = Boolean(adapter.isFallbackAdapter ?? info.isFallbackAdapter);
    const a = {
      vendor: info.vendor ?? '',
      architecture: info.architecture ?? '',
      device: info.device ?? '',
      description: info.description ?? '',
      is_fallback_adapter: fallback,
    };
    a.software = fallback || SOFTWARE.test(`${a.vendor} ${a.architecture} ${a.device} ${a.description}`);
    return a;
  } catch (e) {
    return { error: `requestAdapter failed: ${e.message ?? e}` };
  }
}

/** The CLI's "device" object: name, backend, device_type (+ driver details the browser gives). */
function deviceJson(backend, engine, adapter) {
  if (backend === 'cpu') {
    const threads = navigator.hardwareConcurrency ?? 1;
    return { name: 'CPU (wasm SIMD)', backend: 'cpu', device_type: 'cpu', threads_available: threads, threads_used: 1 };
  }
  // model.backend is "gpu: <adapter name> (<backend>, <device type>)"
  const m = /^gpu: (.*) \(([^,]*), ([^)]*)\)$/.exec(engine) ?? [];
  const device = { name: m[1] ?? engine, backend: m[2] ?? 'webgpu', device_type: m[3] ?? 'unknown', ...adapter };
  device.software = Boolean(adapter.software || /cpu/i.test(device.device_type) || SOFTWARE.test(device.name));
  return device;
}

function adapterLabel(device) {
  if (device.device_type === 'cpu' && device.backend === 'cpu') return 'CPU (wasm SIMD)';
  const parts = [device.vendor, device.architecture, device.device, device.description].filter(Boolean);
  const name = parts.length ? parts.join(' · ') : device.name;
  const flags = device.is_fallback_adapter ? ' [isFallbackAdapter]' : '';
  return `${name}${flags} — wgpu: ${device.name} (${device.backend}, ${device.device_type})`;
}

// ---- timing ----

/** [median, min] seconds of `runs` passes after one warm-up pass (as bench.rs `time`). */
async function time(runs, pass) {
  await pass();
  const secs = [];
  for (let r = 0; r < runs; r++) {
    const t0 = performance.now();
    await pass();
    secs.push((performance.now() - t0) / 1000);
  }
  secs.sort((a, b) => a - b);
  const n = secs.length;
  const median = n % 2 === 1 ? secs[(n - 1) / 2] : (secs[n / 2 - 1] + secs[n / 2]) / 2;
  return [median, secs[0]];
}

function checked(embedding, what) {
  if (!embedding?.length || !embedding.every(Number.isFinite)) throw new Error(`${what}: the embedding is empty or not finite`);
}

async function runBackend(backend, files, png, opts, adapter) {
  const c = clipConfig(files.json);
  const t0 = performance.now();
  const model = await loadModel(files, backend);
  const loadMs = performance.now() - t0;
  try {
    const engine = model.backend;
    const device = deviceJson(backend, engine, adapter);
    setState('running', `${backend}: timing the image tower…`, 'wait');
    const vision = await time(opts.runs, async () => {
      for (let b = 0; b < opts.batch; b++) checked(await model.embedImage(png, 'bench.png'), 'image');
    });
    setState('running', `${backend}: timing the text tower…`, 'wait');
    let tokens, tokensFrom;
    if (typeof model.tokenize === 'function') {
      tokens = model.tokenize(PROMPT).length;
      tokensFrom = 'model.tokenize';
    } else {
      tokens = c.text.max_position_embeddings; // the prompt is longer than any context: it is truncated to this
      tokensFrom = 'context length (model.tokenize is not exposed)';
    }
    const text = await time(opts.runs, async () => {
      for (let b = 0; b < opts.batch; b++) checked(await model.embedText(PROMPT), 'text');
    });
    const tower = ([median, min], flopPerItem, tokens) => {
      const gflop = (flopPerItem * opts.batch) / 1e9;
      return {
        tokens,
        gflop_per_pass: round(gflop, 4),
        median_ms: round(median * 1e3, 3),
        min_ms: round(min * 1e3, 3),
        ms_per_item: round((median * 1e3) / opts.batch, 3),
        gflop_per_s: round(gflop / median, 3),
      };
    };
    return {
      backend: engine,
      device,
      batch: opts.batch,
      runs: opts.runs,
      vision: tower(vision, imageFlops(c), visionTokens(c.vision)),
      text: tower(text, textFlops(c, tokens), tokens),
      user_agent: navigator.userAgent,
      webclip: wc.version(),
      cpu_features: wc.cpuFeatures(), // the wasm build: relaxed-simd or simd128 (?wasm=simd128 forces it)
      model: opts.model,
      weights: files.bundle ? files.weights : 'f32 (Hugging Face folder)',
      load_ms: round(loadMs, 1),
      text_tokens_from: tokensFrom,
      notes: [
        'a pass of batch N is N single-item calls (the wasm API embeds one item per call)',
        'image passes include PNG decode and preprocessing',
        ...(device.software ? ['software (CPU) adapter — not GPU numbers'] : []),
      ],
    };
  } finally {
    model.free();
  }
}

// ---- page ----

function options() {
  const int = (id, lo, hi) => {
    const n = Number($(id).value);
    if (!Number.isInteger(n) || n < lo || n > hi) throw new Error(`${id} must be a whole number from ${lo} to ${hi}`);
    return n;
  };
  const model = $('model').value.trim() || 'models/tiny/';
  return {
    // a folder (HF files) gets its trailing slash; a .webclip bundle is a file
    model: new URL(model.endsWith('/') || model.endsWith('.webclip') ? model : model + '/', location.href).href,
    backend: $('backend').value,
    batch: int('batch', 1, 64),
    runs: int('runs', 1, 1000),
  };
}

function el(tag, text, attrs = {}) {
  const e = Object.assign(document.createElement(tag), attrs);
  if (text !== undefined) e.textContent = text;
  return e;
}

function render(reports) {
  const out = $('results');
  out.replaceChildren();
  for (const r of reports) {
    const box = el('div');
    box.append(el('h3', r.error ? r.backend : r.backend === 'cpu' ? 'cpu' : 'gpu'));
    const dl = el('dl');
    const row = (k, v, state) => {
      const dd = el('dd', v);
      if (state) dd.dataset.state = state;
      dl.append(el('dt', k), dd);
    };
    if (r.error) {
      row('error', r.error, 'error');
    } else {
      row('adapter', adapterLabel(r.device), r.device.software ? 'warn' : 'ok');
      if (r.device.software) row('note', 'software (CPU) adapter — not GPU numbers', 'warn');
      row('load', `${r.load_ms} ms`);
      for (const [name, t] of [['image tower', r.vision], ['text tower', r.text]]) {
        row(name, `median ${t.median_ms} ms · min ${t.min_ms} ms · ${t.gflop_per_s} GFLOP/s ` +
          `(${t.gflop_per_pass} GFLOP per pass, ${t.tokens} tokens, batch ${r.batch}, ${r.runs} runs)`);
      }
    }
    box.append(dl);
    out.append(box);
  }
}

function modelHint(url, err) {
  const hint = $('model-hint');
  hint.replaceChildren(
    el('span', `The model could not be fetched (${err.message}). It should be a folder URL holding config.json, ` +
      'model.safetensors, tokenizer.json and preprocessor_config.json. Make one in the repository with'),
    el('pre', MAKE_MODEL),
    el('span', 'then reload this page (models/vit-b-32/ for the first, models/tiny/ for the second).'),
  );
  hint.hidden = false;
}

async function run(ev) {
  ev?.preventDefault();
  $('run').disabled = true;
  $('model-hint').hidden = true;
  $('json').textContent = '';
  bench.reports = null;
  bench.error = null;
  try {
    const opts = options();
    setState('running', `fetching ${opts.model}…`, 'wait');
    let files;
    try {
      files = await fetchModel(opts.model);
    } catch (e) {
      modelHint(opts.model, e);
      throw e;
    }
    const c = clipConfig(files.json);
    const png = await testImage(c.vision.image_size);
    const backends = opts.backend === 'both' ? ['gpu', 'cpu'] : [opts.backend];
    const adapter = backends.includes('gpu') ? await gpuAdapter() : null;
    const reports = [];
    for (const backend of backends) {
      setState('running', `${backend}: loading the model…`, 'wait');
      try {
        if (backend === 'gpu' && adapter.error) throw new Error(`WebGPU: ${adapter.error}`);
        reports.push(await runBackend(backend, files, png, opts, adapter));
      } catch (e) {
        console.error(`webclip bench on ${backend}`, e);
        reports.push({ backend, error: String(e.message ?? e), user_agent: navigator.userAgent, model: opts.model });
      }
      render(reports);
    }
    $('json').textContent = JSON.stringify(reports.length === 1 ? reports[0] : reports, null, 2);
    bench.reports = reports;
    const failed = reports.filter((r) => r.error).length;
    setState('done', failed ? `done, ${failed} backend(s) failed` : 'done', failed ? 'error' : 'ok');
  } catch (e) {
    bench.error = String(e.message ?? e);
    setState('error', bench.error, 'error');
  } finally {
    $('run').disabled = false;
  }
}

function fillFromQuery() {
  const q = new URLSearchParams(location.search);
  for (const id of ['model', 'batch', 'runs']) if (q.has(id)) $(id).value = q.get(id);
  if (['gpu', 'cpu', 'both'].includes(q.get('backend'))) $('backend').value = q.get('backend');
}

fillFromQuery();
$('form').addEventListener('submit', run);
try {
  wc = await import('./pkg/webclip.js');
  await wc.default({ module_or_path: wasmUrl() });
  show('wasm', `version ${wc.version()}, ${wc.cpuFeatures()} build`, 'ok');
  $('run').disabled = false;
  setState('ready', 'ready: press Run', 'ok');
} catch (e) {
  show('wasm', `not available (${e.message ?? e}): run ./build.sh in the repository, it writes www/pkg/`, 'error');
  bench.error = String(e.message ?? e);
  setState('error', 'the wasm package did not load', 'error');
}
