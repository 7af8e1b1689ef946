// Embedding webclip in other people's pages (issue 7), in headless Chromium: `node --test
// tests/browser/widget.test.mjs` after `./build.sh wasm` (run by `./build.sh test`).
//
// - www/docs-example.html: two <webclip-labeler>s in prose become ready with ONE download of the bundle (counted at
//   the server) and one worker, each labels a photo set on its file input inside the shadow root, the events bubble
//   out of the shadow root, the page's CSS does not reach in, a third element with a missing model reports
//   webclip-error, mode="caption" captions.
// - The API from a plain module script (tests/browser/pages/api.{html,js}): classify of a URL, Blob, <img>,
//   ImageBitmap and ImageData, embedImage, embedText, similarity and caption equal the CLI's (`webclip classify`,
//   `embed`, `caption`) on the same bundle and photo; errors carry codes; dispose() stops the worker.
// - The docs example served with a strict Content-Security-Policy (scripts: 'self' 'wasm-unsafe-eval' only; styles:
//   'self' only) works with no violation, and without 'wasm-unsafe-eval' it reports the missing engine instead.
// - `npm pack` in www/ gives a tarball whose files, unpacked and served on their own, load and classify.
//
// The browser has no WebGPU adapter (launched without --enable-unsafe-webgpu), so "auto" falls back to the wasm CPU
// path: the same Rust code as the CLI, so probabilities and embeddings must match to 1e-5 absolute (only the final
// dot products and softmax run in JavaScript doubles; measured ~1e-7). Pixel inputs (ImageBitmap, ImageData) are
// re-encoded as PNG; for an sRGB PNG without a colour profile the pixels are identical, so 1e-5 holds there too.
// WebGPU equality is page.test.mjs's and gpu.test.mjs's. Photos come from tests/assets/photos (in the repository:
// a missing photo fails the tests). Fixtures: a tiny synthetic CLIP (`webclip synth --preset tiny`) converted to q8.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { CHROMIUM, CHROMIUM_ARGS, haveChromium } from './chromium.mjs';
import { serve } from './serve.mjs';

const REPO = fileURLToPath(new URL('../../', import.meta.url));
const WWW = join(REPO, 'www');
const PHOTOS = join(REPO, 'tests/assets/photos');
const BIN = join(REPO, 'target/debug/webclip');
const LABELS = ['cat', 'dog', 'car', 'rocket', 'cup of coffee', 'astronaut'];
const MATERIALS = ['brick wall', 'coins', 'flower', 'the moon', 'a galaxy']; // the docs example's second widget
const TEMPLATE = 'a photo of a {}.';
const TOL = 1e-5;
const WAIT = 240_000;
const BUNDLE_PATH = '/models/default.webclip';
const STRICT_CSP = "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; style-src 'self'; " +
  "img-src 'self' blob: data:; connect-src 'self'; worker-src 'self'; object-src 'none'; base-uri 'none'";
const havePkg = existsSync(join(WWW, 'pkg/webclip_bg.wasm'));
const skip = !haveChromium ? `Chromium is not at ${CHROMIUM} (apt-get install chromium)`
  : !havePkg ? 'www/pkg is not built (./build.sh wasm)' : false;
if (skip) console.log(`\n*** SKIPPED: the widget/API tests did not run: ${skip} ***\n`);

// ---- fixtures ----

