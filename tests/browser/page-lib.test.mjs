// The page's plain modules (www/lib/) in Node, no browser: label parsing, model URLs, error classification,
// the worker client (with a fake Worker), zero-shot math, bundle metadata, and the service worker's file list.
// `node --test tests/browser/page-lib.test.mjs` (no build needed). The browser behaviour is in page.test.mjs.
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { bundleMetadata, describeBundle } from '../../www/lib/bundle-header.js';
import { WebclipClient } from '../../www/lib/client.js';
import { ENGINE_CODES, ERRORS, WebclipError, isGpuFailure, toWebclipError } from '../../www/lib/errors.js';
import { PRESETS, checkTemplates, fillTemplate, parseLabels } from '../../www/lib/labels.js';
import { DEFAULT_MODEL, PICKS, resolveSource } from '../../www/lib/source.js';
import { BUILDS, MAX_THREADS, bestBuild, bestEngine, engineFiles, forwardOverride, hasRelaxedSimd, pickBuild, threadCount,
  threadsOverride, wasmUrl } from '../../www/lib/wasm-features.js';
import { ensemble, normalize, probabilities, ranked, softmax } from '../../www/lib/zero-shot.js';

const WWW = fileURLToPath(new URL('../../www/', import.meta.url));
const SRC = fileURLToPath(new URL('../../src/', import.meta.url));
const PAGE = 'http://127.0.0.1:8080/index.html';

test('labels: commas and new lines, trimmed, blanks and duplicates dropped', () => {
  assert.deepEqual(parseLabels(' cat,dog\n\n  golden   retriever ,cat,, \nhot dog\r\n'),
    ['cat', 'dog', 'golden retriever', 'hot dog']);
  assert.deepEqual(parseLabels(' , \n '), []);
  assert.equal(fillTemplate('a {} next to a {}.', 'cat'), 'a cat next to a cat.'); // as Rust's str::replace
  assert.throws(() => checkTemplates(['a photo of a cat.']), (e) => e.code === 'template' && /has no \{\}/.test(e.message));
  assert.throws(() => checkTemplates(['a {} next to a {}.']), (e) => e.code === 'template' && /has 2 \{\}/.test(e.message));
  checkTemplates(['a photo of a {}.', '{}']);
});

test('the ImageNet-1k preset gives 1000 distinct labels (OpenAI\'s names repeat two)', () => {
  const json = JSON.parse(readFileSync(join(SRC, 'assets/prompts/imagenet_classnames.json'), 'utf8'));
  const labels = parseLabels(PRESETS.imagenet.pick(json).join('\n'));
  assert.equal(labels.length, 1000);
  assert.deepEqual([labels[657], labels[744], labels[836], labels[837]], ['missile', 'projectile', 'sunglasses',
    'dark glasses']);
});

test('the model picker names Hugging Face repositories the page converts', () => {
  for (const p of PICKS) {
    const s = resolveSource(p.url, PAGE);
    assert.equal(s.kind, 'folder', p.url);
    assert.match(s.url, /^https:\/\/huggingface\.co\/openai\/clip-vit-base-patch(32|16)\/resolve\/main\/$/);
    assert.ok(p.download > p.kept && p.kept > 100, JSON.stringify(p));
  }
});

