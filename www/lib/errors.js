// Every failure the page can meet, as a code with a fixed title and what to do next. The worker turns raw errors
// into a WebclipError with one of these codes: an engine error (pkg/webclip.js throws an Error with own `code` and
// `hint`, see src/wasm/mod.rs) by its code through ENGINE_CODES, never by its message; a JavaScript error by its
// class or DOMException name (TypeError from fetch, QuotaExceededError, RangeError, WebAssembly.RuntimeError).
// The page shows `title`, the specific `message` (what and where) and `hint` (what to do). Tests match the titles.

export const ERRORS = {
  'no-model': {
    title: 'No model yet',
    hint: 'Put a webclip bundle at the default place (the commands are below), or enter a model URL.',
  },
  'not-found': {
    title: 'Model not found',
    hint: 'Check the URL. A model is a .webclip bundle, a folder URL ending in / that holds a Hugging Face ' +
      'CLIPModel (config.json, model.safetensors, tokenizer.json), or a Hugging Face repository URL.',
  },
  network: {
    title: 'Network error',
    hint: 'Check the connection (and, for another site, that it allows cross-origin downloads), then load again. ' +
      'A model downloaded once is kept and works offline.',
  },
  'corrupt-model': {
    title: 'The model file is damaged or not a webclip model',
    hint: 'Nothing was kept from it. Download it again; if it keeps failing, make it again with ' +
      '`webclip convert` (a truncated or edited file cannot be repaired).',
  },
  'unsupported-image': {
    title: 'Not an image webclip can read',
    hint: 'webclip reads JPEG, PNG, WebP, GIF (first frame), BMP and TIFF (first page). Convert other formats ' +
      '(HEIC, AVIF, SVG) to PNG or JPEG first.',
  },
  'out-of-memory': {
    title: 'Out of memory',
    hint: 'Close other tabs, use a smaller or more quantized model (q8 or q4 bundles), or a desktop browser: ' +
      'WebAssembly has at most 4 GB and phones often give a tab about 1.5 GB.',
  },
  quota: {
    title: 'Not saved for offline use: browser storage is full',
    hint: 'The model works for this visit but will be downloaded again next time. Free space with "Clear cache" ' +
      'below or in the browser\'s site settings, then reload.',
  },
  'model-version': {
    title: 'The model file was made by another version of webclip',
    hint: 'Make it again with this version\'s `webclip convert` (or use the webclip release that made it): the ' +
      'bundle format changed between the two.',
  },
  'one-tower': {
    title: 'This model has only one of the two encoders',
    hint: 'Labels, captions and tags need both the text and the image encoder: load a bundle converted with both ' +
      '(`webclip convert` without --text-only or --vision-only).',
  },
  'webgpu-failed': {
    title: 'WebGPU failed',
    hint: 'With the "auto" backend webclip switches to the CPU (WebAssembly: same results, slower); with "gpu" ' +
      'choose "auto" or "cpu". A lost device (driver reset, GPU busy, a phone tab in the background) usually works ' +
      'again after reloading the page.',
  },
  'no-webgpu': {
    title: 'Running on the CPU (WebAssembly)',
    hint: 'Results are the same, only slower. For WebGPU use a current Chrome or Edge (or enable WebGPU in your ' +
      'browser\'s settings) on a machine with a supported GPU.',
  },
  labels: {
    title: 'No labels to score',
    hint: 'Type labels separated by commas or new lines, or pick a preset.',
  },
  template: {
    title: 'The prompt template needs {}',
    hint: 'Write {} where the label goes, e.g. "a photo of a {}."',
  },
  camera: {
    title: 'The camera is not available',
    hint: 'Allow camera access for this site (address bar), or choose a photo file instead. Browsers offer the ' +
      'camera only on https:// pages and on localhost.',
  },
  'no-wasm': {
    title: 'The webclip engine is not built',
    hint: 'Run ./build.sh in the repository (it writes www/pkg/), then reload; ./build.sh serve builds and serves.',
  },
  threads: {
    title: 'Running on one CPU thread',
    hint: 'Results are the same, only slower. The worker threads need shared memory: a page served with the headers ' +
      'Cross-Origin-Opener-Policy: same-origin and Cross-Origin-Embedder-Policy: require-corp (./build.sh serve ' +
      'sends them). ?threads=1 in the URL skips the attempt.',
  },
  crashed: {
    title: 'The engine stopped',
    hint: 'It is restarted automatically; load the model again. If it keeps happening, please report it with ' +
      'the message below.',
  },
  internal: {
    title: 'Something went wrong',
    hint: 'Please report it with the message below; reloading the page usually helps.',
  },
};

/**
 * Engine codes (src/error.rs's table, and the façade's own in src/wasm/mod.rs) → the page's codes above. A code
 * missing here becomes 'internal' with the engine's hint. `tokenizer` depends on when: tokenizer.json at load time,
 * a text at run time.
 */
