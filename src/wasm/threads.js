// The worker threads of the multi-threaded build (src/wasm/threads.rs). startWorkers() starts `count` module
// Workers on this very file; each instantiates the engine's module on the shared memory, says it is ready and
// enters rayon's thread loop, which never returns (the threads end with the worker that started them).
//
// The file is imported (through the JS glue) in every context that loads the threads build; the listener below
// answers only the init message. Workers load it from its own URL — a same-origin script, so a CSP allowing
// scripts from 'self' allows them, where a blob: URL would need `worker-src blob:` — and a thread that fails to load or
// to start rejects startWorkers (after at most START_MS) instead of leaving it waiting.

const INIT = 'webclip-thread-init';
const READY = 'webclip-thread-ready';
const FAILED = 'webclip-thread-failed';
const START_MS = 60_000; // instantiating a 6 MB module in each worker: ~1 s on a phone; a hang is a failure

let workers = []; // held: Firefox collects workers that share a memory with nothing else holding them (bug 1702191)

// Only in the workers startWorkers() names: the page and the engine's own worker import this file too, and must
// not import a URL that some message names.
const isThread = typeof WorkerGlobalScope !== 'undefined' && self.name?.startsWith('webclip thread ');

if (isThread) self.addEventListener('message', async function init({ data }) {
  if (data?.type !== INIT) return;
  self.removeEventListener('message', init);
  try {
    const engine = await import(data.glue);
    await engine.default({ module_or_path: data.module, memory: data.memory });
    postMessage({ type: READY });
  } catch (e) {
    postMessage({ type: FAILED, message: String(e?.message ?? e) });
    return;
  }
  (await import(data.glue)).webclipThreadLoop(); // blocks this worker for good: it is one of rayon's threads
});

/** Starts `count` threads on `module` and `memory` (the calling instance's); `glue`: the URL of its webclip.js.
 *  Resolves once every thread runs its instance; rejects (and stops them all) if one fails. */
export function startWorkers(module, memory, glue, count) {
  const started = Array.from({ length: count }, (_, i) => new Promise((ok, fail) => {
    let worker;
    try {
      worker = new Worker(new URL(import.meta.url), { type: 'module', name: `webclip thread ${i + 1}` });
    } catch (e) {
      return fail(new Error(`thread ${i + 1} could not start: ${e?.message ?? e}`));
    }
    workers.push(worker);
    const timer = setTimeout(() => fail(new Error(`thread ${i + 1} did not start within ${START_MS / 1000} s`)),
      START_MS);
    worker.addEventListener('message', ({ data }) => {
      clearTimeout(timer);
      if (data?.type === READY) ok();
      else if (data?.type === FAILED) fail(new Error(`thread ${i + 1}: ${data.message}`));
    });
    worker.addEventListener('error', (ev) => {
      clearTimeout(timer);
      ev.preventDefault?.();
      fail(new Error(`thread ${i + 1} did not load ${import.meta.url}: ${ev.message || 'blocked or missing ' +
        '(a Content-Security-Policy without \'self\' for workers?)'}`));
    });
    worker.postMessage({ type: INIT, module, memory, glue });
  }));
  return Promise.all(started).catch((e) => {
    for (const w of workers) w.terminate();
    workers = [];
    throw e;
  });
}
