// The collection view (collection.html): tags every photo of a picked or dropped folder, optionally captions
// them, keeps the tags and a search index (int8 image embeddings) in IndexedDB per model, searches it by text or
// by photo, and exports CSV / JSON Lines like `webclip tag`. Inference runs in the page's worker (lib/worker.js:
// `tag`, `caption` and `search` requests). Address-bar options: ?model=URL &backend=auto|gpu|cpu &labels=a,b.
// window.webclipCollection mirrors the state for tests and the console.

import { WebclipClient } from './lib/client.js';
import { dropZone } from './lib/drop-zone.js';
import { WebclipError } from './lib/errors.js';
import { formatBytes } from './lib/model-store.js';
import { parseLabels } from './lib/labels.js';
import { bestEngine } from './lib/wasm-features.js';
import { $, show } from './ui/dom.js';
import { showNotice, addNotice } from './ui/notice.js';
import { entriesOf, fromEntries, fromInput } from './ui/collection/folder.js';
import { linkTo, toCsv, toJsonLines } from './ui/collection/export.js';
import * as store from './ui/collection/store.js';
import { progressText, renderHits, renderItem, sameLabels, thumbnail } from './ui/collection/view.js';

const TOP = 20; // search hits shown
const state = (window.webclipCollection = {
  state: 'starting', model: null, error: null, busy: 0, total: 0, done: 0, failed: 0, items: 0, restored: 0,
  captions: 0, labels: [],
});
const query = new URLSearchParams(location.search);
const backend = ['auto', 'gpu', 'cpu'].includes(query.get('backend')) ? query.get('backend') : 'auto';
const client = new WebclipClient();
const items = new Map(); // path → {file, size, source: File | null, labels, scores, caption, captionScore, vector,
//                                  scale, thumb, thumbUrl, error, li}
let labels = []; // the tags of the last run (what the cards, the threshold and the exports use)
let stopping = false;
let running = null; // Promise of the current tag/caption run

if (query.get('labels')) $('labels').value = query.get('labels').replaceAll(',', ', ');

async function busy(fn) {
  state.busy += 1;
  try {
    return await fn();
  } finally {
    state.busy -= 1;
  }
}

const threshold = () => Number($('threshold').value);
const sorted = () => [...items.values()].sort((a, b) => (a.file < b.file ? -1 : a.file > b.file ? 1 : 0));
// with the photo at hand its exact embedding (as `webclip search --like`); after a reload its stored int8 vector
const onSimilar = (item) => search(item.source ? { image: { id: imageId(item), name: item.file, source: item.source } }
  : { vector: item.vector, scale: item.scale }, `photos like ${item.file}`);

function render(item) {
  const li = renderItem(item, labels, threshold(), onSimilar);
  if (!li.isConnected) { // a new card: keep the list in path order
    const after = sorted().find((it) => it.file > item.file && it.li?.isConnected);
    $('items').insertBefore(li, after?.li ?? null);
  }
}

function summarize() {
  const all = sorted();
  const tagged = all.filter((it) => it.scores && sameLabels(it.labels, labels));
  Object.assign(state, { items: all.length, labels, captions: all.filter((it) => it.caption != null).length });
  $('items-section').hidden = !all.length;
  $('search-section').hidden = !all.some((it) => it.vector);
  const other = all.filter((it) => it.scores && !sameLabels(it.labels, labels)).length;
  show('items-status', `${tagged.length} photo(s) tagged with ${labels.length} tag(s)` +
    (other ? `; ${other} tagged with other tags (not exported)` : '') +
    ` · ${indexRows().length} in the search index`);
}

// ---- the model ----

async function loadModel() {
  state.state = 'loading';
  await busy(async () => {
    try {
      const info = await client.request('load', { model: query.get('model') ?? '', base: document.baseURI, backend },
        { onProgress: progress });
      $('model-progress').hidden = true;
      state.model = info;
      show('model-status', `Ready: ${info.name} (${info.quant ?? 'f32'}) on ${info.backend === 'cpu'
        ? 'the CPU (WebAssembly)' : 'WebGPU'}`, 'ok');
      if (info.fallback) addNotice($('model-notices'), new WebclipError('no-webgpu', info.fallback), 'warn');
      await restore(info.id);
      state.state = 'ready';
    } catch (e) {
      $('model-progress').hidden = true;
      const err = e instanceof WebclipError ? e : new WebclipError('internal', String(e?.message ?? e));
      Object.assign(state, { state: err.code === 'not-found' && !query.get('model') ? 'no-model' : 'error',
        error: err.toPlain() });
      show('model-status', `Not loaded: ${err.title}`, 'error');
      showNotice($('model-notices'), err);
    }
  });
}

function progress(p) {
  if (p.stage === 'download') {
    $('model-progress').hidden = false;
    $('model-bar').value = p.total ? p.loaded / p.total : 0;
    show('model-progress-text', `${p.file}: ${formatBytes(p.loaded)}` + (p.total ? ` of ${formatBytes(p.total)}` : ''));
  } else if (p.stage === 'compile') show('model-status', `Preparing the model (${p.backend})…`, 'wait');
  else if (p.stage === 'fallback') addNotice($('model-notices'), new WebclipError('no-webgpu', p.reason), 'warn');
}