test('model URLs: default bundle, bundles, folders and Hugging Face repositories', () => {
  assert.deepEqual(resolveSource('', PAGE), { kind: 'bundle', url: `http://127.0.0.1:8080/${DEFAULT_MODEL}`,
    name: DEFAULT_MODEL, cacheKey: `http://127.0.0.1:8080/${DEFAULT_MODEL}`, isDefault: true });
  const b = resolveSource('models/clip%20b32.q8.webclip', PAGE);
  assert.equal(b.kind, 'bundle');
  assert.equal(b.name, 'clip b32.q8.webclip');
  assert.equal(b.cacheKey, b.url);
  const f = resolveSource('/hf/tiny/', PAGE);
  assert.deepEqual([f.kind, f.url, f.name, f.cacheKey],
    ['folder', 'http://127.0.0.1:8080/hf/tiny/', 'tiny', 'http://127.0.0.1:8080/hf/tiny/webclip-q8.webclip']);
  for (const [input, url, name] of [
    ['https://huggingface.co/openai/clip-vit-base-patch32',
      'https://huggingface.co/openai/clip-vit-base-patch32/resolve/main/', 'openai/clip-vit-base-patch32'],
    ['https://huggingface.co/openai/clip-vit-base-patch32/tree/refs%2Fpr%2F1',
      'https://huggingface.co/openai/clip-vit-base-patch32/resolve/refs%2Fpr%2F1/', 'openai/clip-vit-base-patch32@refs%2Fpr%2F1'],
    ['https://hf.co/wkcn/TinyCLIP-ViT-8M-16-Text-3M-YFCC15M/blob/main/config.json',
      'https://huggingface.co/wkcn/TinyCLIP-ViT-8M-16-Text-3M-YFCC15M/resolve/main/', 'wkcn/TinyCLIP-ViT-8M-16-Text-3M-YFCC15M'],
    ['hf:openai/clip-vit-large-patch14@v1.0', 'https://huggingface.co/openai/clip-vit-large-patch14/resolve/v1.0/',
      'openai/clip-vit-large-patch14@v1.0'],
  ]) {
    const s = resolveSource(input, PAGE);
    assert.deepEqual([s.kind, s.url, s.name], ['folder', url, name], input);
  }
  assert.throws(() => resolveSource('ftp://example.com/m.webclip', PAGE), /ftp: URLs cannot be downloaded/);
});

/** An error as pkg/webclip.js throws it (src/wasm/mod.rs): an Error with own `code` and `hint`. */
const engineError = (code, message, hint = '') => Object.assign(new Error(message), { code, hint });

test('errors: engine errors map by code, never by their message', () => {
  const damaged = engineError('bundle-damaged', 'm.webclip: __metadata__.payload_sha256: is \'ab\' but the tensor ' +
    'data hashes to cd: the file is damaged (corrupted download).', 'Delete the cached file and download it again.');
  const e = toWebclipError(damaged, 'model');
  assert.deepEqual([e.code, e.engineCode, e.message, e.hint], ['corrupt-model', 'bundle-damaged', damaged.message,
    ERRORS['corrupt-model'].hint]);
  const truncated = engineError('safetensors', 'm.webclip: not a valid safetensors file (truncated: 20 bytes).');
  assert.equal(toWebclipError(truncated, 'model').code, 'corrupt-model');
  // a GPU failure while the model is built is a GPU failure, whatever its message says
  for (const code of ['gpu-device-lost', 'gpu-limit', 'gpu']) {
    const gpu = engineError(code, 'the model file is damaged or truncated (a GPU message that mentions files)');
    assert.deepEqual([toWebclipError(gpu, 'model').code, isGpuFailure(gpu)], ['webgpu-failed', true], code);
    assert.ok(isGpuFailure(toWebclipError(gpu, 'image')), `${code}: still a GPU failure once mapped`);
  }
  assert.equal(toWebclipError(engineError('gpu-out-of-memory', 'x'), 'model').code, 'out-of-memory');
  assert.equal(toWebclipError(engineError('backend-unavailable', 'x'), 'model').code, 'no-webgpu');
  assert.equal(toWebclipError(engineError('bundle-version', 'x'), 'model').code, 'model-version');
  assert.equal(toWebclipError(engineError('missing-tower', 'x'), 'image').code, 'one-tower');
  assert.equal(toWebclipError(engineError('image', 'GPU device lost?'), 'image').code, 'unsupported-image');
  assert.equal(toWebclipError(engineError('no-labels', 'x'), 'text').code, 'labels');
  assert.deepEqual(['model', 'text'].map((d) => toWebclipError(engineError('tokenizer', 'x'), d).code),
    ['corrupt-model', 'internal']);
  // no code: a message that reads like a damaged file is not one
  assert.equal(toWebclipError(new Error(damaged.message), 'model').code, 'internal');
  assert.ok(!isGpuFailure(new Error('the GPU device was lost (Destroyed).')));
  // the catch-all keeps the engine's advice, which is specific
  const input = toWebclipError(engineError('embedding-length', 'x', 'Pass what embedImage returned.'), 'image');
  assert.deepEqual([input.code, input.hint], ['internal', 'Pass what embedImage returned.']);
  assert.deepEqual(toWebclipError(engineError('a-code-from-a-newer-engine', 'x'), 'model').code, 'internal');
});

