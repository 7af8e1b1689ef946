/**
 * <webclip-labeler>: a drop zone that labels (or captions) the image a reader drops or picks, with CLIP running on
 * the reader's device. One script tag and the element:
 *
 *   <script type="module" src="https://example.org/webclip/webclip-labeler.js"></script>
 *   <webclip-labeler model="models/default.webclip" labels="cat, dog, car" top-k="3"></webclip-labeler>
 *
 * Attributes: model (URL, relative to the page), labels (comma or new-line separated), template ("a photo of a
 * {}."; "ensemble" for OpenAI's 80 prompts), top-k (default 5), mode ("labels" or "caption"), backend
 * ("auto" / "gpu" / "cpu"), load ("click": default, nothing is downloaded until the reader presses the load button
 * or gives an image; "visible": when the element scrolls into view; "eager": at once), size (the download shown on
 * the load button, e.g. "162 MB": `webclip convert` prints it; without it the button names no size). Events (CustomEvent, bubbling and composed): webclip-ready {detail: {model}},
 * webclip-result {detail: {mode, image, labels | caption, score}}, webclip-error {detail: {code, title, message,
 * hint}}. Theme: --webclip-accent, --webclip-bg, --webclip-fg, --webclip-muted, --webclip-border, --webclip-radius,
 * --webclip-font; parts: box, drop, preview, start, status, results, caption. Every element on a page with the same model
 * shares one worker and one download (webclip.js). Styles come from one constructed stylesheet (adoptedStyleSheets),
 * so a strict Content-Security-Policy without 'unsafe-inline' is fine.
 */

import { dropZone } from './lib/drop-zone.js';
import { WebclipError, load } from './webclip.js';

const CSS = `
:host { display: block; font: var(--webclip-font, inherit); color: var(--webclip-fg, inherit);
  --_accent: var(--webclip-accent, #2563eb); --_border: var(--webclip-border, #c8ccd4);
  --_muted: var(--webclip-muted, #5f6673); --_radius: var(--webclip-radius, 8px); }
:host([hidden]) { display: none; }
[hidden] { display: none !important; }
.box { background: var(--webclip-bg, transparent); border: 1px solid var(--_border); border-radius: var(--_radius);
  padding: 0.75em; display: grid; gap: 0.6em; }
.drop { display: flex; align-items: center; gap: 0.75em; min-height: 4.5em; padding: 0.6em; cursor: pointer;
  border: 2px dashed var(--_border); border-radius: calc(var(--_radius) - 2px); }
.drop:hover, .drop.over, .drop:focus-within { border-color: var(--_accent); }
.drop:focus-within { outline: 2px solid var(--_accent); outline-offset: 2px; }
.drop input { position: absolute; width: 1px; height: 1px; opacity: 0; overflow: hidden; }
.drop img { max-width: 7em; max-height: 7em; border-radius: 4px; object-fit: contain; }
.drop u { color: var(--_accent); }
.status { margin: 0; color: var(--_muted); font-size: 0.9em; }
.status.error { color: var(--webclip-error, #b42318); }
.status .hint { display: block; margin-top: 0.25em; color: var(--_muted); }
progress { width: 100%; accent-color: var(--_accent); }
ol { list-style: none; margin: 0; padding: 0; display: grid; grid-template-columns: max-content 1fr 4em;
  gap: 0.3em 0.6em; }
li { display: grid; grid-column: 1 / -1; grid-template-columns: subgrid; align-items: center; }
.bar { height: 0.6em; border-radius: 0.3em; background: color-mix(in srgb, var(--_accent) 15%, transparent); }
.fill { display: block; height: 100%; width: calc(var(--p, 0) * 100%); border-radius: inherit;
  background: var(--_accent); }
.score { text-align: right; font-variant-numeric: tabular-nums; color: var(--_muted); }
.caption { margin: 0; font-style: italic; }
.start { justify-self: start; font: inherit; padding: 0.35em 0.8em; border-radius: calc(var(--_radius) - 2px);
  border: 1px solid var(--_accent); background: transparent; color: var(--_accent); cursor: pointer; }
.start:focus-visible { outline: 2px solid var(--_accent); outline-offset: 2px; }
`;

const HTML = `
<div class="box" part="box">
  <label class="drop" part="drop">
    <input type="file" accept="image/jpeg,image/png,image/webp,image/gif">
    <img part="preview" alt="" hidden>
    <span>Drop an image here or <u>choose one</u></span>
  </label>
  <button type="button" class="start" part="start" hidden></button>
  <p class="status" part="status" role="status" aria-live="polite"></p>
  <progress max="1" hidden></progress>
  <ol class="results" part="results" aria-label="Labels, most likely first"></ol>
  <p class="caption" part="caption" hidden></p>
</div>`;

