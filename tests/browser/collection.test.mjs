// The collection view (www/collection.html, issue 6) in headless Chromium: `node --test
// tests/browser/collection.test.mjs` after `./build.sh wasm`.
//
// Fixtures: a tiny synthetic CLIP (`webclip synth --preset tiny --seed 0`) converted to q8 as the page's default
// model, and a folder of 4 real photos from tests/assets/photos (one in a subfolder, plus a hidden file and a
// text file that must be skipped, as `webclip tag` skips them). A missing photo fails the test.
//
// Expected numbers come from the CLI on the same bundle and folder:
// - `webclip tag --labels L --threshold 0.5 --no-caption --out-csv F DIR`: every score and the tags kept, and the
//   CSV the page exports (parsed: same files, tags and columns; scores within the tolerance);
// - the threshold slider: the tags a card shows at another threshold are the CLI's scores filtered at it;
// - `webclip index DIR` + `webclip search "query"` and `--like PHOTO`: the page ranks the same files in the same
//   order wherever two CLI scores differ by more than the tolerance, scores within it;
// - the captions toggle: each card's caption is `webclip caption`'s, and the CSV carries it;
// - after a reload (no photos at hand) the collection, its tags, captions and index come back from IndexedDB.
// Tolerance: 1e-4 absolute on tag scores and search cosines (2e-3 for "similar photos" after a reload, where the
// query is the photo's stored int8 vector instead of its embedding). The page runs the wasm CPU path
// (?backend=cpu): the same Rust code as the CLI (measured difference: 0 on this model), but a tag score is
// sigmoid(exp(logit_scale) · Δcos), which magnifies a cosine difference up to exp(logit_scale)/4 times; 1e-4
// leaves room for that and for another summation order.
// A folder drop (webkitGetAsEntry) cannot be synthesised with real directories, so the walk over FileSystemEntry
// trees (ui/collection/folder.js) is checked on mock entries in the page.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import {
  copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, symlinkSync, writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { CHROMIUM, haveChromium, launch } from './chromium.mjs';
import { serve } from './serve.mjs';

const REPO = fileURLToPath(new URL('../../', import.meta.url));
const WWW = join(REPO, 'www');
const PHOTOS = join(REPO, 'tests/assets/photos');
const BIN = join(REPO, 'target/debug/webclip');
const ARTIFACTS = join(REPO, 'tests/artifacts');
const LABELS = ['cat', 'dog', 'car', 'rocket', 'cup of coffee', 'astronaut', 'flower'];
const FOLDER = { 'chelsea.png': 'chelsea.png', 'coffee.png': 'coffee.png', 'rocket.jpg': 'rocket.jpg',
  'space/astronaut.png': 'astronaut.png' };
const QUERIES = ['a cat', 'a rocket launch'];
const TOL = 1e-4;
const QUANT_TOL = 2e-3; // a stored int8 vector as the query: both sides quantized, each within cosine 0.999
const WAIT = 300_000;
const havePkg = existsSync(join(WWW, 'pkg/webclip_bg.wasm'));
const skip = !haveChromium ? `Chromium is not at ${CHROMIUM} (apt-get install chromium)`
  : !havePkg ? 'www/pkg is not built (./build.sh wasm)' : false;
if (skip) console.log(`\n*** SKIPPED: the collection view was not checked: ${skip} ***\n`);

function webclip(args) {
  if (!existsSync(BIN)) execFileSync('cargo', ['build', '--bin', 'webclip'], { cwd: REPO, stdio: 'inherit' });
  return execFileSync(BIN, args, { cwd: REPO, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}
const jsonLines = (out) => out.trim().split('\n').map((l) => JSON.parse(l));

/** RFC 4180 records (quote-aware), as the CLI's own reader. */
function csvRecords(text) {
  const records = [];
  let record = [], field = '', quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') { field += '"'; i++; } else if (c === '"') quoted = false; else field += c;
    } else if (c === '"') quoted = true;
    else if (c === ',') { record.push(field); field = ''; }
    else if (c === '\n') { record.push(field.replace(/\r$/, '')); records.push(record); record = []; field = ''; }
    else field += c;
  }
  return records;
}

