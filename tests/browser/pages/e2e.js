// The page side of tests/browser/gpu.test.mjs: loads the wasm package, builds models from the test fixtures and
// returns raw results (token ids, embeddings, probabilities) to the test, which compares them with the Hugging Face
// goldens. Served from a root that holds /www/pkg, /tests/fixtures, /src/assets and /photos (tests/assets/photos).
// The engine build is the one the page would pick (www/lib/wasm-features.js): e2e.html?wasm=simd128 forces SIMD128.
import init, { Model, cpuFeatures, version } from '/www/pkg/webclip.js';
import { wasmUrl } from '/www/lib/wasm-features.js';

const $ = (id) => document.getElementById(id);
const models = new Map(); // "fixture/backend" -> { model, goldens }

function log(line) {
  $('log').textContent += line + '\n';
}

async function fetchBytes(url) {
  const r = await fetch(url);
  if (!r.ok) throw new Error(`GET ${url}: HTTP ${r.status}`);
  return new Uint8Array(await r.arrayBuffer());
}

async function fetchJson(url) {
  return JSON.parse(new TextDecoder().decode(await fetchBytes(url)));
}

function row(fixture, backend, part) {
  const id = `run-${fixture}-${backend}-${part}`;
  let tr = document.getElementById(id);
  if (!tr) {
    tr = document.createElement('tr');
    tr.id = id;
    for (const text of [fixture, backend, '', part, '', '', '']) {
      const td = document.createElement('td');
      td.textContent = text;
      tr.append(td);
    }
    $('runs').tBodies[0].append(tr);
  }
  return tr.cells;
}

/** Fills a run's row: the engine that ran, how many items (omitted for a load), milliseconds. */
function showRun(fixture, backend, part, engine, items, ms) {
  const cells = row(fixture, backend, part);
  cells[2].textContent = engine;
  if (items !== undefined) cells[4].textContent = String(items);
  cells[5].textContent = ms.toFixed(0);
}

function entry(fixture, backend) {
  const e = models.get(`${fixture}/${backend}`);
  if (!e) throw new Error(`no model for ${fixture} on ${backend}: call load() first`);
  return e;
}

