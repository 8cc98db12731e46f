// The list of categories conversations are tagged with (GET/POST /api/v1/categories, PATCH
// /api/v1/categories/{id}), kept by administrators: avfall, bygglov, skola, trafik… Agents and
// communicators pick from it in a conversation; the reports count conversations per category.
// A category is archived rather than removed, so conversations that have it keep it and the
// reports of earlier periods stay as they were. Forms and native buttons only (keyboard).

import { h, replace } from '../dom.js';
import { t, addStrings } from '../i18n.js';
import { showError, heading } from '../ui.js';

addStrings({
  sv: {
    'categories.title': 'Kategorier',
    'categories.intro': 'Kategorierna som handläggare och kommunikatörer märker ärenden med. Rapporterna räknar ärenden per kategori. En arkiverad kategori finns kvar på ärendena som har den men erbjuds inte längre. Ändringar loggas.',
    'categories.list': 'Kategorier',
    'categories.none': 'Inga kategorier ännu.',
    'categories.new': 'Ny kategori',
    'categories.add': 'Lägg till kategorin',
    'categories.added': 'Kategorin är tillagd.',
    'categories.rename': 'Byt namn på {name}',
    'categories.renameField': 'Nytt namn för {name}',
    'categories.save': 'Spara namnet',
    'categories.cancel': 'Avbryt',
    'categories.saved': 'Namnet är ändrat.',
    'categories.archive': 'Arkivera {name}',
    'categories.restore': 'Återställ {name}',
    'categories.archived': 'arkiverad',
    'categories.archivedDone': 'Kategorin är arkiverad.',
    'categories.restored': 'Kategorin erbjuds igen.',
  },
  en: {
    'categories.title': 'Categories',
    'categories.intro': 'The categories agents and communicators tag conversations with. The reports count conversations per category. An archived category stays on the conversations that have it but is offered no more. Changes are logged.',
    'categories.list': 'Categories',
    'categories.none': 'No categories yet.',
    'categories.new': 'New category',
    'categories.add': 'Add the category',
    'categories.added': 'The category was added.',
    'categories.rename': 'Rename {name}',
    'categories.renameField': 'New name for {name}',
    'categories.save': 'Save the name',
    'categories.cancel': 'Cancel',
    'categories.saved': 'The name was changed.',
    'categories.archive': 'Archive {name}',
    'categories.restore': 'Restore {name}',
    'categories.archived': 'archived',
    'categories.archivedDone': 'The category was archived.',
    'categories.restored': 'The category is offered again.',
  },
});

export const view = {
  id: 'categories',
  title: { sv: 'Kategorier', en: 'Categories' },
  needs: ['manage_channels'],
  render(root, ctx) {
    return new CategoryList(root, ctx);
  },
};

class CategoryList {
  constructor(root, ctx) {
    this.ctx = ctx;
    this.list = h('div', { id: 'category-list' });
    this.status = h('div', { id: 'category-status', role: 'status' });
    const input = h('input', { id: 'category-new', type: 'text', maxlength: 60 });
    const form = h('form', { id: 'category-add-form', on: { submit: (e) => { e.preventDefault(); this.add(input); } } },
      h('div', { class: 'field' }, h('label', { for: 'category-new' }, t('categories.new')), input),
      h('button', { type: 'submit', class: 'primary', id: 'category-add' }, t('categories.add')));
    root.append(
      h('section', { class: 'view categories', 'aria-labelledby': 'categories-heading' },
        heading(t('categories.title'), 'categories-heading'),
        h('p', { class: 'muted' }, t('categories.intro')),
        form,
        this.status,
        h('h2', { id: 'category-list-heading' }, t('categories.list')),
        this.list),
    );
    this.load();
  }

  async load() {
    try {
      const { items } = await this.ctx.api('GET', '/api/v1/categories');
      this.render(items);
    } catch (e) {
      showError(this.status, e);
    }
  }

  render(items) {
    if (!items.length) {
      replace(this.list, h('p', { class: 'muted' }, t('categories.none')));
      return;
    }
    replace(this.list, h('ul', { 'aria-labelledby': 'category-list-heading' },
      items.map((c) => this.item(c))));
  }

  item(category) {
    const name = category.name;
    const li = h('li', { 'data-category-id': String(category.id) });
    const show = () => replace(li,
      h('span', { class: 'user-text' }, name), ' ',
      category.archived ? h('span', { class: 'muted' }, `(${t('categories.archived')}) `) : '',
      h('button', { type: 'button', class: 'link-button', id: `category-rename-${category.id}`, on: { click: () => rename() } }, t('categories.rename', { name })), ' ',
      h('button', { type: 'button', class: 'link-button', id: `category-archive-${category.id}`, on: { click: () => this.archive(category, !category.archived) } },
        t(category.archived ? 'categories.restore' : 'categories.archive', { name })));
    const rename = () => {
      const id = `category-field-${category.id}`;
      const input = h('input', { id, type: 'text', maxlength: 60, value: name });
      replace(li, h('form', { on: { submit: (e) => { e.preventDefault(); this.change(category, { name: input.value }, t('categories.saved')); } } },
        h('div', { class: 'field' }, h('label', { for: id }, t('categories.renameField', { name })), input),
        h('button', { type: 'submit', id: `category-save-${category.id}` }, t('categories.save')), ' ',
        h('button', { type: 'button', on: { click: () => { show(); li.querySelector('button')?.focus(); } } }, t('categories.cancel'))));
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
      await this.ctx.api('POST', '/api/v1/categories', { name: input.value });
      input.value = '';
      await this.done(t('categories.added'));
    } catch (e) {
      showError(this.status, e);
    }
  }

  async change(category, body, message) {
    try {
      await this.ctx.api('PATCH', `/api/v1/categories/${category.id}`, body);
      await this.done(message);
      document.getElementById(`category-rename-${category.id}`)?.focus();
    } catch (e) {
      showError(this.status, e);
    }
  }

  async archive(category, archived) {
    await this.change(category, { archived },
      t(archived ? 'categories.archivedDone' : 'categories.restored'));
    document.getElementById(`category-archive-${category.id}`)?.focus();
  }
}
