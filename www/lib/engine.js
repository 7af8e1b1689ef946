// The engine of a worker: the wasm module and its JS glue, loaded once by loadEngine() — pkg/threads/webclip.js with
// a pool of threads where lib/wasm-features.js says it can run, else pkg/webclip.js with the SIMD build it picks.
// The worker's other modules (worker.js, loader.js) reach the glue's exports through engine(): the two glues are
// different modules, so nothing may import one of them statically.

import { WebclipError } from './errors.js';
import { engineFiles } from './wasm-features.js';

let loaded = null; // Promise of {wc, build, threads, threadsError}

/** Imports the glue, instantiates the .wasm and starts the threads; once (a failure lets the next call retry).
 *  Where the threads build fails (no memory for it, workers that did not start) it loads a single-threaded build
 *  and says why in `threadsError`. */
export function loadEngine(search) {
  loaded ??= start(search).catch((e) => {
    loaded = null;
    throw e;
  });
  return loaded;
}

/** The loaded glue module (its exports: Model, version, …); throws before loadEngine() has resolved. */
export function engine() {
  if (!current) throw new WebclipError('internal', 'the engine is used before loadEngine() finished (a bug)');
  return current;
}

let current = null;

async function instantiate({ glue, wasm, threads }) {
  let wc;
  try {
    wc = await import(glue.href);
    await wc.default({ module_or_path: wasm });
  } catch (e) {
    throw new WebclipError('no-wasm', `${glue.pathname} or ${wasm.pathname} did not load: ${e.message ?? e}`);
  }
  if (threads > 1) await wc.initThreads(threads);
  return wc;
}

async function start(search) {
  const files = engineFiles(undefined, search);
  let threadsError = null;
  try {
    current = await instantiate(files);
    return { wc: current, build: files.build, threads: files.threads, threadsError };
  } catch (e) {
    if (files.threads <= 1) throw e;
    threadsError = `the ${files.threads}-thread build did not start (${e.message ?? e}): running on one thread`;
    console.warn(`webclip: ${threadsError}`);
  }
  const single = engineFiles(undefined, `?threads=1&${new URLSearchParams(search ?? globalThis.location?.search)}`);
  current = await instantiate(single);
  return { wc: current, build: single.build, threads: 1, threadsError };
}
