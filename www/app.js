// The webclip page: wires the controls (ui/) to the inference worker (lib/worker.js, through lib/client.js).
// The main thread only handles the DOM: downloads, the model, both towers and every cache live in the worker.
// Address-bar options: ?model=URL (bundle, folder/ or Hugging Face repo) &backend=auto|gpu|cpu
// &labels=a,b,c &template=TEXT|ensemble. window.webclipPage mirrors the state for tests and the console.
// No inline scripts anywhere, so the page can run under a strict Content-Security-Policy.

import { WebclipClient } from './lib/client.js';
import { WebclipError } from './lib/errors.js';
import { bestEngine } from './lib/wasm-features.js';
import { $ } from './ui/dom.js';
import { setUpInputs } from './ui/inputs.js';
import { setUpLabels } from './ui/labels-panel.js';
import { modelPanel } from './ui/model-panel.js';
import { showNotice } from './ui/notice.js';
import {
  addCard, captionError, captionWorking, clearCards, offerCaption, resultRows, showCaption, showCardError, showResult,
  working,
} from './ui/results.js';
import { setUpExport } from './ui/export.js';

const SW_WAIT_MS = 20_000; // installing stores the page and the engine (~5 MB): seconds on a slow connection
const page = (window.webclipPage = { state: 'starting', model: null, error: null, offline: false, busy: 0 });
const query = new URLSearchParams(location.search);
const BACKEND_KEY = 'webclip.backend'; // the visitor's backend choice, per device (localStorage)
const knownBackend = (b) => (['auto', 'gpu', 'cpu'].includes(b) ? b : null);
const storage = {
  get: (k) => { try { return localStorage.getItem(k); } catch { return null; } },
  set: (k, v) => { try { if (v == null) localStorage.removeItem(k); else localStorage.setItem(k, v); } catch { /**/ } },
};
// ?backend= wins (a link can ask for one), then what the visitor chose here before, then "auto"
let backend = knownBackend(query.get('backend')) ?? knownBackend(storage.get(BACKEND_KEY)) ?? 'auto';
const client = new WebclipClient();
const photos = []; // {id, file, bytes, card}, newest last
let nextPhoto = 1;
let modelInput = query.get('model') ?? ''; // what the model came from: "" is the default bundle
let loadSeq = 0;
let labelsSeq = 0;
let vocabularyReady = false; // the model's caption vocabulary is embedded (or was imported from IndexedDB)
let captionBuilding = false; // the first caption is embedding the vocabulary: the worker is busy for a while
// The first caption of a model embeds the caption vocabulary (1,261 phrases) and holds the worker meanwhile: about a
// minute for ViT-B/32 on a 2-core CPU, seconds on a GPU. It starts by itself only when that is estimated (from the
// text tower's measured time per label) to take at most AUTO_CAPTION_S; otherwise each card offers it.
const VOCABULARY_TEXTS = 1261;
const AUTO_CAPTION_S = 15;
let msPerText = null; // measured by the last labels request that ran the text tower
let captionsWanted = false; // the visitor asked for captions (or they are cheap): caption every photo

const labels = setUpLabels(() => relabel());
labels.set({ labels: query.get('labels')?.replaceAll(',', ', '), template: query.get('template') });
setUpInputs((files) => addPhotos(files));
modelPanel.onLoad((url) => loadModel(url));
modelPanel.onPick((url) => {
  modelPanel.setUrl(url);
  loadModel(url);
});
modelPanel.onBackend((choice) => {
  backend = choice;
  storage.set(BACKEND_KEY, choice === 'auto' ? null : choice);
  setQuery('backend', query.has('backend') ? choice : null); // a ?backend= in the address bar follows the switch
  loadModel(modelInput);
});
modelPanel.setBackend(backend);

