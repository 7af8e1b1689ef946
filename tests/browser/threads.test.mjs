// The multi-threaded engine build (www/pkg/threads/: relaxed SIMD, shared memory, rayon's pool on Web Workers) in
// headless Chromium, through the page's own worker (lib/client.js → lib/worker.js → lib/engine.js): `node --test
// tests/browser/threads.test.mjs` after `./build.sh wasm` (run by `./build.sh test`).
//
// The model is `webclip synth --preset tinyclip-8m-16` as a q8 bundle (~12 MB): wide enough (197 tokens × 256 →
// 1024) that its matmuls are split across the threads, which the tiny test models' are not. Checked:
//   - with COOP/COEP (cross-origin isolated) the worker runs the threads build with ?threads=2, and the
//     single-threaded relaxed-SIMD build with ?threads=1;
//   - their image and text embeddings are equal bit for bit (every output is the same dot product on any thread);
//   - and within cosine 0.99999 of the native CLI's (`embed --backend cpu`, the same int8 arithmetic);
//   - served without COEP (not isolated: no shared memory) the worker picks the single-threaded build by itself.
// Skips (loudly) only when Chromium is not installed.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { CHROMIUM, haveChromium, launch } from './chromium.mjs';
import { serve } from './serve.mjs';

const REPO = fileURLToPath(new URL('../../', import.meta.url));
const BIN = join(REPO, 'target/debug/webclip');
const PHOTO = 'chelsea.png';
const TEXTS = ['a photo of a cat.', 'a photo of a dog.', 'a diagram of a neural network with many layers.'];
const MIN_COSINE = 0.99999;
const WAIT = 240_000;

if (!haveChromium) console.log(`\n*** SKIPPED: the threads test needs Chromium at ${CHROMIUM} ***\n`);

function webclip(args) {
  if (!existsSync(BIN)) execFileSync('cargo', ['build', '--bin', 'webclip'], { cwd: REPO, stdio: 'inherit' });
  return execFileSync(BIN, args, { cwd: REPO, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 1 << 26 });
}
const cosine = (a, b) => {
  let ab = 0, aa = 0, bb = 0;
  for (let i = 0; i < a.length; i++) { ab += a[i] * b[i]; aa += a[i] * a[i]; bb += b[i] * b[i]; }
  return ab / Math.sqrt(aa * bb);
};
const bits = (v) => Array.from(new Uint32Array(Float32Array.from(v).buffer));

describe('the threads build in Chromium', { skip: !haveChromium && 'Chromium is not installed' }, () => {
  let dir, root, browser, isolated, bare;
  const results = {};

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'webclip-threads-'));
    root = join(dir, 'root');
    mkdirSync(join(root, 'models'), { recursive: true });
    for (const name of readdirSync(join(REPO, 'www'))) {
      if (name !== 'models') symlinkSync(join(REPO, 'www', name), join(root, name));
    }
    symlinkSync(join(REPO, 'tests/browser/pages'), join(root, 'pages'));
    symlinkSync(join(REPO, 'tests/assets/photos'), join(root, 'photos'));
    webclip(['synth', '--preset', 'tinyclip-8m-16', '--seed', '0', '--out', join(dir, 'hf')]);
    webclip(['convert', '--model', join(dir, 'hf'), '--quant', 'q8', '--out', join(root, 'models/tc.webclip')]);
    isolated = await serve({ root, port: 0 });
    bare = await serve({ root, port: 0, headers: { 'Cross-Origin-Embedder-Policy': 'unsafe-none' } });
    browser = await launch();
  });

  after(async () => {
    await browser?.context.close();
    isolated?.close();
    bare?.close();
    if (browser) rmSync(browser.profile, { recursive: true, force: true });
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const open = async (server, search) => {
    const page = await browser.context.newPage();
    const log = [];
    page.on('console', (m) => log.push(`[${m.type()}] ${m.text()}`));
    page.on('pageerror', (e) => log.push(`[pageerror] ${e.message}`));
    const { port } = server.address();
    await page.goto(`http://127.0.0.1:${port}/pages/threads.html`);
    await page.waitForFunction(() => window.webclipThreads, null, { timeout: 30_000 });
    try {
      return await page.evaluate((a) => window.webclipThreads.run(a),
        { search, model: '/models/tc.webclip', photo: `/photos/${PHOTO}`, texts: TEXTS });
    } catch (e) {
      throw new Error(`${e.message}\npage log:\n${log.join('\n')}`);
    } finally {
      await page.close();
    }
  };

  for (const threads of [2, 1]) {
    test(`?threads=${threads} runs the ${threads > 1 ? 'threads' : 'single-threaded relaxed-SIMD'} build`,
      { timeout: WAIT }, async (t) => {
        const r = (results[threads] = await open(isolated, `?threads=${threads}`));
        assert.equal(r.crossOriginIsolated, true, 'serve.mjs sends COOP/COEP');
        assert.deepEqual(r.info, { cpuFeatures: threads > 1 ? 'relaxed-simd-threads' : 'relaxed-simd', threads,
          backend: 'cpu', warnings: [] });
        t.diagnostic(`${r.info.cpuFeatures}, ${threads} thread(s): image + ${TEXTS.length} texts in ${r.ms.toFixed(0)} ms`);
      });
  }

  test('the two builds give the same embeddings, bit for bit, and the native CLI\'s', { timeout: WAIT }, () => {
    const [one, two] = [results[1], results[2]];
    assert.ok(one && two, 'a build did not run (see above)');
    assert.deepEqual(bits(two.image), bits(one.image), 'image embedding: 2 threads vs 1');
    two.texts.forEach((e, i) => assert.deepEqual(bits(e), bits(one.texts[i]), `text ${i}: 2 threads vs 1`));
    const native = (args) => webclip(['embed', '--model', join(root, 'models/tc.webclip'), '--backend', 'cpu', ...args])
      .trim().split('\n').map((l) => JSON.parse(l).embedding);
    const [image] = native(['--image', join(REPO, 'tests/assets/photos', PHOTO)]);
    assert.ok(cosine(two.image, image) >= MIN_COSINE, `image cosine vs the CLI: ${cosine(two.image, image)}`);
    native(['--text', ...TEXTS]).forEach((e, i) => {
      const c = cosine(two.texts[i], e);
      assert.ok(c >= MIN_COSINE, `text ${i} cosine vs the CLI: ${c}`);
    });
  });

  test('not cross-origin isolated (no COEP): the worker runs a single-threaded build by itself', { timeout: WAIT },
    async () => {
      const r = await open(bare, '');
      assert.equal(r.crossOriginIsolated, false);
      assert.deepEqual([r.info.cpuFeatures, r.info.threads], ['relaxed-simd', 1]);
      assert.deepEqual(bits(r.image), bits(results[1].image), 'the same embedding as the isolated page\'s one thread');
    });
});
