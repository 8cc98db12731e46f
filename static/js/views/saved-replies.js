// Saved replies (GET/POST/PATCH /api/v1/saved-replies), shown inside the FAQ view: a FAQ cluster
// is marked answered by one of them, and conversations then suggest it to whoever answers.

import { h, replace } from '../dom.js';
import { t, addStrings } from '../i18n.js';
import { showError } from '../ui.js';

addStrings({
  sv: {
    'saved.title': 'Sparade svar',
    'saved.none': 'Inga sparade svar ännu.',
    'saved.add': 'Nytt sparat svar',
    'saved.titleField': 'Rubrik',
    'saved.body': 'Svarstext',
    'saved.language': 'Språk',
    'saved.sv': 'Svenska',
    'saved.en': 'Engelska',
    'saved.save': 'Spara svaret',
    'saved.archive': 'Arkivera {title}',
    'saved.added': 'Det sparade svaret är tillagt.',
    'saved.archived': 'Svaret är arkiverat.',
    'saved.empty': 'Fyll i både rubrik och svarstext.',
  },
  en: {
    'saved.title': 'Saved replies',
    'saved.none': 'No saved replies yet.',
    'saved.add': 'New saved reply',
    'saved.titleField': 'Title',
    'saved.body': 'Reply text',
    'saved.language': 'Language',
    'saved.sv': 'Swedish',
    'saved.en': 'English',
    'saved.save': 'Save the reply',
    'saved.archive': 'Archive {title}',
    'saved.added': 'The saved reply was added.',
    'saved.archived': 'The reply was archived.',
    'saved.empty': 'Fill in both the title and the reply text.',
  },
});

export class SavedReplies {
  constructor(container, ctx, onChange) {
    this.ctx = ctx;
    this.onChange = onChange;
    this.list = h('div', {});
    this.status = h('div', { role: 'status' });
    const title = h('input', { id: 'saved-title', type: 'text', maxlength: 200, class: 'wide' });
    const body = h('textarea', { id: 'saved-body', maxlength: 2000 });
    const language = h('select', { id: 'saved-language' }, ['sv', 'en'].map((l) => h('option', { value: l }, t(`saved.${l}`))));
    const field = (id, label, control) => h('div', { class: 'field' }, h('label', { for: id }, label), control);
    container.append(
      h('h2', { id: 'saved-heading' }, t('saved.title')),
      this.list,
      h('details', {},
        h('summary', { id: 'saved-add-open' }, t('saved.add')),
        h('form', { on: { submit: (e) => { e.preventDefault(); this.add(title, body, language); } } },
          field('saved-title', t('saved.titleField'), title),
          field('saved-body', t('saved.body'), body),
          field('saved-language', t('saved.language'), language),
          h('button', { type: 'submit', id: 'saved-save' }, t('saved.save')))),
      this.status,
    );
  }

  render(items) {
    replace(
      this.list,
      items.length
        ? h('ul', { id: 'saved-list' }, items.map((r) =>
            h('li', {},
              h('strong', { class: 'user-text' }, r.title), ` (${r.language}) `,
              h('button', { type: 'button', class: 'link-button', on: { click: () => this.archive(r) } }, t('saved.archive', { title: r.title })),
              h('p', { class: 'user-text muted' }, r.body))))
        : h('p', { class: 'muted' }, t('saved.none')),
    );
  }

  async add(title, body, language) {
    if (!title.value.trim() || !body.value.trim()) {
      showError(this.status, new Error(t('saved.empty')));
      return;
    }
    try {
      await this.ctx.api('POST', '/api/v1/saved-replies', { title: title.value, body: body.value, language: language.value });
      title.value = '';
      body.value = '';
      replace(this.status, h('p', { class: 'ok' }, t('saved.added')));
      this.ctx.announce(t('saved.added'));
      this.onChange();
    } catch (e) {
      showError(this.status, e);
    }
  }

  async archive(r) {
    try {
      await this.ctx.api('PATCH', `/api/v1/saved-replies/${r.id}`, { archived: true });
      this.ctx.announce(t('saved.archived'));
      this.onChange();
    } catch (e) {
      showError(this.status, e);
    }
  }
}
