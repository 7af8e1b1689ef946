// The collection's cards and search hits. A card shows its thumbnail, path, the tags above the threshold (with
// scores) and the caption; data-* attributes carry the numbers for tests and the console.

import { el } from '../dom.js';
import { tagsAbove } from './export.js';

/** A card for `item` ({file, thumbUrl, scores, labels, caption, error}); replaces item.li when there is one. */
export function renderItem(item, labels, threshold, onSimilar) {
  const current = item.scores && sameLabels(item.labels, labels);
  const tags = current ? tagsAbove(labels, item.scores, threshold) : [];
  const state = item.error ? 'error' : item.scores ? 'ok' : 'wait';
  const li = el('li', { class: 'item', dataset: { file: item.file, state } },
    item.thumbUrl ? el('img', { class: 'thumb', src: item.thumbUrl, alt: '' })
      : el('div', { class: 'thumb none' }, item.scores ? 'no preview' : '…'),
    el('h3', {}, item.file),
    item.error && el('p', { class: 'error', dataset: { code: item.error.code } },
      `${item.error.title}: ${item.error.message}`),
    item.scores && !current && el('p', { class: 'note' }, 'tagged with other tags: drop the folder again to retag'),
    current && el('ol', { class: 'tags' }, tags.length
      ? tags.map((t) => el('li', { dataset: { tag: t.tag, score: String(t.score) } }, t.tag,
        el('span', { class: 's' }, t.score.toFixed(2))))
      : el('li', { class: 'none' }, 'no tag above the threshold')),
    item.caption != null && el('p', { class: 'caption', dataset: { state: 'ok', score: String(item.captionScore) } },
      item.caption),
    item.captionState === 'wait' && el('p', { class: 'caption', dataset: { state: 'wait' } }, 'writing a caption…'),
    item.vector && el('button', { type: 'button', class: 'similar', onclick: () => onSimilar(item) },
      'Similar photos'));
  item.li?.replaceWith(li);
  item.li = li;
  return li;
}

export const sameLabels = (a, b) => a?.length === b.length && a.every((x, i) => x === b[i]);

/** The ranked hits [{index, score}] over `rows` (the items in index order). */
export function renderHits(list, hits, rows) {
  list.replaceChildren(...hits.map(({ index, score }) => {
    const it = rows[index];
    return el('li', { class: 'hit', dataset: { file: it.file, score: String(score) } },
      it.thumbUrl ? el('img', { class: 'thumb', src: it.thumbUrl, alt: '' })
        : el('div', { class: 'thumb none' }, 'no preview'),
      el('h3', {}, it.file), el('span', { class: 'score' }, score.toFixed(3)));
  }));
}

/** A small JPEG of an image file (for the cards and IndexedDB), or null when the browser cannot draw it. */
export async function thumbnail(file, size = 200) {
  try {
    const bitmap = await createImageBitmap(file);
    const k = size / Math.max(bitmap.width, bitmap.height, 1);
    const side = (n) => Math.max(1, Math.round(n * k));
    const canvas = new OffscreenCanvas(side(bitmap.width), side(bitmap.height));
    canvas.getContext('2d').drawImage(bitmap, 0, 0, canvas.width, canvas.height);
    bitmap.close();
    return await canvas.convertToBlob({ type: 'image/jpeg', quality: 0.8 });
  } catch {
    return null;
  }
}

/** "12 / 40 · 1.8 photos/s · about 16 s left" */
export function progressText(done, total, failed, seconds) {
  const rate = done / Math.max(seconds, 1e-3);
  const left = total - done;
  const s = left / rate;
  const eta = done && left ? ` · about ${s >= 90 ? `${Math.round(s / 60)} min` : `${Math.ceil(s)} s`} left` : '';
  const speed = done ? ` · ${rate.toFixed(2)} photos/s` : '';
  return `${done} / ${total} photos${failed ? ` (${failed} failed)` : ''}${speed}${eta}`;
}
