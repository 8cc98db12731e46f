// The inbox: the queue (GET /api/v1/conversations) with filters, live updates from the event
// stream, and the open conversation (conversation.js). Keyboard: j/k or arrows move through the
// queue, c claims, r goes to the reply, Ctrl+Enter sends, w marks waiting, e resolves, ? helps.

import { h, replace, userText } from '../dom.js';
import { t, addStrings, formatDuration } from '../i18n.js';
import { showError, heading, typing } from '../ui.js';
import { Conversation } from './conversation.js';

addStrings({
  sv: {
    'inbox.title': 'Inkorg',
    'inbox.queue': 'Kö',
    'inbox.filters': 'Filter',
    'inbox.kind': 'Typ',
    'inbox.kind.all': 'Alla',
    'inbox.kind.dm': 'Direktmeddelanden',
    'inbox.kind.comments': 'Kommentarer',
    'inbox.status': 'Status',
    'inbox.status.open': 'Öppna',
    'inbox.status.waiting': 'Väntar',
    'inbox.status.resolved': 'Lösta',
    'inbox.channel': 'Kanal',
    'inbox.channel.all': 'Alla kanaler',
    'inbox.count': { one: '{shown} av {total} konversation', other: '{shown} av {total} konversationer' },
    'inbox.empty': 'Inga konversationer här just nu.',
    'inbox.more': 'Visa fler',
    'inbox.unknownPerson': 'Okänd person',
    'inbox.claimedBy': 'Tagen av {name}',
    'inbox.waitingSince': 'har väntat {d}',
    'inbox.messages': { one: '{n} meddelande', other: '{n} meddelanden' },
    'inbox.pick': 'Välj en konversation i kön (j och k för nästa och föregående).',
    'inbox.position': 'Konversation {i} av {n}: {name}',
    'inbox.updated': 'Kön har uppdaterats.',
    'inbox.loading': 'Hämtar kön …',
    'inbox.handed': 'Överlämnade',
    'inbox.handed.all': 'Alla',
    'inbox.handed.me': 'Till mig',
    'inbox.handed.unit': 'Till min enhet',
    'inbox.sort': 'Ordning',
    'inbox.sort.urgent': 'Längst väntat först',
    'inbox.sort.breach': 'Närmast servicenivån först',
    'inbox.past': { one: '{n} över servicenivån', other: '{n} över servicenivån' },
    'inbox.pastBadge': 'Över servicenivån',
    'inbox.dueIn': 'servicenivå om {d}',
    'inbox.handedTo': 'Överlämnad till {to}',
    'inbox.handedToYou': 'En konversation har lämnats över till dig.',
    'inbox.handedToYourUnit': 'En konversation har lämnats över till din enhet ({unit}).',
    'key.next': 'Nästa konversation',
    'key.prev': 'Föregående konversation',
    'key.claim': 'Ta konversationen',
    'key.reply': 'Gå till svarsfältet',
    'key.send': 'Skicka svaret',
    'key.waiting': 'Markera som väntar',
    'key.resolve': 'Markera som löst',
  },
  en: {
    'inbox.title': 'Inbox',
    'inbox.queue': 'Queue',
    'inbox.filters': 'Filters',
    'inbox.kind': 'Kind',
    'inbox.kind.all': 'All',
    'inbox.kind.dm': 'Direct messages',
    'inbox.kind.comments': 'Comments',
    'inbox.status': 'Status',
    'inbox.status.open': 'Open',
    'inbox.status.waiting': 'Waiting',
    'inbox.status.resolved': 'Resolved',
    'inbox.channel': 'Channel',
    'inbox.channel.all': 'All channels',
    'inbox.count': { one: '{shown} of {total} conversation', other: '{shown} of {total} conversations' },
    'inbox.empty': 'No conversations here right now.',
    'inbox.more': 'Show more',
    'inbox.unknownPerson': 'Unknown person',
    'inbox.claimedBy': 'Claimed by {name}',
    'inbox.waitingSince': 'waiting for {d}',
    'inbox.messages': { one: '{n} message', other: '{n} messages' },
    'inbox.pick': 'Pick a conversation in the queue (j and k for next and previous).',
    'inbox.position': 'Conversation {i} of {n}: {name}',
    'inbox.updated': 'The queue was updated.',
    'inbox.loading': 'Loading the queue …',
    'inbox.handed': 'Handed over',
    'inbox.handed.all': 'All',
    'inbox.handed.me': 'To me',
    'inbox.handed.unit': 'To my unit',
    'inbox.sort': 'Order',
    'inbox.sort.urgent': 'Longest waiting first',
    'inbox.sort.breach': 'Closest to the service level first',
    'inbox.past': { one: '{n} past the service level', other: '{n} past the service level' },
    'inbox.pastBadge': 'Past the service level',
    'inbox.dueIn': 'service level in {d}',
    'inbox.handedTo': 'Handed to {to}',
    'inbox.handedToYou': 'A conversation was handed over to you.',
    'inbox.handedToYourUnit': 'A conversation was handed over to your unit ({unit}).',
    'key.next': 'Next conversation',
    'key.prev': 'Previous conversation',
    'key.claim': 'Claim the conversation',
    'key.reply': 'Go to the reply field',
    'key.send': 'Send the reply',
    'key.waiting': 'Mark as waiting',
    'key.resolve': 'Mark as resolved',
  },
});