test('errors: JavaScript errors by their class or name', () => {
  assert.equal(toWebclipError(new RangeError('Array buffer allocation failed'), 'download').code, 'out-of-memory');
  const trap = new WebAssembly.RuntimeError('unreachable');
  assert.deepEqual([toWebclipError(trap, 'image').code, toWebclipError(trap, 'image').fatal], ['crashed', true]);
  assert.equal(toWebclipError(new DOMException('full', 'QuotaExceededError'), 'store').code, 'quota');
  assert.equal(toWebclipError(new DOMException('x', 'AbortError'), 'download').code, 'network');
  assert.equal(toWebclipError(new TypeError('Failed to fetch'), 'download').code, 'network');
  assert.equal(toWebclipError(new TypeError('Failed to fetch'), 'model').code, 'internal');
  assert.equal(toWebclipError(new Error('quota exceeded, out of memory'), 'text').code, 'internal');
  const e = WebclipError.fromPlain(new WebclipError('quota', 'x').toPlain());
  assert.deepEqual([e.code, e.title, e.hint], ['quota', ERRORS.quota.title, ERRORS.quota.hint]);
  const g = WebclipError.fromPlain(structuredClone(toWebclipError(engineError('gpu-limit', 'y'), 'model').toPlain()));
  assert.deepEqual([g.code, g.engineCode, g.message, g.hint], ['webgpu-failed', 'gpu-limit', 'y',
    ERRORS['webgpu-failed'].hint]);
  for (const [code, { title, hint }] of Object.entries(ERRORS)) {
    assert.ok(title && hint && !title.endsWith('.'), `${code}: a title (no full stop) and what to do`);
  }
});

test('errors: every engine code (src/error.rs, src/wasm/mod.rs) has a page code and a type', () => {
  const codes = (file) => [...readFileSync(join(SRC, file), 'utf8').matchAll(/^\/\/! \| `([a-z-]+)`/gm)]
    .map((m) => m[1]);
  const engine = [...codes('error.rs'), ...codes('wasm/mod.rs')];
  assert.ok(engine.length >= 25 && engine.includes('gpu-device-lost') && engine.includes('backend-name'), engine);
  const types = readFileSync(join(WWW, 'webclip.d.ts'), 'utf8').match(/export type EngineCode =([^;]*);/)[1];
  for (const code of engine) {
    assert.ok(code in ENGINE_CODES, `${code} has no page code in lib/errors.js ENGINE_CODES`);
    assert.ok(types.includes(`'${code}'`), `${code} is missing from webclip.d.ts EngineCode`);
  }
  assert.deepEqual(Object.keys(ENGINE_CODES).filter((c) => !engine.includes(c)), [], 'codes no engine raises');
  for (const to of Object.values(ENGINE_CODES)) {
    for (const code of typeof to === 'function' ? [to('model'), to('text')] : [to]) assert.ok(ERRORS[code], code);
  }
});

/** A stand-in for the module Worker: records what it was sent; the test answers as the worker would. */
class FakeWorker {
  static all = [];
  sent = [];
  terminated = false;
  constructor(url) {
    this.url = url;
    FakeWorker.all.push(this);
  }
  postMessage(data) {
    this.sent.push(data);
  }
  terminate() {
    this.terminated = true;
  }
  answer(data) {
    this.onmessage({ data });
  }
}