/** Sets (or with null removes) one address-bar option, without a reload. */
function setQuery(key, value) {
  const u = new URL(location.href);
  if (value) u.searchParams.set(key, value);
  else u.searchParams.delete(key);
  history.replaceState(null, '', u);
}
modelPanel.onClear(clearCache);
setUpExport(resultRows);

/** A card's Remove button: the photo leaves the queue too (a pending classify or caption of it is skipped). */
function removePhoto(id) {
  const i = photos.findIndex((p) => p.id === id);
  if (i >= 0) photos.splice(i, 1);
}

$('results-clear').addEventListener('click', () => {
  photos.length = 0;
  clearCards();
});

/** Runs `fn` counting it in page.busy (tests wait for 0). */
async function busy(fn) {
  page.busy += 1;
  try {
    return await fn();
  } finally {
    page.busy -= 1;
  }
}

async function loadModel(input) {
  const seq = ++loadSeq;
  const previous = page.state === 'ready' ? { model: page.model, input: modelInput } : null;
  Object.assign(page, { state: 'loading', model: null, error: null });
  modelPanel.clearNotices();
  modelPanel.status(`Loading ${input || 'the default model'}…`);
  await busy(async () => {
    try {
      const info = await client.request('load', { model: input, base: document.baseURI, backend },
        { onProgress: (p) => seq === loadSeq && modelPanel.progress(p) });
      if (seq !== loadSeq) return;
      modelInput = input;
      setQuery('model', input); // only a model that loaded goes into the address bar
      page.model = info;
      vocabularyReady = info.captionCache === 'imported';
      [msPerText, captionsWanted] = [null, false];
      modelPanel.showModel(info);
      if (info.fallback) modelPanel.notice(new WebclipError('no-webgpu', info.fallback));
      for (const w of info.warnings) modelPanel.notice(WebclipError.fromPlain(w));
      page.state = 'ready';
      registerServiceWorker();
      checkOffline();
      refreshCacheInfo();
      for (const p of photos) p.seq = 0; // image embeddings belong to the model: score everything again
    } catch (e) {
      if (seq !== loadSeq) return;
      if (previous && e.kept) {
        // the worker kept the loaded model (a mistyped URL, the network): go on with it and say what failed
        Object.assign(page, { state: 'ready', model: previous.model, error: e.toPlain?.() ?? null });
        modelPanel.showModel(previous.model);
        modelPanel.setUrl(previous.input);
        modelPanel.notice(new WebclipError(e.code, `${input || 'the default model'} did not load (${e.message}); ` +
          `${e.kept} is still loaded`, { hint: e.hint }), 'error');
        pump(); // photos added meanwhile
        return;
      }
      modelInput = input;
      const err = await explainStartFailure(e);
      Object.assign(page, { state: err.code === 'no-model' ? 'no-model' : 'error', error: err.toPlain() });
      modelPanel.error(err);
      for (const p of photos) working(p.card, 'waiting for a model…');
      return;
    }
    await relabel(); // text embeddings now, so the first photo pays only for the image tower
  });
}

/** A worker that died while starting, or whose engine did not load, is usually a missing pkg/ (the page was served
 *  before ./build.sh). */
async function explainStartFailure(e) {
  const err = e instanceof WebclipError ? e : new WebclipError('internal', String(e?.message ?? e));
  if (err.code !== 'crashed' && err.code !== 'no-wasm') return err;
  const pkg = await fetch('pkg/webclip.js', { method: 'HEAD', cache: 'no-store' }).catch(() => null);
  return pkg && !pkg.ok ? new WebclipError('no-wasm', `pkg/webclip.js is missing (HTTP ${pkg.status})`) : err;
}

