// Which engine build this browser runs (./build.sh writes all three into pkg/):
//   pkg/threads/webclip.js + webclip_bg.wasm   relaxed SIMD and threads: the CPU backend's matmuls split across a
//                                pool of Web Workers sharing the module's memory. Only in a worker (it waits with
//                                Atomics.wait) of a cross-origin isolated page (COOP + COEP: shared memory), with
//                                relaxed SIMD; lib/engine.js loads it, the others load pkg/webclip.js and one of:
//   pkg/webclip_relaxed_bg.wasm  SIMD128 + relaxed SIMD (int8 dot products with i32x4.relaxed_dot_i8x16_i7x16_add_s;
//                                Chrome/Edge ≥ 114)
//   pkg/webclip_bg.wasm          SIMD128 only (Safari, Node 20, any engine without a conforming relaxed SIMD)
// All compute the same results. `?wasm=simd128` (or `wasm=relaxed-simd`) in the page's URL forces a SIMD flavour and
// `?threads=N` a thread count (1: a single-threaded build), e.g. to compare them or to report a bug;
// forwardOverride() passes both on to the worker, whose own URL is what it sees.
// No other import: the worker, the page, bench.js, bench/compare.js and Node tests all use it.

/** `(func (export "f") (result i32) (i32x4.extract_lane 0 (i32x4.relaxed_dot_i8x16_i7x16_add_s
 *    (v128.const i8x16 -1 2 -3 4 …) (v128.const i8x16 5 6 7 8 …) (v128.const i32x4 0 0 0 0))))`: valid only where
 *  relaxed SIMD is (opcode 0xfd 0x113, LEB128 93 02), and returns −1·5 + 2·6 − 3·7 + 4·8 = 18 where the first operand
 *  is signed and the second's values (below 128) multiply as they are — what webclip's int8 kernel relies on. Node
 *  20's experimental relaxed SIMD (--experimental-wasm-relaxed-simd) validates it but computes another sum. */
export const RELAXED_PROBE = Uint8Array.of(
  0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, // magic, version 1
  0x01, 0x05, 0x01, 0x60, 0x00, 0x01, 0x7f, // type section: () → i32
  0x03, 0x02, 0x01, 0x00, // function section: one function of type 0
  0x07, 0x05, 0x01, 0x01, 0x66, 0x00, 0x00, // export section: "f" = function 0
  0x0a, 0x40, 0x01, 0x3e, 0x00, // code section: one body of 62 bytes, no locals
  0xfd, 0x0c, ...[0, 1, 2, 3].flatMap(() => [0xff, 0x02, 0xfd, 0x04]), // v128.const i8x16 -1 2 -3 4 (×4)
  0xfd, 0x0c, ...[0, 1, 2, 3].flatMap(() => [0x05, 0x06, 0x07, 0x08]), // v128.const i8x16 5 6 7 8 (×4)
  0xfd, 0x0c, ...new Array(16).fill(0), // v128.const i32x4 0 0 0 0
  0xfd, 0x93, 0x02, // i32x4.relaxed_dot_i8x16_i7x16_add_s
  0xfd, 0x1b, 0x00, // i32x4.extract_lane 0
  0x0b, // end
);
export const RELAXED_PROBE_RESULT = 18;

export const BUILDS = {
  'relaxed-simd': 'webclip_relaxed_bg.wasm',
  simd128: 'webclip_bg.wasm',
};

/** The multi-threaded build: its own JS glue (shared memory, the worker script in snippets/) next to its .wasm. */
export const THREADS_BUILD = {
  name: 'relaxed-simd-threads',
  glue: 'threads/webclip.js',
  wasm: 'threads/webclip_bg.wasm',
};
/** The default thread count's ceiling: the matmuls of a 50-token image pass stop gaining well before this. */
export const MAX_THREADS = 8;

let relaxed = null; // hasRelaxedSimd()'s answer, once known

/** True where WebAssembly relaxed SIMD validates and its dot product computes what webclip's kernel expects
 *  (checked once, by running RELAXED_PROBE: 80 bytes, compiled synchronously; false without WebAssembly at all). */
