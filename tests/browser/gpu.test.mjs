// End to end in headless Chromium through the wasm build (run by `./build.sh test`, or `node --test
// tests/browser/gpu.test.mjs` after `./build.sh wasm` and `npm --prefix tests/browser install`).
//
// Debian's Chromium (driven by playwright-core, never a downloaded browser) opens tests/browser/pages/e2e.html, which
// loads www/pkg/webclip.js and builds tests/fixtures/tiny-a and tiny-b on "gpu" (WebGPU: SwiftShader on machines
// without a GPU) and on "cpu" (wasm). The page returns token ids, text and image embeddings and zero-shot
// probabilities; this file compares them with the Hugging Face goldens (goldens.json, goldens.safetensors):
// embeddings cosine >= 0.9999, probabilities max abs <= 1e-3, token ids equal.
// The page runs the engine build www/lib/wasm-features.js picks: Chromium has relaxed SIMD, so
// pkg/webclip_relaxed_bg.wasm; a second page, e2e.html?wasm=simd128, runs pkg/webclip_bg.wasm for the q8 bundle's
// comparison with the CLI (the int8 CPU path, where the builds differ).
//
// Skips (loudly) only when Chromium is not installed. The photos are tests/assets/photos (in the repository: a missing
// photo fails the tests; the wasm API embeds encoded image files only). A Chromium without a WebGPU adapter FAILS the
// GPU part.
// Artifacts: tests/artifacts/browser-e2e.png (screenshot of the page) and browser-e2e.json (adapter, numbers, times).
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { CHROMIUM, haveChromium, launch } from './chromium.mjs';
import { serve } from './serve.mjs';

const REPO = fileURLToPath(new URL('../../', import.meta.url));
const PHOTOS = join(REPO, 'tests/assets/photos');
const ARTIFACTS = join(REPO, 'tests/artifacts');
const FIXTURES = ['tiny-a', 'tiny-b', 'siglip-tiny', 'siglip2-tiny'];
// SigLIP fixtures reach the browser as f32 bundles made by the CLI (tests/siglip_golden.rs checks those against the
// folders); their probabilities are SiglipModel's per-label sigmoids
const SIGLIP = (fixture) => fixture.startsWith('siglip');
const BACKENDS = ['gpu', 'cpu'];
const MIN_COSINE = 0.9999;
const MAX_PROBS_ERR = 1e-3;
const TIMEOUT = 300_000; // per test; tiny models take seconds even on SwiftShader
const WEBCLIP = join(REPO, 'target/debug/webclip'); // the CLI, built by `cargo test` (./build.sh test runs it first)
const QUANTS = ['q8', 'q4'];
// The browser and the native CLI run the same dequantized weights: they differ by f32 summation order only.
const BUNDLE_MIN_COSINE = 0.99999;
const BUNDLE_MAX_ABS = 1e-4;

if (!haveChromium) {
  console.log(`\n*** SKIPPED: the browser end-to-end tests need Chromium at ${CHROMIUM} (apt-get install chromium), ` +
    'which is not installed: nothing was checked in a browser ***\n');
}

/** Reads a safetensors file (8-byte LE header length, JSON header, data): { name: { shape, data } } for F32/U8. */
function readSafetensors(path) {
  const buf = readFileSync(path);
  const n = Number(buf.readBigUInt64LE(0));
  const header = JSON.parse(buf.subarray(8, 8 + n).toString('utf8'));
  const tensors = {};
  for (const [name, t] of Object.entries(header)) {
    if (name === '__metadata__') continue;
    const [start, end] = t.data_offsets;
    const bytes = buf.subarray(8 + n + start, 8 + n + end);
    let data;
    if (t.dtype === 'F32') {
      data = new Float32Array(bytes.length / 4);
      for (let i = 0; i < data.length; i++) data[i] = bytes.readFloatLE(4 * i);
    } else if (t.dtype === 'U8') {
      data = Uint8Array.from(bytes);
    } else {
      continue; // the goldens hold F32 and U8 only
    }
    assert.equal(data.length, t.shape.reduce((a, b) => a * b, 1), `${path}: ${name} has the wrong byte count`);
    tensors[name] = { shape: t.shape, data };
  }
  return tensors;
}