const PAGE = 50;
const filters = { queue: '', status: 'open', channel: '', handed: '', sort: '' };

export function personName(summary) {
  return summary.person?.name || summary.person?.platform_id || t('inbox.unknownPerson');
}

export const view = {
  id: 'inbox',
  title: { sv: 'Inkorg', en: 'Inbox' },
  needs: ['read_dms', 'read_comments'],
  keys: [
    { keys: 'j / ↓', sv: 'Nästa konversation', en: 'Next conversation' },
    { keys: 'k / ↑', sv: 'Föregående konversation', en: 'Previous conversation' },
    { keys: 'c', sv: 'Ta konversationen', en: 'Claim the conversation' },
    { keys: 'r', sv: 'Gå till svarsfältet', en: 'Go to the reply field' },
    { keys: 'Ctrl+Enter', sv: 'Skicka svaret', en: 'Send the reply' },
    { keys: 'w', sv: 'Markera som väntar', en: 'Mark as waiting' },
    { keys: 'e', sv: 'Markera som löst och gå till nästa', en: 'Mark as resolved and go to the next' },
  ],
  render(root, ctx) {
    return new Inbox(root, ctx);
  },
};

class Inbox {
  constructor(root, ctx) {
    this.ctx = ctx;
    this.items = [];
    this.total = 0;
    this.selected = ctx.params[0] ? Number(ctx.params[0]) : null;
    this.firstRender = true;
    this.refreshTimer = null;
    this.loading = null;

    this.errors = h('div', { id: 'inbox-errors' });
    this.list = h('ul', { class: 'queue', id: 'queue', 'aria-labelledby': 'queue-heading' });
    this.count = h('p', { class: 'muted', id: 'queue-count' });
    this.past = h('p', { id: 'queue-past', class: 'past-level', hidden: true });
    this.notice = h('p', { id: 'handed-notice', role: 'status', class: 'notice', hidden: true });
    this.more = h('button', { type: 'button', hidden: true, on: { click: () => this.load(true) } }, t('inbox.more'));
    this.panel = h('section', { class: 'panel conversation', id: 'conversation', 'aria-label': t('inbox.title') });
    this.conversation = new Conversation(this.panel, ctx, {
      onResolved: () => this.afterResolve(),
      onChanged: () => this.scheduleRefresh(),
    });

    const kinds = ['dm', 'comments'].filter((k) => ctx.can(k === 'dm' ? 'read_dms' : 'read_comments'));
    const select = (id, label, options, key) =>
      h(
        'div',
        { class: 'field' },
        h('label', { for: id }, label),
        h(
          'select',
          { id, on: { change: (e) => { filters[key] = e.target.value; this.load(); } } },
          options.map(([value, text]) => h('option', { value, selected: filters[key] === value }, text)),
        ),
      );
    this.channelSelect = select('filter-channel', t('inbox.channel'), [['', t('inbox.channel.all')]], 'channel');
    root.append(
      h(
        'div',
        { class: 'inbox' },
        h(
          'section',
          { class: 'queue-pane', 'aria-labelledby': 'inbox-heading' },
          heading(t('inbox.title'), 'inbox-heading'),
          h(
            'form',
            { class: 'filters', 'aria-label': t('inbox.filters'), on: { submit: (e) => e.preventDefault() } },
            kinds.length > 1
              ? select('filter-kind', t('inbox.kind'), [['', t('inbox.kind.all')], ...kinds.map((k) => [k, t(`inbox.kind.${k}`)])], 'queue')
              : null,
            select('filter-status', t('inbox.status'), ['open', 'waiting', 'resolved'].map((s) => [s, t(`inbox.status.${s}`)]), 'status'),
            this.channelSelect,
            select('filter-handed', t('inbox.handed'), ['', 'me', 'unit'].map((v) => [v, t(`inbox.handed.${v || 'all'}`)]), 'handed'),
            select('filter-sort', t('inbox.sort'), [['', t('inbox.sort.urgent')], ['breach', t('inbox.sort.breach')]], 'sort'),
          ),
          this.notice,
          this.errors,
          h('h2', { id: 'queue-heading', class: 'visually-hidden' }, t('inbox.queue')),
          this.count,
          this.past,
          this.list,
          h('div', { class: 'queue-footer' }, this.more),
        ),
        this.panel,
      ),
    );
    this.loadChannels();
    this.load();
    this.conversation.open(this.selected);

    this.onKey = (e) => this.key(e);
    document.addEventListener('keydown', this.onKey);
    this.unsubscribe = ctx.events?.subscribe((event) => this.live(event));
  }

