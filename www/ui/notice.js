// Error and notice boxes: a WebclipError shown as its fixed title (lib/errors.js), the specific message (what and
// where) and what to do. data-code carries the code for tests and styling.

import { WebclipError, toWebclipError } from '../lib/errors.js';
import { el } from './dom.js';

/** A box for `err` (any error; raw ones become 'internal'). `level`: 'error' or 'warn'. */
export function noticeBox(err, level = 'error') {
  const e = err instanceof WebclipError ? err : toWebclipError(err, 'internal');
  return el('div', { class: `notice ${level}`, role: level === 'error' ? 'alert' : 'status', dataset: { code: e.code } },
    el('p', { class: 'notice-title' }, e.title),
    el('p', { class: 'notice-message' }, e.message),
    el('p', { class: 'notice-hint' }, e.hint));
}

/** Replaces what `container` shows with the box for `err` (nothing when err is null). */
export function showNotice(container, err, level = 'error') {
  container.replaceChildren(...(err ? [noticeBox(err, level)] : []));
}

/** Adds a box to `container`, keeping those already there (different codes only). */
export function addNotice(container, err, level = 'warn') {
  const box = noticeBox(err, level);
  container.querySelector(`[data-code="${box.dataset.code}"]`)?.remove();
  container.append(box);
}
