// www/bench.html (the browser twin of `webclip bench`) in headless Chromium: `node --test tests/browser/bench.test.mjs`
// after `./build.sh wasm` and `npm --prefix tests/browser install`.
//
// Serves www/ beside a tiny synthetic model (`webclip synth --preset tiny --seed 0`, made with target/debug/webclip,
// built by `cargo build --bin webclip` when missing), opens bench.html?model=…&backend=both&batch=1&runs=2, presses
// Run and reads the JSON the page prints: both backends must report finite positive timings and GFLOP/s and name
// their adapter; then the same with the model's q4 bundle (?model=….webclip). Skips (loudly) only when Chromium is not installed; a Chromium without WebGPU FAILS.
// SwiftShader is a software adapter: the numbers it prints are CPU numbers, not GPU numbers.
// Artifacts: tests/artifacts/browser-bench.png and browser-bench.json.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { CHROMIUM, haveChromium, launch } from './chromium.mjs';
import { serve } from './serve.mjs';

const REPO = fileURLToPath(new URL('../../', import.meta.url));
const ARTIFACTS = join(REPO, 'tests/artifacts');
const BIN = join(REPO, 'target/debug/webclip');

if (!haveChromium) {
  console.log(`\n*** SKIPPED: the browser bench test needs Chromium at ${CHROMIUM} (apt-get install chromium), ` +
    'which is not installed: bench.html was not checked ***\n');
}

function synthTinyModel(out) {
  if (!existsSync(BIN)) {
    console.log(`${BIN} is missing: cargo build --bin webclip`);
    execFileSync('cargo', ['build', '--bin', 'webclip'], { cwd: REPO, stdio: 'inherit' });
  }
  execFileSync(BIN, ['synth', '--preset', 'tiny', '--seed', '0', '--out', out], { cwd: REPO, stdio: 'pipe' });
  // and its q4 bundle: bench.html takes a .webclip URL too
  execFileSync(BIN, ['convert', '--model', out, '--quant', 'q4', '--out', `${out}.q4.webclip`], { stdio: 'pipe' });
}

/** Opens bench.html at `url`, presses Run, returns the printed JSON reports. */
async function runBench(page, url, why) {
  await page.goto(url);
  await page.waitForFunction(() => window.webclipBench?.state === 'ready', null, { timeout: 30_000 })
    .catch(async (e) => {
      const state = await page.evaluate(() => JSON.stringify(window.webclipBench)).catch(() => '?');
      throw new Error(`bench.html did not get ready (${e.message.split('\n')[0]}; state ${state})${why()}`);
    });
  await page.click('#run');
  await page.waitForFunction(() => ['done', 'error'].includes(window.webclipBench.state), null, { timeout: 120_000 })
    .catch((e) => { throw new Error(`bench.html did not finish in 120 s (${e.message.split('\n')[0]})${why()}`); });
  const { state, error } = await page.evaluate(() => window.webclipBench);
  assert.equal(state, 'done', `bench.html failed: ${error}${why()}`);
  return JSON.parse(await page.textContent('#json'));
}

