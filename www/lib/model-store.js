// Model bytes: streamed downloads with progress, and the offline copy in Cache Storage ("webclip-models-v1", one
// entry per model URL; a converted Hugging Face folder under its source's cacheKey). Only bundles that the wasm
// side has validated (SHA-256 included) are stored, so a damaged download is never kept. Runs in the worker
// (Cache Storage, fetch and navigator.storage all exist there); the service worker leaves these URLs alone.

import { WebclipError, toWebclipError } from './errors.js';

export const MODEL_CACHE = 'webclip-models-v1';
const MB = 1e6; // decimal, as the CLI and the README count bundle sizes

export const formatBytes = (n) => (n >= 10 * MB ? `${(n / MB).toFixed(0)} MB` : n >= MB ? `${(n / MB).toFixed(1)} MB`
  : n >= 1e3 ? `${(n / 1e3).toFixed(0)} KB` : `${n} bytes`);

/**
 * GETs `url` into {bytes: Uint8Array, etag, lastModified}, calling onProgress(loaded, total|null) as chunks arrive.
 * 404 → 'not-found' (or null when `optional`); other HTTP errors and network failures → 'network'.
 */
export async function download(url, onProgress, { optional = false } = {}) {
  let r;
  try {
    r = await fetch(url, { cache: 'no-cache' }); // revalidate with the server (ETag) rather than trust HTTP caches
  } catch (e) {
    throw new WebclipError('network', `could not download ${url}: ${e.message ?? e} (offline, server down, or a ` +
      'site that does not allow downloads from other origins)');
  }
  if (r.status === 404 || r.status === 410) {
    if (optional) return null;
    throw new WebclipError('not-found', `${url} answered HTTP ${r.status} (not found)`);
  }
  if (r.status === 401 || r.status === 403) {
    throw new WebclipError('network', `${url} answered HTTP ${r.status}: the file needs a login or is private ` +
      '(gated Hugging Face repositories cannot be downloaded by the page; download it yourself and convert it)');
  }
  if (!r.ok) throw new WebclipError('network', `${url} answered HTTP ${r.status} ${r.statusText}`);

  const total = Number(r.headers.get('Content-Length')) || null;
  // Content-Length counts the encoded bytes; with gzip it undercounts, so grow when needed.
  let buf;
  try {
    buf = new Uint8Array(total ?? 4 << 20);
  } catch (e) {
    throw toWebclipError(e, 'download', `allocating ${formatBytes(total)} for ${url}`);
  }
  let loaded = 0;
  const reader = r.body.getReader();
  onProgress?.(0, total);
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      if (loaded + value.length > buf.length) {
        const bigger = new Uint8Array(Math.max(buf.length * 2, loaded + value.length));
        bigger.set(buf.subarray(0, loaded));
        buf = bigger;
      }
      buf.set(value, loaded);
      loaded += value.length;
      onProgress?.(loaded, total);
    }
  } catch (e) {
    if (e instanceof RangeError) throw toWebclipError(e, 'download', `downloading ${url}`);
    throw new WebclipError('network', `the download of ${url} broke off after ${formatBytes(loaded)}` +
      `${total ? ` of ${formatBytes(total)}` : ''}: ${e.message ?? e}`);
  }
  return {
    bytes: loaded === buf.length ? buf : buf.slice(0, loaded),
    etag: r.headers.get('ETag'),
    lastModified: r.headers.get('Last-Modified'),
  };
}

/** {bytes, etag, lastModified, size} of the stored copy of `key`, or null. */
export async function cachedModel(key) {
  if (typeof caches === 'undefined') return null;
  const cache = await caches.open(MODEL_CACHE);
  const hit = await cache.match(key);
  if (!hit) return null;
  return {
    bytes: new Uint8Array(await hit.arrayBuffer()),
    etag: hit.headers.get('X-Webclip-Etag'),
    lastModified: hit.headers.get('X-Webclip-Last-Modified'),
  };
}

/**
 * Whether the server still has the version we stored: 'same', 'changed' or 'unknown' (offline, no validators,
 * or a converted folder). One HEAD request; never throws.
 */
export async function revalidate(url, stored) {
  if (!stored.etag && !stored.lastModified) return 'unknown';
  try {
    const r = await fetch(url, { method: 'HEAD', cache: 'no-store' });
    if (!r.ok) return 'unknown';
    const etag = r.headers.get('ETag');
    const lastModified = r.headers.get('Last-Modified');
    if (stored.etag && etag) return etag === stored.etag ? 'same' : 'changed';
    return lastModified && lastModified === stored.lastModified ? 'same' : 'changed';
  } catch {
    return 'unknown';
  }
}

/** Stores a validated bundle. Returns null, or a 'quota' WebclipError (the model still runs) when it does not fit. */
export async function storeModel(key, bytes, { etag, lastModified } = {}) {
  if (typeof caches === 'undefined') {
    return new WebclipError('quota', 'this browser offers no Cache Storage here (private window?): nothing is kept');
  }
  const estimate = await navigator.storage?.estimate?.().catch(() => null);
  const size = formatBytes(bytes.length);
  if (estimate?.quota && estimate.usage + bytes.length > estimate.quota) {
    return new WebclipError('quota', `the model (${size}) does not fit: this site may store ` +
      `${formatBytes(estimate.quota)} and already uses ${formatBytes(estimate.usage)}`);
  }
  const headers = { 'Content-Type': 'application/octet-stream', 'Content-Length': String(bytes.length),
    'X-Webclip-Stored': new Date().toISOString() };
  if (etag) headers['X-Webclip-Etag'] = etag;
  if (lastModified) headers['X-Webclip-Last-Modified'] = lastModified;
  try {
    const cache = await caches.open(MODEL_CACHE);
    await cache.put(key, new Response(bytes, { headers }));
    return null;
  } catch (e) {
    const why = toWebclipError(e, 'store').code === 'quota' ? 'the storage quota is exceeded (low disk space and ' +
      'private windows allow much less than the browser\'s estimate' +
      (estimate?.quota ? ` of ${formatBytes(estimate.quota)}` : '') + ')' : String(e.message ?? e);
    return new WebclipError('quota', `the browser refused to store the model (${size}): ${why}`);
  }
}

/** [{url, bytes}] of the stored models. */
export async function listModels() {
  if (typeof caches === 'undefined') return [];
  const cache = await caches.open(MODEL_CACHE);
  const out = [];
  for (const req of await cache.keys()) {
    const r = await cache.match(req);
    out.push({ url: req.url, bytes: Number(r?.headers.get('Content-Length')) || 0 });
  }
  return out;
}

export async function clearModels() {
  const models = await listModels();
  if (typeof caches !== 'undefined') await caches.delete(MODEL_CACHE);
  return models.length;
}
