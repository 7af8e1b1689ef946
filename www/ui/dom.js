// Small DOM helpers shared by the page's modules (no framework: elements are built and updated directly).

export const $ = (id) => document.getElementById(id);

/** el('p', {class: 'note', dataset: {code}}, 'text', child, …): an element with attributes and children. */
export function el(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v == null || v === false) continue;
    if (k === 'dataset') Object.assign(e.dataset, v);
    else if (k === 'class') e.className = v;
    else if (k in e && typeof v !== 'string') e[k] = v;
    else e.setAttribute(k, v === true ? '' : v);
  }
  e.append(...children.flat().filter((c) => c != null && c !== false));
  return e;
}

/** Sets the text and data-state (wait | ok | warn | error, styled in style.css) of an element. */
export function show(elOrId, text, state) {
  const e = typeof elOrId === 'string' ? $(elOrId) : elOrId;
  e.textContent = text;
  if (state) e.dataset.state = state;
}

export const ms = (v) => (v == null ? null : v >= 10_000 ? `${(v / 1000).toFixed(1)} s` : `${Math.round(v)} ms`);
export const percent = (p) => (p >= 0.1 ? `${(p * 100).toFixed(1)}%` : p >= 0.001 ? `${(p * 100).toFixed(2)}%`
  : `${(p * 100).toExponential(1)}%`);
