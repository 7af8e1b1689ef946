// What the page computes once per model and keeps in IndexedDB ("webclip"):
// - store "text-embeddings": one label's text embedding per (model, backend, template, label), so a label goes
//   through the text tower once, ever. Values are normalised Float32Arrays (the ensemble already averaged when the
//   template is a template set). The backend is part of the key because WebGPU and the CPU agree only to ~1e-6: a
//   page keeps giving the numbers of the backend it runs on.
// - store "caption-caches": the caption vocabulary's embeddings (model.exportCaptionCache bytes) per model, so the
//   ~1,260 vocabulary texts are embedded once, not on every visit.
// Without IndexedDB (some private windows) every call works and nothing is kept.

import { openDatabase, request } from './idb.js';

const DB = 'webclip';
const STORE = 'text-embeddings';
const CAPTIONS = 'caption-caches';
let opening = null;

function open() {
  opening ??= openDatabase(DB, 2, [STORE, CAPTIONS], 'text embeddings');
  return opening;
}

/** The key of one label's embedding. `model` is the bundle identity (its hashes), `template` a template or set id. */
export const textKey = (model, backend, template, label) => `${model}\n${backend}\n${template}\n${label}`;

/** Map key → Float32Array for the keys that are stored. */
export async function getMany(keys) {
  const db = await open();
  const found = new Map();
  if (!db || !keys.length) return found;
  const store = db.transaction(STORE, 'readonly').objectStore(STORE);
  const values = await Promise.all(keys.map((k) => request(store.get(k))));
  values.forEach((v, i) => v instanceof Float32Array && found.set(keys[i], v));
  return found;
}

/** Stores [key, Float32Array] pairs; a full disk only means they are computed again next time. */
export async function putMany(entries) {
  const db = await open();
  if (!db || !entries.length) return;
  const tx = db.transaction(STORE, 'readwrite');
  const store = tx.objectStore(STORE);
  for (const [k, v] of entries) store.put(v, k);
  await new Promise((ok) => {
    tx.oncomplete = ok;
    tx.onerror = tx.onabort = () => {
      console.warn(`webclip: text embeddings not stored: ${tx.error?.message ?? 'aborted'}`);
      ok();
    };
  });
}

/** The stored caption cache of `model` (Uint8Array), or null. */
export async function getCaptionCache(model) {
  const db = await open();
  if (!db) return null;
  const v = await request(db.transaction(CAPTIONS, 'readonly').objectStore(CAPTIONS).get(model));
  return v instanceof Uint8Array ? v : null;
}

export async function putCaptionCache(model, bytes) {
  const db = await open();
  if (!db) return;
  await request(db.transaction(CAPTIONS, 'readwrite').objectStore(CAPTIONS).put(bytes, model)).catch((e) =>
    console.warn(`webclip: caption cache not stored: ${e?.message ?? e}`));
}

export async function count() {
  const db = await open();
  return db ? request(db.transaction(STORE, 'readonly').objectStore(STORE).count()) : 0;
}

export async function clear() {
  const db = await open();
  if (!db) return 0;
  const n = await count();
  const tx = db.transaction([STORE, CAPTIONS], 'readwrite');
  await Promise.all([request(tx.objectStore(STORE).clear()), request(tx.objectStore(CAPTIONS).clear())]);
  return n;
}