const api = {
  /** The WebGPU adapter Chromium offers, as plain data, or { error } saying why there is none. */
  async adapter() {
    let info;
    if (!navigator.gpu) {
      info = { error: `navigator.gpu is missing (isSecureContext=${isSecureContext})` };
    } else {
      const a = await navigator.gpu.requestAdapter();
      if (!a) {
        info = { error: 'navigator.gpu.requestAdapter() returned null' };
      } else {
        const i = a.info ?? {};
        info = {
          vendor: i.vendor, architecture: i.architecture, device: i.device, description: i.description,
          isFallbackAdapter: i.isFallbackAdapter ?? a.isFallbackAdapter ?? null,
          subgroupMinSize: i.subgroupMinSize, subgroupMaxSize: i.subgroupMaxSize,
          features: [...a.features].sort(),
          limits: {
            maxStorageBufferBindingSize: a.limits.maxStorageBufferBindingSize,
            maxBufferSize: a.limits.maxBufferSize,
            maxComputeInvocationsPerWorkgroup: a.limits.maxComputeInvocationsPerWorkgroup,
            maxComputeWorkgroupStorageSize: a.limits.maxComputeWorkgroupStorageSize,
          },
        };
      }
    }
    $('adapter').textContent = JSON.stringify({ ...info, features: info.features?.join(', ') }, null, 1);
    return info;
  },

  /** Builds the fixture's model on `backend` ("gpu" | "cpu"); returns the engine's own name and the time taken. */
  async load(fixture, backend) {
    const t0 = performance.now();
    const dir = `/tests/fixtures/${fixture}/`;
    const [config, weights, preprocessor, tokenizer, goldens] = await Promise.all([
      fetchBytes(dir + 'config.json'),
      fetchBytes(dir + 'model.safetensors'),
      fetchBytes(dir + 'preprocessor_config.json'),
      fetchBytes('/src/assets/tokenizer.json'),
      fetchJson(dir + 'goldens.json'),
    ]);
    const model = await Model.load(config, weights, tokenizer, preprocessor, backend);
    models.set(`${fixture}/${backend}`, { model, goldens });
    const ms = performance.now() - t0;
    const engine = model.backend;
    showRun(fixture, backend, 'load', engine, undefined, ms);
    log(`${fixture} on ${backend}: loaded as "${engine}" in ${ms.toFixed(0)} ms`);
    return { engine, ms };
  },

  /** Token ids and text embeddings of every text in goldens.json, one embedText call each. */
  async texts(fixture, backend) {
    const { model, goldens } = entry(fixture, backend);
    const t0 = performance.now();
    const out = [];
    for (const text of goldens.texts) {
      const ids = Array.from(model.tokenize(text));
      const embedding = Array.from(await model.embedText(text));
      out.push({ text, ids, embedding });
    }
    const ms = performance.now() - t0;
    showRun(fixture, backend, 'texts', model.backend, out.length, ms);
    log(`${fixture} on ${backend}: ${out.length} text embeddings in ${ms.toFixed(0)} ms`);
    return { ms, texts: out };
  },

  /** Image embeddings and zero-shot probabilities (over the goldens' label texts) of every photo in goldens.json,
   *  fetched from `photosBase` as the encoded files (the wasm API takes encoded images). */
  async images(fixture, backend, photosBase) {
    const { model, goldens } = entry(fixture, backend);
    const template = 'a photo of a {}.';
    const labels = goldens.texts.slice(0, goldens.label_texts_count).map((t) => {
      const m = /^a photo of a (.*)\.$/.exec(t);
      if (!m) throw new Error(`label text ${JSON.stringify(t)} does not follow ${JSON.stringify(template)}`);
      return m[1];
    });
    const t0 = performance.now();
    const out = [];
    for (const photo of goldens.photos) {
      const bytes = await fetchBytes(photosBase + photo);
      const embedding = Array.from(await model.embedImage(bytes, photo));
      const probs = Array.from(await model.classify(bytes, photo, labels, template));
      out.push({ photo, embedding, probs });
    }
    const ms = performance.now() - t0;
    showRun(fixture, backend, 'images', model.backend, out.length, ms);
    log(`${fixture} on ${backend}: ${out.length} image embeddings + classifications in ${ms.toFixed(0)} ms`);
    return { ms, labels, images: out };
  },

  /** Builds the fixture's model from its webclip bundle at `url` (made by `webclip convert`; how the SigLIP fixtures
   *  reach the browser: their spiece.model / tokenizer.json become the bundle's padded tokenizer.json). */
  async loadFixtureBundle(fixture, url, backend) {
    const t0 = performance.now();
    const [bytes, goldens] = await Promise.all([fetchBytes(url), fetchJson(`/tests/fixtures/${fixture}/goldens.json`)]);
    const model = await Model.fromBundle(bytes, url, backend);
    models.set(`${fixture}/${backend}`, { model, goldens });
    const ms = performance.now() - t0;
    showRun(fixture, backend, 'load', model.backend, undefined, ms);
    log(`${fixture} on ${backend}: bundle loaded as "${model.backend}" (${model.architecture}, ${model.scoring}) in ` +
      `${ms.toFixed(0)} ms`);
    return { engine: model.backend, ms, architecture: model.architecture, scoring: model.scoring };
  },

  /** Loads a webclip bundle from `url` with Model.fromBundle on `backend` under `key`; returns the engine name. */
  async loadBundle(key, url, backend) {
    const t0 = performance.now();
    const model = await Model.fromBundle(await fetchBytes(url), url, backend);
    models.set(`${key}/${backend}`, { model, goldens: null });
    log(`${key} on ${backend}: bundle loaded as "${model.backend}" in ${(performance.now() - t0).toFixed(0)} ms`);
    return { engine: model.backend, towers: model.towers };
  },

  /** Text embeddings in one embedTexts call and image embeddings of the photos under `photosBase`. */
  async embedAll(key, backend, texts, photos, photosBase) {
    const { model } = entry(key, backend);
    const t0 = performance.now();
    const textEmbeddings = (await model.embedTexts(texts)).map((e) => Array.from(e));
    const imageEmbeddings = [];
    for (const photo of photos) {
      imageEmbeddings.push(Array.from(await model.embedImage(await fetchBytes(photosBase + photo), photo)));
    }
    const ms = performance.now() - t0;
    showRun(key, backend, 'bundle', model.backend, `${texts.length} + ${photos.length}`, ms);
    return { ms, texts: textEmbeddings, images: imageEmbeddings };
  },

  /** The engine's errors, as thrown and as the page maps them (lib/errors.js), for the bundle at `url`: its WebGPU
   *  device destroyed (as a driver reset would) while the model loads (`loadLost`) and after it loaded (`lost`), and
   *  the bundle cut in half (`truncated`, on both backends). */
  async failures(url) {
    const { toWebclipError } = await import('/www/lib/errors.js');
    const bytes = await fetchBytes(url);
    const seen = (e, during) => ({ name: e?.name, code: e?.code, message: String(e?.message ?? e), hint: e?.hint,
      page: toWebclipError(e, during).code });
    const attempt = async (during, fn) => {
      try {
        await fn();
        return null;
      } catch (e) {
        return seen(e, during);
      }
    };
    // the devices wgpu asks for: destroyed at once (`destroyAtOnce`) or kept for the test to destroy
    const devices = [];
    let destroyAtOnce = true;
    const requestDevice = GPUAdapter.prototype.requestDevice;
    GPUAdapter.prototype.requestDevice = async function (...args) {
      const device = await requestDevice.apply(this, args);
      devices.push(device);
      if (destroyAtOnce) device.destroy();
      return device;
    };
    let model;
    const out = {};
    try {
      out.loadLost = await attempt('model', () => Model.fromBundle(bytes, url, 'gpu'));
      destroyAtOnce = false;
      model = await Model.fromBundle(bytes, url, 'gpu');
    } finally {
      GPUAdapter.prototype.requestDevice = requestDevice;
    }
    const device = devices.at(-1);
    device.destroy();
    await device.lost;
    out.lost = await attempt('text', () => model.embedText('a photo of a cat.'));
    model.free();
    const half = bytes.slice(0, bytes.length >> 1);
    out.truncated = await attempt('model', () => Model.fromBundle(half, url, 'cpu'));
    out.truncatedGpu = await attempt('model', () => Model.fromBundle(half, url, 'gpu'));
    return out;
  },

  /** Shows the test's verdict for one part (state: "ok" | "fail" | "skip"). */
  verdict(fixture, backend, part, text, state) {
    const cells = row(fixture, backend, part);
    cells[6].textContent = text;
    cells[6].className = state;
  },

  dispose(fixture, backend) {
    const key = `${fixture}/${backend}`;
    models.get(key)?.model.free();
    models.delete(key);
  },

  status(text) {
    $('status').textContent = text;
  },
};

const wasm = wasmUrl();
api.ready = init({ module_or_path: wasm }).then(() => {
  const v = version();
  api.wasm = { build: cpuFeatures(), file: wasm.pathname };
  $('status').textContent = `webclip ${v} (wasm, ${api.wasm.build} build) ready`;
  return v;
});
api.ready.catch((e) => {
  $('status').textContent = `the wasm package failed to initialise: ${e}`;
});
window.webclipE2E = api;
