// Moderation: the queue of cases (GET /api/v1/moderation/cases, most serious first, then oldest,
// overdue marked in words), heated threads, and at #/moderation/<id> one case (case-view.js):
// its message as text, triage's findings, the routine as a checklist, evidence, steps, closing.

import { h, replace, userText } from '../dom.js';
import { t, addStrings, formatAgo } from '../i18n.js';
import { showError, heading } from '../ui.js';
import { CaseView, dueText } from './case-view.js';

addStrings({
  sv: {
    'mod.title': 'Moderering',
    'mod.queue': 'Ärenden',
    'mod.status': 'Status',
    'mod.status.open': 'Öppna',
    'mod.status.closed': 'Stängda',
    'mod.level': 'Nivå',
    'mod.level.all': 'Alla nivåer',
    'mod.count': { one: '{n} ärende', other: '{n} ärenden' },
    'mod.empty': 'Inga ärenden här just nu.',
    'mod.overdue': 'FÖRSENAT sedan {ago}',
    'mod.due': 'ska vara klart om {left}',
    'mod.closedAt': 'stängt {at}',
    'mod.opened': 'öppnat {ago}',
    'mod.noPreview': '(innehållet visas inte)',
    'mod.source.report': 'anmält',
    'mod.source.triage': 'automatiskt flaggat',
    'mod.heated': 'Hetsiga trådar',
    'mod.heatedNone': 'Inga trådar tar fart just nu.',
    'mod.heatedLine': '{n} kommentarer senaste timmen (normalt {base} i timmen), {flagged} flaggade',
    'mod.thread': 'Öppna tråden',
    'mod.updated': 'Kön har uppdaterats.',
  },
  en: {
    'mod.title': 'Moderation',
    'mod.queue': 'Cases',
    'mod.status': 'Status',
    'mod.status.open': 'Open',
    'mod.status.closed': 'Closed',
    'mod.level': 'Level',
    'mod.level.all': 'All levels',
    'mod.count': { one: '{n} case', other: '{n} cases' },
    'mod.empty': 'No cases here right now.',
    'mod.overdue': 'OVERDUE for {ago}',
    'mod.due': 'due in {left}',
    'mod.closedAt': 'closed {at}',
    'mod.opened': 'opened {ago}',
    'mod.noPreview': '(the content is not shown)',
    'mod.source.report': 'reported',
    'mod.source.triage': 'flagged automatically',
    'mod.heated': 'Heated threads',
    'mod.heatedNone': 'No thread is catching fire right now.',
    'mod.heatedLine': '{n} comments in the last hour (usually {base} an hour), {flagged} flagged',
    'mod.thread': 'Open the thread',
    'mod.updated': 'The queue was updated.',
  },
});

const filters = { status: 'open', level: '' };

export const view = {
  id: 'moderation',
  title: { sv: 'Moderering', en: 'Moderation' },
  needs: ['moderate'],
  render(root, ctx) {
    return new Moderation(root, ctx);
  },
};

class Moderation {
  constructor(root, ctx) {
    this.ctx = ctx;
    this.items = [];
    this.selected = ctx.params[0] ? Number(ctx.params[0]) : null;
    const select = (id, label, options, key) =>
      h('div', { class: 'field' }, h('label', { for: id }, label),
        h('select', { id, on: { change: (e) => { filters[key] = e.target.value; this.load(); } } },
          options.map(([value, text]) => h('option', { value, selected: filters[key] === value }, text))));
    this.errors = h('div', { id: 'mod-errors' });
    this.count = h('p', { class: 'muted', id: 'mod-count' });
    this.list = h('ul', { class: 'cases', id: 'mod-queue', 'aria-labelledby': 'mod-queue-heading' });
    this.heated = h('div', { id: 'mod-heated' });
    this.panel = h('section', { class: 'panel', id: 'mod-case', 'aria-labelledby': 'case-heading' });
    this.caseView = new CaseView(this.panel, ctx, () => this.load());
    root.append(
      h('div', { class: 'split' },
        h('section', { 'aria-labelledby': 'mod-heading' },
          heading(t('mod.title'), 'mod-heading'),
          h('form', { class: 'filters', on: { submit: (e) => e.preventDefault() } },
            select('mod-status', t('mod.status'), ['open', 'closed'].map((s) => [s, t(`mod.status.${s}`)]), 'status'),
            select('mod-level', t('mod.level'), [['', t('mod.level.all')], ...['S5', 'S4', 'S3', 'S2', 'S1', 'S0'].map((l) => [l, l])], 'level')),
          this.errors,
          h('h2', { id: 'mod-queue-heading' }, t('mod.queue')),
          this.count,
          this.list,
          h('h2', { id: 'mod-heated-heading' }, t('mod.heated')),
          this.heated),
        this.panel),
    );
    this.load();
    this.loadHeated();
    this.caseView.open(this.selected);
    this.unsubscribe = ctx.events?.subscribe((e) => this.live(e));
  }

  destroy() {
    this.unsubscribe?.();
    clearTimeout(this.timer);
  }

  route(params) {
    this.selected = params[0] ? Number(params[0]) : null;
    this.renderList();
    this.caseView.open(this.selected);
  }

  live(e) {
    if (!String(e.kind).startsWith('moderation.') && e.kind !== 'message.changed') return;
    clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.load();
      this.caseView.refresh();
    }, 300);
  }

  async load() {
    try {
      const list = await this.ctx.api('GET', '/api/v1/moderation/cases', undefined, { query: filters });
      const json = JSON.stringify(list.items);
      if (json === this.json) return;
      this.json = json;
      this.items = list.items || [];
      showError(this.errors, null);
      this.renderList();
    } catch (e) {
      this.json = null;
      showError(this.errors, e);
    }
  }

  renderList() {
    this.count.textContent = t('mod.count', { n: this.items.length });
    replace(
      this.list,
      this.items.length
        ? this.items.map((c) =>
            h('li', {},
              h('a', { href: `#/moderation/${c.id}`, 'data-id': String(c.id), 'aria-current': c.id === this.selected ? 'true' : null },
                h('span', { class: 'row' },
                  h('span', { class: `badge badge-${c.level} level` }, c.level),
                  h('span', {}, c.categories.join(', ')),
                  h('span', { class: c.overdue ? 'overdue' : 'muted' }, dueText(c))),
                h('span', { class: 'user-text', dir: 'auto' }, c.preview ?? t('mod.noPreview')),
                h('span', { class: 'meta' },
                  h('span', {}, c.channel_name),
                  h('span', {}, t(`mod.source.${c.source}`)),
                  h('span', {}, t('mod.opened', { ago: formatAgo(c.opened_at) }))))))
        : h('li', { class: 'muted' }, t('mod.empty')),
    );
  }

  async loadHeated() {
    try {
      const list = await this.ctx.api('GET', '/api/v1/moderation/heated');
      replace(
        this.heated,
        list.items.length
          ? h('ul', { class: 'plain-list' }, list.items.map((x) =>
              h('li', { class: 'panel' },
                h('p', {}, h('strong', {}, x.channel_name), ': ', userText(x.post_text || x.post_platform_id || '')),
                h('p', { class: 'muted' }, t('mod.heatedLine', { n: x.last_hour, base: x.baseline_per_hour.toFixed(1), flagged: x.flagged })),
                this.ctx.can('read_comments') ? h('a', { href: `#/inbox/${x.conversation_id}` }, t('mod.thread')) : null)))
          : h('p', { class: 'muted' }, t('mod.heatedNone')),
      );
    } catch (e) {
      showError(this.heated, e);
    }
  }
}