/** After a labels change or a model load: text embeddings (with progress), then every photo again. */
async function relabel() {
  if (page.state !== 'ready') return;
  const seq = ++labelsSeq;
  await busy(async () => {
    try {
      const chosen = await labels.current();
      if (!chosen.labels.length) throw new WebclipError('labels', 'the label box is empty');
      labels.status(`${chosen.labels.length} labels: preparing…`, 'wait');
      const r = await client.request('labels', chosen, { onProgress: (p) => labelProgress(p, seq) });
      if (seq !== labelsSeq) return;
      const prompts = chosen.templates.list.length;
      labels.status(`${r.count} labels × ${prompts} prompt${prompts > 1 ? 's (ensemble)' : ''}: ` +
        (r.computed ? `${r.computed} embedded in ${(r.ms / 1000).toFixed(1)} s` +
          (r.cached ? `, ${r.cached} from the cache` : '') : 'all from the cache') + '.', 'ok');
      scoring = { seq, chosen };
      if (r.computed) msPerText = r.ms / (r.computed * prompts);
    } catch (e) {
      if (seq !== labelsSeq) return;
      scoring = null;
      labels.status(`${e.title ?? 'Error'}: ${e.message}. ${e.hint ?? ''}`, 'error');
      for (const p of photos) working(p.card, `waiting for labels (${e.title ?? 'see Labels'})…`);
      return;
    }
    await pump();
  });
}

function labelProgress(p, seq) {
  if (p.stage === 'text' && seq === labelsSeq) {
    labels.status(`Text tower: ${p.done} of ${p.total} labels…`, 'wait');
    labels.progress(p.done, p.total);
  }
  else modelPanel.progress(p);
}

let scoring = null; // {seq, chosen}: the labels every photo is scored against
let pumping = null;

/**
 * Scores every photo not yet scored against the current labels, then captions those without a caption from this
 * model, one request at a time, until nothing is left: labels first, because the first caption of a model can take
 * long (it embeds the caption vocabulary) and must not hold the labels back.
 */
function pump() {
  pumping ??= busy(async () => {
    for (;;) {
      if (page.state !== 'ready') break;
      const target = scoring;
      const next = target && photos.find((p) => p.seq !== target.seq);
      if (next) {
        next.seq = target.seq;
        await classify(next, target.chosen);
        continue;
      }
      const uncaptioned = page.model.captions
        && photos.find((p) => p.captioned !== loadSeq && p.card.dataset.state === 'ok');
      if (!uncaptioned) break;
      if (!captionsAutomatic()) {
        for (const p of photos.filter((x) => x.card.dataset.state === 'ok' && x.captioned !== loadSeq)) {
          offerCaption(p.card, vocabularySeconds(), () => {
            captionsWanted = true;
            pump();
          });
        }
        break;
      }
      uncaptioned.captioned = loadSeq;
      await caption(uncaptioned);
    }
  }).finally(() => {
    pumping = null;
  });
  return pumping;
}

/** Seconds the caption vocabulary is estimated to take on this model and backend (null: not measured yet). */
const vocabularySeconds = () => (msPerText == null ? null : (msPerText * VOCABULARY_TEXTS) / 1000);

function captionsAutomatic() {
  const s = vocabularySeconds();
  return vocabularyReady || captionsWanted || (s != null && s <= AUTO_CAPTION_S);
}

async function addPhotos(files) {
  showNotice($('input-notices'), null);
  for (const file of files) {
    const id = nextPhoto++;
    const photo = { id, file, card: addCard(file, id, removePhoto), seq: 0 };
    photo.bytes = new Uint8Array(await file.arrayBuffer());
    photos.push(photo);
    working(photo.card, page.state !== 'ready' ? `waiting for ${page.state === 'loading' ? 'the' : 'a'} model…`
      : captionBuilding ? 'queued behind the first caption, which embeds the caption vocabulary (once per model)…'
        : 'queued…');
  }
  await pump();
}

async function classify(photo, chosen) {
  working(photo.card, 'scoring…');
  try {
    const r = await client.request('classify', {
      image: { id: photo.id, name: photo.file.name, bytes: photo.bytes },
      labels: chosen.labels, templates: chosen.templates,
    }, { onProgress: (p) => p.stage === 'text' && working(photo.card, `text tower: ${p.done} of ${p.total} labels…`) });
    showResult(photo.card, r);
    backendChanged(r);
  } catch (e) {
    showCardError(photo.card, e);
    if (e.fatal) loadModel(modelInput); // the worker was replaced: load the model again
  }
}

