// The tagged collection of each model, kept in IndexedDB ("webclip-collection") so a reload keeps tags, captions
// and the search index. One record per image, key "MODEL_ID\nPATH":
//   {model, file, size, labels: string[], scores: number[] (label order), caption, captionScore,
//    vector: Int8Array (dims; normalised image embedding, int8), scale (vector · scale ≈ the unit vector),
//    thumb: Blob (a small JPEG) or null}
// MODEL_ID is the bundle identity (its hashes): another model's vectors are never mixed in. Without IndexedDB
// (some private windows) everything works for the visit and nothing is kept.

import { openDatabase, request } from '../../lib/idb.js';

const DB = 'webclip-collection';
const ITEMS = 'items';
let opening = null;

function open() {
  opening ??= openDatabase(DB, 1, [ITEMS], 'the collection');
  return opening;
}

const key = (model, file) => `${model}\n${file}`;
const range = (model) => IDBKeyRange.bound(`${model}\n`, `${model}\n\uffff`);

/** Every stored image of `model`, sorted by file. */
export async function load(model) {
  const db = await open();
  if (!db) return [];
  const all = await request(db.transaction(ITEMS, 'readonly').objectStore(ITEMS).getAll(range(model)));
  return all.sort((a, b) => (a.file < b.file ? -1 : a.file > b.file ? 1 : 0));
}

/** Stores (or replaces) images; false when nothing could be stored (quota, no IndexedDB). */
export async function put(items) {
  const db = await open();
  if (!db || !items.length) return false;
  const tx = db.transaction(ITEMS, 'readwrite');
  for (const it of items) tx.objectStore(ITEMS).put(it, key(it.model, it.file));
  return new Promise((ok) => {
    tx.oncomplete = () => ok(true);
    tx.onerror = tx.onabort = () => {
      console.warn(`webclip: collection not stored: ${tx.error?.message ?? 'aborted'}`);
      ok(false);
    };
  });
}

/** Removes every stored image of `model`. */
export async function clear(model) {
  const db = await open();
  if (!db) return;
  await request(db.transaction(ITEMS, 'readwrite').objectStore(ITEMS).delete(range(model)));
}