test('client: a fatal error fails every waiting request and the next one goes to a new worker', async (t) => {
  const saved = globalThis.Worker;
  globalThis.Worker = FakeWorker;
  t.after(() => (globalThis.Worker = saved));
  t.mock.method(console, 'warn', () => {});
  FakeWorker.all = [];
  const client = new WebclipClient(new URL('file:///worker.js'));
  const [first] = FakeWorker.all;
  const settled = (p) => p.then((v) => ({ ok: v }), (e) => ({ error: e }));
  const a = settled(client.request('classify', {}));
  const b = settled(client.request('caption', {}));
  const c = settled(client.request('tag', {}));
  assert.deepEqual(first.sent.map((m) => m.type), ['classify', 'caption', 'tag']);
  first.answer({ id: first.sent[0].id, ok: false,
    error: new WebclipError('crashed', 'unreachable', { fatal: true }).toPlain() });
  const [ra, rb, rc] = await Promise.race([Promise.all([a, b, c]),
    new Promise((_, fail) => setTimeout(() => fail(new Error('a request was left pending')), 2000))]);
  for (const r of [ra, rb, rc]) {
    assert.ok(r.error instanceof WebclipError && r.error.code === 'crashed' && r.error.fatal, JSON.stringify(r));
  }
  assert.ok(first.terminated && FakeWorker.all.length === 2 && client.restarts === 1);
  // the next request goes to the new worker and is answered there
  const next = client.request('load', {});
  const [, second] = FakeWorker.all;
  assert.deepEqual(second.sent.map((m) => m.type), ['load']);
  second.answer({ id: second.sent[0].id, ok: true, result: 'loaded' });
  assert.equal(await next, 'loaded');
  // a non-fatal error fails its own request only
  const d = settled(client.request('classify', {}));
  const e = settled(client.request('caption', {}));
  second.answer({ id: second.sent[1].id, ok: false, error: new WebclipError('labels', 'no labels').toPlain() });
  second.answer({ id: second.sent[2].id, ok: true, result: 'caption' });
  assert.deepEqual([(await d).error.code, (await e).ok], ['labels', 'caption']);
  // after terminate(), requests reject at once instead of waiting for a worker that is gone
  client.terminate();
  assert.equal((await settled(client.request('info'))).error?.code, 'crashed');
});

test('zero-shot: softmax of scale · cosine; the ensemble is the normalised mean of normalised embeddings', () => {
  const img = Float32Array.of(3, 4);
  const texts = [Float32Array.of(1, 0), Float32Array.of(0, 1)].map(normalize);
  const p = probabilities(img, texts, 10);
  const want = softmax([10 * 0.6, 10 * 0.8]);
  p.forEach((v, i) => assert.ok(Math.abs(v - want[i]) < 1e-7));
  assert.ok(Math.abs(p[0] + p[1] - 1) < 1e-12);
  const e = ensemble([Float32Array.of(2, 0), Float32Array.of(0, 5)]);
  assert.ok(Math.abs(e[0] - Math.SQRT1_2) < 1e-7 && Math.abs(e[1] - Math.SQRT1_2) < 1e-7);
  assert.deepEqual(ensemble([Float32Array.of(0, 3)]), Float32Array.of(0, 1));
  assert.deepEqual(ranked(['a', 'b', 'c'], [0.2, 0.4, 0.4]).map((r) => r.label), ['b', 'c', 'a']);
  assert.throws(() => probabilities(img, [Float32Array.of(1, 0, 0)], 1), /3 values but the image embedding 2/);
  // SigLIP: each label on its own, sigmoid(scale · cos + bias), as the Rust Scorer::Sigmoid
  const s = probabilities(img, texts, 10, { scoring: 'sigmoid', bias: -7.5 });
  [0.6, 0.8].forEach((c, i) => assert.ok(Math.abs(s[i] - 1 / (1 + Math.exp(-(10 * c - 7.5)))) < 1e-6, `${s[i]}`));
  assert.ok(Math.abs(s[0] + s[1] - 1) > 0.1 && s[0] < 0.5 && s[1] > 0.5, 'not a softmax'); // 0.18, 0.62
});

