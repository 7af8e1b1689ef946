// The model card: what is loading (with a byte-exact progress bar), which model runs where, whether it works
// offline, the "no model yet" instructions, another model's URL, and "Clear cache".

import { SOFTWARE_ADAPTER } from '../lib/adapter.js';
import { formatBytes } from '../lib/model-store.js';
import { PICKS } from '../lib/source.js';
import { $, el, show } from './dom.js';
import { addNotice, showNotice } from './notice.js';

const BACKENDS = { auto: 'Automatic (the faster here)', gpu: 'WebGPU', cpu: 'CPU (WebAssembly)' };
// the engine build the worker loaded (lib/wasm-features.js), as the "Runs on" line says it
const SIMD = { 'relaxed-simd-threads': 'relaxed SIMD', 'relaxed-simd': 'relaxed SIMD', simd128: 'SIMD' };
const STAGES = {
  compile: (p) => `Building the model on ${p.backend === 'gpu' ? 'WebGPU' : 'the CPU'}…`,
  convert: (p) => `Converting the Hugging Face checkpoint to ${p.quant} in this tab…`,
  warmup: (p) => (p.backend === 'gpu' ? 'Warming up (the first pass builds the GPU pipelines)…'
    : 'Warming up (one pass of each tower on the CPU)…'),
  fallback: () => 'WebGPU is unavailable: switching to the CPU…',
  image: () => 'Image tower…',
  caption: () => 'Caption…',
};

// A long stage (building a 160 MB model: hashing and packing it, ~4 s on 2 cores) shows its elapsed seconds, so the
// page never stands still for more than a second while it works.
let ticker = null;

export const modelPanel = {
  status(text, state = 'wait') {
    clearInterval(ticker);
    show('model-status', text, state);
    if (state !== 'wait') return;
    const started = performance.now();
    ticker = setInterval(() => {
      show('model-status', `${text} ${Math.round((performance.now() - started) / 1000)} s`, state);
    }, 1000);
  },

  /** A progress message from the worker (see the protocol in lib/worker.js). */
  progress(p) {
    const box = $('model-progress');
    const bar = $('model-bar');
    if (p.stage === 'download') {
      box.hidden = false;
      const pct = p.total ? Math.min(100, (100 * p.loaded) / p.total) : null;
      if (pct == null) bar.removeAttribute('value');
      else bar.value = pct / 100;
      show('model-progress-text', `${p.file}: ${formatBytes(p.loaded)}` +
        (p.total ? ` of ${formatBytes(p.total)} (${pct.toFixed(0)}%)` : ''));
      this.status(`Downloading ${p.file}…`);
    } else if (STAGES[p.stage]) {
      box.hidden = true;
      this.status(STAGES[p.stage](p));
    }
  },

  hideProgress() {
    $('model-progress').hidden = true;
  },

  showModel(info) {
    $('model-facts').hidden = false;
    $('model-help').hidden = true;
    const arch = info.architecture ? ` — ${info.architecture}` : '';
    show('fact-model', `${info.name} · ${info.quant} · ${formatBytes(info.bytes)} · ${info.towers === 'both'
      ? 'image + text' : info.towers} towers${arch}${info.fromCache ? ' · from the offline cache' : ''}`);
    const gpu = info.backend !== 'cpu';
    // "gpu: <adapter> (webgpu, <device type>)": a cpu device type is WebGPU emulated in software (SwiftShader)
    const software = gpu && (/, cpu\)$/.test(info.backend) || SOFTWARE_ADAPTER.test(info.backend));
    const threads = info.threads > 1 ? `, ${info.threads} threads` : '';
    const cpu = `CPU — WebAssembly (${SIMD[info.cpuFeatures] ?? 'SIMD'}${threads})`;
    show('fact-backend', gpu ? `WebGPU — ${info.backend.replace(/^gpu: /, '')}` +
      (software ? ' — a software adapter: WebGPU emulated on the CPU, slow' : '') : cpu,
      (gpu && !software) || info.choice ? 'ok' : 'warn');
    // "auto" chose the CPU over a software WebGPU adapter: a decision, said next to the choice
    show('backend-why', info.choice ? `Chosen automatically: ${info.choice}.` : '');
    $('backend-choice').value = info.requested ?? 'auto';
    $('fact-backend').title = `webclip ${info.webclip} (${info.cpuFeatures} build); model id ${info.id}`;
    $('fact-backend').dataset.backend = gpu ? 'gpu' : 'cpu';
    const t = info.ms;
    this.status(`Ready: ${info.name} loaded in ${((t.download + t.compile + t.warmup) / 1000).toFixed(1)} s ` +
      `(${info.fromCache ? 'cache' : 'download'} ${(t.download / 1000).toFixed(1)} s, build ` +
      `${(t.compile / 1000).toFixed(1)} s, warm-up ${(t.warmup / 1000).toFixed(1)} s).`, 'ok');
  },

  /** Offline readiness: `ok` true when the page, the wasm and the model are all stored. */
  offline(text, ok) {
    show('fact-offline', text, ok ? 'ok' : 'warn');
  },

  notice(err, level = 'warn') {
    addNotice($('model-notices'), err, level);
  },

  error(err) {
    showNotice($('model-notices'), err, err.code === 'no-model' ? 'warn' : 'error');
    this.status(err.code === 'no-model' ? 'No model yet: see below how to get one.' : `Not loaded: ${err.title}.`,
      err.code === 'no-model' ? 'warn' : 'error');
    $('model-help').hidden = !['no-model', 'not-found'].includes(err.code);
    $('model-facts').hidden = true;
    this.hideProgress();
  },

  clearNotices() {
    showNotice($('model-notices'), null);
  },

  onLoad(cb) {
    $('model-form').addEventListener('submit', (ev) => {
      ev.preventDefault();
      cb($('model-url').value.trim());
    });
  },

  /** The backend switch: `cb("auto" | "gpu" | "cpu")` when the visitor picks one. */
  onBackend(cb) {
    const select = $('backend-choice');
    select.replaceChildren(...Object.entries(BACKENDS).map(([value, text]) => new Option(text, value)));
    select.addEventListener('change', () => cb(select.value));
  },

  setBackend(value) {
    $('backend-choice').value = value;
  },

  /** The one-click models: `cb(url)` loads one (lib/source.js PICKS). */
  onPick(cb) {
    $('model-picks').replaceChildren(...PICKS.map((p) => el('li', {},
      el('button', { type: 'button', dataset: { model: p.url } }, p.name),
      ` — downloads ${p.download} MB once, keeps ${p.kept} MB (q8); ${p.note}`)));
    $('model-picks').addEventListener('click', (ev) => {
      const url = ev.target.closest('button[data-model]')?.dataset.model;
      if (url) cb(url);
    });
  },

  onClear(cb) {
    $('clear-cache').addEventListener('click', cb);
  },

  setUrl(url) {
    $('model-url').value = url;
  },

  cacheInfo(info, prefix = '') {
    const models = info.models.length
      ? info.models.map((m) => `${decodeURIComponent(m.url.split('/').pop())} (${formatBytes(m.bytes)})`).join(', ')
      : 'no model';
    show('cache-info', `${prefix}Stored: ${models}; ${info.texts} label embeddings` +
      (info.usageText ? `; this site uses ${info.usageText}` : '') + '.');
  },
};