/** The stored collection of model `id`: its cards, tags and index come back without the photos themselves. */
async function restore(id) {
  const stored = await store.load(id).catch(() => []);
  for (const r of stored) {
    const item = { ...r, source: null, thumbUrl: r.thumb ? URL.createObjectURL(r.thumb) : null };
    items.set(r.file, item);
  }
  state.restored = stored.length;
  const last = stored.find((r) => r.labels?.length);
  if (last && !query.get('labels')) $('labels').value = last.labels.join(', ');
  labels = parseLabels($('labels').value); // ?labels= other than the stored ones: those cards say so
  for (const it of sorted()) render(it);
  summarize();
}

// ---- tagging ----

async function tagFolder({ images }) {
  if (state.state !== 'ready') {
    showNotice($('folder-notices'),
      new WebclipError('no-model', 'the model is not loaded yet: wait for it, then drop the folder again'));
    return;
  }
  if (!images.length) {
    showNotice($('folder-notices'),
      new WebclipError('unsupported-image', 'the folder holds no JPEG, PNG, WebP, GIF, BMP or TIFF files'));
    return;
  }
  showNotice($('folder-notices'), null);
  for (const { path, file } of images) {
    const it = items.get(path);
    if (it && it.size === file.size) it.source = file;
    else {
      it?.li?.remove();
      items.set(path, { file: path, size: file.size, source: file });
    }
  }
  await run();
}

/** Tags every photo that has its file at hand and no scores for the current tags, then captions (if asked). */
function run() {
  running = (running ?? Promise.resolve()).then(() => busy(async () => {
    const wanted = parseLabels($('labels').value);
    if (!wanted.length) {
      showNotice($('folder-notices'), new WebclipError('labels', 'the tag list is empty'));
      return;
    }
    labels = wanted;
    $('run-stop').hidden = false;
    for (const it of sorted()) render(it);
    const todo = sorted().filter((it) => it.source && !(it.scores && sameLabels(it.labels, labels)));
    await tagAll(todo);
    if ($('captions').checked) await captionAll(sorted().filter((it) => it.source && it.caption == null && it.scores));
    $('run-stop').hidden = true;
    summarize();
  }));
  return running;
}

async function tagAll(todo) {
  const crops = $('crops').checked;
  Object.assign(state, { total: todo.length, done: 0, failed: 0 });
  stopping = false;
  $('run').hidden = !todo.length;
  const started = performance.now();
  const tick = () => {
    $('run-bar').value = todo.length ? state.done / todo.length : 1;
    const seconds = (performance.now() - started) / 1000;
    // captions follow the tags: say so, so the time left is not read as the whole run's
    const then = $('captions').checked ? ' · then captions' + (state.model.captionCache === 'imported' ? ''
      : ' (the first embeds the caption vocabulary, once per model)') : '';
    show('run-text', `Tagging: ${progressText(state.done, todo.length, state.failed, seconds)}${then}`);
  };
  tick();
  for (const it of todo) {
    if (stopping) break;
    try {
      const bytes = new Uint8Array(await it.source.arrayBuffer());
      const r = await client.request('tag', { image: { id: imageId(it), name: it.file, bytes }, labels, crops, dims: 0,
        threshold: threshold() }, { transfer: [bytes.buffer] });
      it.thumb ??= await thumbnail(it.source);
      if (it.thumb && !it.thumbUrl) it.thumbUrl = URL.createObjectURL(it.thumb);
      Object.assign(it, { labels, scores: r.scores, vector: r.vector, scale: r.scale, error: null });
      await store.put([record(it)]);
    } catch (e) {
      it.error = (e instanceof WebclipError ? e : new WebclipError('internal', String(e?.message ?? e))).toPlain();
      state.failed += 1;
    }
    state.done += 1;
    render(it);
    tick();
    summarize();
  }
  show('run-text', `${stopping ? 'Stopped' : 'Tagged'}: ${progressText(state.done, todo.length, state.failed,
    (performance.now() - started) / 1000)}`);
}

async function captionAll(todo) {
  const started = performance.now();
  let done = 0;
  $('run').hidden = !todo.length;
  for (const it of todo) {
    if (stopping) break;
    it.captionState = 'wait';
    render(it);
    show('run-text', `Captions: ${progressText(done, todo.length, 0, (performance.now() - started) / 1000)}` +
      (done === 0 && state.model.captionCache !== 'imported' ? ' (the first one embeds the vocabulary)' : ''));
    try {
      const bytes = new Uint8Array(await it.source.arrayBuffer());
      const c = await client.request('caption', { image: { id: imageId(it), name: it.file, bytes } },
        { transfer: [bytes.buffer] });
      Object.assign(it, { caption: c.caption, captionScore: c.score });
      await store.put([record(it)]);
    } catch (e) {
      addNotice($('folder-notices'), e instanceof WebclipError ? e : new WebclipError('internal', String(e)), 'warn');
    }
    it.captionState = null;
    done += 1;
    render(it);
    summarize();
  }
  show('run-text', `Captions: ${progressText(done, todo.length, 0, (performance.now() - started) / 1000)}`);
}

