// Small shared pieces of UI: the live region, error boxes, page headings.

import { h, replace } from './dom.js';
import { t } from './i18n.js';

/** Says something to screen-reader users without moving focus (polite). */
export function announce(message) {
  const region = document.getElementById('announcer');
  if (!region) return;
  region.textContent = '';
  // A fresh text node in the next frame, so the same message twice is read twice.
  requestAnimationFrame(() => {
    region.textContent = message;
  });
}

/** An error box: the plain-language message, the server's words below it, read out at once. */
export function errorBox(error) {
  const detail = error?.detail;
  return h(
    'div',
    { class: 'error', role: 'alert' },
    h('p', {}, error?.message || String(error)),
    detail ? h('p', { class: 'error-detail' }, t('error.detail', { detail })) : null,
  );
}

/** Shows an error in a container (replacing what was there), or clears it with null. */
export function showError(container, error) {
  if (!container) return;
  if (error) replace(container, errorBox(error));
  else replace(container);
}

/** The view's heading: focusable so the router can move focus to it on a change of view. */
export function heading(text, id, level = 1) {
  return h(`h${level}`, { id, tabindex: '-1', class: 'view-heading' }, text);
}

/** Typing in a field is never taken for a shortcut. */
export function typing(event) {
  const el = event.target;
  return el instanceof HTMLElement && (el.isContentEditable || ['INPUT', 'TEXTAREA', 'SELECT'].includes(el.tagName));
}
