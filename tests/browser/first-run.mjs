// What a newcomer waits for: the page opened in a fresh Chromium profile (WebGPU allowed, as Chrome has it: on a
// machine without a GPU that is SwiftShader), one photo given as soon as the page is up, and the time until its
// labels show, with the longest stretch in which nothing visible changed. A measurement, not a test:
//
//   node tests/browser/first-run.mjs --bundle B.webclip [--photo tests/assets/photos/chelsea.png] [--runs 2]
//
// Prints one JSON line per run (run 1: empty caches; later runs: the same profile, model and engine cached) with
// `ready_s` (model loaded), `first_label_s` (the photo's labels shown, from navigation), `max_silent_s` (the longest
// time the status texts, progress bars and the card stood still before the labels, and what they showed then) and
// `backend`; with --caption also `caption_s`, when the first caption showed.
import { mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import { CHROMIUM, CHROMIUM_ARGS } from './chromium.mjs';
import { serve } from './serve.mjs';

const REPO = fileURLToPath(new URL('../../', import.meta.url));
const { values: opt } = parseArgs({ options: {
  bundle: { type: 'string' }, photo: { type: 'string', default: join(REPO, 'tests/assets/photos/chelsea.png') },
  runs: { type: 'string', default: '2' }, caption: { type: 'boolean', default: false },
} });
if (!opt.bundle) {
  console.error('usage: node tests/browser/first-run.mjs --bundle B.webclip [--photo P] [--runs N]');
  process.exit(2);
}

const root = mkdtempSync(join(tmpdir(), 'webclip-first-run-'));
for (const name of readdirSync(join(REPO, 'www'))) if (name !== 'models') symlinkSync(join(REPO, 'www', name), join(root, name));
const models = join(root, 'models');
mkdirSync(models);
symlinkSync(resolve(opt.bundle), join(models, 'default.webclip'));
const server = await serve({ root, port: 0 });
const url = `http://127.0.0.1:${server.address().port}/`;

const { chromium } = await import('playwright-core');
const profile = mkdtempSync(join(tmpdir(), 'webclip-first-run-profile-'));
const context = await chromium.launchPersistentContext(profile, {
  executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS, timeout: 60_000,
});
try {
  for (let run = 1; run <= Number(opt.runs); run++) {
    const page = context.pages()[0] ?? (await context.newPage());
    const t0 = Date.now();
    await page.goto(url);
    // the visible state, sampled every 100 ms until the labels show
    await page.evaluate(() => {
      window.__frames = [];
      const look = () => [...document.querySelectorAll('#model-status, #model-progress-text, #labels-status, ' +
        '.result .working, .result .labels, progress')].map((e) => `${e.textContent}|${e.value ?? ''}`).join('¦');
      let last = null;
      window.__timer = setInterval(() => {
        const now = look();
        if (now !== last) window.__frames.push([performance.now(), now.slice(0, 120)]);
        last = now;
      }, 100);
    });
    await page.waitForFunction(() => document.getElementById('files'), null, { timeout: 600_000 });
    await page.setInputFiles('#files', opt.photo);
    await page.waitForFunction(() => document.querySelector('#results .labels li[data-label]')
      || window.webclipPage?.state === 'error', null, { timeout: 900_000, polling: 100 });
    const labelled = Date.now();
    let captioned = null;
    if (opt.caption) { // --caption: also the first caption (it embeds the caption vocabulary once per model)
      await page.waitForFunction(() => {
        const cap = document.querySelector('#results .caption');
        if (cap?.dataset.state === 'offer') { // a slow model offers its first caption: ask for it, as a visitor would
          window.__offered = cap.textContent;
          cap.querySelector('button').click();
        }
        return ['ok', 'error'].includes(cap?.dataset.state);
      }, null, { timeout: 1_800_000, polling: 250 });
      captioned = Date.now();
    }
    const r = await page.evaluate(() => {
      clearInterval(window.__timer);
      const f = window.__frames;
      let gap = 0;
      let during = null;
      for (let i = 1; i < f.length; i++) {
        if (f[i][0] - f[i - 1][0] > gap) [gap, during] = [f[i][0] - f[i - 1][0], f[i - 1][1]];
      }
      return { gap, during, state: window.webclipPage.state, backend: window.webclipPage.model?.backend,
        ready: window.webclipPage.model?.ms, error: window.webclipPage.error };
    });
    const ready = r.ready ? (r.ready.download + r.ready.compile + r.ready.warmup) / 1000 : null;
    console.log(JSON.stringify({ run, cached: run > 1, backend: r.backend, ready_s: ready && +ready.toFixed(1),
      first_label_s: +((labelled - t0) / 1000).toFixed(1), max_silent_s: +(r.gap / 1000).toFixed(1),
      silent_during: r.during, caption_s: captioned ? +((captioned - t0) / 1000).toFixed(1) : undefined,
      caption_offered: captioned ? await page.evaluate(() => window.__offered ?? null) : undefined,
      error: r.error ?? undefined }));
  }
} finally {
  await context.close();
  server.close();
  rmSync(profile, { recursive: true, force: true });
  rmSync(root, { recursive: true, force: true });
}