function webclip(args) {
  if (!existsSync(BIN)) execFileSync('cargo', ['build', '--bin', 'webclip'], { cwd: REPO, stdio: 'inherit' });
  return execFileSync(BIN, args, { cwd: REPO, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}
const jsonLines = (out) => out.trim().split('\n').map((l) => JSON.parse(l));

/** label → probability from `webclip classify`. */
function classifyCli(bundle, photo, labels, template = TEMPLATE) {
  const [r] = jsonLines(webclip(['classify', '--model', bundle, '--labels', labels.join(','), '--template', template,
    join(PHOTOS, photo)]));
  return r.labels;
}

/** A served root: `files` {name: path} linked, plus every www/ entry except models/ (unless `wwwFrom` is null). */
function makeRoot(files, wwwFrom = WWW) {
  const root = mkdtempSync(join(tmpdir(), 'webclip-widget-root-'));
  if (wwwFrom) {
    for (const name of readdirSync(wwwFrom)) if (name !== 'models') symlinkSync(join(wwwFrom, name), join(root, name));
  }
  for (const [name, path] of Object.entries(files)) symlinkSync(path, join(root, name));
  return root;
}

/** Serves `root` on a free port, counting requests per method + path. */
async function serveCounting(root, headers = {}) {
  const server = await serve({ root, port: 0, headers });
  const counts = new Map();
  server.on('request', (req) => {
    const key = `${req.method} ${new URL(req.url, 'http://x').pathname}`;
    counts.set(key, (counts.get(key) ?? 0) + 1);
  });
  return { server, counts, url: `http://127.0.0.1:${server.address().port}/` };
}

/** Serves `root` (with `headers`), opens a fresh browser and runs `body({b, counts, url})`; on failure prints the
 *  page's last console lines; always closes the browser and the server and removes `root`. */
async function inBrowser(root, headers, body) {
  const { server, counts, url } = await serveCounting(root, headers);
  const b = await launchBrowser();
  try {
    return await body({ b, counts, url });
  } catch (e) {
    console.log(b.log.slice(-30).join('\n'));
    throw e;
  } finally {
    await b.close();
    server.close();
    rmSync(root, { recursive: true, force: true });
  }
}

// ---- browser ----

/** A fresh profile each time (no Cache Storage from another test), no WebGPU adapter: the CPU path. */
async function launchBrowser() {
  const { chromium } = await import('playwright-core');
  const profile = mkdtempSync(join(tmpdir(), 'webclip-widget-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM, headless: true, timeout: 60_000,
    args: CHROMIUM_ARGS.filter((a) => a !== '--enable-unsafe-webgpu'),
  });
  const page = context.pages()[0] ?? (await context.newPage());
  const log = [];
  page.on('console', (m) => log.push(`${m.type()}: ${m.text()}`));
  page.on('pageerror', (e) => log.push(`pageerror: ${e.message}`));
  const workers = [];
  page.on('worker', (w) => workers.push(w.url()));
  // test instrumentation (CDP, outside the page's CSP): every webclip event and CSP violation, as the page saw it
  await page.addInitScript(() => {
    window.__events = [];
    window.__violations = [];
    for (const type of ['webclip-ready', 'webclip-result', 'webclip-error']) {
      document.addEventListener(type, (e) => window.__events.push({ type, target: e.target.id || e.target.localName,
        composed: e.composed, bubbles: e.bubbles, detail: JSON.parse(JSON.stringify(e.detail)) }));
    }
    document.addEventListener('securitypolicyviolation', (e) =>
      window.__violations.push(`${e.violatedDirective}: ${e.blockedURI} ${e.sourceFile}:${e.lineNumber}`));
  });
  const close = async () => {
    await context.close();
    rmSync(profile, { recursive: true, force: true });
  };
  return { page, log, workers, close };
}

const events = (page, type, target) => page.evaluate(([type, target]) =>
  window.__events.filter((e) => e.type === type && (!target || e.target === target)), [type, target]);

async function waitForEvent(page, type, target, count = 1) {
  await page.waitForFunction(([type, target, count]) =>
    window.__events.filter((e) => e.type === type && e.target === target).length >= count ||
    window.__events.some((e) => e.type === 'webclip-error' && e.target === target),
  [type, target, count], { timeout: WAIT });
  const errors = await events(page, 'webclip-error', target);
  assert.deepEqual(errors, [], `${target} reported an error while waiting for ${type}`);
  return (await events(page, type, target)).at(-1);
}

function assertClose(got, want, what, tol = TOL) {
  assert.ok(Math.abs(got - want) <= tol, `${what}: got ${got}, the CLI gives ${want} (tolerance ${tol})`);
}

/** The widget's result (top k, best first) against the CLI's full ranking. */
function assertRanking(got, cli, k, what) {
  assert.equal(got.length, k, `${what}: ${k} labels shown`);
  got.forEach((g, i) => {
    const want = cli.find((c) => c.label === g.label);
    assertClose(g.score, want.score, `${what} ${g.label}`);
    // ranks agree wherever the CLI's scores differ by more than the tolerance
    if (Math.abs(cli[i].score - want.score) > TOL) assert.equal(g.label, cli[i].label, `${what}: rank ${i + 1}`);
  });
}

// ---- tests ----

describe('webclip in other pages', { skip, timeout: 20 * 60_000 }, () => {
  let dir, bundle;

  before(() => {
    for (const name of ['chelsea.png', 'coins.png']) {
      assert.ok(existsSync(join(PHOTOS, name)), `${join(PHOTOS, name)} is missing: it is part of the repository ` +
        '(tests/assets/README.md); restore it');
    }
    dir = mkdtempSync(join(tmpdir(), 'webclip-widget-'));
    const hf = join(dir, 'hf');
    mkdirSync(join(dir, 'models'));
    bundle = join(dir, 'models/default.webclip');
    webclip(['synth', '--preset', 'tiny', '--seed', '0', '--out', hf]);
    webclip(['convert', '--model', hf, '--quant', 'q8', '--out', bundle]);
  });
  after(() => dir && rmSync(dir, { recursive: true, force: true }));

  test('docs example: two widgets, one download, one worker, results as the CLI, events, no CSS leaks', async () => {
    const root = makeRoot({ models: join(dir, 'models') });
    await inBrowser(root, {}, async ({ b, counts, url }) => {
      await b.page.goto(url + 'docs-example.html');
      // load="click" (the default): a reader who only reads the page downloads nothing, and sees what it would cost
      await b.page.waitForTimeout(1500);
      const before = [...counts.keys()].filter((k) => /\.webclip$|\.wasm$|worker\.js$/.test(k));
      assert.deepEqual(before, [], 'the widgets fetched the model, the engine or the worker before any click');
      assert.equal(b.workers.length, 0, 'a worker started before any click');
      assert.equal(await b.page.locator('#animals .start').textContent(), 'Load the model (162 MB)');
      assert.equal(await b.page.locator('#materials .start').textContent(), 'Load the model', 'no size attribute');
      assert.match(await b.page.locator('#animals .status').textContent(), /nothing is uploaded/);
      await b.page.locator('#animals .start').click();
      await b.page.locator('#materials .start').click();
      const readyA = await waitForEvent(b.page, 'webclip-ready', 'animals');
      await waitForEvent(b.page, 'webclip-ready', 'materials');
      assert.ok(await b.page.locator('#animals .start').isHidden(), 'the button goes once the model loads');
      assert.equal(readyA.detail.model.backend, 'cpu', 'no WebGPU adapter here: the CPU path');
      assert.equal(counts.get(`GET ${BUNDLE_PATH}`), 1, 'the bundle is downloaded once for both widgets');
      // (the threads build starts its own workers, rayon's pool, inside that one; all same-origin scripts)
      const modelWorkers = b.workers.filter((w) => w.endsWith('/lib/worker.js'));
      assert.equal(modelWorkers.length, 1, `one worker for both widgets: ${b.workers.join(', ')}`);
      const threads = b.workers.filter((w) => w !== modelWorkers[0]);
      assert.ok(threads.every((w) => /\/pkg\/threads\/snippets\/webclip-\w+\/src\/wasm\/threads\.js$/.test(w)),
        `workers other than the engine's are its threads: ${threads}`);
      const ready = await events(b.page, 'webclip-ready');
      assert.ok(ready.every((e) => e.bubbles && e.composed), 'events bubble and cross the shadow root');

      // a reader picks a photo in each (playwright's locators reach into open shadow roots)
      await b.page.locator('#animals input[type=file]').setInputFiles(join(PHOTOS, 'chelsea.png'));
      await b.page.locator('#materials input[type=file]').setInputFiles(join(PHOTOS, 'coins.png'));
      const resA = await waitForEvent(b.page, 'webclip-result', 'animals');
      const resB = await waitForEvent(b.page, 'webclip-result', 'materials');
      assert.equal(resA.detail.image, 'chelsea.png');
      assertRanking(resA.detail.labels, classifyCli(bundle, 'chelsea.png', LABELS), 3, 'animals widget');
      assertRanking(resB.detail.labels, classifyCli(bundle, 'coins.png', MATERIALS), 2, 'materials widget');

      // what the reader sees: the rows and percentages of the result, inside the shadow root
      const rows = await b.page.locator('#animals li').evaluateAll((lis) => lis.map((li) =>
        ({ label: li.dataset.label, text: li.querySelector('.score').textContent })));
      assert.deepEqual(rows.map((r) => r.label), resA.detail.labels.map((l) => l.label));
      rows.forEach((r, i) => assert.match(r.text, /^\d+(\.\d)?%$/, `row ${i}`));
      // each bar is filled in proportion to its score (CSSOM custom property, no style attribute)
      const fills = await b.page.locator('#animals li').evaluateAll((lis) => lis.map((li) =>
        li.querySelector('.fill').getBoundingClientRect().width / li.querySelector('.bar').getBoundingClientRect().width));
      fills.forEach((f, i) => assertClose(f, resA.detail.labels[i].score, `bar ${i} fill`, 0.01));
      assert.equal(counts.get(`GET ${BUNDLE_PATH}`), 1, 'still one download after labelling');

      // styles: the page's `li {color: #8b0000}` stays outside; the widget adds nothing to the document; the
      // second widget's --webclip-accent reaches its bars, the first keeps the default accent
      const style = await b.page.evaluate(() => {
        const shadow = (id) => document.getElementById(id).shadowRoot;
        const fill = (id) => getComputedStyle(shadow(id).querySelector('.fill')).backgroundColor;
        return { liColor: getComputedStyle(shadow('animals').querySelector('li')).color,
          accentA: fill('animals'), accentB: fill('materials'),
          documentStyles: document.querySelectorAll('style').length + document.adoptedStyleSheets.length,
          sheets: [...document.styleSheets].map((s) => s.href) };
      });
      assert.notEqual(style.liColor, 'rgb(139, 0, 0)', 'the page\'s li rule must not reach into the widget');
      assert.equal(style.accentA, 'rgb(37, 99, 235)');
      assert.equal(style.accentB, 'rgb(194, 65, 12)', '--webclip-accent themes the widget');
      assert.equal(style.documentStyles, 0, 'the widget adds no style to the document');
      assert.deepEqual(style.sheets, [url + 'docs-example.css']);

      // a widget added later with a model that does not exist: webclip-error with a code, shown in the widget
      await b.page.evaluate(() => {
        const el = Object.assign(document.createElement('webclip-labeler'), { id: 'broken' });
        el.setAttribute('load', 'eager');
        el.setAttribute('model', 'models/missing.webclip');
        el.setAttribute('labels', 'cat, dog');
        document.querySelector('main').append(el);
      });
      await b.page.waitForFunction(() => window.__events.some((e) => e.target === 'broken'), null, { timeout: WAIT });
      const [broken] = await events(b.page, 'webclip-error', 'broken');
      assert.equal(broken?.detail.code, 'not-found', JSON.stringify(broken));
      assert.match(broken.detail.message, /missing\.webclip/);
      assert.ok(broken.detail.hint.length > 10, 'the error says what to do');
      assert.match(await b.page.locator('#broken .status').textContent(), /Model not found/);

      // mode="caption" on the first widget captions the same photo again, as `webclip caption`
      await b.page.locator('#animals').evaluate((el) => el.setAttribute('mode', 'caption'));
      const cap = await waitForEvent(b.page, 'webclip-result', 'animals', 2);
      const [cli] = jsonLines(webclip(['caption', '--model', bundle, '--no-cache', join(PHOTOS, 'chelsea.png')]));
      assert.equal(cap.detail.mode, 'caption');
      assert.equal(cap.detail.caption, cli.caption);
      assertClose(cap.detail.score, cli.score, 'caption score', 1e-4);
      assert.equal(await b.page.locator('#animals .caption').textContent(), cli.caption);
      assert.equal(counts.get(`GET ${BUNDLE_PATH}`), 1);
    });
  });

  test('API from a plain module script: the CLI\'s numbers for every kind of image; errors; dispose', async () => {
    const root = makeRoot({ models: join(dir, 'models'), photos: PHOTOS,
      'api-test': join(REPO, 'tests/browser/pages') });
    await inBrowser(root, {}, async ({ b, counts, url }) => {
      await b.page.goto(url + 'api-test/api.html');
      await b.page.waitForFunction(() => document.getElementById('out').dataset.done, null, { timeout: WAIT });
      const text = await b.page.locator('#out').textContent();
      assert.equal(await b.page.locator('#out').getAttribute('data-done'), 'ok', text);
      const r = JSON.parse(text);
      assert.equal(r.info.backend, 'cpu');
      assert.ok(r.stages.includes('download'), `progress reported: ${r.stages}`);
      assert.equal(counts.get(`GET ${BUNDLE_PATH}`), 1, 'two load() calls share one download');
      const modelWorkers = b.workers.filter((w) => w.endsWith('/lib/worker.js'));
      assert.equal(modelWorkers.length, 2, `one worker for the shared model, one for the missing one: ${b.workers}`);

      const cli = classifyCli(bundle, 'chelsea.png', LABELS);
      for (const [kind, scores] of Object.entries(r.classify)) {
        for (const { label, score } of cli) assertClose(scores[label], score, `classify(${kind}) ${label}`);
      }
      for (const { label, score } of cli) assertClose(r.stillWorks[label], score, `after one dispose: ${label}`);
      assertRanking(r.top2, cli, 2, 'classify(labels as a string, topK: 2)');

      const [image] = jsonLines(webclip(['embed', '--model', bundle, '--image', join(PHOTOS, 'chelsea.png')]));
      const [cat, dog] = jsonLines(webclip(['embed', '--model', bundle, '--text', 'a photo of a cat.',
        'a photo of a dog.']));
      const near = (got, want, what) => {
        assert.equal(got.length, want.length, `${what}: length`);
        got.forEach((x, i) => assertClose(x, want[i], `${what}[${i}]`));
      };
      near(r.embedImage, image.embedding, 'embedImage');
      near(r.embedCat, cat.embedding, 'embedText([...])[0]');
      near(r.embedDog, dog.embedding, 'embedText([...])[1]');
      near(r.embedSingle, cat.embedding, 'embedText(string)');
      const cos = (a, b) => a.reduce((s, x, i) => s + x * b[i], 0) / Math.hypot(...a) / Math.hypot(...b);
      assertClose(r.similarity.cat, cos(image.embedding, cat.embedding), 'similarity(image, cat)');
      assertClose(r.similarity.dog, cos(image.embedding, dog.embedding), 'model.similarity(image, dog)');

      const [cap] = jsonLines(webclip(['caption', '--model', bundle, '--no-cache', join(PHOTOS, 'chelsea.png')]));
      assert.equal(r.caption.caption, cap.caption);
      assertClose(r.caption.score, cap.score, 'caption score', 1e-4);

      const e = r.errors;
      assert.equal(e.notAnImage?.code, 'unsupported-image');
      assert.match(e.notAnImage.message, /cannot read an image from Object; pass a Blob/);
      assert.equal(e.noLabels?.code, 'labels');
      assert.equal(e.badTemplate?.code, 'template');
      assert.equal(e.missingModel?.code, 'not-found');
      assert.match(e.missingModel.message, /missing\.webclip/);
      assert.equal(e.afterDispose?.code, 'no-model');
      assert.ok(Object.values(e).every((x) => x.isWebclipError && x.hint), 'every error is a WebclipError with a hint');
      // the last handle disposed: no worker left running, the threads build's pool included (a terminated worker's
      // own workers end with it; Chromium reports their ends a moment later)
      const deadline = Date.now() + 10_000;
      while (b.page.workers().length && Date.now() < deadline) await new Promise((ok) => setTimeout(ok, 100));
      assert.equal(b.page.workers().length, 0, `workers still running: ${b.page.workers().map((w) => w.url())}`);
    });
  });

  test('strict CSP (scripts: self + wasm-unsafe-eval; styles: self): the docs example works, no violation', async () => {
    const root = makeRoot({ models: join(dir, 'models') });
    await inBrowser(root, { 'Content-Security-Policy': STRICT_CSP }, async ({ b, url }) => {
      const response = await b.page.goto(url + 'docs-example.html');
      assert.equal(response.headers()['content-security-policy'], STRICT_CSP);
      await b.page.locator('#animals .start').click();
      await b.page.locator('#materials .start').click();
      await waitForEvent(b.page, 'webclip-ready', 'animals');
      await waitForEvent(b.page, 'webclip-ready', 'materials');
      await b.page.locator('#animals input[type=file]').setInputFiles(join(PHOTOS, 'chelsea.png'));
      const res = await waitForEvent(b.page, 'webclip-result', 'animals');
      assertRanking(res.detail.labels, classifyCli(bundle, 'chelsea.png', LABELS), 3, 'under CSP');
      // the constructed stylesheet applies (a blocked <style> would leave the bars unstyled)
      const accent = await b.page.locator('#animals .fill').first().evaluate((el) => getComputedStyle(el).backgroundColor);
      assert.equal(accent, 'rgb(37, 99, 235)');
      const violations = await b.page.evaluate(() => window.__violations);
      assert.deepEqual(violations, [], 'no CSP violation');
      assert.deepEqual(b.log.filter((l) => /Content Security Policy/i.test(l)), []);
    });
  });

  test('CSP control: without \'wasm-unsafe-eval\' the widget reports that the engine cannot start', async () => {
    const root = makeRoot({ models: join(dir, 'models') });
    const csp = STRICT_CSP.replace(" 'wasm-unsafe-eval'", '');
    await inBrowser(root, { 'Content-Security-Policy': csp }, async ({ b, url }) => {
      await b.page.goto(url + 'docs-example.html');
      await b.page.locator('#animals .start').click();
      await b.page.waitForFunction(() => window.__events.some((e) => e.target === 'animals'), null, { timeout: WAIT });
      const [err] = await events(b.page, 'webclip-error', 'animals');
      assert.equal(err?.detail.code, 'no-wasm', JSON.stringify(err));
      assert.match(await b.page.locator('#animals .status').textContent(), /engine/);
    });
  });

  test('npm pack: the tarball holds the API, element, worker, wasm and types, and loads on its own', async () => {
    const packDir = join(dir, 'pack');
    mkdirSync(packDir);
    const [packed] = JSON.parse(execFileSync('npm', ['pack', '--json', '--pack-destination', packDir],
      { cwd: WWW, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }));
    const files = packed.files.map((f) => f.path).sort();
    for (const f of ['package.json', 'webclip.js', 'webclip.d.ts', 'webclip-labeler.js', 'webclip-labeler.d.ts',
      'lib/worker.js', 'lib/client.js', 'lib/engine.js', 'lib/wasm-features.js', 'webclip-image.js', 'pkg/webclip.js',
      'pkg/webclip_bg.wasm', 'pkg/webclip_relaxed_bg.wasm', 'pkg/threads/webclip.js', 'pkg/threads/webclip_bg.wasm',
      'pkg/assets/prompts/imagenet_templates.json']) {
      assert.ok(files.includes(f), `${f} is in the package: ${files.join(', ')}`);
    }
    assert.ok(files.some((f) => /^pkg\/threads\/snippets\/webclip-\w+\/src\/wasm\/threads\.js$/.test(f)),
      'the threads\' worker script');
    for (const f of ['index.html', 'app.js', 'sw.js', 'screenshot.png']) assert.ok(!files.includes(f), `${f} is not`);

    const site = join(dir, 'site');
    const pkgDir = join(site, 'node_modules/webclip');
    mkdirSync(pkgDir, { recursive: true });
    execFileSync('tar', ['xzf', join(packDir, packed.filename), '-C', pkgDir, '--strip-components=1']);
    // every target of the exports map exists
    const manifest = JSON.parse(readFileSync(join(pkgDir, 'package.json'), 'utf8'));
    for (const [key, target] of Object.entries(manifest.exports)) {
      for (const path of typeof target === 'string' ? [target] : Object.values(target)) {
        if (!path.includes('*')) assert.ok(existsSync(join(pkgDir, path)), `exports["${key}"] → ${path} exists`);
      }
    }
    // every relative import in the package's modules resolves inside the package
    for (const f of files.filter((f) => f.endsWith('.js'))) {
      for (const [, spec] of readFileSync(join(pkgDir, f), 'utf8').matchAll(/\bfrom '(\.[^']+)'/g)) {
        assert.ok(existsSync(join(pkgDir, dirname(f), spec)), `${f} imports ${spec}, which is in the package`);
      }
    }

    const root = makeRoot({ models: join(dir, 'models'), photos: PHOTOS, consumer: join(REPO, 'tests/browser/pages'),
      node_modules: join(site, 'node_modules') }, null);
    await inBrowser(root, {}, async ({ b, url }) => {
      await b.page.goto(url + 'consumer/npm-consumer.html');
      await b.page.waitForFunction(() => document.getElementById('out').dataset.done, null, { timeout: WAIT });
      const text = await b.page.locator('#out').textContent();
      assert.equal(await b.page.locator('#out').getAttribute('data-done'), 'ok', text);
      const r = JSON.parse(text);
      assert.ok(r.defined, 'the element module from the package defines <webclip-labeler>');
      assertRanking(r.labels, classifyCli(bundle, 'chelsea.png', ['cat', 'dog', 'car']), 3, 'from the package');
      assert.ok(b.workers.every((w) => w.startsWith(url + 'node_modules/webclip/')), `workers: ${b.workers}`);
      await waitForEvent(b.page, 'webclip-ready', 'widget'); // the element from the package works too
    });
  });
});