export function hasRelaxedSimd() {
  if (relaxed === null) {
    try {
      relaxed = WebAssembly.validate(RELAXED_PROBE) &&
        new WebAssembly.Instance(new WebAssembly.Module(RELAXED_PROBE)).exports.f() === RELAXED_PROBE_RESULT;
    } catch {
      relaxed = false;
    }
  }
  return relaxed;
}

/** The forced build named by `wasm=` in `search` (a URL's query), or null (none, or not a build's name). */
export function wasmOverride(search = globalThis.location?.search ?? '') {
  const want = new URLSearchParams(search).get('wasm');
  return Object.hasOwn(BUILDS, want) ? want : null;
}

/** "relaxed-simd" where this engine validates relaxed SIMD, else "simd128" (no override). */
export function bestBuild() {
  return hasRelaxedSimd() ? 'relaxed-simd' : 'simd128';
}

/** The build to run: the override when there is one, else bestBuild(). */
export function pickBuild(search) {
  const forced = wasmOverride(search);
  if (forced === 'relaxed-simd' && !hasRelaxedSimd()) {
    console.warn('webclip: wasm=relaxed-simd asked for, but this browser has no relaxed SIMD: it will not load');
  }
  return forced ?? bestBuild();
}

/** The URL of the .wasm to hand to pkg/webclip.js's `init({ module_or_path })`. `pkg`: the folder of webclip.js. */
export function wasmUrl(pkg = new URL('../pkg/', import.meta.url), search) {
  return new URL(BUILDS[pickBuild(search)], pkg);
}

/** True where the multi-threaded build can run here: shared memory (a cross-origin isolated context), module Web
 *  Workers inside this one, and relaxed SIMD (the build has it). */
export function canUseThreads(g = globalThis) {
  return g.crossOriginIsolated === true && typeof g.SharedArrayBuffer === 'function' && typeof g.Worker === 'function'
    && hasRelaxedSimd();
}

/** The thread count asked for by `threads=N` in `search`, or null (none, or not a whole number from 1 to 256). */
export function threadsOverride(search = globalThis.location?.search ?? '') {
  const raw = new URLSearchParams(search).get('threads');
  const n = raw === null ? NaN : Number(raw);
  return Number.isInteger(n) && n >= 1 && n <= 256 ? n : null;
}

/** Threads for the CPU backend: 1 where the threads build cannot run or `wasm=simd128` is forced; else `threads=N`,
 *  or navigator.hardwareConcurrency up to MAX_THREADS. */
export function threadCount(search, g = globalThis) {
  if (!canUseThreads(g) || wasmOverride(search) === 'simd128') return 1;
  return threadsOverride(search) ?? Math.max(1, Math.min(g.navigator?.hardwareConcurrency || 1, MAX_THREADS));
}

/** The build a worker here runs without overrides: the threads build where it can run, else bestBuild(). */
export function bestEngine(g = globalThis) {
  return threadCount('', g) > 1 ? THREADS_BUILD.name : bestBuild();
}

/** The engine a worker loads: {build, glue, wasm (URLs), threads}. `pkg`: the folder of pkg/webclip.js. */
export function engineFiles(pkg = new URL('../pkg/', import.meta.url), search, g = globalThis) {
  const threads = threadCount(search, g);
  if (threads > 1) {
    const { name, glue, wasm } = THREADS_BUILD;
    return { build: name, glue: new URL(glue, pkg), wasm: new URL(wasm, pkg), threads };
  }
  return { build: pickBuild(search), glue: new URL('webclip.js', pkg), wasm: wasmUrl(pkg, search), threads: 1 };
}

/** `url` (a worker script's) with the page's `wasm=` and `threads=` overrides added, so the worker picks the same
 *  build. */
export function forwardOverride(url, search) {
  const forced = wasmOverride(search);
  const threads = threadsOverride(search);
  if (!forced && !threads) return url;
  const u = new URL(url);
  if (forced) u.searchParams.set('wasm', forced);
  if (threads) u.searchParams.set('threads', String(threads));
  return u;
}