test('bundle metadata: read from the header without trusting it', () => {
  const meta = { format: 'webclip', payload_sha256: 'aa', header_sha256: 'bb', towers: 'both',
    policy: JSON.stringify({ default: 'q4', keep_first_last_at_q8: true }), 'config.json': '{"projection_dim": 512}' };
  const header = Buffer.from(JSON.stringify({ __metadata__: meta }));
  const bytes = new Uint8Array(8 + header.length + 4);
  new DataView(bytes.buffer).setBigUint64(0, BigInt(header.length), true);
  bytes.set(header, 8);
  const m = bundleMetadata(bytes);
  assert.equal(m.format, 'webclip');
  const d = describeBundle(m, bytes);
  assert.deepEqual([d.id, d.quant, d.towers, d.bytes], ['aa:bb', 'q4+', 'both', bytes.length]);
  assert.match(d.architecture, /512-d embeddings$/);
  assert.equal(bundleMetadata(new TextEncoder().encode('<!doctype html><html>…')), null);
  assert.equal(bundleMetadata(bytes.subarray(0, 20)), null);
});

/** Every file index.html needs, found from its <script>/<link> through static imports, the worker URL and the
 *  label-list URLs in lib/labels.js (paths relative to www/). */
function pageFiles() {
  const found = new Set();
  const visit = (file) => {
    if (found.has(file)) return;
    found.add(file);
    if (!file.endsWith('.js')) return;
    const text = readFileSync(join(WWW, file), 'utf8');
    const dir = file.includes('/') ? file.slice(0, file.lastIndexOf('/') + 1) : '';
    const refs = [...text.matchAll(/(?:from|import)\s*\(?\s*'(\.{1,2}\/[^']+)'|new URL\('(\.{1,2}\/[^']+)', import\.meta\.url\)/g)];
    for (const m of refs) {
      const path = new URL(m[1] ?? m[2], `http://x/${dir}`).pathname.slice(1);
      if (!path.endsWith('/')) visit(path); // a folder (lib/wasm-features.js's pkg/) is no file to store
    }
    for (const m of text.matchAll(/url: '([\w/.-]+\.json)'/g)) found.add(m[1]); // fetched relative to the page
  };
  visit('index.html');
  const html = readFileSync(join(WWW, 'index.html'), 'utf8');
  for (const m of html.matchAll(/(?:href|src)="([\w./-]+\.(?:css|js))"/g)) visit(m[1]);
  return found;
}

test('engine build: relaxed SIMD where it validates, else SIMD128; ?wasm= forces one and reaches the worker', () => {
  const best = hasRelaxedSimd() ? 'relaxed-simd' : 'simd128'; // Node 20: simd128 (Chromium: gpu.test.mjs)
  assert.equal(pickBuild(''), best);
  assert.equal(pickBuild('?wasm=bogus'), best, 'an unknown name is no override');
  assert.equal(pickBuild('?model=x&wasm=simd128'), 'simd128');
  const pkg = new URL('https://example.org/app/pkg/');
  assert.equal(wasmUrl(pkg, '?wasm=simd128').href, 'https://example.org/app/pkg/webclip_bg.wasm');
  assert.equal(wasmUrl(pkg, '').href, `https://example.org/app/pkg/${BUILDS[best]}`);
  const worker = new URL('https://example.org/app/lib/worker.js');
  assert.equal(forwardOverride(worker, '?model=m&wasm=simd128').href, `${worker.href}?wasm=simd128`);
  assert.equal(forwardOverride(worker, '?model=m'), worker, 'no override: the same URL');
  assert.equal(forwardOverride(worker, '?threads=3&wasm=relaxed-simd').href, `${worker.href}?wasm=relaxed-simd&threads=3`);
});