const imageId = (it) => `collection:${it.file}:${it.size}:${it.source?.lastModified ?? 0}`;

const record = (it) => ({ model: state.model.id, file: it.file, size: it.size, labels: it.labels, scores: it.scores,
  caption: it.caption ?? null, captionScore: it.captionScore ?? null, vector: it.vector, scale: it.scale,
  thumb: it.thumb ?? null });

// ---- search ----

/** The items in the search index, in index order (by path), and their vectors as one Int8Array. */
function indexRows() {
  return sorted().filter((it) => it.vector);
}

async function search(q, what) {
  const rows = indexRows();
  if (!rows.length) return;
  const dims = rows[0].vector.length;
  const vectors = new Int8Array(rows.length * dims);
  rows.forEach((it, i) => vectors.set(it.vector, i * dims));
  show('search-status', `Searching ${what}…`, 'wait');
  await busy(async () => {
    try {
      if (q.image) {
        const { id, name, source } = q.image;
        q = { image: { id, name, bytes: new Uint8Array(await source.arrayBuffer()) } };
      }
      const { hits, ms } = await client.request('search', { query: q, vectors, dims, top: TOP });
      renderHits($('hits'), hits, rows);
      $('search-section').scrollIntoView({ behavior: 'smooth', block: 'start' }); // "similar" is clicked far below
      state.search = { what, hits: hits.map((h) => ({ file: rows[h.index].file, score: h.score })) };
      show('search-status',
        `${what}: ${hits.length} of ${rows.length} photos, best first (cosine) · ${Math.round(ms)} ms`, 'ok');
    } catch (e) {
      show('search-status', `Search failed: ${e.message}`, 'error');
    }
  });
}

// ---- controls ----

$('folder').addEventListener('change', (ev) => {
  const picked = fromInput(ev.target.files);
  ev.target.value = '';
  tagFolder(picked);
});
const drop = $('drop');
$('choose-folder').addEventListener('click', () => $('folder').click()); // the zone is no control: the button is
dropZone(drop, (dataTransfer) => {
  const entries = entriesOf(dataTransfer); // read during the event: the item list is emptied after it
  busy(async () => tagFolder(await fromEntries(entries)));
});
$('threshold').addEventListener('input', () => {
  $('threshold-value').value = threshold().toFixed(2);
  for (const it of items.values()) if (it.scores) render(it);
});
$('labels').addEventListener('change', () => items.size && run());
$('crops').addEventListener('change', () => {
  for (const it of items.values()) if (it.source) it.labels = null; // scores with the other views: tag again
  if (items.size) run();
});
$('captions').addEventListener('change', () => $('captions').checked && items.size && run());
$('run-stop').addEventListener('click', () => { stopping = true; });
// a photo that is not in the collection: its embedding is computed (not stored) and searched for
$('search-photo').addEventListener('change', (ev) => {
  const file = ev.target.files[0];
  ev.target.value = '';
  if (file) search({ image: { id: `outside:${file.name}:${file.size}:${file.lastModified}`, name: file.name, source: file } },
    `photos like ${file.name}`);
});
$('search-photo-open').addEventListener('click', () => $('search-photo').click());
$('model-form').addEventListener('submit', (ev) => {
  ev.preventDefault(); // another model: the page again with ?model= (each model keeps its own stored collection)
  const u = new URL(location.href);
  const value = $('model-url').value.trim();
  if (value) u.searchParams.set('model', value);
  else u.searchParams.delete('model');
  location.assign(u);
});
$('model-url').value = query.get('model') ?? '';
$('search-form').addEventListener('submit', (ev) => {
  ev.preventDefault();
  const text = $('search-text').value.trim();
  if (text) search({ text }, `“${text}”`);
});
for (const [id, make, type] of [['export-csv', toCsv, 'text/csv'], ['export-json', toJsonLines, 'application/jsonl']]) {
  // built when clicked: the link then downloads the current tags at the current threshold
  $(id).addEventListener('click', () => {
    const done = sorted().filter((it) => it.scores && sameLabels(it.labels, labels));
    linkTo($(id), make(done, labels, threshold()), type);
  });
}
$('items-clear').addEventListener('click', async () => {
  if (state.model) await store.clear(state.model.id);
  for (const it of items.values()) if (it.thumbUrl) URL.revokeObjectURL(it.thumbUrl);
  items.clear();
  $('items').replaceChildren();
  $('hits').replaceChildren();
  summarize();
});

if ('serviceWorker' in navigator) {
  navigator.serviceWorker.register(`sw.js?wasm=${bestEngine()}`) // it stores this engine build (as app.js does)
    .catch((e) => console.warn('webclip: service worker not registered', e));
}
loadModel();
