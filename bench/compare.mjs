// webclip vs transformers.js, side by side, in headless Chromium: one command that prints a table.
//
//   npm --prefix tests/browser ci && npm --prefix bench ci --ignore-scripts     # playwright-core; transformers.js
//   /tmp/onnx-venv/bin/python bench/export_onnx.py --hf HF_DIR --out bench/models/vb32   # ONNX files (docstring)
//   node bench/compare.mjs --hf HF_DIR --bundle B.q8.webclip --onnx bench/models/vb32 [--threads 1,2] [--runs 5]
//                          [--no-webgpu] [--json out.json] [--wasm simd128] [--cpuprofile DIR]
//
// It serves one folder (a temp dir of links: this folder's compare.html/compare.js/compare-worker.js, www/pkg with
// www/lib (engine.js and wasm-features.js pick pkg/'s build: in Chromium the threads build at 2 or more threads, the
// relaxed-SIMD one at 1; --wasm simd128 forces the SIMD128 one, single-threaded), transformers.js's dist
// and onnxruntime-web's dist from bench/node_modules, the models, the photo) with the COOP/COEP headers of
// tests/browser/serve.mjs, opens compare.html once per variant, each in a fresh Chromium profile, and prints, per
// weight format and thread count, each metric for webclip, for transformers.js and their ratio (webclip/peer: < 1
// means webclip is faster), and the cosine of each engine's embeddings to the torch f32 reference
// (bench/models/NAME/reference.json, written by export_onnx.py).
//
// Variants: the CPU path of both at each --threads (webclip backend=cpu in a worker; transformers.js device 'wasm'
// with onnxruntime-web's numThreads), f32/fp32 (webclip reads the HF folder, transformers.js the fp32 ONNX files) and
// q8 (webclip's q8 bundle vs transformers.js dtype 'q8', ONNX dynamic int8). Unless --no-webgpu: webclip
// backend=gpu vs transformers.js device 'webgpu' (fp32) on whatever adapter Chromium gives; without a GPU that is
// SwiftShader, software on the CPU, and the rows say so. A variant that passes --timeout seconds is reported as such.
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import { cpus, loadavg, tmpdir, totalmem } from 'node:os';
import { basename, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import { CHROMIUM, launch } from '../tests/browser/chromium.mjs';
import { serve } from '../tests/browser/serve.mjs';

const HERE = fileURLToPath(new URL('./', import.meta.url));
const REPO = resolve(HERE, '..');
const { values: opt } = parseArgs({ options: {
  hf: { type: 'string', default: '/tmp/vb32' },
  bundle: { type: 'string', default: '/tmp/vb32.q8.webclip' },
  onnx: { type: 'string', default: join(HERE, 'models/vb32') },
  photo: { type: 'string', default: join(REPO, 'tests/assets/photos/chelsea.png') },
  threads: { type: 'string', default: '1,2' },
  runs: { type: 'string', default: '5' },
  'gpu-runs': { type: 'string', default: '1' },
  'no-webgpu': { type: 'boolean', default: false },
  timeout: { type: 'string', default: '240' },
  only: { type: 'string' }, // a comma list of variant ids, to rerun a few
  cpuprofile: { type: 'string' }, // a folder: each variant's Chrome DevTools CPU profile (<id>.cpuprofile), wasm included
  json: { type: 'string' },
  wasm: { type: 'string' }, // webclip's engine build: relaxed-simd or simd128 (default: the best Chromium runs)
} });

for (const [what, path] of [['--hf', join(opt.hf, 'model.safetensors')], ['--bundle', opt.bundle],
  ['--onnx', join(opt.onnx, 'onnx/vision_model.onnx')], ['--onnx reference', join(opt.onnx, 'reference.json')],
  ['www/pkg (./build.sh)', join(REPO, 'www/pkg/webclip_bg.wasm')],
  ['bench/node_modules (npm --prefix bench ci --ignore-scripts)',
    join(HERE, 'node_modules/@huggingface/transformers/dist/transformers.js')]]) {
  if (!existsSync(path)) {
    console.error(`compare.mjs: ${what}: ${path} is missing`);
    process.exit(2);
  }
}

// ---- the served folder ----
const root = mkdtempSync(join(tmpdir(), 'webclip-compare-'));
const link = (target, name) => symlinkSync(resolve(target), join(root, name));
link(join(HERE, 'compare.html'), 'compare.html');
link(join(HERE, 'compare.js'), 'compare.js');
link(join(HERE, 'compare-worker.js'), 'compare-worker.js');
link(join(REPO, 'www/pkg'), 'pkg');
link(join(REPO, 'www/lib'), 'lib'); // engine.js and wasm-features.js pick pkg/'s build (../pkg/ from lib/)
mkdirSync(join(root, 'vendor'));
link(join(HERE, 'node_modules/@huggingface/transformers/dist'), 'vendor/transformers');
link(join(HERE, 'node_modules/onnxruntime-web/dist'), 'vendor/ort');
mkdirSync(join(root, 'models'));
const onnxId = basename(resolve(opt.onnx));
link(opt.onnx, `models/${onnxId}`);
mkdirSync(join(root, 'webclip'));
link(opt.hf, 'webclip/f32');
link(opt.bundle, 'webclip/q8.webclip');
link(opt.photo, 'photo.png');
const server = await serve({ root, port: 0 });
const base = `http://127.0.0.1:${server.address().port}/compare.html`;

// ---- the variants ----
const threads = opt.threads.split(',').map(Number).filter((n) => n >= 1);
const runs = Number(opt.runs);
const variants = [];
for (const t of threads) {
  variants.push({ id: `webclip-f32-cpu-t${t}`, engine: 'webclip',
    q: { model: 'webclip/f32/', device: 'cpu', threads: t, runs } });
  variants.push({ id: `webclip-q8-cpu-t${t}`, engine: 'webclip',
    q: { model: 'webclip/q8.webclip', device: 'cpu', threads: t, runs } });
  for (const dtype of ['fp32', 'q8']) {
    variants.push({ id: `transformers-${dtype}-wasm-t${t}`, engine: 'transformers',
      q: { model: onnxId, dtype, device: 'wasm', threads: t, runs } });
  }
}
if (!opt['no-webgpu']) {
  const r = Number(opt['gpu-runs']);
  // software WebGPU takes 30-50 s an image pass here: a short protocol (no zero-shot, one 10-prompt pass)
  const short = { runs: r, textRuns: 0, zeroshot: 0 };
  variants.push({ id: 'webclip-f32-gpu', engine: 'webclip',
    q: { model: 'webclip/f32/', device: 'gpu', threads: 1, ...short } });
  variants.push({ id: 'transformers-fp32-webgpu', engine: 'transformers',
    q: { model: onnxId, dtype: 'fp32', device: 'webgpu', threads: 1, ...short } });
}
const only = opt.only?.split(',');
if (opt.wasm) for (const v of variants) if (v.engine === 'webclip') v.q.wasm = opt.wasm;

async function runVariant(v) {
  const url = `${base}?engine=${v.engine}&${new URLSearchParams(v.q)}`;
  const { context, page, profile } = await launch();
  const logs = [];
  page.on('console', (m) => logs.push(`${m.type()}: ${m.text()}`));
  page.on('pageerror', (e) => logs.push(`pageerror: ${e.message}`));
  const t0 = Date.now();
  const cdp = opt.cpuprofile ? await context.newCDPSession(page) : null;
  if (cdp) {
    await cdp.send('Profiler.enable');
    await cdp.send('Profiler.setSamplingInterval', { interval: 200 }); // µs
    await cdp.send('Profiler.start');
  }
  try {
    await page.goto(url);
    await page.waitForFunction(() => window.compare && window.compare.state !== 'running', null,
      { timeout: Number(opt.timeout) * 1000, polling: 250 });
    const s = await page.evaluate(() => window.compare);
    if (cdp) {
      const { profile: cpu } = await cdp.send('Profiler.stop');
      mkdirSync(opt.cpuprofile, { recursive: true });
      writeFileSync(join(opt.cpuprofile, `${v.id}.cpuprofile`), JSON.stringify(cpu));
    }
    if (s.state === 'error') return { ...v, error: s.error.split('\n').slice(0, 4).join(' ← '), logs };
    let adapter = null;
    if (v.q.device === 'gpu' || v.q.device === 'webgpu') {
      adapter = await page.evaluate(async () => {
        const a = await navigator.gpu?.requestAdapter();
        const i = a?.info ?? {};
        return a ? `${i.vendor} ${i.architecture} ${i.device} ${i.description}`.replace(/\s+/g, ' ').trim() : null;
      });
    }
    return { ...v, ...s.result, adapter, wall_s: (Date.now() - t0) / 1000 };
  } catch (e) {
    const partial = await page.evaluate(() => window.compare?.log ?? []).catch(() => []);
    return { ...v, error: `${String(e.message ?? e).split('\n')[0]} (after ${((Date.now() - t0) / 1000).toFixed(0)} s; ` +
      `page log: ${partial.slice(-2).join(' | ')})`, logs };
  } finally {
    await context.close();
    rmSync(profile, { recursive: true, force: true });
  }
}

// ---- reference and cosines ----
const ref = JSON.parse(readFileSync(join(opt.onnx, 'reference.json'), 'utf8'));
const cos = (a, b) => {
  let ab = 0, aa = 0, bb = 0;
  for (let i = 0; i < a.length; i++) { ab += a[i] * b[i]; aa += a[i] * a[i]; bb += b[i] * b[i]; }
  return ab / Math.sqrt(aa * bb);
};
const softmax = (xs) => {
  const m = Math.max(...xs);
  const e = xs.map((x) => Math.exp(x - m));
  const s = e.reduce((a, b) => a + b, 0);
  return e.map((x) => x / s);
};
const refProbs = softmax(ref.texts.map((t) => ref.logit_scale * cos(ref.image, t)));
function fidelity(r) {
  if (r.error) return null;
  return {
    image_cos: cos(r.image, ref.image),
    text_cos_min: Math.min(...r.texts.map((t, i) => cos(t, ref.texts[i]))),
    probs_max_abs_diff: r.probs ? Math.max(...r.probs.map((p, i) => Math.abs(p - refProbs[i]))) : null,
  };
}

// ---- run ----
const chromiumVersion = (() => {
  try { return execFileSync(CHROMIUM, ['--version'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim(); } catch { return CHROMIUM; }
})();
const machine = `${cpus().length} cores (${cpus()[0]?.model ?? '?'}), ${(totalmem() / 2 ** 30).toFixed(0)} GiB, ${process.platform}`;
const load = () => loadavg().map((x) => x.toFixed(2)).join(' ');
console.log(`machine: ${machine}; ${chromiumVersion} (headless, fresh profile per variant); load average ${load()}`);
console.log(`model: ${opt.hf} (f32) · ${opt.bundle} (webclip q8) · ${opt.onnx}/onnx (fp32, q8 dynamic int8)`);
console.log(`photo: ${basename(opt.photo)}; 10 prompts "${ref.template}" × ${ref.labels.join(', ')}; ` +
  `image median of ${runs}, texts/zero-shot median of 3; reference: ${ref.source}`);
const t0 = Date.now();
const results = [];
try {
  for (const v of variants) {
    if (only && !only.includes(v.id)) continue;
    process.stderr.write(`${v.id} … `);
    const r = await runVariant(v);
    r.fidelity = fidelity(r);
    results.push(r);
    process.stderr.write(r.error ? `failed: ${r.error}\n` : `${r.wall_s.toFixed(0)} s\n`);
  }
} finally {
  server.close();
  rmSync(root, { recursive: true, force: true });
}

// ---- the table ----
const byId = Object.fromEntries(results.map((r) => [r.id, r]));
const f0 = (x) => (x == null ? '—' : x >= 100 ? x.toFixed(0) : x.toFixed(1));
const ratio = (a, b) => (a == null || b == null ? '—' : (a / b).toFixed(2));
const METRICS = [
  ['load (fetch + build)', 'load_ms'],
  ['first image', 'first_image_ms'],
  ['image, median', 'image_ms'],
  ['10 texts, first', 'texts_first_ms'],
  ['10 texts, median', 'texts_ms'],
  ['zero-shot, photo + 10 labels', 'zeroshot_ms'],
];
function table(title, w, p) {
  console.log(`\n### ${title}`);
  if (!w || !p) return console.log(`(missing: ${!w ? 'webclip' : 'transformers.js'})`);
  for (const r of [w, p]) if (r.error) console.log(`${r.id}: ERROR ${r.error}`);
  console.log(`webclip: ${w.version ?? '?'} (${w.cpu_features ?? '?'} build), ${w.backend ?? '?'}, ` +
    `${w.threads ?? '?'} thread(s)` +
    `${w.adapter ? `, adapter: ${w.adapter}` : ''}`);
  console.log(`peer: ${p.version ?? '?'}, ${p.backend ?? '?'}, ${p.threads ?? '?'} thread(s)` +
    `${p.adapter ? `, adapter: ${p.adapter}` : ''}, crossOriginIsolated=${p.cross_origin_isolated}`);
  console.log('\n| metric (ms) | webclip | transformers.js | webclip/peer |');
  console.log('|---|---:|---:|---:|');
  for (const [label, key] of METRICS) console.log(`| ${label} | ${f0(w[key])} | ${f0(p[key])} | ${ratio(w[key], p[key])} |`);
  const fw = w.fidelity, fp = p.fidelity;
  const c = (f, k, d = 5) => (f?.[k] != null ? f[k].toFixed(d) : '—');
  console.log(`| image cos vs torch f32 | ${c(fw, 'image_cos')} | ${c(fp, 'image_cos')} | |`);
  console.log(`| text cos vs torch f32 (min of 10) | ${c(fw, 'text_cos_min')} | ${c(fp, 'text_cos_min')} | |`);
  console.log(`| zero-shot max abs prob diff vs torch | ${c(fw, 'probs_max_abs_diff', 4)} | ${c(fp, 'probs_max_abs_diff', 4)} | |`);
}
for (const t of threads) {
  table(`CPU, f32 weights, ${t} thread(s)`, byId[`webclip-f32-cpu-t${t}`], byId[`transformers-fp32-wasm-t${t}`]);
  table(`CPU, q8 weights, ${t} thread(s)`, byId[`webclip-q8-cpu-t${t}`], byId[`transformers-q8-wasm-t${t}`]);
}
if (!opt['no-webgpu']) {
  const w = byId['webclip-f32-gpu'], p = byId['transformers-fp32-webgpu'];
  const sw = [w, p].some((r) => /swiftshader|llvmpipe|lavapipe|software|cpu/i.test(`${r?.adapter} ${r?.backend}`));
  table(`WebGPU, f32 weights${sw ? ' — SwiftShader (SOFTWARE, on the CPU): not GPU numbers' : ''}; ` +
    `image median of ${opt['gpu-runs']} after the first, one 10-prompt pass, no zero-shot`, w, p);
}
console.log(`\n(${results.length} variants in ${((Date.now() - t0) / 1000).toFixed(0)} s; load average now ${load()})`);
if (opt.json) {
  writeFileSync(opt.json, JSON.stringify({ machine, chromium: chromiumVersion, reference: ref.source, loadavg: loadavg(),
    results: results.map(({ image, texts, logs, ...r }) => r) }, null, 2));
}