/** Tags at `threshold` from CLI scores: ≥ threshold (as an f32), best first. */
const tagsAt = (scores, threshold) => LABELS.filter((l) => scores[l] >= Math.fround(threshold))
  .sort((a, b) => scores[b] - scores[a]);

/** Same ranking as the CLI wherever two CLI scores differ by more than TOL; every score within TOL. */
function sameRanking(page, cli, what, tol = TOL) {
  assert.equal(page.length, cli.length, `${what}: number of results`);
  const want = Object.fromEntries(cli.map((r) => [r.file, r.score]));
  page.forEach((r, i) => {
    assert.ok(r.file in want, `${what}: ${r.file} is not among the CLI's results`);
    assert.ok(Math.abs(r.score - want[r.file]) <= tol, `${what}: ${r.file} scores ${r.score} in the page, ` +
      `${want[r.file]} by the CLI`);
    const next = page[i + 1];
    if (next) assert.ok(want[r.file] >= want[next.file] - tol, `${what}: the page ranks ${r.file} above ${next.file}`);
  });
}

const suite = skip ? (name, options) => test(name, options) : describe;
suite('the collection view in headless Chromium', { skip }, () => {
  let dir, folder, bundle, cli, root, server, base, b;
  const log = [];
  const why = () => `\n page console (last lines):\n  ${log.slice(-15).join('\n  ')}`;

  before(async () => {
    for (const name of [...Object.values(FOLDER), 'coins.png']) {
      assert.ok(existsSync(join(PHOTOS, name)), `${join(PHOTOS, name)} is missing: it is part of the repository ` +
        '(tests/assets/README.md); restore it');
    }
    dir = mkdtempSync(join(tmpdir(), 'webclip-collection-'));
    process.env.WEBCLIP_VOCAB_CACHE = join(dir, 'vocab'); // the CLI's caption vocabulary cache: ours, removed after
    mkdirSync(join(dir, 'models'));
    webclip(['synth', '--preset', 'tiny', '--seed', '0', '--out', join(dir, 'hf')]);
    bundle = join(dir, 'models/default.webclip');
    webclip(['convert', '--model', join(dir, 'hf'), '--quant', 'q8', '--out', bundle]);
    folder = join(dir, 'photos');
    mkdirSync(join(folder, 'space'), { recursive: true });
    for (const [rel, src] of Object.entries(FOLDER)) copyFileSync(join(PHOTOS, src), join(folder, rel));
    copyFileSync(join(PHOTOS, 'coins.png'), join(folder, '.hidden.png'));
    writeFileSync(join(folder, 'notes.txt'), 'not a photo\n');

    const csv = join(dir, 'cli.csv');
    const tags = jsonLines(webclip(['tag', '--model', bundle, '--labels', LABELS.join(','), '--threshold', '0.5',
      '--no-caption', '--out-csv', csv, folder]));
    const index = join(dir, 'photos.webclip-index');
    webclip(['index', '--model', bundle, '--out', index, folder]);
    const text = jsonLines(webclip(['search', '--model', bundle, '--index', index, '--top', '10', ...QUERIES]));
    const [like] = jsonLines(webclip(['search', '--model', bundle, '--index', index, '--top', '10', '--like',
      join(folder, 'coffee.png')]));
    cli = { tags: Object.fromEntries(tags.map((t) => [t.file, t])), csv: readFileSync(csv, 'utf8'),
      search: Object.fromEntries(text.map((s) => [s.query, s.results])), like: like.results };

    root = mkdtempSync(join(tmpdir(), 'webclip-collection-root-'));
    for (const name of readdirSync(WWW)) if (name !== 'models') symlinkSync(join(WWW, name), join(root, name));
    symlinkSync(join(dir, 'models'), join(root, 'models'));
    server = await serve({ root, port: 0 });
    base = `http://127.0.0.1:${server.address().port}`;
    b = await launch();
    b.page.on('console', (m) => log.push(`[${m.type()}] ${m.text()}`));
    b.page.on('pageerror', (e) => log.push(`[pageerror] ${e.message}`));
  });

  after(async () => {
    await b?.context.close().catch(() => {});
    if (b) rmSync(b.profile, { recursive: true, force: true });
    server?.closeAllConnections();
    await new Promise((ok) => (server ? server.close(ok) : ok()));
    for (const d of [root, dir]) if (d) rmSync(d, { recursive: true, force: true });
  });

  async function open() {
    await b.page.goto(`${base}/collection.html?backend=cpu&labels=${encodeURIComponent(LABELS.join(','))}`);
    await b.page.waitForFunction(() => ['ready', 'error', 'no-model'].includes(window.webclipCollection?.state)
      && window.webclipCollection.busy === 0, null, { timeout: WAIT });
    const state = await b.page.evaluate(() => window.webclipCollection);
    assert.equal(state.state, 'ready', `the model did not load: ${JSON.stringify(state.error)}${why()}`);
    return state;
  }

  /** What the cards show: file → {state, tags: [{tag, score}]}. */
  const cards = () => b.page.$$eval('#items > li.item', (lis) => Object.fromEntries(lis.map((li) => [li.dataset.file, {
    state: li.dataset.state,
    tags: [...li.querySelectorAll('.tags li[data-tag]')]
      .map((t) => ({ tag: t.dataset.tag, score: Number(t.dataset.score) })),
    caption: li.querySelector('.caption[data-state="ok"]')?.textContent ?? null,
  }])));

  async function searchText(q) {
    await b.page.fill('#search-text', q);
    await b.page.click('#search-form button[type="submit"]');
    await b.page.waitForFunction((w) => window.webclipCollection.search?.what === w
      && window.webclipCollection.busy === 0, `“${q}”`, { timeout: WAIT });
    return b.page.evaluate(() => window.webclipCollection.search.hits);
  }

  test('a picked folder is tagged like `webclip tag`: the same files, scores and tags', { timeout: WAIT * 2 },
    async (t) => {
      const state = await open();
      assert.equal(state.restored, 0);
      await b.page.setInputFiles('#folder', folder);
      await b.page.waitForFunction((n) => window.webclipCollection.done === n && window.webclipCollection.busy === 0,
        Object.keys(FOLDER).length, { timeout: WAIT }).catch(async (e) => {
        throw new Error(`tagging did not finish (${e.message.split('\n')[0]}; ` +
          `${JSON.stringify(await b.page.evaluate(() => window.webclipCollection))})${why()}`);
      });
      assert.match(await b.page.textContent('#run-text'), /^Tagged: 4 \/ 4 photos · [\d.]+ photos\/s$/);
      const shown = await cards();
      assert.deepEqual(Object.keys(shown), Object.keys(cli.tags).sort(), 'the page found other files than the CLI');
      let worst = 0;
      for (const [file, want] of Object.entries(cli.tags)) {
        assert.equal(shown[file].state, 'ok', `${file}: ${JSON.stringify(shown[file])}`);
        assert.deepEqual(shown[file].tags.map((x) => x.tag), want.tags.map((x) => x.tag), `${file}: tags`);
        for (const x of shown[file].tags) {
          worst = Math.max(worst, Math.abs(x.score - want.scores[x.tag]));
          assert.ok(Math.abs(x.score - want.scores[x.tag]) <= TOL,
            `${file}: ${x.tag} ${x.score} vs ${want.scores[x.tag]}`);
        }
      }
      t.diagnostic(`max |page - CLI| over the tags shown: ${worst.toExponential(2)}`);
    });

  test('the CSV and JSON Lines exports match the CLI\'s CSV and lines', { timeout: WAIT }, async () => {
    const download = async (id) => {
      const [dl] = await Promise.all([b.page.waitForEvent('download'), b.page.click(id)]);
      return readFileSync(await dl.path(), 'utf8');
    };
    const page = csvRecords(await download('#export-csv'));
    const want = csvRecords(cli.csv);
    assert.deepEqual(page[0], ['file', 'tags', 'caption', 'caption_score', ...LABELS], 'CSV header');
    assert.deepEqual(page.map((r) => r[0]), want.map((r) => r[0]), 'CSV files (and order)');
    for (const [i, row] of page.entries()) {
      if (i === 0) continue;
      assert.deepEqual(row.slice(0, 4), want[i].slice(0, 4), `CSV row ${row[0]}: file, tags, caption`);
      row.slice(4).forEach((s, j) => assert.ok(Math.abs(Number(s) - Number(want[i][4 + j])) <= TOL + 5e-5,
        `CSV ${row[0]} ${LABELS[j]}: ${s} vs ${want[i][4 + j]}`));
    }
    const lines = (await download('#export-json')).trim().split('\n').map((l) => JSON.parse(l));
    assert.deepEqual(lines.map((l) => l.file), Object.keys(cli.tags).sort());
    for (const l of lines) {
      const w = cli.tags[l.file];
      assert.deepEqual(Object.keys(l).sort(), Object.keys(w).sort(), 'JSON line fields');
      assert.deepEqual(l.tags.map((x) => x.tag), w.tags.map((x) => x.tag));
      for (const label of LABELS) assert.ok(Math.abs(l.scores[label] - w.scores[label]) <= TOL);
      assert.equal(l.caption, null);
    }
  });

  test('the threshold slider re-filters the tags without running the model', { timeout: WAIT }, async () => {
    const all = Object.values(cli.tags).flatMap((x) => Object.values(x.scores)).sort((p, q) => p - q);
    const threshold = Math.round(all[Math.floor(all.length / 2)] * 100) / 100; // about half the tags pass
    const requests = await b.page.evaluate((v) => {
      const s = document.getElementById('threshold');
      s.value = String(v);
      s.dispatchEvent(new Event('input', { bubbles: true }));
      return window.webclipCollection.busy;
    }, threshold);
    assert.equal(requests, 0, 'the slider started work');
    assert.equal(await b.page.textContent('#threshold-value'), threshold.toFixed(2));
    const shown = await cards();
    let changed = false;
    for (const [file, want] of Object.entries(cli.tags)) {
      const expect = tagsAt(want.scores, threshold);
      changed ||= expect.length !== want.tags.length;
      assert.deepEqual(shown[file].tags.map((x) => x.tag), expect, `${file} at threshold ${threshold}`);
    }
    assert.ok(changed, `threshold ${threshold} changed no card: the check proves nothing`);
  });

  test('text and photo search rank like `webclip index` + `webclip search`', { timeout: WAIT }, async (t) => {
    for (const q of QUERIES) sameRanking(await searchText(q), cli.search[q], `search "${q}"`);
    await b.page.click('#items > li.item[data-file="coffee.png"] button.similar');
    await b.page.waitForFunction(() => window.webclipCollection.search?.what === 'photos like coffee.png'
      && window.webclipCollection.busy === 0, null, { timeout: WAIT });
    const like = await b.page.evaluate(() => window.webclipCollection.search.hits);
    sameRanking(like, cli.like, 'photos like coffee.png');
    assert.equal(like[0].file, 'coffee.png');
    // a photo from elsewhere on the device (not a card of the collection): searched as `webclip search --like` does
    await searchText(QUERIES[0]);
    await b.page.setInputFiles('#search-photo', join(PHOTOS, 'coffee.png'));
    await b.page.waitForFunction(() => window.webclipCollection.search?.what === 'photos like coffee.png'
      && window.webclipCollection.busy === 0, null, { timeout: WAIT });
    sameRanking(await b.page.evaluate(() => window.webclipCollection.search.hits), cli.like, 'an outside photo');
    t.diagnostic(`"${QUERIES[0]}": ${JSON.stringify(await searchText(QUERIES[0]))}`);
  });

  test('the captions toggle writes the caption `webclip caption` writes for every photo, and exports it', {
    timeout: WAIT * 2,
  }, async (t) => {
    const files = Object.keys(cli.tags).sort();
    const out = webclip(['caption', '--model', bundle, ...files.map((f) => join(folder, f))]);
    const want = Object.fromEntries(jsonLines(out).map((c, i) => [files[i], c]));
    await b.page.check('#captions');
    await b.page.waitForFunction((n) => window.webclipCollection.captions === n && window.webclipCollection.busy === 0,
      files.length, { timeout: WAIT * 2 }).catch(async (e) => {
      throw new Error(`captions did not finish (${e.message.split('\n')[0]}; ` +
        `${JSON.stringify(await b.page.evaluate(() => window.webclipCollection))})${why()}`);
    });
    const shown = await cards();
    for (const f of files) assert.equal(shown[f].caption, want[f].caption, `${f}: caption`);
    const [dl] = await Promise.all([b.page.waitForEvent('download'), b.page.click('#export-csv')]);
    const rows = csvRecords(readFileSync(await dl.path(), 'utf8')).slice(1);
    for (const r of rows) {
      assert.equal(r[2], want[r[0]].caption, `${r[0]}: exported caption`);
      assert.ok(Math.abs(Number(r[3]) - want[r[0]].score) <= TOL + 5e-5,
        `${r[0]}: caption_score ${r[3]} vs ${want[r[0]].score}`);
    }
    await searchText(QUERIES[0]);
    mkdirSync(ARTIFACTS, { recursive: true });
    await b.page.screenshot({ path: join(ARTIFACTS, 'collection.png'), fullPage: true });
    t.diagnostic(`${files[0]}: "${shown[files[0]].caption}"; screenshot: tests/artifacts/collection.png`);
  });

  test('a reload keeps the collection, its tags and its index (IndexedDB)', { timeout: WAIT }, async () => {
    const before = await cards();
    const state = await open();
    assert.equal(state.restored, Object.keys(FOLDER).length);
    const after = await cards();
    assert.deepEqual(Object.keys(after), Object.keys(before));
    for (const file of Object.keys(cli.tags)) {
      assert.deepEqual(after[file].tags.map((x) => x.tag), cli.tags[file].tags.map((x) => x.tag),
        `${file} after reload`);
      assert.equal(after[file].caption, before[file].caption, `${file}: caption after reload`);
    }
    sameRanking(await searchText(QUERIES[1]), cli.search[QUERIES[1]], `search "${QUERIES[1]}" after a reload`);
    // the photo itself is gone: its stored int8 vector is the query (cosine ≥ 0.999 to the f32 one, so scores move
    // by up to ~1e-3; QUANT_TOL)
    await b.page.click('#items > li.item[data-file="coffee.png"] button.similar');
    await b.page.waitForFunction(() => window.webclipCollection.search?.what === 'photos like coffee.png'
      && window.webclipCollection.busy === 0, null, { timeout: WAIT });
    const like = await b.page.evaluate(() => window.webclipCollection.search.hits);
    sameRanking(like, cli.like, 'photos like coffee.png after a reload', QUANT_TOL);
  });

  test('a dropped folder is walked like `webclip tag` walks DIR (mock FileSystemEntry trees)', async () => {
    const paths = await b.page.evaluate(async () => {
      const { fromEntries } = await import('./ui/collection/folder.js');
      const file = (name) => ({ name, isFile: true, isDirectory: false,
        file: (ok) => ok(new File(['x'], name)) });
      const dirOf = (name, children) => ({ name, isFile: false, isDirectory: true, createReader: () => {
        let batches = [children.slice(0, 2), children.slice(2), []]; // readEntries answers in batches
        return { readEntries: (ok) => ok(batches.shift() ?? []) };
      } });
      const tree = dirOf('photos', [file('b.JPG'), file('notes.txt'), file('.hidden.png'),
        dirOf('sub', [file('a.webp'), dirOf('.git', [file('c.png')])]), file('a.png')]);
      const one = await fromEntries([tree]);
      const two = await fromEntries([tree, file('x.gif')]);
      return { one: [one.folder, ...one.images.map((i) => i.path)], two: two.images.map((i) => i.path) };
    });
    assert.deepEqual(paths.one, ['photos', 'a.png', 'b.JPG', 'sub/a.webp']);
    assert.deepEqual(paths.two, ['photos/a.png', 'photos/b.JPG', 'photos/sub/a.webp', 'x.gif']);
  });
});
