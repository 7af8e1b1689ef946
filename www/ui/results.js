// One card per photo: thumbnail, caption, ranked labels with probability bars, and where the time went. Every
// label row carries its exact probability in data-p (the text shows it rounded), so tests and curious visitors can
// read the numbers the engine produced.

import { $, el, ms, percent } from './dom.js';
import { noticeBox } from './notice.js';

const TOP = 5; // rows shown; the rest fold into "more"
const MORE = 45;

/** A new card for `file`, waiting for its result; returns it. */
export function addCard(file, id) {
  const url = URL.createObjectURL(file);
  const thumb = el('img', { class: 'thumb', src: url, alt: '' });
  thumb.addEventListener('error', () => thumb.replaceWith(el('div', { class: 'thumb none' }, 'no preview')));
  const card = el('li', { class: 'result', dataset: { id: String(id), name: file.name, state: 'wait' } },
    thumb,
    el('div', { class: 'body' },
      el('h3', { class: 'name' }, file.name),
      el('p', { class: 'caption', hidden: true }),
      el('p', { class: 'working' }, 'waiting…'),
      el('ol', { class: 'labels' }),
      el('p', { class: 'timings' })));
  card.thumbUrl = url;
  $('results').prepend(card);
  $('results-section').hidden = false;
  return card;
}

export function working(card, text) {
  card.dataset.state = 'wait';
  card.querySelector('.working').textContent = text;
  card.querySelector('.working').hidden = false;
}

/** Shows a classify result: {ranked, caption, timings} and the backend that ran it. */
export function showResult(card, { ranked, caption, timings }, backend) {
  card.dataset.state = 'ok';
  card.querySelector('.working').hidden = true;
  card.querySelector('.notice')?.remove();
  const row = ({ label, p }) => el('li', { dataset: { label, p: String(p) } },
    el('span', { class: 'label', title: label }, label),
    el('span', { class: 'bar', 'aria-hidden': 'true' }, el('span', { style: `width: ${(p * 100).toFixed(2)}%` })),
    el('span', { class: 'p' }, percent(p)));
  const list = card.querySelector('.labels');
  list.replaceChildren(...ranked.slice(0, TOP).map(row));
  if (ranked.length > TOP) {
    const rest = ranked.slice(TOP, TOP + MORE);
    list.append(el('li', { class: 'more' }, el('details', {},
      el('summary', {}, `${rest.length} more of ${ranked.length} labels`),
      el('ol', { class: 'labels', start: TOP + 1 }, ...rest.map(row)))));
  }
  const cap = card.querySelector('.caption');
  if (caption?.caption) {
    cap.hidden = false;
    cap.textContent = caption.caption;
    cap.title = [caption.score != null ? `score ${Number(caption.score).toFixed(4)}` : null,
      caption.alternatives?.length ? `runners-up: ${caption.alternatives.map(alt).join(' · ')}` : null]
      .filter(Boolean).join('\n');
    if (caption.score != null) cap.dataset.score = String(caption.score);
  }
  // a new label set reuses the image embedding and caption: keep showing what they cost when they were made
  card.imageMs = timings.image ?? card.imageMs;
  card.captionMs = timings.caption ?? card.captionMs;
  card.querySelector('.timings').textContent =
    timingText({ ...timings, image: card.imageMs, caption: card.captionMs }, backend);
}

const alt = (a) => (typeof a === 'string' ? a : a?.caption ?? JSON.stringify(a));

function timingText(t, backend) {
  const parts = [];
  if (t.image != null) parts.push(`image ${ms(t.image)} (decode + preprocess + image tower)`);
  parts.push(t.textComputed ? `text tower ${ms(t.text)} for ${t.textComputed} new label${t.textComputed > 1 ? 's' : ''}`
    : 'text: cached');
  if (t.caption != null) parts.push(`caption ${ms(t.caption)}`);
  parts.push(backend === 'cpu' ? 'on the CPU (wasm)' : `on ${backend.replace(/^gpu: /, 'WebGPU: ')}`);
  return parts.join(' · ');
}

export function showCardError(card, err) {
  card.dataset.state = 'error';
  card.querySelector('.working').hidden = true;
  card.querySelector('.labels').replaceChildren();
  card.querySelector('.notice')?.remove();
  card.querySelector('.body').append(noticeBox(err));
}

export function clearCards() {
  for (const card of $('results').children) URL.revokeObjectURL(card.thumbUrl);
  $('results').replaceChildren();
  $('results-section').hidden = true;
}
