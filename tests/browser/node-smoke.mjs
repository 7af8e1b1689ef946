// Smoke test of the wasm package in Node: the wasm-bindgen output instantiates and answers version() and
// cpuFeatures(), for both engine builds (www/pkg/webclip_bg.wasm: SIMD128; webclip_relaxed_bg.wasm: relaxed SIMD),
// and the two compute bit-identical embeddings of a q8 model (tests/fixtures/tiny-a, converted in wasm: the int8
// CPU path). This process runs the build www/lib/wasm-features.js picks here, as the page would (Node 20: SIMD128,
// it has no relaxed SIMD by default); a child process runs the other, with V8's --experimental-wasm-relaxed-simd
// where Node cannot validate relaxed SIMD without it — unless that relaxed SIMD fails the probe (Node 20's computes
// another dot product than the standard's), when the comparison is left to Chromium (gpu.test.mjs). Run by `./build.sh test` after the wasm build (not a browser
// test: it needs no browser and no GPU). `node node-smoke.mjs --build NAME` runs one build and prints its digest.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import init, * as wc from '../../www/pkg/webclip.js';
import { BUILDS, hasRelaxedSimd, pickBuild } from '../../www/lib/wasm-features.js';

const PKG = new URL('../../www/pkg/', import.meta.url);
const TINY = new URL('../fixtures/tiny-a/', import.meta.url);
const PHOTO = new URL('../assets/photos/chelsea.png', import.meta.url);
const TOKENIZER = new URL('../../src/assets/tokenizer.json', import.meta.url);
const { values: opt } = parseArgs({ options: { build: { type: 'string' } } });
const build = opt.build ?? pickBuild('');

if (opt.build === 'relaxed-simd' && !hasRelaxedSimd()) {
  // this Node validates relaxed SIMD (behind a flag) but its dot product is not the standard's: the page would not
  // pick the relaxed build here either (wasm-features.js runs the probe), and Chromium checks it (gpu.test.mjs)
  console.log(JSON.stringify({ build: opt.build, digest: null }));
  process.exit(0);
}
await init({ module_or_path: readFileSync(new URL(BUILDS[build], PKG)) });
const version = wc.version();
if (typeof version !== 'string' || version.length === 0) {
  throw new Error(`version() returned ${JSON.stringify(version)}; expected a non-empty string`);
}
if (wc.cpuFeatures() !== build) {
  throw new Error(`${BUILDS[build]} says it is the ${wc.cpuFeatures()} build, not ${build}: www/pkg is mixed up`);
}

// one text and one photo through a q8 bundle on the CPU: a digest of the embeddings' bytes
const file = (url) => readFileSync(url);
const bundle = wc.convertCheckpoint(file(new URL('config.json', TINY)), file(new URL('model.safetensors', TINY)),
  file(TOKENIZER), file(new URL('preprocessor_config.json', TINY)), 'q8', 'both');
const model = await wc.Model.fromBundle(bundle, 'tiny-a.q8.webclip', 'cpu');
const text = await model.embedText('a photo of a cat.');
const image = await model.embedImage(file(PHOTO), 'chelsea.png');
model.free();
const digest = createHash('sha256').update(new Uint8Array(text.buffer)).update(new Uint8Array(image.buffer))
  .digest('hex').slice(0, 16);
if (opt.build) {
  console.log(JSON.stringify({ build, digest }));
  process.exit(0);
}

const exported = Object.keys(wc).filter((k) => k !== 'default' && !k.startsWith('init')).sort();
console.log(`node smoke: webclip ${version}, ${build} build (${BUILDS[build]}) instantiated; q8 embeddings ` +
  `${digest}; exports: ${exported.join(', ')}`);

const other = build === 'simd128' ? 'relaxed-simd' : 'simd128';
const flags = other === 'relaxed-simd' && !hasRelaxedSimd() ? ['--experimental-wasm-relaxed-simd'] : [];
const child = JSON.parse(execFileSync(process.execPath,
  [...flags, new URL(import.meta.url).pathname, '--build', other], { encoding: 'utf8' }).trim().split('\n').pop());
if (child.digest === null) {
  console.log(`node smoke: this Node's ${flags.join(' ')} relaxed SIMD computes a non-standard dot product ` +
    '(the probe in www/lib/wasm-features.js), so the relaxed build is not run here: tests/browser/gpu.test.mjs ' +
    'compares the two builds bit for bit in Chromium');
  process.exit(0);
}
if (child.digest !== digest) {
  throw new Error(`the ${other} build's q8 embeddings (${child.digest}) differ from the ${build} build's (${digest}): ` +
    'the two builds must compute bit-identical results');
}
console.log(`node smoke: the ${other} build (${BUILDS[other]}${flags.length ? `, node ${flags.join(' ')}` : ''}) ` +
  'instantiated and computed the same q8 embeddings, bit for bit');
