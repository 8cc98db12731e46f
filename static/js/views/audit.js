// The audit trail (GET /api/v1/audit) for auditors and administrators: filter by who, what and
// target, newest first, and page back with `before`. Reading it is itself recorded.

import { h, replace } from '../dom.js';
import { t, addStrings, formatTime } from '../i18n.js';
import { showError, heading } from '../ui.js';

addStrings({
  sv: {
    'audit.title': 'Granskningslogg',
    'audit.actor': 'Vem (användarnamn)',
    'audit.action': 'Händelse (t.ex. conversation.read)',
    'audit.target': 'Mål (t.ex. staff:7)',
    'audit.search': 'Visa',
    'audit.col.at': 'När',
    'audit.col.actor': 'Vem',
    'audit.col.action': 'Händelse',
    'audit.col.target': 'Mål',
    'audit.col.address': 'Adress',
    'audit.col.detail': 'Detaljer',
    'audit.none': 'Inga poster matchar.',
    'audit.older': 'Visa äldre',
    'audit.entries': 'Poster',
  },
  en: {
    'audit.title': 'Audit trail',
    'audit.actor': 'Who (username)',
    'audit.action': 'Action (e.g. conversation.read)',
    'audit.target': 'Target (e.g. staff:7)',
    'audit.search': 'Show',
    'audit.col.at': 'When',
    'audit.col.actor': 'Who',
    'audit.col.action': 'Action',
    'audit.col.target': 'Target',
    'audit.col.address': 'Address',
    'audit.col.detail': 'Detail',
    'audit.none': 'No entries match.',
    'audit.older': 'Show older',
    'audit.entries': 'Entries',
  },
});

const PAGE = 100;

export const view = {
  id: 'audit',
  title: { sv: 'Granskningslogg', en: 'Audit trail' },
  needs: ['read_audit'],
  render(root, ctx) {
    const inputs = Object.fromEntries(['actor', 'action', 'target'].map((k) => [k, h('input', { id: `audit-${k}`, type: 'text', maxlength: 200 })]));
    const errors = h('div', { id: 'audit-errors' });
    const body = h('tbody', {});
    const more = h('button', { type: 'button', hidden: true, id: 'audit-older' }, t('audit.older'));
    let before = null;
    const cols = ['at', 'actor', 'action', 'target', 'address', 'detail'];
    const load = async (append) => {
      try {
        const query = Object.fromEntries(Object.entries(inputs).map(([k, el]) => [k, el.value.trim()]));
        const page = await ctx.api('GET', '/api/v1/audit', undefined, { query: { ...query, limit: PAGE, before: append ? before : '' } });
        before = page.next_before;
        const rows = page.items.map((e) =>
          h('tr', {},
            h('td', {}, formatTime(e.at)),
            h('td', { class: 'user-text' }, e.actor),
            h('td', {}, e.action),
            h('td', { class: 'user-text' }, e.target || ''),
            h('td', {}, e.address || ''),
            h('td', { class: 'user-text' }, e.detail && Object.keys(e.detail).length ? JSON.stringify(e.detail) : '')));
        if (append) body.append(...rows);
        else replace(body, rows.length ? rows : h('tr', {}, h('td', { colspan: cols.length }, t('audit.none'))));
        more.hidden = page.items.length < PAGE || before === null;
        showError(errors, null);
      } catch (e) {
        showError(errors, e);
      }
    };
    more.addEventListener('click', () => load(true));
    root.append(
      h('section', { 'aria-labelledby': 'audit-heading' },
        heading(t('audit.title'), 'audit-heading'),
        h('form', { class: 'filters', on: { submit: (e) => { e.preventDefault(); load(false); } } },
          Object.entries(inputs).map(([k, el]) => h('div', { class: 'field' }, h('label', { for: el.id }, t(`audit.${k}`)), el)),
          h('button', { type: 'submit', class: 'primary', id: 'audit-search' }, t('audit.search'))),
        errors,
        h('table', { class: 'table', id: 'audit-table' },
          h('caption', {}, t('audit.entries')),
          h('thead', {}, h('tr', {}, cols.map((c) => h('th', { scope: 'col' }, t(`audit.col.${c}`))))),
          body),
        more),
    );
    load(false);
    return {};
  },
};