test('engine build: the threads build only where shared memory, workers and relaxed SIMD are; ?threads=N', () => {
  const pkg = new URL('https://example.org/app/pkg/');
  const isolated = { crossOriginIsolated: true, SharedArrayBuffer, Worker: class {}, navigator: { hardwareConcurrency: 12 } };
  const files = (search, g) => {
    const f = engineFiles(pkg, search, g);
    return { build: f.build, glue: f.glue.pathname, wasm: f.wasm.pathname, threads: f.threads };
  };
  if (hasRelaxedSimd()) {
    assert.deepEqual(files('', isolated), { build: 'relaxed-simd-threads', glue: '/app/pkg/threads/webclip.js',
      wasm: '/app/pkg/threads/webclip_bg.wasm', threads: MAX_THREADS }, 'hardwareConcurrency, capped');
    assert.equal(files('?threads=3', isolated).threads, 3);
    assert.equal(files('?threads=32', isolated).threads, 32, 'an explicit count is not capped');
    assert.equal(bestEngine(isolated), 'relaxed-simd-threads');
  } else {
    assert.equal(files('', isolated).threads, 1, 'no relaxed SIMD (Node 20 here): the threads build has it');
  }
  const single = { build: bestBuild(), glue: '/app/pkg/webclip.js', wasm: `/app/pkg/${BUILDS[bestBuild()]}`, threads: 1 };
  assert.deepEqual(files('?threads=1', isolated), single, '?threads=1: a single-threaded build');
  assert.deepEqual(files('', { ...isolated, crossOriginIsolated: false }), single, 'not isolated: no shared memory');
  assert.deepEqual(files('', { ...isolated, SharedArrayBuffer: undefined }), single);
  assert.deepEqual(files('', { ...isolated, Worker: undefined }), single, 'no nested workers');
  assert.equal(files('?wasm=simd128', isolated).build, 'simd128', 'wasm=simd128: there is no SIMD128 threads build');
  for (const bad of ['0', '-2', '1.5', 'many', '257']) {
    assert.equal(threadsOverride(`?threads=${bad}`), null, `threads=${bad} is no override`);
  }
  assert.equal(threadCount('?threads=4', { ...isolated, crossOriginIsolated: false }), 1, 'an override cannot make shared memory');
});

test('the service worker stores every file the page loads (else the page breaks offline)', () => {
  const sw = readFileSync(join(WWW, 'sw.js'), 'utf8');
  const listed = new Set([...sw.match(/const SHELL = \[([^\]]*)\]/)[1].matchAll(/'([^']+)'/g)].map((m) => m[1]));
  // the engine builds (sw.js's engine()): the one the page registered it with is stored at install
  const builds = Object.fromEntries([...sw.match(/const builds = \{([^}]*)\}/)[1].matchAll(/'?([\w-]+)'?: '([^']+)'/g)]
    .map((m) => [m[1], m[2]]));
  assert.deepEqual(builds, Object.fromEntries(Object.entries(BUILDS).map(([k, f]) => [k, `pkg/${f}`])),
    'sw.js names the builds of lib/wasm-features.js');
  for (const f of Object.values(builds)) listed.add(f);
  const needed = pageFiles();
  for (const f of ['lib/worker.js', 'lib/loader.js', 'lib/engine.js', 'lib/wasm-features.js', 'presets/cifar100.json',
    'style.css']) {
    assert.ok(needed.has(f), `the import walk missed ${f}: fix pageFiles()`);
  }
  // lib/engine.js imports the glue lib/wasm-features.js names and passes it one of the .wasm
  needed.add('pkg/webclip.js');
  needed.add('pkg/webclip_bg.wasm');
  needed.add('pkg/webclip_relaxed_bg.wasm');
  for (const f of needed) assert.ok(listed.has(f), `sw.js does not store ${f}, which the page loads`);
  for (const f of listed) {
    if (f !== './') assert.ok(existsSync(join(WWW, f)) || f.startsWith('pkg/'), `sw.js lists ${f}, which does not exist`);
  }
});
