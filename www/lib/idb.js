// IndexedDB for the page's stores (lib/embedding-store.js, ui/collection/store.js): a request as a Promise, and a
// database opened once with its object stores created on upgrade. Without IndexedDB (some private windows) the
// database is null and the callers keep nothing, with one console warning saying what is lost.

/** The result of an IDBRequest, as a Promise. */
export const request = (req) => new Promise((ok, fail) => {
  req.onsuccess = () => ok(req.result);
  req.onerror = () => fail(req.error);
});

/** Database `name` at `version` with every store in `stores` present; null when IndexedDB is unavailable
 *  (`lost` names what then will not be kept, for the warning). */
export async function openDatabase(name, version, stores, lost) {
  if (typeof indexedDB === 'undefined') return null;
  try {
    const req = indexedDB.open(name, version);
    req.onupgradeneeded = () => {
      for (const store of stores) {
        if (!req.result.objectStoreNames.contains(store)) req.result.createObjectStore(store);
      }
    };
    return await request(req);
  } catch (e) {
    console.warn(`webclip: IndexedDB unavailable, ${lost} will not be kept: ${e?.message ?? e}`);
    return null;
  }
}