  destroy() {
    document.removeEventListener('keydown', this.onKey);
    this.unsubscribe?.();
    clearTimeout(this.refreshTimer);
    this.loading?.abort();
    this.conversation.destroy();
  }

  /** The router calls this when only the conversation in the hash changed. */
  route(params) {
    const id = params[0] ? Number(params[0]) : null;
    if (id === this.selected) return;
    this.selected = id;
    this.neighbour = null;
    this.rememberNeighbour();
    this.markSelected();
    this.conversation.open(id);
  }

  async loadChannels() {
    try {
      const channels = await this.ctx.api('GET', '/api/v1/channels');
      const select = this.channelSelect.querySelector('select');
      for (const c of channels.items || []) {
        select.append(h('option', { value: String(c.id), selected: filters.channel === String(c.id) }, c.name));
      }
    } catch {
      // The filter stays at "all channels"; the queue itself reports real trouble.
    }
  }

  async load(append = false) {
    this.loading?.abort();
    const controller = new AbortController();
    this.loading = controller;
    try {
      const page = await this.ctx.api('GET', '/api/v1/conversations', undefined, {
        query: {
          queue: filters.queue,
          status: filters.status,
          channel: filters.channel,
          handed: filters.handed,
          sort: filters.sort,
          limit: PAGE,
          offset: append ? this.items.length : 0,
        },
        signal: controller.signal,
      });
      this.items = append ? [...this.items, ...page.items] : page.items;
      this.total = page.total;
      this.pastCount = page.service_level?.past || 0;
      showError(this.errors, null);
      this.renderList();
    } catch (e) {
      if (e.name !== 'AbortError') showError(this.errors, e);
    }
  }

  renderList() {
    replace(
      this.list,
      this.items.length === 0 ? h('li', { class: 'muted empty' }, t('inbox.empty')) : this.items.map((c) => this.row(c)),
    );
    this.rememberNeighbour();
    this.count.textContent = t('inbox.count', { shown: this.items.length, total: this.total });
    this.past.textContent = t('inbox.past', { n: this.pastCount });
    this.past.hidden = !this.pastCount;
    this.more.hidden = this.items.length >= this.total;
    if (this.focusAfterLoad) {
      this.list.querySelector(`a[data-id="${this.focusAfterLoad}"]`)?.focus();
      this.focusAfterLoad = null;
    }
    if (this.firstRender && this.items.length) {
      this.firstRender = false;
      // The bench reads this mark: time from navigation to the first row on screen.
      performance.mark('tavla-inbox-first-row');
    }
  }

