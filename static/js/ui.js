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

/**
 * A person's roles as checkboxes in a fieldset (several roles per person: one person may be
 * communicator and moderator). Native checkboxes, so Tab and Space work as everywhere.
 */
export function roleChecks(idPrefix, legend, roles, chosen) {
  return h('fieldset', { class: 'checks', id: `${idPrefix}-roles` },
    h('legend', {}, legend),
    roles.map((r) => h('div', {},
      h('input', { type: 'checkbox', id: `${idPrefix}-role-${r}`, name: 'roles', value: r, checked: chosen.includes(r) }), ' ',
      h('label', { for: `${idPrefix}-role-${r}` }, t(`role.${r}`)))));
}

/** The roles ticked in a `roleChecks` fieldset. */
export function checkedRoles(fieldset) {
  return [...fieldset.querySelectorAll('input[name=roles]')].filter((i) => i.checked).map((i) => i.value);
}

/** For each role: what it gives, and the training it still lacks for the rest (per_role). */
export function rolesGive(perRole, id, titleOf = (m) => m) {
  return h('ul', { id, class: 'roles-give' },
    (perRole || []).map((r) => h('li', { 'data-role': r.role },
      h('strong', {}, t(`role.${r.role}`)), ': ',
      r.capabilities.map((c) => t(`cap.${c}`)).join(', '),
      r.missing_training.length
        ? h('span', { class: 'muted' }, ' ', t('roles.lacks', { modules: r.missing_training.map(titleOf).join(', ') }))
        : h('span', { class: 'ok' }, ' ', t('roles.ready')))));
}
