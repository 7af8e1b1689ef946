// The page's side of the worker protocol (documented at the top of lib/worker.js): one request → one Promise,
// progress through a callback, errors as WebclipError. A fatal error (the wasm instance trapped, e.g. out of
// memory) or a worker that dies fails every request still waiting with that error (the old worker would never
// answer them) and replaces the worker: the next request goes to the new one, which has no model, so the caller
// loads it again. After terminate() every request rejects at once.

import { WebclipError } from './errors.js';
import { forwardOverride } from './wasm-features.js';

export class WebclipClient {
  #worker = null;
  #pending = new Map(); // id → {ok, fail, onProgress}
  #next = 1;
  #stopped = null; // the WebclipError of terminate(): no new worker

  constructor(url = new URL('./worker.js', import.meta.url)) {
    this.url = forwardOverride(url); // the page's ?wasm=simd128, if any: the worker picks the engine build
    this.restarts = 0;
    this.#start();
  }

  #start() {
    this.#worker = new Worker(this.url, { type: 'module' });
    this.#worker.onmessage = ({ data }) => this.#receive(data);
    // a module that fails to load or a worker that crashes: every pending request fails, the next one restarts it
    this.#worker.onerror = (ev) => {
      ev.preventDefault?.();
      const why = ev.message || 'the worker script failed to load (is pkg/ built? see the console)';
      this.#failAll(new WebclipError('crashed', `the webclip worker stopped: ${why}`, { fatal: true }));
    };
  }

  #receive({ id, ok, result, error, progress }) {
    const p = this.#pending.get(id);
    if (!p) return;
    if (progress) return p.onProgress?.(progress);
    this.#pending.delete(id);
    if (ok) return p.ok(result);
    const err = WebclipError.fromPlain(error);
    p.fail(err);
    if (err.fatal) this.#failAll(err);
  }

  #failAll(err, restart = true) {
    for (const p of this.#pending.values()) p.fail(err);
    this.#pending.clear();
    if (restart) this.#restart(err);
  }

  #restart(err) {
    console.warn(`webclip: restarting the worker (${err.message})`);
    this.#worker.terminate();
    this.restarts += 1;
    this.#start();
  }

  /** Sends `{type, ...fields}`; resolves with the worker's result. `transfer` lists buffers to move, not copy. */
  request(type, fields = {}, { onProgress, transfer = [] } = {}) {
    if (this.#stopped) return Promise.reject(this.#stopped);
    const id = this.#next++;
    return new Promise((ok, fail) => {
      this.#pending.set(id, { ok, fail, onProgress });
      this.#worker.postMessage({ id, type, ...fields }, transfer);
    });
  }

  terminate() {
    this.#worker.terminate();
    this.#stopped = new WebclipError('crashed', 'the worker was stopped (terminate()): make a new WebclipClient');
    this.#failAll(this.#stopped, false);
  }
}
