// Search: GET /api/v1/search with filters; each hit's snippet is built from the server's
// character ranges into <mark> elements (text only, never the snippet's HTML). The query lives
// in the hash (#/search/<query string>), so back and forward work and a search can be linked.

import { h, replace, userText, highlighted } from '../dom.js';
import { t, addStrings, formatTime } from '../i18n.js';
import { showError, heading } from '../ui.js';

addStrings({
  sv: {
    'search.title': 'Sök',
    'search.q': 'Sök efter',
    'search.kind': 'Typ',
    'search.any': 'Alla',
    'search.status': 'Status',
    'search.from': 'Från och med',
    'search.to': 'Till och med',
    'search.sort': 'Ordning',
    'search.sort.relevance': 'Bäst träff',
    'search.sort.newest': 'Nyast först',
    'search.sort.oldest': 'Äldst först',
    'search.submit': 'Sök',
    'search.count': { one: '{total} träff', other: '{total} träffar' },
    'search.none': 'Inga träffar. Pröva färre ord eller andra filter.',
    'search.open': 'Öppna konversationen',
    'search.more': 'Visa fler',
    'search.results': 'Träffar',
    'search.hint': 'Skriv ord att söka efter, i vilken form som helst. "Citattecken" söker en fras, -ord utesluter ett ord.',
    'search.synonyms': 'Sökte också efter: {terms}',
  },
  en: {
    'search.title': 'Search',
    'search.q': 'Search for',
    'search.kind': 'Kind',
    'search.any': 'All',
    'search.status': 'Status',
    'search.from': 'From',
    'search.to': 'To',
    'search.sort': 'Order',
    'search.sort.relevance': 'Best match',
    'search.sort.newest': 'Newest first',
    'search.sort.oldest': 'Oldest first',
    'search.submit': 'Search',
    'search.count': { one: '{total} hit', other: '{total} hits' },
    'search.none': 'No hits. Try fewer words or other filters.',
    'search.open': 'Open the conversation',
    'search.more': 'Show more',
    'search.results': 'Hits',
    'search.hint': 'Type words to look for, in any form. "Quotes" find a phrase, -word leaves a word out.',
    'search.synonyms': 'Also searched for: {terms}',
  },
});

const PAGE = 20;
const FIELDS = ['q', 'kind', 'status', 'from', 'to', 'sort'];

export const view = {
  id: 'search',
  title: { sv: 'Sök', en: 'Search' },
  needs: ['read_dms', 'read_comments'],
  render(root, ctx) {
    return new Search(root, ctx);
  },
};

class Search {
  constructor(root, ctx) {
    this.ctx = ctx;
    this.items = [];
    this.total = 0;
    this.query = null;
    const kinds = ['dm', 'comments'].filter((k) => ctx.can(k === 'dm' ? 'read_dms' : 'read_comments'));
    const field = (id, label, control) => h('div', { class: 'field' }, h('label', { for: id }, label), control);
    const choice = (id, options) => h('select', { id, name: id.replace('search-', '') }, options.map(([v, text]) => h('option', { value: v }, text)));
    this.inputs = {
      q: h('input', { id: 'search-q', name: 'q', type: 'search', 'aria-describedby': 'search-hint', maxlength: 500 }),
      kind: kinds.length > 1 ? choice('search-kind', [['', t('search.any')], ...kinds.map((k) => [k, t(`inbox.kind.${k}`)])]) : null,
      status: choice('search-status', [['', t('search.any')], ...['open', 'waiting', 'resolved'].map((s) => [s, t(`inbox.status.${s}`)])]),
      from: h('input', { id: 'search-from', name: 'from', type: 'date' }),
      to: h('input', { id: 'search-to', name: 'to', type: 'date' }),
      sort: choice('search-sort', ['relevance', 'newest', 'oldest'].map((s) => [s, t(`search.sort.${s}`)])),
    };
    this.errors = h('div', {});
    this.count = h('p', { class: 'muted', id: 'search-count', 'aria-live': 'polite' });
    this.synonyms = h('p', { class: 'muted', id: 'search-synonyms', hidden: true });
    this.list = h('ol', { class: 'results', id: 'search-results', 'aria-label': t('search.results') });
    this.more = h('button', { type: 'button', hidden: true, on: { click: () => this.run(true) } }, t('search.more'));
    const form = h(
      'form',
      { role: 'search', on: { submit: (e) => { e.preventDefault(); this.submit(); } } },
      h('div', { class: 'filters' },
        field('search-q', t('search.q'), this.inputs.q),
        this.inputs.kind ? field('search-kind', t('search.kind'), this.inputs.kind) : null,
        field('search-status', t('search.status'), this.inputs.status),
        field('search-from', t('search.from'), this.inputs.from),
        field('search-to', t('search.to'), this.inputs.to),
        field('search-sort', t('search.sort'), this.inputs.sort),
        h('button', { type: 'submit', class: 'primary', id: 'search-submit' }, t('search.submit')),
      ),
      h('p', { id: 'search-hint', class: 'muted' }, t('search.hint')),
    );
    root.append(
      h('section', { class: 'view search', 'aria-labelledby': 'search-heading' },
        heading(t('search.title'), 'search-heading'), form, this.errors, this.count, this.synonyms, this.list, this.more),
    );
    this.route(ctx.params);
  }

  route(params) {
    const query = new URLSearchParams(params[0] || '');
    for (const name of FIELDS) {
      if (this.inputs[name]) this.inputs[name].value = query.get(name) || (name === 'sort' ? 'relevance' : '');
    }
    this.query = query;
    if ([...query.keys()].length) this.run();
  }

  submit() {
    const query = new URLSearchParams();
    for (const name of FIELDS) {
      const value = this.inputs[name]?.value?.trim();
      if (value && !(name === 'sort' && value === 'relevance')) query.set(name, value);
    }
    this.ctx.navigate(`#/search/${encodeURIComponent(query.toString())}`);
  }

  async run(append = false) {
    const query = Object.fromEntries(this.query);
    try {
      const result = await this.ctx.api('GET', '/api/v1/search', undefined, {
        query: { ...query, limit: PAGE, offset: append ? this.items.length : 0 },
      });
      this.items = append ? [...this.items, ...result.items] : result.items;
      this.total = result.total;
      // The organisation's synonyms the search also looked for, so a hit without the word typed
      // makes sense.
      const also = result.synonyms || [];
      this.synonyms.hidden = !also.length;
      this.synonyms.textContent = also.length ? t('search.synonyms', { terms: also.join(', ') }) : '';
      showError(this.errors, null);
      this.render();
    } catch (e) {
      showError(this.errors, e);
    }
  }

  render() {
    this.count.textContent = this.items.length ? t('search.count', { total: this.total }) : t('search.none');
    replace(
      this.list,
      this.items.map(({ message: m, snippet }) =>
        h(
          'li',
          { 'data-message-id': String(m.message_id) },
          h('p', { class: 'row' },
            h('strong', {}, userText(m.author_name || m.author_platform_id || '?')),
            h('span', { class: 'muted' }, `${m.channel_name} · ${formatTime(m.platform_time)}`),
            h('span', { class: `badge badge-${m.status}` }, t(`inbox.status.${m.status}`)),
          ),
          h('p', { class: 'user-text snippet' }, highlighted(snippet?.text || '', snippet?.highlights || [])),
          h('a', { href: `#/inbox/${m.conversation_id}` }, t('search.open')),
        ),
      ),
    );
    this.more.hidden = this.items.length >= this.total;
  }
}