let sheet = null; // one constructed stylesheet for every instance
const styles = () => {
  if (!sheet) {
    sheet = new CSSStyleSheet();
    sheet.replaceSync(CSS);
  }
  return sheet;
};

const percent = (p) => `${(100 * p).toFixed(p >= 0.995 || p < 0.001 ? 0 : 1)}%`;

export class WebclipLabeler extends HTMLElement {
  static observedAttributes = ['model', 'backend', 'labels', 'template', 'top-k', 'mode', 'load', 'size'];

  #model = null; // WebclipModel handle, ours to dispose
  #loading = null; // Promise of the handle for the current model attribute
  #generation = 0; // bumps on every model change / disconnect: late answers of an old load are dropped
  #image = null; // the last image (a File), labelled again when labels/template/top-k/mode change
  #run = 0;
  #watch = null; // the IntersectionObserver of load="visible"
  #ui;

  constructor() {
    super();
    const root = this.attachShadow({ mode: 'open' });
    root.adoptedStyleSheets = [styles()];
    const tpl = document.createElement('template');
    tpl.innerHTML = HTML;
    root.append(tpl.content);
    const $ = (s) => root.querySelector(s);
    this.#ui = { drop: $('.drop'), input: $('input'), preview: $('img'), status: $('.status'),
      progress: $('progress'), results: $('ol'), caption: $('.caption'), start: $('.start') };
    this.#ui.start.addEventListener('click', () => this.#loadModel());
    this.#ui.input.addEventListener('change', () => this.#ui.input.files[0] && this.label(this.#ui.input.files[0]));
    dropZone(this.#ui.drop, (dataTransfer) => {
      const files = [...(dataTransfer?.files ?? [])];
      const file = files.find((f) => f.type.startsWith('image/')) ?? files[0];
      if (file) this.label(file);
    });
  }

  connectedCallback() {
    if (!this.#loading) this.#arm();
  }

  /** Until the model is wanted: the load button (load="click"), a watch for visibility, or the load itself. */
  #arm() {
    this.#watch?.disconnect();
    this.#watch = null;
    const when = this.getAttribute('load');
    if (when === 'eager') return this.#loadModel();
    if (when === 'visible' && 'IntersectionObserver' in window) {
      this.#watch = new IntersectionObserver((seen) => seen.some((e) => e.isIntersecting) && this.#loadModel());
      this.#watch.observe(this);
      return this.#status('The model loads when this box comes into view.');
    }
    const size = this.getAttribute('size')?.trim();
    const { start } = this.#ui;
    start.hidden = false;
    start.textContent = size ? `Load the model (${size})` : 'Load the model';
    this.#status(`CLIP labels images here, on your device: nothing is uploaded. The model is downloaded once` +
      `${size ? ` (${size})` : ''}, when you press the button or give an image.`);
  }

  disconnectedCallback() {
    // a move within the document disconnects and reconnects at once: keep the model then
    queueMicrotask(() => {
      if (this.isConnected) return;
      this.#generation += 1;
      this.#loading = null;
      this.#watch?.disconnect();
      this.#watch = null;
      this.#model?.dispose();
      this.#model = null;
    });
  }

  attributeChangedCallback(name, old, value) {
    if (old === value || !this.isConnected) return;
    if (name === 'model' || name === 'backend') this.#loading ? this.#loadModel() : this.#arm();
    else if (name === 'load' || name === 'size') !this.#loading && this.#arm();
    else if (this.#image) this.label(this.#image);
  }

  get mode() {
    return this.getAttribute('mode') === 'caption' ? 'caption' : 'labels';
  }

  get topK() {
    const k = Number.parseInt(this.getAttribute('top-k') ?? '', 10);
    return k > 0 ? k : 5;
  }

  /** The loaded model's handle (null until webclip-ready). */
  get webclipModel() {
    return this.#model;
  }

  async #loadModel() {
    this.#watch?.disconnect();
    this.#watch = null;
    this.#ui.start.hidden = true;
    const generation = ++this.#generation;
    this.#model?.dispose();
    this.#model = null;
    const url = this.getAttribute('model');
    if (!url) {
      this.#loading = Promise.reject(new WebclipError('no-model',
        '<webclip-labeler> has no model attribute: set model="URL of a .webclip bundle" (relative to the page)'));
      this.#loading.catch((e) => this.#fail(e));
      return;
    }
    this.#status('Loading the model…');
    const onProgress = (p) => generation === this.#generation && this.#showProgress(p);
    this.#loading = load(url, { backend: this.getAttribute('backend') || 'auto', onProgress });
    try {
      const model = await this.#loading;
      if (generation !== this.#generation) return model.dispose();
      this.#model = model;
      this.#ui.progress.hidden = true;
      const where = model.info.backend === 'cpu' ? 'the CPU' : 'WebGPU';
      this.#status(`Ready (${model.info.name}, on ${where}). Drop an image or choose one.`);
      this.#emit('webclip-ready', { model: model.info });
      if (this.#image) this.label(this.#image);
    } catch (e) {
      if (generation === this.#generation) this.#fail(e);
    }
  }

  /** Labels (or captions, mode="caption") `image`: anything webclip.js takes (File, Blob, URL, img, ImageData…). */
  async label(image) {
    const run = ++this.#run;
    this.#image = image;
    this.#showPreview(image);
    try {
      if (!this.#model && !this.#loading) this.#loadModel(); // giving an image asks for the model
      const model = this.#model ?? (await this.#loading);
      if (!model || model.disposed || run !== this.#run) return;
      const onProgress = (p) => run === this.#run && this.#showProgress(p);
      let detail;
      if (this.mode === 'caption') {
        this.#status('Writing a caption…');
        const r = await model.caption(image, { onProgress });
        detail = { mode: 'caption', image: image.name ?? null, caption: r.caption, score: r.score };
      } else {
        const labels = this.getAttribute('labels') ?? '';
        if (!labels.trim()) {
          throw new WebclipError('labels', '<webclip-labeler> has no labels: set labels="cat, dog, car"');
        }
        this.#status('Labelling…');
        const template = this.getAttribute('template') || undefined;
        const r = await model.classify(image, labels, {
          ...(template === 'ensemble' ? { templates: 'ensemble' } : { template }), topK: this.topK, onProgress });
        detail = { mode: 'labels', image: r.image, labels: r.labels };
      }
      if (run !== this.#run) return;
      this.#showResult(detail);
      this.#emit('webclip-result', detail);
    } catch (e) {
      if (run === this.#run) this.#fail(e);
    }
  }

  #emit(type, detail) {
    this.dispatchEvent(new CustomEvent(type, { detail, bubbles: true, composed: true }));
  }

  #fail(e) {
    const err = e instanceof WebclipError ? e : new WebclipError('internal', String(e?.message ?? e));
    const { status, progress } = this.#ui;
    progress.hidden = true;
    status.classList.add('error');
    status.textContent = `${err.title}: ${err.message}`;
    const hint = document.createElement('span');
    hint.className = 'hint';
    hint.textContent = err.hint;
    status.append(hint);
    this.#emit('webclip-error', { code: err.code, title: err.title, message: err.message, hint: err.hint });
  }

  #status(text) {
    this.#ui.status.classList.remove('error');
    this.#ui.status.textContent = text;
  }

  #showProgress(p) {
    const { progress } = this.#ui;
    if (p.stage === 'download' && p.total) {
      progress.hidden = false;
      progress.value = p.loaded / p.total;
      this.#status(`Downloading the model: ${Math.round((100 * p.loaded) / p.total)}%`);
    } else {
      progress.hidden = false;
      progress.removeAttribute('value'); // indeterminate
      const text = { compile: 'Preparing the model…', warmup: 'Warming up…', image: 'Looking at the image…',
        text: 'Reading the labels…', vocabulary: 'Learning the caption vocabulary (once per model)…',
        convert: 'Converting the model…', fallback: 'WebGPU unavailable: using the CPU…' }[p.stage];
      if (text) this.#status(text);
    }
  }

  #showPreview(image) {
    const { preview } = this.#ui;
    if (preview.src.startsWith('blob:')) URL.revokeObjectURL(preview.src);
    const src = image instanceof Blob ? URL.createObjectURL(image)
      : typeof image === 'string' || image instanceof URL ? String(image) : '';
    preview.hidden = !src;
    if (src) preview.src = src;
    preview.alt = image?.name ? `The image: ${image.name}` : 'The image';
  }

  #showResult(detail) {
    const { results, caption, progress } = this.#ui;
    progress.hidden = true;
    results.replaceChildren();
    caption.hidden = detail.mode !== 'caption';
    if (detail.mode === 'caption') {
      caption.textContent = detail.caption;
      this.#status(`Caption (CLIP score ${detail.score.toFixed(3)}):`);
      return;
    }
    for (const { label, score } of detail.labels) {
      const li = document.createElement('li');
      const name = Object.assign(document.createElement('span'), { className: 'label', textContent: label });
      const bar = Object.assign(document.createElement('span'), { className: 'bar' });
      const fill = Object.assign(document.createElement('span'), { className: 'fill' });
      fill.style.setProperty('--p', String(score)); // CSSOM, not a style attribute: allowed by a strict CSP
      bar.append(fill);
      const pct = Object.assign(document.createElement('span'), { className: 'score', textContent: percent(score) });
      li.dataset.label = label;
      li.dataset.score = String(score);
      li.append(name, bar, pct);
      results.append(li);
    }
    this.#status(`Top ${detail.labels.length}:`);
  }
}

if (!customElements.get('webclip-labeler')) customElements.define('webclip-labeler', WebclipLabeler);