function rows({ shape, data }) {
  const width = shape[shape.length - 1];
  return Array.from({ length: shape[0] }, (_, i) => Array.from(data.subarray(i * width, (i + 1) * width)));
}

function cosine(a, b) {
  let ab = 0, aa = 0, bb = 0;
  for (let i = 0; i < a.length; i++) { ab += a[i] * b[i]; aa += a[i] * a[i]; bb += b[i] * b[i]; }
  return ab / Math.sqrt(aa * bb);
}

function maxAbs(a, b) {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return a.length === b.length ? m : Infinity;
}

function goldens(fixture) {
  const dir = join(REPO, 'tests/fixtures', fixture);
  const meta = JSON.parse(readFileSync(join(dir, 'goldens.json'), 'utf8'));
  const t = readSafetensors(join(dir, 'goldens.safetensors'));
  return { meta, text: rows(t.text_embeds), image: rows(t.image_embeds), probs: rows(t.probs) };
}

// Without Chromium: one skipped test (a skipped suite would count as no test at all).
const suite = haveChromium ? describe : (name, options) => test(name, options);
suite('webclip (wasm) in headless Chromium vs Hugging Face goldens', {
  skip: !haveChromium && `Chromium is not installed at ${CHROMIUM} (apt-get install chromium)`,
}, () => {
  let context, page, server, root, profile, adapter, version, url, simdPage;
  const pageLog = [];
  const wasmFetched = []; // [page query, .wasm path] of every .wasm either page fetched
  const report = { chromium: null, webclip: null, adapter: null, runs: {} };

  // page.evaluate with the page's console in the error, so a failure inside wasm explains itself
  async function evaluate(fn, arg, on = page) {
    try {
      return await on.evaluate(fn, arg);
    } catch (e) {
      const tail = pageLog.slice(-15).join('\n  ');
      e.message += tail ? `\n page console (last lines):\n  ${tail}` : '';
      throw e;
    }
  }

  before(async () => {
    const pkg = join(REPO, 'www/pkg/webclip.js');
    assert.ok(existsSync(pkg), `${pkg} is missing: build it first (./build.sh wasm)`);
    // What the page needs, under one served root: the package, the fixtures, the tokenizer, the test page, photos.
    root = mkdtempSync(join(tmpdir(), 'webclip-e2e-root-'));
    symlinkSync(join(REPO, 'www'), join(root, 'www'));
    symlinkSync(join(REPO, 'tests'), join(root, 'tests'));
    symlinkSync(join(REPO, 'src'), join(root, 'src'));
    const missing = goldens('tiny-a').meta.photos.filter((p) => !existsSync(join(PHOTOS, p)));
    assert.deepEqual(missing, [], `photos missing from ${PHOTOS}: they are part of the repository ` +
      '(tests/assets/README.md); restore them');
    symlinkSync(PHOTOS, join(root, 'photos'));
    // q8/q4 bundles of tiny-a, made by the CLI; the browser must reproduce the CLI's embeddings of them
    if (existsSync(WEBCLIP)) {
      mkdirSync(join(root, 'bundles'));
      for (const quant of QUANTS) {
        execFileSync(WEBCLIP, ['convert', '--model', join(REPO, 'tests/fixtures/tiny-a'), '--quant', quant, '--out',
          join(root, 'bundles', `tiny-a.${quant}.webclip`)], { stdio: ['ignore', 'ignore', 'inherit'] });
      }
      for (const fixture of FIXTURES.filter(SIGLIP)) {
        execFileSync(WEBCLIP, ['convert', '--model', join(REPO, 'tests/fixtures', fixture), '--quant', 'f32', '--out',
          join(root, 'bundles', `${fixture}.f32.webclip`)], { stdio: ['ignore', 'ignore', 'inherit'] });
      }
    }
    server = await serve({ root, port: 0 });
    url = `http://127.0.0.1:${server.address().port}/tests/browser/pages/e2e.html`;

    const t0 = performance.now();
    ({ context, page, profile } = await launch());
    report.chromium = context.browser()?.version() ?? null;
    page.on('console', (m) => pageLog.push(`[${m.type()}] ${m.text()}`));
    page.on('pageerror', (e) => pageLog.push(`[pageerror] ${e.message}`));
    context.on('request', (r) => {
      const u = new URL(r.url());
      if (u.pathname.endsWith('.wasm')) wasmFetched.push([new URL(r.frame().url()).search, u.pathname]);
    });
    await page.goto(url);
    await page.waitForFunction(() => window.webclipE2E, null, { timeout: 30_000 }).catch((e) => {
      throw new Error(`${url} did not set window.webclipE2E (${e.message.split('\n')[0]}); page console:\n  ` +
        pageLog.join('\n  '));
    });
    version = await evaluate(() => window.webclipE2E.ready);
    report.webclip = version;
    adapter = await evaluate(() => window.webclipE2E.adapter());
    report.adapter = adapter;
    console.log(`Chromium ${report.chromium} up and webclip ${version} loaded in ` +
      `${((performance.now() - t0) / 1000).toFixed(1)} s; WebGPU adapter: ${JSON.stringify(adapter)}`);
  });

  after(async () => {
    try {
      if (page) {
        mkdirSync(ARTIFACTS, { recursive: true });
        await page.evaluate(() => window.webclipE2E?.status('done')).catch(() => {});
        await page.screenshot({ path: join(ARTIFACTS, 'browser-e2e.png'), fullPage: true })
          .then(() => console.log(`screenshot: ${join(ARTIFACTS, 'browser-e2e.png')}`))
          .catch((e) => console.log(`no screenshot: ${e.message}`));
        writeFileSync(join(ARTIFACTS, 'browser-e2e.json'), JSON.stringify({ ...report, pageLog }, null, 1) + '\n');
      }
      const lines = Object.entries(report.runs).map(([key, r]) =>
        `  ${key.padEnd(10)} ${(r.engine ?? '-').padEnd(60)} load ${fmt(r.loadMs)} texts ${fmt(r.textsMs)} ` +
        `images ${fmt(r.imagesMs)}  text 1-cos ${r.textCosErr ?? '-'}  image 1-cos ${r.imageCosErr ?? '-'}  ` +
        `probs err ${r.probsErr ?? '-'}`);
      if (lines.length) console.log(`browser end-to-end timings (ms, SwiftShader/wasm: not GPU performance):\n${lines.join('\n')}`);
    } finally {
      await context?.close().catch(() => {});
      await new Promise((ok) => (server ? server.close(ok) : ok()));
      if (root) rmSync(root, { recursive: true, force: true }); // removes the links, not what they point to
      if (profile) rmSync(profile, { recursive: true, force: true });
    }
  });

  test('Chromium offers a WebGPU adapter (SwiftShader without a GPU)', (t) => {
    t.diagnostic(`adapter: ${JSON.stringify(adapter)}`);
    assert.ok(!adapter?.error, `WebGPU is unavailable in Chromium ${report.chromium}: ${adapter?.error}. Launched ` +
      'with --enable-unsafe-webgpu, Chromium always has SwiftShader: the browser or its flags are broken');
    assert.ok(adapter.limits.maxComputeInvocationsPerWorkgroup >= 256,
      `unexpected adapter limits ${JSON.stringify(adapter.limits)}`);
  });

  test('Chromium runs the relaxed-SIMD build; e2e.html?wasm=simd128 the SIMD128 build', { timeout: TIMEOUT },
    async (t) => {
      const probe = await evaluate(async () => {
        const { RELAXED_PROBE } = await import('/www/lib/wasm-features.js');
        const bogus = RELAXED_PROBE.slice();
        bogus.set([0xff, 0x03], bogus.length - 3); // opcode 0xfd 0x1ff: no such SIMD instruction
        const sum = new WebAssembly.Instance(new WebAssembly.Module(RELAXED_PROBE)).exports.f();
        return { relaxed: WebAssembly.validate(RELAXED_PROBE), bogus: WebAssembly.validate(bogus), sum };
      });
      assert.deepEqual(probe, { relaxed: true, bogus: false, sum: 18 }, 'the relaxed-SIMD probe module');
      assert.deepEqual(await evaluate(() => window.webclipE2E.wasm),
        { build: 'relaxed-simd', file: '/www/pkg/webclip_relaxed_bg.wasm' }, 'the default page');
      simdPage = await context.newPage();
      simdPage.on('console', (m) => pageLog.push(`[simd128 page] [${m.type()}] ${m.text()}`));
      simdPage.on('pageerror', (e) => pageLog.push(`[simd128 page] [pageerror] ${e.message}`));
      await simdPage.goto(`${url}?wasm=simd128`);
      await simdPage.waitForFunction(() => window.webclipE2E, null, { timeout: 30_000 });
      await evaluate(() => window.webclipE2E.ready, undefined, simdPage);
      assert.deepEqual(await evaluate(() => window.webclipE2E.wasm, undefined, simdPage),
        { build: 'simd128', file: '/www/pkg/webclip_bg.wasm' }, 'the ?wasm=simd128 page');
      // each page fetched its own build and no other
      assert.deepEqual(wasmFetched.sort(),
        [['', '/www/pkg/webclip_relaxed_bg.wasm'], ['?wasm=simd128', '/www/pkg/webclip_bg.wasm']]);
      t.diagnostic(`fetched: ${JSON.stringify(wasmFetched)}`);
    });

  for (const fixture of FIXTURES) {
    for (const backend of BACKENDS) {
      describe(`${fixture} on ${backend}`, () => {
        const key = `${fixture}/${backend}`;
        const want = goldens(fixture);
        const run = (report.runs[key] = {});
        let loaded = false;
        const needLoaded = () => assert.ok(loaded, `the ${key} model did not load (see the "loads" test)`);

        after(() => page && evaluate((a) => window.webclipE2E.dispose(...a), [fixture, backend]).catch(() => {}));

        test('loads', { timeout: TIMEOUT }, async (t) => {
          if (backend === 'gpu') {
            assert.ok(!adapter?.error, `WebGPU is unavailable in Chromium (${adapter?.error}): the "gpu" backend ` +
              'cannot be tested. With --enable-unsafe-webgpu SwiftShader should always provide an adapter');
          }
          const r = SIGLIP(fixture)
            ? await evaluate((a) => window.webclipE2E.loadFixtureBundle(...a),
              [fixture, `/bundles/${fixture}.f32.webclip`, backend])
            : await evaluate((a) => window.webclipE2E.load(...a), [fixture, backend]);
          if (SIGLIP(fixture)) assert.deepEqual([r.architecture, r.scoring], ['siglip', 'sigmoid']);
          run.engine = r.engine;
          run.loadMs = r.ms;
          t.diagnostic(`engine "${r.engine}", loaded in ${r.ms.toFixed(0)} ms`);
          if (backend === 'gpu') {
            assert.match(r.engine, /^gpu: .*\(webgpu, /, `the "gpu" model runs on "${r.engine}", not on WebGPU`);
          } else {
            assert.equal(r.engine, 'cpu');
          }
          loaded = true;
          await evaluate((a) => window.webclipE2E.verdict(...a), [fixture, backend, 'load', 'ok', 'ok']);
        });

        test(`text: token ids equal, embeddings cosine >= ${MIN_COSINE}`, { timeout: TIMEOUT }, async (t) => {
          needLoaded();
          const r = await evaluate((a) => window.webclipE2E.texts(...a), [fixture, backend]);
          run.textsMs = r.ms;
          assert.equal(r.texts.length, want.meta.texts.length);
          const bad = [];
          let cosMin = Infinity, errMax = 0;
          r.texts.forEach(({ text, ids, embedding }, j) => {
            // SiglipTokenizer splits literal special tokens out in Python first (tests/fixtures/siglip/NOTES.md §5.1)
            const special = (want.meta.spec_disagreements ?? []).some((d) => d.text === text);
            if (!special && JSON.stringify(ids) !== JSON.stringify(want.meta.input_ids[j])) {
              bad.push(`${JSON.stringify(text)}: ids ${JSON.stringify(ids)} != HF ${JSON.stringify(want.meta.input_ids[j])}`);
            }
            if (special) return; // other ids, so another embedding
            const c = cosine(embedding, want.text[j]);
            const e = maxAbs(embedding, want.text[j]);
            cosMin = Math.min(cosMin, c);
            errMax = Math.max(errMax, e);
            if (!(c >= MIN_COSINE)) bad.push(`${JSON.stringify(text)}: cosine ${c} (max abs ${e}, dim ${embedding.length})`);
          });
          run.textCosErr = (1 - cosMin).toExponential(1);
          const summary = `${r.texts.length} texts in ${r.ms.toFixed(0)} ms: 1 - cosine <= ${run.textCosErr}, ` +
            `max abs ${errMax.toExponential(2)}`;
          t.diagnostic(summary);
          await evaluate((a) => window.webclipE2E.verdict(...a),
            [fixture, backend, 'texts', bad.length ? `${bad.length} bad` : summary, bad.length ? 'fail' : 'ok']);
          assert.deepEqual(bad, [], `${key} text vs HF goldens`);
        });

        test(`images: embeddings cosine >= ${MIN_COSINE}, probabilities max abs <= ${MAX_PROBS_ERR}`, {
          timeout: TIMEOUT,
        }, async (t) => {
          needLoaded();
          const r = await evaluate((a) => window.webclipE2E.images(...a), [fixture, backend, '/photos/']);
          run.imagesMs = r.ms;
          assert.equal(r.images.length, want.meta.photos.length);
          const bad = [];
          let cosMin = Infinity, probsErr = 0;
          r.images.forEach(({ photo, embedding, probs }, i) => {
            const c = cosine(embedding, want.image[i]);
            const p = maxAbs(probs, want.probs[i]);
            cosMin = Math.min(cosMin, c);
            probsErr = Math.max(probsErr, p);
            if (!(c >= MIN_COSINE)) bad.push(`${photo}: image cosine ${c} (dim ${embedding.length})`);
            if (!(p <= MAX_PROBS_ERR)) bad.push(`${photo}: probabilities max abs ${p} (${probs.length} labels)`);
          });
          run.imageCosErr = (1 - cosMin).toExponential(1);
          run.probsErr = probsErr.toExponential(2);
          const summary = `${r.images.length} photos in ${r.ms.toFixed(0)} ms: 1 - cosine <= ${run.imageCosErr}, ` +
            `probs max abs ${probsErr.toExponential(2)}`;
          t.diagnostic(summary);
          await evaluate((a) => window.webclipE2E.verdict(...a),
            [fixture, backend, 'images', bad.length ? `${bad.length} bad` : summary, bad.length ? 'fail' : 'ok']);
          assert.deepEqual(bad, [], `${key} images vs HF goldens`);
        });
      });
    }
  }

  // Quantized bundles through Model.fromBundle: WebGPU (linear_q8/q4 and the packed token gather in WGSL) and the
  // wasm CPU path give the native CLI's embeddings of the same bundle.
  // q8 on the CPU once more in the SIMD128 build (the ?wasm=simd128 page): int8 dot products without relaxed SIMD
  const runs = QUANTS.flatMap((quant) => BACKENDS.map((backend) => ({ quant, backend, build: null })));
  runs.push({ quant: 'q8', backend: 'cpu', build: 'simd128' });
  const cpuQ8 = {}; // build → the q8 bundle's CPU embeddings: the two builds must agree bit for bit
  for (const { quant, backend, build } of runs) {
    test(`tiny-a ${quant} bundle on ${backend}${build ? ` (the ${build} build)` : ''} equals the native CLI ` +
      `(cosine >= ${BUNDLE_MIN_COSINE}, max abs <= ${BUNDLE_MAX_ABS})`, { timeout: TIMEOUT }, async (t) => {
      assert.ok(existsSync(WEBCLIP), `${WEBCLIP} is missing: build it first (cargo build --bin webclip)`);
      const on = build ? simdPage : page;
      assert.ok(on, 'the ?wasm=simd128 page did not open (see the build test)');
      const key = `tiny-a.${quant}`;
      const bundle = join(root, 'bundles', `${key}.webclip`);
      const want = goldens('tiny-a');
      const texts = want.meta.texts;
      const photos = want.meta.photos;
      // the page's CPU path quantizes activations to int8 as the CLI's `cpu` does (the same arithmetic); WebGPU keeps
      // them f32, as `cpu-reference` does
      const cli = backend === 'gpu' ? 'cpu-reference' : 'cpu';
      const native = (args) => execFileSync(WEBCLIP, ['embed', '--model', bundle, '--backend', cli, ...args],
        { encoding: 'utf8' })
        .trim().split('\n').map((l) => JSON.parse(l).embedding);
      const nativeTexts = native(['--text', ...texts]);
      const nativeImages = native(['--image', ...photos.map((p) => join(PHOTOS, p))]);
      const r = await evaluate(async (a) => {
        const [key, url, backend, texts, photos] = a;
        const loaded = await window.webclipE2E.loadBundle(key, url, backend);
        const out = await window.webclipE2E.embedAll(key, backend, texts, photos, '/photos/');
        window.webclipE2E.dispose(key, backend);
        return { ...loaded, ...out, build: window.webclipE2E.wasm.build };
      }, [key, `/bundles/${key}.webclip`, backend, texts, photos], on);
      assert.equal(r.build, build ?? 'relaxed-simd');
      if (quant === 'q8' && backend === 'cpu') {
        cpuQ8[r.build] = { texts: r.texts, images: r.images };
        if (build === 'simd128') {
          assert.ok(cpuQ8['relaxed-simd'], 'the relaxed-SIMD build\'s q8 run did not finish');
          assert.deepEqual(cpuQ8.simd128, cpuQ8['relaxed-simd'], 'the SIMD128 and relaxed-SIMD builds differ');
          t.diagnostic('the SIMD128 and relaxed-SIMD builds gave the same q8 embeddings, bit for bit');
        }
      }
      if (backend === 'gpu') assert.match(r.engine, /^gpu: .*\(webgpu, /, `runs on "${r.engine}", not on WebGPU`);
      const bad = [];
      let cosMin = Infinity, errMax = 0;
      const compare = (what, got, expected) => got.forEach((g, i) => {
        const c = cosine(g, expected[i]), e = maxAbs(g, expected[i]);
        cosMin = Math.min(cosMin, c);
        errMax = Math.max(errMax, e);
        if (!(c >= BUNDLE_MIN_COSINE && e <= BUNDLE_MAX_ABS)) bad.push(`${what} ${i}: cosine ${c}, max abs ${e}`);
      });
      assert.equal(r.texts.length, texts.length);
      assert.equal(r.images.length, photos.length);
      compare('text', r.texts, nativeTexts);
      compare('image', r.images, nativeImages);
      const summary = `${texts.length} texts + ${photos.length} photos in ${r.ms.toFixed(0)} ms: ` +
        `1 - cosine <= ${(1 - cosMin).toExponential(1)}, max abs ${errMax.toExponential(2)}`;
      t.diagnostic(summary);
      const where = build ? `${backend} (${build})` : backend;
      await evaluate((a) => window.webclipE2E.verdict(...a),
        [key, where, 'bundle', bad.length ? `${bad.length} bad` : summary, bad.length ? 'fail' : 'ok']);
      assert.deepEqual(bad, [], `${key} on ${where} vs the native CLI`);
    });
  }

  // Errors cross into JavaScript as codes (src/wasm/mod.rs): a lost WebGPU device is a GPU failure on the page,
  // never "the model file is damaged"; a truncated bundle is.
  test('a lost WebGPU device says gpu-device-lost (page: webgpu-failed), a truncated bundle corrupt-model', {
    timeout: TIMEOUT,
  }, async (t) => {
    assert.ok(!adapter?.error, `WebGPU is unavailable in Chromium (${adapter?.error})`);
    assert.ok(existsSync(WEBCLIP), `${WEBCLIP} is missing: build it first (cargo build --bin webclip)`);
    const r = await evaluate((url) => window.webclipE2E.failures(url), '/bundles/tiny-a.q8.webclip');
    t.diagnostic(JSON.stringify(r));
    for (const [what, during] of [['loadLost', 'load'], ['lost', 'embedText']]) {
      const e = r[what];
      assert.ok(e, `${during} on a destroyed device succeeded`);
      assert.deepEqual([e.name, e.code, e.page], ['Error', 'gpu-device-lost', 'webgpu-failed'],
        `${during}: ${e.message}`);
      assert.match(e.message, /^the GPU device was lost \(/);
      assert.ok(e.hint && !e.message.includes(e.hint), `${during}: the hint is separate from the message`);
    }
    for (const what of ['truncated', 'truncatedGpu']) {
      const e = r[what];
      assert.ok(e, `${what}: a truncated bundle was accepted`);
      assert.deepEqual([e.code, e.page], ['safetensors', 'corrupt-model'], `${what}: ${e.message}`);
      assert.match(e.message, /truncated/);
    }
  });
});

function fmt(ms) {
  return ms === undefined ? '     -' : ms.toFixed(0).padStart(6);
}
