// Every failure the page can meet, as a code with a fixed title and what to do next. The worker turns raw errors
// (wasm JsError messages, fetch TypeErrors, DOMExceptions) into a WebclipError with one of these codes; the page
// shows `title`, the specific `message` (what and where) and `hint` (what to do). Tests match the titles.

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
    hint: 'webclip reads JPEG, PNG, WebP and GIF (first frame). Convert other formats (HEIC, TIFF, BMP, SVG) to ' +
      'PNG or JPEG first.',
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

/** An error with a code from ERRORS; it survives postMessage as {code, message} (see toPlain/fromPlain). */
export class WebclipError extends Error {
  constructor(code, message, { fatal = false } = {}) {
    super(message);
    this.name = 'WebclipError';
    this.code = ERRORS[code] ? code : 'internal';
    this.fatal = fatal; // the wasm instance is unusable: the page must start a new worker
  }

  get title() {
    return ERRORS[this.code].title;
  }

  get hint() {
    return ERRORS[this.code].hint;
  }

  toPlain() {
    return { code: this.code, message: this.message, fatal: this.fatal };
  }

  static fromPlain({ code, message, fatal }) {
    return new WebclipError(code, message, { fatal });
  }
}

const messageOf = (e) => String(e?.message ?? e);

/** True when `e` says memory ran out: wasm/JS allocation failures, Rust's alloc error, GPU out-of-memory. */
export function isOutOfMemory(e) {
  const m = messageOf(e);
  return e?.name === 'QuotaExceededError' ? false
    : /out of memory|memory allocation of \d+ bytes failed|could not allocate memory|array buffer allocation failed|invalid array length|Cannot allocate|WebAssembly\.Memory.*grow|maximum memory size/i.test(m);
}

/** True for a WebGPU device that is gone (driver reset, tab in background on mobile) or a GPU-side failure. */
export function isGpuFailure(e) {
  return /GPU device was lost|GPU out of memory|GPU error while|device (is|was) lost/i.test(messageOf(e));
}

/**
 * Maps a raw error to a WebclipError. `during` says what was being done: 'download', 'model' (parsing or building
 * the model), 'image' (embedding an image file), 'text', 'store' (writing the cache).
 */
export function toWebclipError(e, during, where = '') {
  if (e instanceof WebclipError) return e;
  const m = messageOf(e);
  const at = where ? `${where}: ` : '';
  // A trap (Rust panic, unreachable, stack overflow) leaves the wasm instance in an unknown state.
  const fatal = e instanceof WebAssembly.RuntimeError;
  if (isOutOfMemory(e)) return new WebclipError('out-of-memory', `${at}${m}`, { fatal });
  if (e?.name === 'QuotaExceededError' || /quota/i.test(m)) return new WebclipError('quota', `${at}${m}`);
  if (fatal) return new WebclipError('crashed', `${at}${m}`, { fatal });
  if (during === 'download' && (e instanceof TypeError || /network|fetch|aborted/i.test(m))) {
    return new WebclipError('network', `${at}${m}`);
  }
  if (during === 'model') return new WebclipError('corrupt-model', m);
  if (during === 'image' && /^image /.test(m)) return new WebclipError('unsupported-image', m);
  return new WebclipError('internal', `${at}${m}`);
}
