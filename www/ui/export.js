// The results, out of the page: a CSV (one row per photo and label, for a spreadsheet), JSON (what the cards show,
// exact probabilities) or the clipboard (a short text). Nothing leaves the device unless the visitor saves or pastes it.

import { $ } from './dom.js';

/** Wires the export buttons to `rows()` ([{file, labels: [{label, p}], caption, caption_score}]). */
export function setUpExport(rows) {
  $('export-csv').addEventListener('click', () => save('webclip-labels.csv', 'text/csv', toCsv(rows())));
  $('export-json').addEventListener('click', () =>
    save('webclip-labels.json', 'application/json', `${JSON.stringify(rows(), null, 1)}\n`));
  $('export-copy').addEventListener('click', async () => {
    const status = $('export-status');
    try {
      await navigator.clipboard.writeText(toText(rows()));
      status.textContent = 'Copied.';
    } catch (e) {
      status.textContent = `Not copied: the browser refused the clipboard (${e.message ?? e}). Use CSV or JSON.`;
    }
  });
}

/** `file,rank,label,probability,caption,caption_score`, RFC 4180 quoting. */
export function toCsv(rows) {
  const field = (v) => (v == null ? '' : /[",\n\r]/.test(String(v)) ? `"${String(v).replaceAll('"', '""')}"` : String(v));
  const lines = [['file', 'rank', 'label', 'probability', 'caption', 'caption_score']];
  for (const r of rows) {
    r.labels.forEach((l, i) => lines.push([r.file, i + 1, l.label, l.p, r.caption, r.caption_score]));
  }
  return lines.map((l) => l.map(field).join(',')).join('\n') + '\n';
}

const toText = (rows) => rows.map((r) => `${r.file}: ${r.labels.slice(0, 3)
  .map((l) => `${l.label} ${(100 * l.p).toFixed(1)}%`).join(', ')}${r.caption ? ` — “${r.caption}”` : ''}`).join('\n');

function save(name, type, text) {
  const url = URL.createObjectURL(new Blob([text], { type }));
  const a = Object.assign(document.createElement('a'), { href: url, download: name });
  a.click();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}
