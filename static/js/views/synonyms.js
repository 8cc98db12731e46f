// The organisation's search synonyms (GET/POST /api/v1/search/synonyms, PATCH/DELETE
// /api/v1/search/synonyms/{id}), kept by administrators: groups of terms that residents and the
// municipality use for the same thing. A search for one term of a group also finds the others,
// from the next search on; every change is in the audit trail. Forms and native buttons only, so
// everything works from the keyboard.

import { h, replace } from '../dom.js';
import { t, addStrings } from '../i18n.js';
import { showError, heading } from '../ui.js';

addStrings({
  sv: {
    'synonyms.title': 'Söksynonymer',
    'synonyms.intro': 'En grupp är ord som betyder samma sak för dem som skriver till er, till exempel sopor, avfall och hushållsavfall. En sökning på ett av orden hittar också de andra, i alla böjningsformer, från nästa sökning. Ändringar loggas.',
    'synonyms.groups': 'Grupper',
    'synonyms.none': 'Inga grupper ännu.',
    'synonyms.new': 'Ny grupp: ord eller uttryck, åtskilda med kommatecken',
    'synonyms.add': 'Lägg till gruppen',
    'synonyms.added': 'Gruppen är tillagd.',
    'synonyms.edit': 'Ändra gruppen {terms}',
    'synonyms.editField': 'Ord i gruppen {terms}, åtskilda med kommatecken',
    'synonyms.save': 'Spara ändringen',
    'synonyms.cancel': 'Avbryt',
    'synonyms.saved': 'Gruppen är ändrad.',
    'synonyms.remove': 'Ta bort gruppen {terms}',
    'synonyms.removed': 'Gruppen är borttagen.',
    'synonyms.byWhom': 'senast ändrad av {who}',
  },
  en: {
    'synonyms.title': 'Search synonyms',
    'synonyms.intro': 'A group is words that mean the same to the people who write to you, for example sopor, avfall and hushållsavfall. A search for one of them also finds the others, in every form, from the next search on. Changes are logged.',
    'synonyms.groups': 'Groups',
    'synonyms.none': 'No groups yet.',
    'synonyms.new': 'New group: words or phrases, separated by commas',
    'synonyms.add': 'Add the group',
    'synonyms.added': 'The group was added.',
    'synonyms.edit': 'Change the group {terms}',
    'synonyms.editField': 'Words in the group {terms}, separated by commas',
    'synonyms.save': 'Save the change',
    'synonyms.cancel': 'Cancel',
    'synonyms.saved': 'The group was changed.',
    'synonyms.remove': 'Remove the group {terms}',
    'synonyms.removed': 'The group was removed.',
    'synonyms.byWhom': 'last changed by {who}',
  },
});

const terms = (text) => text.split(',').map((s) => s.trim()).filter(Boolean);

export const view = {
  id: 'synonyms',
  title: { sv: 'Söksynonymer', en: 'Search synonyms' },
  needs: ['manage_channels'],
  render(root, ctx) {
    return new SynonymList(root, ctx);
  },
};

class SynonymList {
  constructor(root, ctx) {
    this.ctx = ctx;
    this.list = h('div', { id: 'synonym-groups' });
    this.status = h('div', { id: 'synonym-status', role: 'status' });
    const input = h('input', { id: 'synonym-new', type: 'text', maxlength: 2000, class: 'wide' });
    const form = h('form', { id: 'synonym-add-form', on: { submit: (e) => { e.preventDefault(); this.add(input); } } },
      h('div', { class: 'field' }, h('label', { for: 'synonym-new' }, t('synonyms.new')), input),
      h('button', { type: 'submit', class: 'primary', id: 'synonym-add' }, t('synonyms.add')));
    root.append(
      h('section', { class: 'view synonyms', 'aria-labelledby': 'synonyms-heading' },
        heading(t('synonyms.title'), 'synonyms-heading'),
        h('p', { class: 'muted' }, t('synonyms.intro')),
        form,
        this.status,
        h('h2', { id: 'synonym-groups-heading' }, t('synonyms.groups')),
        this.list),
    );
    this.load();
  }

  async load() {
    try {
      const { items } = await this.ctx.api('GET', '/api/v1/search/synonyms');
      this.render(items);
    } catch (e) {
      showError(this.status, e);
    }
  }

  render(items) {
    if (!items.length) {
      replace(this.list, h('p', { class: 'muted' }, t('synonyms.none')));
      return;
    }
    replace(this.list, h('ul', { 'aria-labelledby': 'synonym-groups-heading', class: 'synonym-list' },
      items.map((g) => this.item(g))));
  }

  item(group) {
    const shown = group.terms.join(' ~ ');
    const li = h('li', { 'data-group-id': String(group.id) });
    const show = () => replace(li,
      h('span', { class: 'user-text' }, shown), ' ',
      h('span', { class: 'muted' }, `(${t('synonyms.byWhom', { who: group.updated_by })})`), ' ',
      h('button', { type: 'button', class: 'link-button', id: `synonym-edit-${group.id}`, on: { click: () => edit() } }, t('synonyms.edit', { terms: shown })), ' ',
      h('button', { type: 'button', class: 'link-button', id: `synonym-remove-${group.id}`, on: { click: () => this.remove(group) } }, t('synonyms.remove', { terms: shown })));
    const edit = () => {
      const id = `synonym-field-${group.id}`;
      const input = h('input', { id, type: 'text', maxlength: 2000, class: 'wide', value: group.terms.join(', ') });
      replace(li, h('form', { on: { submit: (e) => { e.preventDefault(); this.change(group, input); } } },
        h('div', { class: 'field' }, h('label', { for: id }, t('synonyms.editField', { terms: shown })), input),
        h('button', { type: 'submit', id: `synonym-save-${group.id}` }, t('synonyms.save')), ' ',
        h('button', { type: 'button', on: { click: () => { show(); li.querySelector('button')?.focus(); } } }, t('synonyms.cancel'))));
      input.focus();
    };
    show();
    return li;
  }

  async done(message) {
    replace(this.status, h('p', { class: 'ok' }, message));
    this.ctx.announce(message);
    await this.load();
  }

  async add(input) {
    try {
      await this.ctx.api('POST', '/api/v1/search/synonyms', { terms: terms(input.value) });
      input.value = '';
      await this.done(t('synonyms.added'));
    } catch (e) {
      showError(this.status, e);
    }
  }

  async change(group, input) {
    try {
      await this.ctx.api('PATCH', `/api/v1/search/synonyms/${group.id}`, { terms: terms(input.value) });
      await this.done(t('synonyms.saved'));
      document.getElementById(`synonym-edit-${group.id}`)?.focus();
    } catch (e) {
      showError(this.status, e);
    }
  }

  async remove(group) {
    try {
      await this.ctx.api('DELETE', `/api/v1/search/synonyms/${group.id}`);
      await this.done(t('synonyms.removed'));
      document.getElementById('synonym-new')?.focus();
    } catch (e) {
      showError(this.status, e);
    }
  }
}
