// One card per photo: thumbnail, caption, ranked labels with probability bars, and where the time went. Every
// label row carries its exact probability in data-p (the text shows it rounded), so tests and curious visitors can
// read the numbers the engine produced.

import { $, el, ms, percent } from './dom.js';
import { noticeBox } from './notice.js';

const TOP = 5; // rows shown; the rest fold into "more"
const MORE = 45;

/** A new card for `file`, waiting for its result; returns it. */
export function addCard(file, id, onRemove) {
  const url = URL.createObjectURL(file);
  const thumb = el('img', { class: 'thumb', src: url, alt: '' });
  thumb.addEventListener('error', () => thumb.replaceWith(el('div', { class: 'thumb none' }, 'no preview')));
  const remove = el('button', { type: 'button', class: 'remove', 'aria-label': `Remove ${file.name}` }, 'Remove');
  const card = el('li', { class: 'result', dataset: { id: String(id), name: file.name, state: 'wait' } },
    thumb,
    el('div', { class: 'body' },
      el('div', { class: 'head' }, el('h3', { class: 'name' }, file.name), remove),
      el('p', { class: 'caption', hidden: true }),
      el('details', { class: 'alternatives', hidden: true }, el('summary', {}, 'Other captions'), el('ol')),
      el('p', { class: 'working' }, 'waiting…'),
      el('ol', { class: 'labels' }),
      el('p', { class: 'timings' })));
  card.thumbUrl = url;
  remove.addEventListener('click', () => {
    URL.revokeObjectURL(url);
    card.remove();
    if (!$('results').children.length) $('results-section').hidden = true;
    onRemove?.(id);
  });
  $('results').prepend(card);
  $('results-section').hidden = false;
  return card;
}

export function working(card, text) {
  card.dataset.state = 'wait';
  card.querySelector('.working').textContent = text;
  card.querySelector('.working').hidden = false;
}

/** Shows a classify result {ranked, timings, backend}. */
export function showResult(card, { ranked, timings, backend }) {
  card.dataset.state = 'ok';
  card.querySelector('.working').hidden = true;
  card.querySelector('.notice')?.remove();
  const row = ({ label, p }) => el('li', { dataset: { label, p: String(p) } },
    el('span', { class: 'label', title: label }, label),
    el('span', { class: 'bar', 'aria-hidden': 'true' }, el('span', { style: `width: ${(p * 100).toFixed(2)}%` })),
    el('span', { class: 'p' }, percent(p)));
  const list = card.querySelector('.labels');
  list.replaceChildren(...ranked.slice(0, TOP).map(row));
  card.ranked = ranked; // for the export
  announce(`${card.dataset.name}: ${ranked.slice(0, 3).map((r) => `${r.label} ${percent(r.p)}`).join(', ')}`);
  if (ranked.length > TOP) {
    const rest = ranked.slice(TOP, TOP + MORE);
    list.append(el('li', { class: 'more' }, el('details', {},
      el('summary', {}, `${rest.length} more of ${ranked.length} labels`),
      el('ol', { class: 'labels', start: TOP + 1 }, ...rest.map(row)))));
  }
  // a new label set reuses the image embedding: keep showing what it cost when it was made
  card.times = { ...card.times, ...timings, image: timings.image ?? card.times?.image, backend };
  renderTimings(card);
}

/** The caption line while it is being written. */
export function captionWorking(card, text) {
  const cap = card.querySelector('.caption');
  cap.hidden = false;
  cap.dataset.state = 'wait';
  cap.textContent = text;
}

/** Offers the first caption of a slow model instead of starting it: `onClick` when the visitor asks for it. */
export function offerCaption(card, seconds, onClick) {
  const cap = card.querySelector('.caption');
  if (cap.dataset.state === 'offer' || cap.dataset.state === 'ok') return;
  cap.hidden = false;
  cap.dataset.state = 'offer';
  const about = seconds == null ? '' : ` (about ${Math.max(1, Math.round(seconds))} s once on this device, then quick)`;
  const button = el('button', { type: 'button', class: 'write-caption' }, 'Write captions');
  button.addEventListener('click', onClick);
  cap.replaceChildren(button, el('span', { class: 'note' }, ` The first caption embeds the caption vocabulary${about}.`));
}

/** Shows {caption, score, alternatives, ms, vocabularyMs}; the runners-up in a disclosure below it. */
export function showCaption(card, c) {
  const cap = card.querySelector('.caption');
  cap.hidden = false;
  cap.dataset.state = 'ok';
  cap.textContent = c.caption;
  cap.dataset.score = String(c.score);
  cap.title = `cosine with the image ${Number(c.score).toFixed(4)}`;
  // the runners-up in the card itself (a tooltip needs a mouse): a disclosure, reachable by keyboard and touch
  const alternatives = card.querySelector('.alternatives');
  alternatives.hidden = !c.alternatives?.length;
  alternatives.querySelector('ol').replaceChildren(...(c.alternatives ?? []).map((a) =>
    el('li', { dataset: { score: String(a.score) } }, `${a.caption} (${Number(a.score).toFixed(4)})`)));
  card.caption = c; // for the export
  announce(`${card.dataset.name}: caption “${c.caption}”`);
  card.times = { ...card.times, caption: c.ms ?? card.times?.caption, vocabulary: c.vocabularyMs ?? card.times?.vocabulary };
  renderTimings(card);
}

export function captionError(card, err) {
  const cap = card.querySelector('.caption');
  cap.hidden = false;
  cap.dataset.state = 'error';
  cap.textContent = `No caption: ${err.title ?? 'error'}: ${err.message}`;
}

function renderTimings(card) {
  const t = card.times;
  const parts = [];
  if (t.image != null) parts.push(`image ${ms(t.image)} (decode + preprocess + image tower)`);
  parts.push(t.textComputed ? `text tower ${ms(t.text)} for ${t.textComputed} new label${t.textComputed > 1 ? 's' : ''}`
    : 'text: cached');
  if (t.caption != null) {
    parts.push(t.vocabulary != null ? `caption ${ms(t.caption)} (incl. embedding the caption vocabulary, once)`
      : `caption ${ms(t.caption)}`);
  }
  parts.push(t.backend === 'cpu' ? 'on the CPU (wasm)' : `on ${t.backend.replace(/^gpu: /, 'WebGPU: ')}`);
  card.querySelector('.timings').textContent = parts.join(' · ');
}

export function showCardError(card, err) {
  card.dataset.state = 'error';
  card.querySelector('.working').hidden = true;
  card.querySelector('.labels').replaceChildren();
  card.querySelector('.notice')?.remove();
  card.querySelector('.body').append(noticeBox(err));
}

/** Says `text` to screen readers (a polite live region: results arrive while the visitor does other things). */
function announce(text) {
  $('results-announce').textContent = text;
}

/** The results as rows for the export: one per photo with labels, best first. */
export function resultRows() {
  return [...$('results').children].reverse().filter((c) => c.ranked).map((c) => ({
    file: c.dataset.name,
    labels: c.ranked.map(({ label, p }) => ({ label, p })),
    caption: c.caption?.caption ?? null,
    caption_score: c.caption?.score ?? null,
  }));
}

export function clearCards() {
  for (const card of $('results').children) URL.revokeObjectURL(card.thumbUrl);
  $('results').replaceChildren();
  $('results-section').hidden = true;
}
