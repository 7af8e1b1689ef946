// webclip for compare.js, in a module worker as the page runs it (www/lib/worker.js): lib/engine.js loads the build
// www/lib/wasm-features.js picks from this script's URL (?threads=N, ?wasm=simd128) — the threads build where it
// can run. compare.js posts {id, op, ...} and gets {id, ok, result | error}; the timing is compare.js's, so each
// pass includes the postMessage round trip (what a page pays too).
//   load      {model, backend}                  → {version, backend, build, threads, threadsError}
//   image     {png}                             → Float32Array
//   texts     {prompts}                         → Float32Array[]
//   zeroshot  {png, labels, template}           → number[] (Model.classify: from scratch, nothing cached)
import { engine, loadEngine } from './lib/engine.js';

let model = null;

async function bytes(url) {
  const r = await fetch(url);
  if (!r.ok) throw new Error(`GET ${url}: HTTP ${r.status}`);
  return new Uint8Array(await r.arrayBuffer());
}

const ops = {
  async load({ model: path, backend }) {
    const { build, threads, threadsError } = await loadEngine();
    const wc = engine();
    if (path.endsWith('.webclip')) {
      model = await wc.Model.fromBundle(await bytes(path), path, backend);
    } else {
      const base = new URL(path.endsWith('/') ? path : path + '/', self.location.href);
      const files = ['config.json', 'model.safetensors', 'tokenizer.json', 'preprocessor_config.json'];
      const [config, weights, tokenizer, preprocessor] = await Promise.all(files.map((f) => bytes(new URL(f, base))));
      model = await wc.Model.load(config, weights, tokenizer, preprocessor, backend);
    }
    return { version: wc.version(), backend: model.backend, build, threads, threadsError };
  },
  image: ({ png }) => model.embedImage(png, 'photo.png'),
  texts: ({ prompts }) => model.embedTexts(prompts),
  zeroshot: async ({ png, labels, template }) => Array.from(await model.classify(png, 'photo.png', labels, template)),
};

self.onmessage = async ({ data: { id, op, ...args } }) => {
  try {
    postMessage({ id, ok: true, result: await ops[op](args) });
  } catch (e) {
    postMessage({ id, ok: false, error: `${e?.message ?? e}${e?.code ? ` (code ${e.code})` : ''}` });
  }
};
