// One engine, timed on one photo and 10 prompts: webclip (www/pkg in a module worker, compare-worker.js, as the page
// runs it; threads=N picks its threads build) or transformers.js (@huggingface/transformers from bench/node_modules, onnxruntime-web's wasm files served
// from the same origin: no CDN, no remote models). bench/compare.mjs serves this folder and opens it once per variant
// in a fresh Chromium profile; the page leaves its result in window.compare ({state, result, error}).
//
//   compare.html?engine=webclip&model=webclip/q8.webclip&device=cpu|gpu&threads=N&runs=5[&wasm=simd128]
//   compare.html?engine=transformers&model=vb32&dtype=fp32|q8&device=wasm|webgpu&threads=N&runs=5
//
// What is timed, for both engines alike (every pass starts from the encoded PNG's bytes and ends with a Float32Array
// in JavaScript):
//   load_ms        engine module import + init, fetching the model files, building the model/sessions
//   first_image_ms the first image pass (decode, preprocess, vision tower)
//   image_ms       median of `runs` further image passes
//   texts_first_ms the first pass of the 10 prompts (one batched call: webclip embedTexts; transformers.js
//                  tokenizer(prompts, {padding: true}) + text_model)
//   texts_ms       median of 3 further passes of the 10 prompts (textRuns=N)
//   zeroshot_ms    median of 3 (textRuns) zero-shot passes: the photo + 10 labels from scratch (webclip Model.classify;
//                  transformers.js: image pass + 10-prompt pass + softmax(logit_scale · cos) in JavaScript)

const q = new URLSearchParams(location.search);
const opt = {
  engine: q.get('engine') ?? 'webclip',
  model: q.get('model') ?? 'webclip/q8.webclip',
  dtype: q.get('dtype') ?? 'fp32',
  device: q.get('device') ?? (q.get('engine') === 'transformers' ? 'wasm' : 'cpu'),
  threads: Number(q.get('threads') ?? 1),
  runs: Math.max(1, Number(q.get('runs') ?? 5)),
  textRuns: Math.max(0, Number(q.get('textRuns') ?? 3)), // 0: the first 10-prompt pass only
  zeroshot: q.get('zeroshot') !== '0', // zeroshot=0: skip it (slow software WebGPU)
  photo: q.get('photo') ?? 'photo.png',
};
const LABELS = ['cat', 'dog', 'car', 'bird', 'tree', 'house', 'person', 'boat', 'flower', 'computer'];
const TEMPLATE = 'a photo of a {}.';
const PROMPTS = LABELS.map((l) => TEMPLATE.replace('{}', l));

const state = (window.compare = { state: 'running', opt, result: null, error: null, log: [] });
const out = document.getElementById('out');
const say = (line) => {
  state.log.push(line);
  out.textContent = state.log.join('\n');
};