export const ENGINE_CODES = {
  io: 'internal',
  'missing-file': 'not-found',
  json: 'corrupt-model',
  config: 'corrupt-model',
  safetensors: 'corrupt-model',
  'not-a-bundle': 'corrupt-model',
  'bundle-version': 'model-version',
  'bundle-damaged': 'corrupt-model',
  'missing-tensor': 'corrupt-model',
  'tensor-shape': 'corrupt-model',
  'tensor-dtype': 'corrupt-model',
  'tensor-non-finite': 'corrupt-model',
  'missing-tower': 'one-tower',
  tokenizer: (during) => (during === 'model' ? 'corrupt-model' : 'internal'),
  image: 'unsupported-image',
  input: 'internal',
  'backend-unavailable': 'no-webgpu',
  'gpu-device-lost': 'webgpu-failed',
  'gpu-out-of-memory': 'out-of-memory',
  'gpu-limit': 'webgpu-failed',
  'gpu-dispatch-limit': 'webgpu-failed',
  gpu: 'webgpu-failed',
  // the façade's own (src/wasm/mod.rs)
  'backend-name': 'internal',
  'no-labels': 'labels',
  template: 'template',
  threshold: 'internal',
  'caption-options': 'internal',
  'embedding-length': 'internal',
  'embedding-values': 'internal',
  'js-result': 'internal',
  threads: 'threads',
};

/** Engine codes of a failing WebGPU: with the "auto" backend the worker retries on the CPU. */
export const GPU_CODES =
  new Set(['gpu-device-lost', 'gpu-out-of-memory', 'gpu-limit', 'gpu-dispatch-limit', 'gpu']);

/**
 * An error with a code from ERRORS; it survives postMessage as {code, message, hint, fatal, engineCode} (see
 * toPlain/fromPlain). `hint` is the page's advice for the code unless one is given; `engineCode` is the engine's
 * code when the engine raised it (several map to one page code, e.g. gpu-device-lost and gpu-limit).
 */
export class WebclipError extends Error {
  constructor(code, message, { fatal = false, hint = '', engineCode = null, kept = null } = {}) {
    super(message);
    this.name = 'WebclipError';
    this.code = ERRORS[code] ? code : 'internal';
    this.fatal = fatal; // the wasm instance is unusable: the page must start a new worker
    this.kept = kept; // a failed load: the name of the model still loaded (the page goes on with it), or null
    this.hint = hint || ERRORS[this.code].hint;
    this.engineCode = engineCode;
  }

  get title() {
    return ERRORS[this.code].title;
  }

  toPlain() {
    return { code: this.code, message: this.message, hint: this.hint, fatal: this.fatal, engineCode: this.engineCode,
      kept: this.kept };
  }

  static fromPlain({ code, message, hint, fatal, engineCode, kept }) {
    return new WebclipError(code, message, { fatal, hint, engineCode, kept });
  }
}

/** True for an error thrown by the engine (pkg/webclip.js): an Error with a string `code` (a DOMException's is a
 *  number). */
export const isEngineError = (e) => e instanceof Error && typeof e.code === 'string' && !(e instanceof WebclipError);

/** True when WebGPU failed (device lost, out of memory, a limit, a GPU error): the engine said so by its code. */
export function isGpuFailure(e) {
  const code = e instanceof WebclipError ? e.engineCode : isEngineError(e) ? e.code : null;
  return GPU_CODES.has(code);
}

/**
 * Maps a raw error to a WebclipError. `during` says what was being done: 'download', 'model' (parsing or building
 * the model), 'image' (embedding an image file), 'text', 'store' (writing the cache). `where` prefixes the message
 * of a JavaScript error (engine messages already say where).
 */
export function toWebclipError(e, during, where = '') {
  if (e instanceof WebclipError) return e;
  const m = String(e?.message ?? e);
  if (isEngineError(e)) {
    const to = ENGINE_CODES[e.code];
    const code = (typeof to === 'function' ? to(during) : to) ?? 'internal';
    // a specific page code has the page's advice; the catch-all keeps the engine's, which is specific
    const hint = code === 'internal' && typeof e.hint === 'string' ? e.hint : '';
    return new WebclipError(code, m, { hint, engineCode: e.code });
  }
  const at = where ? `${where}: ` : '';
  // A trap (Rust panic, allocation failure, unreachable) leaves the wasm instance in an unknown state.
  if (e instanceof WebAssembly.RuntimeError) return new WebclipError('crashed', `${at}${m}`, { fatal: true });
  // JavaScript's allocation failures: "Array buffer allocation failed", "Invalid array length", Memory.grow
  if (e instanceof RangeError) return new WebclipError('out-of-memory', `${at}${m}`);
  const quota = ['QuotaExceededError', 'NS_ERROR_DOM_QUOTA_REACHED'].includes(e?.name);
  if (quota) return new WebclipError('quota', `${at}${m}`);
  if (during === 'download' && (e instanceof TypeError || ['NetworkError', 'AbortError'].includes(e?.name))) {
    return new WebclipError('network', `${at}${m}`);
  }
  return new WebclipError('internal', `${at}${m}`);
}