async function caption(photo) {
  const first = 'writing a caption… (the first one of a model embeds the caption vocabulary: once, then it is kept)';
  captionWorking(photo.card, vocabularyReady ? 'writing a caption…' : first);
  captionBuilding = !vocabularyReady;
  // the vocabulary is one long engine call: count its seconds (against the estimate) so the card never stands still
  const started = performance.now();
  const estimate = vocabularySeconds();
  const tick = captionBuilding && setInterval(() => captionWorking(photo.card, `${first} ${Math.round(
    (performance.now() - started) / 1000)} s${estimate ? ` of about ${Math.max(1, Math.round(estimate))} s` : ''}`), 1000);
  try {
    const r = await client.request('caption', { image: { id: photo.id, name: photo.file.name, bytes: photo.bytes } });
    vocabularyReady = true;
    showCaption(photo.card, r);
    backendChanged(r);
  } catch (e) {
    captionError(photo.card, e);
    if (e.fatal) loadModel(modelInput);
  } finally {
    clearInterval(tick);
    captionBuilding = false;
  }
}

/** WebGPU failed mid-session and the worker moved to the CPU: say so. */
function backendChanged(r) {
  if (r.backend === page.model.backend) return;
  page.model = { ...page.model, backend: r.backend, fallback: r.fallback };
  modelPanel.showModel(page.model);
  modelPanel.notice(new WebclipError('no-webgpu', r.fallback));
}

async function clearCache() {
  let done = '';
  try {
    const r = await client.request('clear');
    done = `Cleared ${r.models} model(s) and ${r.texts} label embeddings; the next visit downloads the model again. `;
    if (page.model) page.model.stored = false;
    checkOffline();
  } catch (e) {
    modelPanel.notice(e, 'error');
  }
  refreshCacheInfo(done);
}

async function refreshCacheInfo(prefix = '') {
  try {
    modelPanel.cacheInfo(await client.request('info'), prefix);
  } catch (e) {
    console.warn('webclip: cache info unavailable', e);
  }
}

async function checkOffline() {
  page.offline = false;
  if (!('serviceWorker' in navigator)) {
    modelPanel.offline('no: this browser allows service workers only on https:// pages and localhost', false);
    return;
  }
  if (!page.model?.stored) {
    modelPanel.offline('no: the model is not stored on this device (see the notice above)', false);
    return;
  }
  const installed = await Promise.race([navigator.serviceWorker.ready.then(() => true),
    new Promise((ok) => setTimeout(() => ok(false), SW_WAIT_MS))]);
  if (!installed) {
    modelPanel.offline('no: the service worker has not finished installing (a file it stores may be missing: ' +
      'see the console)', false);
    return;
  }
  navigator.storage?.persist?.().catch(() => {}); // ask the browser not to evict the model under pressure
  modelPanel.offline('yes: the page, the engine and the model are stored on this device', true);
  page.offline = true;
}

// Registered once the worker has fetched the engine (the first load settled), so that the service worker's install
// revalidates the .wasm instead of downloading the 5 MB a second time, at the same moment.
let registered = false;
function registerServiceWorker() {
  if (registered || !('serviceWorker' in navigator)) return;
  registered = true;
  // it stores the engine build this browser runs without ?wasm= (lib/wasm-features.js); one URL whatever the page's
  // query, so that an override does not replace the service worker
  navigator.serviceWorker.register(`sw.js?wasm=${bestEngine()}`).catch((e) => {
    console.warn('webclip: service worker not registered', e);
    modelPanel.offline(`no: the service worker could not be registered (${e.message})`, false);
  });
}
modelPanel.setUrl(modelInput);
loadModel(modelInput).finally(registerServiceWorker);