  row(c) {
    const claim = c.claim
      ? h('span', { class: 'claimed' }, t('inbox.claimedBy', { name: c.claim.username }))
      : null;
    return h(
      'li',
      {},
      h(
        'a',
        {
          href: `#/inbox/${c.id}`,
          'data-id': String(c.id),
          'aria-current': c.id === this.selected ? 'true' : null,
        },
        h('span', { class: 'line1' }, userText(personName(c)), h('span', { class: `badge badge-${c.status}` }, t(`inbox.status.${c.status}`))),
        h('span', { class: 'line2 user-text' }, c.preview || ''),
        h(
          'span',
          { class: 'meta' },
          h('span', {}, c.channel_name),
          h('span', {}, t(`inbox.kind.${c.kind === 'dm' ? 'dm' : 'comments'}`)),
          c.oldest_unanswered_at ? h('span', {}, t('inbox.waitingSince', { d: formatDuration((Date.now() - c.oldest_unanswered_at) / 1000) })) : null,
          c.past_service_level
            ? h('span', { class: 'badge badge-past' }, t('inbox.pastBadge'))
            : c.service_level_due_at
              ? h('span', {}, t('inbox.dueIn', { d: formatDuration(Math.max(0, c.service_level_due_at - Date.now()) / 1000) }))
              : null,
          c.handed ? h('span', { class: 'handed' }, t('inbox.handedTo', { to: c.handed.to_staff || c.handed.unit || '' })) : null,
          claim,
        ),
      ),
    );
  }

  markSelected() {
    for (const a of this.list.querySelectorAll('a[data-id]')) {
      if (Number(a.dataset.id) === this.selected) a.setAttribute('aria-current', 'true');
      else a.removeAttribute('aria-current');
    }
  }

  /** Moves the selection by one and opens it. */
  step(delta) {
    if (!this.items.length) return;
    let index = this.items.findIndex((c) => c.id === this.selected);
    index = index < 0 ? (delta > 0 ? 0 : this.items.length - 1) : Math.min(this.items.length - 1, Math.max(0, index + delta));
    const c = this.items[index];
    this.ctx.navigate(`#/inbox/${c.id}`);
    this.list.querySelector(`a[data-id="${c.id}"]`)?.focus();
    this.ctx.announce(t('inbox.position', { i: index + 1, n: this.total, name: personName(c) }));
  }

  key(e) {
    if (e.key === 'Enter' && (e.ctrlKey || e.metaKey)) {
      if (this.conversation.canSend()) {
        e.preventDefault();
        this.conversation.send();
      }
      return;
    }
    if (typing(e) || e.ctrlKey || e.metaKey || e.altKey || document.querySelector('dialog[open]')) return;
    const actions = {
      j: () => this.step(1),
      ArrowDown: () => this.step(1),
      k: () => this.step(-1),
      ArrowUp: () => this.step(-1),
      c: () => this.conversation.claim(),
      r: () => this.conversation.focusReply(),
      w: () => this.conversation.setStatus('waiting'),
      e: () => this.conversation.setStatus('resolved'),
    };
    const action = actions[e.key];
    if (action) {
      e.preventDefault();
      action();
    }
  }

  /** The conversation to go to once the selected one is resolved: the next in the queue, else
   * the previous. Kept from before the change, because live updates may already have removed the
   * resolved one from the list by the time the call returns. */
  rememberNeighbour() {
    const index = this.items.findIndex((c) => c.id === this.selected);
    if (index < 0) return;
    const next = this.items[index + 1] || this.items[index - 1] || null;
    this.neighbour = next ? next.id : null;
  }

  afterResolve() {
    const next = this.neighbour;
    this.load();
    if (next && filters.status !== 'resolved') {
      this.focusAfterLoad = next;
      this.ctx.navigate(`#/inbox/${next}`);
    }
  }

  scheduleRefresh() {
    clearTimeout(this.refreshTimer);
    this.refreshTimer = setTimeout(() => this.load(), 300);
  }

  live(event) {
    if (!event.conversation_id) return;
    if (event.kind === 'conversation.handed_over' && event.payload?.to_staff === this.ctx.me.id) {
      this.notice.textContent = t('inbox.handedToYou');
      this.notice.hidden = false;
    } else if (event.kind === 'conversation.handed_over' && !event.payload?.to_staff
      && event.payload?.unit && event.payload.unit === this.ctx.me.unit) {
      // Every member of the unit who may read the conversation hears of it (the stream
      // carries it to those who may read it; `unit` in /api/v1/me says which is theirs).
      this.notice.textContent = t('inbox.handedToYourUnit', { unit: event.payload.unit });
      this.notice.hidden = false;
    }
    this.scheduleRefresh();
    if (event.conversation_id === this.selected) this.conversation.refresh();
  }
}
