// The page side of tests/browser/threads.test.mjs: the page's own path (lib/client.js → lib/worker.js →
// lib/engine.js), with the worker's URL carrying ?threads=N as lib/client.js forwards the page's. Served from a root
// holding www/'s entries, this file, models/ and photos/.
import { WebclipClient } from '/lib/client.js';

async function bytes(url) {
  const r = await fetch(url);
  if (!r.ok) throw new Error(`GET ${url}: HTTP ${r.status}`);
  return new Uint8Array(await r.arrayBuffer());
}

/** Loads `model` on the CPU in a worker started with `search` (e.g. "?threads=2"); embeds `photo` and `texts`. */
async function run({ search, model, photo, texts }) {
  const url = new URL('/lib/worker.js', location.href);
  url.search = search;
  const client = new WebclipClient(url);
  try {
    const info = await client.request('load', { model, base: location.href, backend: 'cpu' });
    const png = await bytes(photo);
    const t0 = performance.now();
    const image = await client.request('embed-image', { image: { id: 'p', name: photo, bytes: png } });
    const text = await client.request('embed-text', { texts });
    return {
      info: { cpuFeatures: info.cpuFeatures, threads: info.threads, backend: info.backend, warnings: info.warnings },
      crossOriginIsolated,
      image: Array.from(image.embedding),
      texts: text.embeddings.map((e) => Array.from(e)),
      ms: performance.now() - t0,
    };
  } finally {
    client.terminate();
  }
}

window.webclipThreads = { run };