const median = (xs) => {
  if (!xs.length) return null;
  const s = [...xs].sort((a, b) => a - b);
  const n = s.length;
  return n % 2 ? s[(n - 1) / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
};
const ms = (t0) => performance.now() - t0;
async function timed(fn) {
  const t0 = performance.now();
  const value = await fn();
  return [ms(t0), value];
}
async function repeat(n, fn) {
  const times = [];
  for (let i = 0; i < n; i++) times.push((await timed(fn))[0]);
  return times;
}
async function bytes(url) {
  const r = await fetch(url);
  if (!r.ok) throw new Error(`GET ${url}: HTTP ${r.status}`);
  return new Uint8Array(await r.arrayBuffer());
}
function softmax(logits) {
  const m = Math.max(...logits);
  const e = logits.map((x) => Math.exp(x - m));
  const s = e.reduce((a, b) => a + b, 0);
  return e.map((x) => x / s);
}
function cosine(a, b) {
  let ab = 0, aa = 0, bb = 0;
  for (let i = 0; i < a.length; i++) { ab += a[i] * b[i]; aa += a[i] * a[i]; bb += b[i] * b[i]; }
  return ab / Math.sqrt(aa * bb);
}

// ---- webclip ----

async function webclipEngine() {
  // in a worker, as the page runs it (compare-worker.js); its URL carries threads= and wasm= to lib/engine.js
  const url = new URL('compare-worker.js', location.href);
  url.searchParams.set('threads', String(opt.threads));
  if (q.get('wasm')) url.searchParams.set('wasm', q.get('wasm'));
  const worker = new Worker(url, { type: 'module' });
  const pending = new Map();
  let next = 1;
  worker.onmessage = ({ data: { id, ok, result, error } }) => {
    const p = pending.get(id);
    pending.delete(id);
    if (ok) p.ok(result); else p.fail(new Error(error));
  };
  worker.onerror = (e) => {
    for (const p of pending.values()) p.fail(new Error(`compare-worker.js: ${e.message ?? 'failed to load'}`));
    pending.clear();
  };
  const call = (op, args = {}) => new Promise((ok, fail) => {
    const id = next++;
    pending.set(id, { ok, fail });
    worker.postMessage({ id, op, ...args });
  });
  const info = await call('load', { model: opt.model, backend: opt.device === 'gpu' ? 'gpu' : 'cpu' });
  if (info.threadsError) say(`webclip: ${info.threadsError}`);
  return {
    version: `webclip ${info.version}`,
    backend: info.backend,
    threads: info.threads, // the CPU backend's threads (1 unless the threads build runs)
    cpu_features: info.build, // which build ran: relaxed-simd-threads, relaxed-simd or simd128
    image: (png) => call('image', { png }),
    texts: (prompts) => call('texts', { prompts }),
    zeroshot: (png) => call('zeroshot', { png, labels: LABELS, template: TEMPLATE }),
  };
}

// ---- transformers.js ----

async function transformersEngine() {
  const T = await import('./vendor/transformers/transformers.js');
  const { env } = T;
  env.allowRemoteModels = false;
  env.allowLocalModels = true;
  // a path, not a URL: transformers.js 4.3.1 skips its local lookup when localModelPath makes an http(s) URL
  env.localModelPath = new URL('models/', location.href).pathname;
  env.useBrowserCache = false; // a fresh profile has nothing cached; do not spend load time writing the cache
  const ort = new URL('vendor/ort/', location.href).href;
  // the files transformers.js would take from the CDN by default (its asyncify build), served locally
  env.backends.onnx.wasm.wasmPaths = {
    mjs: ort + 'ort-wasm-simd-threaded.asyncify.mjs',
    wasm: ort + 'ort-wasm-simd-threaded.asyncify.wasm',
  };
  env.backends.onnx.wasm.numThreads = opt.threads;
  const options = { dtype: opt.dtype, device: opt.device };
  const [processor, tokenizer, vision, text] = await Promise.all([
    T.AutoProcessor.from_pretrained(opt.model),
    T.AutoTokenizer.from_pretrained(opt.model),
    T.CLIPVisionModelWithProjection.from_pretrained(opt.model, options),
    T.CLIPTextModelWithProjection.from_pretrained(opt.model, options),
  ]);
  const ref = await (await fetch(`models/${opt.model}/reference.json`)).json(); // logit_scale of the torch model
  const image = async (png) => {
    const raw = await T.RawImage.fromBlob(new Blob([png], { type: 'image/png' }));
    const inputs = await processor(raw);
    const { image_embeds } = await vision(inputs);
    return image_embeds.data.slice();
  };
  const texts = async (prompts) => {
    const inputs = tokenizer(prompts, { padding: true, truncation: true });
    const { text_embeds } = await text(inputs);
    const [n, d] = text_embeds.dims;
    return Array.from({ length: n }, (_, i) => text_embeds.data.slice(i * d, (i + 1) * d));
  };
  return {
    version: `transformers.js ${T.env.version}, onnxruntime-web ${env.backends.onnx.versions?.web ?? '?'}`,
    backend: `${opt.device} ${opt.dtype}`,
    threads: env.backends.onnx.wasm.numThreads,
    image,
    texts,
    zeroshot: async (png) => {
      const img = await image(png);
      const txt = await texts(PROMPTS);
      return softmax(txt.map((t) => ref.logit_scale * cosine(img, t)));
    },
  };
}

// ---- the run ----

async function main() {
  say(`${opt.engine} ${JSON.stringify(opt)} crossOriginIsolated=${crossOriginIsolated} cores=${navigator.hardwareConcurrency}`);
  const png = await bytes(opt.photo);
  const [load_ms, engine] = await timed(opt.engine === 'transformers' ? transformersEngine : webclipEngine);
  say(`loaded in ${load_ms.toFixed(0)} ms: ${engine.version}, ${engine.backend}`);
  const [first_image_ms, imageEmbedding] = await timed(() => engine.image(png));
  say(`first image ${first_image_ms.toFixed(0)} ms`);
  const imageTimes = await repeat(opt.runs, () => engine.image(png));
  say(`image ×${opt.runs}: ${imageTimes.map((t) => t.toFixed(0)).join(', ')} ms`);
  const [texts_first_ms, textEmbeddings] = await timed(() => engine.texts(PROMPTS));
  const textTimes = await repeat(opt.textRuns, () => engine.texts(PROMPTS));
  say(`10 texts: first ${texts_first_ms.toFixed(0)} ms, then ${textTimes.map((t) => t.toFixed(0)).join(', ')} ms`);
  let probs = null;
  const zeroTimes = opt.zeroshot ? await repeat(Math.max(1, opt.textRuns), async () => { probs = await engine.zeroshot(png); }) : [];
  say(`zero-shot (photo + 10 labels): ${zeroTimes.map((t) => t.toFixed(0)).join(', ') || 'skipped'} ms`);
  state.result = {
    engine: opt.engine, version: engine.version, backend: engine.backend, threads: engine.threads,
    cpu_features: engine.cpu_features ?? null,
    cross_origin_isolated: crossOriginIsolated, user_agent: navigator.userAgent,
    load_ms, first_image_ms, image_ms: median(imageTimes), image_runs: imageTimes,
    texts_first_ms, texts_ms: median(textTimes), text_runs: textTimes,
    zeroshot_ms: median(zeroTimes), zeroshot_runs: zeroTimes,
    image: Array.from(imageEmbedding), texts: textEmbeddings.map((t) => Array.from(t)), probs: probs && Array.from(probs),
  };
  state.state = 'done';
  say('done');
}

main().catch((e) => {
  console.error(e);
  state.error = `${e?.message ?? e}${e?.stack ? '\n' + e.stack : ''}`;
  state.state = 'error';
  say(`error: ${state.error}`);
});