test('bench.html times both backends on a tiny model', {
  timeout: 300_000, // cargo build may run first; the page itself has 120 s
  skip: !haveChromium && `Chromium is not installed at ${CHROMIUM} (apt-get install chromium)`,
}, async (t) => {
  const pkg = join(REPO, 'www/pkg/webclip.js');
  assert.ok(existsSync(pkg), `${pkg} is missing: build it first (./build.sh wasm)`);

  const root = mkdtempSync(join(tmpdir(), 'webclip-bench-root-'));
  let server, context, page, profile;
  const pageLog = [];
  try {
    symlinkSync(join(REPO, 'www'), join(root, 'www'));
    synthTinyModel(join(root, 'models/tiny'));
    server = await serve({ root, port: 0 });
    const base = `http://127.0.0.1:${server.address().port}`;
    const url = `${base}/www/bench.html?model=${encodeURIComponent('/models/tiny/')}&backend=both&batch=1&runs=2`;

    const t0 = performance.now();
    ({ context, page, profile } = await launch());
    page.on('console', (m) => pageLog.push(`[${m.type()}] ${m.text()}`));
    page.on('pageerror', (e) => pageLog.push(`[pageerror] ${e.message}`));
    const why = () => `\n page console:\n  ${pageLog.slice(-20).join('\n  ')}`;
    const printed = await runBench(page, url, why);
    const secs = ((performance.now() - t0) / 1000).toFixed(1);

    mkdirSync(ARTIFACTS, { recursive: true });
    writeFileSync(join(ARTIFACTS, 'browser-bench.json'), JSON.stringify({ printed, pageLog }, null, 1) + '\n');
    await page.screenshot({ path: join(ARTIFACTS, 'browser-bench.png'), fullPage: true }).catch(() => {});

    assert.ok(Array.isArray(printed) && printed.length === 2, `expected two reports, got ${JSON.stringify(printed)}`);
    const [gpu, cpu] = printed;
    for (const r of printed) {
      assert.ok(!r.error, `${r.backend}: ${r.error}${why()}`);
      for (const tower of ['vision', 'text']) {
        for (const field of ['median_ms', 'min_ms', 'ms_per_item', 'gflop_per_s', 'gflop_per_pass', 'tokens']) {
          const v = r[tower][field];
          assert.ok(Number.isFinite(v) && v > 0, `${r.backend} ${tower}.${field} = ${v}`);
        }
        assert.ok(r[tower].min_ms <= r[tower].median_ms, `${r.backend} ${tower}: min > median`);
      }
      assert.equal(r.batch, 1);
      assert.equal(r.runs, 2);
      assert.equal(r.vision.tokens, 50); // tiny: 224 px, patch 32
      assert.ok(r.text.tokens > 2 && r.text.tokens <= 77, `text tokens ${r.text.tokens}`);
      assert.match(r.user_agent, /Chrome/);
      assert.ok(r.device?.name, `${r.backend}: no adapter named`);
      t.diagnostic(`${r.backend} | ${r.device.name}${r.device.software ? ' (software adapter: not GPU numbers)' : ''}` +
        ` | image median ${r.vision.median_ms} ms min ${r.vision.min_ms} ms ${r.vision.gflop_per_s} GFLOP/s` +
        ` | text (${r.text.tokens} tokens) median ${r.text.median_ms} ms min ${r.text.min_ms} ms ${r.text.gflop_per_s} GFLOP/s`);
    }
    assert.match(gpu.backend, /^gpu: .*\(webgpu, /, `the gpu report ran on "${gpu.backend}"`);
    assert.ok([gpu.device.vendor, gpu.device.architecture, gpu.device.description].some(Boolean),
      `the WebGPU adapter info is empty: ${JSON.stringify(gpu.device)}`);
    assert.equal(cpu.backend, 'cpu');
    assert.equal(cpu.device.name, 'CPU (wasm SIMD)');
    for (const r of printed) assert.equal(r.cpu_features, 'relaxed-simd', 'Chromium runs the relaxed-SIMD build');
    if (gpu.device.software) {
      const shown = await page.textContent('#results');
      assert.match(shown, /software \(CPU\) adapter — not GPU numbers/);
    }
    t.diagnostic(`bench.html done in ${secs} s (browser start to JSON)`);
    assert.equal(cpu.weights, 'f32 (Hugging Face folder)');

    // the same tiny model as a q4 bundle (Model.fromBundle), both backends: q4 kernels timed, weights named; in the
    // SIMD128 build (&wasm=simd128), which the report names
    const bundleUrl = `${base}/www/bench.html?model=${encodeURIComponent('/models/tiny.q4.webclip')}` +
      '&backend=both&batch=1&runs=1&wasm=simd128';
    const q4 = await runBench(page, bundleUrl, why);
    assert.equal(q4.length, 2, `expected two reports, got ${JSON.stringify(q4)}`);
    for (const r of q4) {
      assert.ok(!r.error, `q4 ${r.backend}: ${r.error}${why()}`);
      assert.equal(r.weights, 'q4');
      assert.equal(r.cpu_features, 'simd128', 'bench.html?wasm=simd128 runs the SIMD128 build');
      assert.ok(r.vision.median_ms > 0 && r.text.median_ms > 0, `q4 ${r.backend}: ${JSON.stringify(r)}`);
      t.diagnostic(`q4 bundle | ${r.backend} | image ${r.vision.median_ms} ms | text ${r.text.median_ms} ms`);
    }
  } finally {
    await context?.close().catch(() => {});
    await new Promise((ok) => (server ? server.close(ok) : ok()));
    rmSync(root, { recursive: true, force: true }); // the www link, not what it points to; the synthetic model
    if (profile) rmSync(profile, { recursive: true, force: true });
  }
});
