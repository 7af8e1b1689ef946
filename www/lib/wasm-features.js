// Which of the two engine builds this browser runs (./build.sh writes both into pkg/, with one webclip.js):
//   pkg/webclip_relaxed_bg.wasm  SIMD128 + relaxed SIMD (int8 dot products with i32x4.relaxed_dot_i8x16_i7x16_add_s;
//                                Chrome/Edge ≥ 114)
//   pkg/webclip_bg.wasm          SIMD128 only (Safari, Node 20, any engine without relaxed SIMD)
// Both compute the same results. `?wasm=simd128` (or `wasm=relaxed-simd`) in the page's URL forces one, e.g. to
// compare them or to report a bug; forwardOverride() passes it on to the worker, whose own URL is what it sees.
// No other import: the worker, the page, bench.js, bench/compare.js and Node tests all use it.

/** `(func (param v128 v128 v128) (result v128) local.get 0 local.get 1 local.get 2
 *  i32x4.relaxed_dot_i8x16_i7x16_add_s)`: valid only where relaxed SIMD is (opcode 0xfd 0x113, LEB128 93 02). */
export const RELAXED_PROBE = Uint8Array.of(
  0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, // magic, version 1
  0x01, 0x08, 0x01, 0x60, 0x03, 0x7b, 0x7b, 0x7b, 0x01, 0x7b, // type section: (v128 v128 v128) → v128
  0x03, 0x02, 0x01, 0x00, // function section: one function of type 0
  0x0a, 0x0d, 0x01, 0x0b, 0x00, // code section: one body of 11 bytes, no locals
  0x20, 0x00, 0x20, 0x01, 0x20, 0x02, 0xfd, 0x93, 0x02, 0x0b, // local.get 0 1 2, relaxed dot-add, end
);

export const BUILDS = {
  'relaxed-simd': 'webclip_relaxed_bg.wasm',
  simd128: 'webclip_bg.wasm',
};

let relaxed = null; // hasRelaxedSimd()'s answer, once known

/** True where WebAssembly relaxed SIMD validates (checked once; false without WebAssembly at all). */
export function hasRelaxedSimd() {
  if (relaxed === null) {
    try {
      relaxed = WebAssembly.validate(RELAXED_PROBE);
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

/** `url` (a worker script's) with the page's `wasm=` override added, so the worker picks the same build. */
export function forwardOverride(url, search) {
  const forced = wasmOverride(search);
  if (!forced) return url;
  const u = new URL(url);
  u.searchParams.set('wasm', forced);
  return u;
}
