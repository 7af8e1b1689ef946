// Smoke test of the wasm package in Node: the wasm-bindgen output instantiates and answers version().
// Run by `./build.sh test` after the wasm build (not a browser test: it needs no browser and no GPU).
import { readFileSync } from 'node:fs';
import init, * as wc from '../../www/pkg/webclip.js';

const wasmUrl = new URL('../../www/pkg/webclip_bg.wasm', import.meta.url);
await init({ module_or_path: readFileSync(wasmUrl) });

const version = wc.version();
if (typeof version !== 'string' || version.length === 0) {
  throw new Error(`version() returned ${JSON.stringify(version)}; expected a non-empty string`);
}
const exported = Object.keys(wc).filter((k) => k !== 'default' && !k.startsWith('init')).sort();
console.log(`node smoke: webclip ${version} instantiated; exports: ${exported.join(', ')}`);
