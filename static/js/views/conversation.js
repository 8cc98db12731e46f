// One conversation in the inbox: the person and channel, the reply window's time left, claim and
// release, the messages (every piece of their text as text), the suggested saved reply and the
// library, the reply form, waiting/resolved, staff's internal notes (in the timeline, with a form of
// their own), and the person's earlier conversations. The reply and note fields are built once per
// conversation and never re-rendered, so a live update keeps the draft.

import { h, replace, userText, safeUrl } from '../dom.js';
import { t, addStrings, formatTime, formatDuration, formatClock } from '../i18n.js';
import { showError, heading } from '../ui.js';

addStrings({
  sv: {
    'conv.pick': 'Välj en konversation i kön (j och k för nästa och föregående).',
    'conv.loading': 'Hämtar konversationen …',
    'conv.channel': 'Kanal: {name} ({platform})',
    'conv.status': 'Status: {status}',
    'conv.claim': 'Ta konversationen',
    'conv.release': 'Släpp',
    'conv.claimedByMe': 'Du har tagit konversationen till kl. {at}.',
    'conv.claimedBy': '{name} arbetar med konversationen till kl. {at}.',
    'conv.unclaimed': 'Ingen har tagit konversationen.',
    'conv.claimed': 'Du har tagit konversationen.',
    'conv.released': 'Du har släppt konversationen.',
    'conv.waiting': 'Väntar',
    'conv.resolve': 'Löst',
    'conv.reopen': 'Öppna igen',
    'conv.status.waiting': 'Markerad som väntar.',
    'conv.status.resolved': 'Markerad som löst.',
    'conv.status.open': 'Öppnad igen.',
    'conv.messages': 'Meddelanden',
    'conv.you': 'Kommunen',
    'conv.sentBy': 'skickat av {name}',
    'conv.delivery.pending': 'väntar på att skickas',
    'conv.delivery.sending': 'skickas',
    'conv.delivery.sent': 'skickat',
    'conv.delivery.failed': 'kunde inte skickas',
    'conv.state.hidden': 'dold',
    'conv.state.removed': 'borttagen',
    'conv.state.deleted': 'raderad',
    'conv.edited': 'redigerad',
    'conv.attachments': 'Bilagor',
    'conv.attachment': '{kind}: {name}',
    'conv.noText': '(utan text)',
    'conv.withheld.s5': '(innehållet visas inte: S5, bara uppgifter om meddelandet sparas)',
    'conv.withheld.hidden': '(dold: texten visas för moderatorer)',
    'conv.withheld.removed': '(borttagen: texten visas för moderatorer)',
    'conv.withheld.deleted': '(raderad av avsändaren: texten visas för moderatorer)',
    'conv.masked': 'Dolda personuppgifter',
    'conv.reveal': 'Visa {kind} {n}',
    'conv.revealed': '{kind} {n}: {value}',
    'conv.kind.personnummer': 'personnummer',
    'conv.kind.samordningsnummer': 'samordningsnummer',
    'conv.kind.phone': 'telefonnummer',
    'conv.kind.email': 'e-postadress',
    'conv.window.open': 'Svarsfönstret är öppet i {left} till (stänger kl. {at}).',
    'conv.window.tagged': 'Svarsfönstret på 24 timmar har stängt. Som person som svarar på frågan kan du svara i {left} till med taggen HUMAN_AGENT.',
    'conv.window.closed': 'Svarsfönstret har stängt. Plattformen tillåter inget svar nu; vänta tills personen skriver igen eller nå hen på annat sätt (telefon, e-post, brev).',
    'conv.window.never': 'Personen har inte skrivit till sidan, så plattformen tillåter inget meddelande.',
    'conv.humanAgent': 'Jag är en person som svarar på personens fråga (HUMAN_AGENT)',
    'conv.reply': 'Ditt svar',
    'conv.replyHint': 'Ctrl+Enter skickar.',
    'conv.send': 'Skicka',
    'conv.sent': 'Svaret ligger i utkorgen och skickas.',
    'conv.readOnly': 'Du kan läsa men inte svara på den här konversationen.',
    'conv.suggested': 'Föreslaget svar: {title}',
    'conv.use': 'Använd',
    'conv.library': 'Sparade svar',
    'conv.libraryEmpty': 'Inga sparade svar.',
    'conv.inserted': 'Det sparade svaret står nu i svarsfältet.',
    'conv.earlier': 'Personens tidigare konversationer',
    'conv.earlierNone': 'Inga tidigare konversationer.',
    'conv.post': 'Inlägg: {text}',
    'conv.handovers': 'Överlämningar',
    'conv.handoversNone': 'Konversationen har inte lämnats över.',
    'conv.handedTo': 'Till {unit}, av {name}, {at}',
    'conv.handedBySomeone': 'en borttagen användare',
    'conv.handOver': 'Lämna över till en enhet eller en kollega',
    'conv.handOverUnit': 'Enhet',
    'conv.handOverTo': 'Eller till en kollega',
    'conv.handOverToNone': 'Ingen kollega (till enheten)',
    'conv.handedToColleague': 'Till {to}{unit}, av {name}, {at}',
    'conv.handOverNote': 'Anteckning till mottagaren (frivillig)',
    'conv.handOverSend': 'Lämna över',
    'conv.handedOver': 'Konversationen är överlämnad till {unit}.',
    'conv.report': 'Rapportera meddelandet',
    'conv.reportTitle': 'Rapportera meddelandet till moderatorerna',
    'conv.reportReason': 'Varför (till exempel hot eller personangrepp)',
    'conv.reportSend': 'Rapportera',
    'conv.reportCancel': 'Avbryt',
    'conv.reportMissing': 'Skriv varför du rapporterar meddelandet.',
    'conv.reported': 'Meddelandet är rapporterat och ligger i modereringskön.',
    'conv.categories': 'Kategorier',
    'conv.categoriesNone': 'Inga kategorier.',
    'conv.categorySuggested': 'Föreslagen utifrån liknande frågor:',
    'conv.categoryAdd': 'Lägg till {name}',
    'conv.categoriesSaved': 'Kategorierna är sparade.',
    'conv.handOverMissing': 'Skriv vilken enhet konversationen ska till.',
    'conv.note': 'Intern anteckning',
    'conv.noteBy': 'Intern anteckning av {name}',
    'conv.noteText': 'Intern anteckning (skickas inte till personen)',
    'conv.noteHint': 'Syns bara för personal som får läsa konversationen.',
    'conv.noteSend': 'Spara anteckningen',
    'conv.noted': 'Anteckningen är sparad.',
    'conv.noteMissing': 'Skriv något i anteckningen först.',
  },
  en: {
    'conv.pick': 'Pick a conversation in the queue (j and k for next and previous).',
    'conv.loading': 'Loading the conversation …',
    'conv.channel': 'Channel: {name} ({platform})',
    'conv.status': 'Status: {status}',
    'conv.claim': 'Claim',
    'conv.release': 'Release',
    'conv.claimedByMe': 'You have claimed this conversation until {at}.',
    'conv.claimedBy': '{name} is working on this conversation until {at}.',
    'conv.unclaimed': 'Nobody has claimed this conversation.',
    'conv.claimed': 'You have claimed the conversation.',
    'conv.released': 'You have released the conversation.',
    'conv.waiting': 'Waiting',
    'conv.resolve': 'Resolved',
    'conv.reopen': 'Reopen',
    'conv.status.waiting': 'Marked as waiting.',
    'conv.status.resolved': 'Marked as resolved.',
    'conv.status.open': 'Reopened.',
    'conv.messages': 'Messages',
    'conv.you': 'The municipality',
    'conv.sentBy': 'sent by {name}',
    'conv.delivery.pending': 'waiting to be sent',
    'conv.delivery.sending': 'sending',
    'conv.delivery.sent': 'sent',
    'conv.delivery.failed': 'could not be sent',
    'conv.state.hidden': 'hidden',
    'conv.state.removed': 'removed',
    'conv.state.deleted': 'deleted',
    'conv.edited': 'edited',
    'conv.attachments': 'Attachments',
    'conv.attachment': '{kind}: {name}',
    'conv.noText': '(no text)',
    'conv.withheld.s5': '(content not shown: S5, only facts about the message are kept)',
    'conv.withheld.hidden': '(hidden: the text is shown to moderators)',
    'conv.withheld.removed': '(removed: the text is shown to moderators)',
    'conv.withheld.deleted': '(deleted by the sender: the text is shown to moderators)',
    'conv.masked': 'Masked personal data',
    'conv.reveal': 'Show {kind} {n}',
    'conv.revealed': '{kind} {n}: {value}',
    'conv.kind.personnummer': 'personal identity number',
    'conv.kind.samordningsnummer': 'coordination number',
    'conv.kind.phone': 'phone number',
    'conv.kind.email': 'e-mail address',
    'conv.window.open': 'The reply window is open for {left} more (closes at {at}).',
    'conv.window.tagged': 'The 24-hour reply window has closed. As a person answering the question you may reply for {left} more with the HUMAN_AGENT tag.',
    'conv.window.closed': 'The reply window has closed. The platform allows no reply now; wait for the person to write again or reach them another way (phone, e-mail, letter).',
    'conv.window.never': 'The person has not written to the page, so the platform allows no message.',
    'conv.humanAgent': 'I am a person answering their question (HUMAN_AGENT)',
    'conv.reply': 'Your reply',
    'conv.replyHint': 'Ctrl+Enter sends.',
    'conv.send': 'Send',
    'conv.sent': 'The reply is in the outbox and being sent.',
    'conv.readOnly': 'You may read but not answer this conversation.',
    'conv.suggested': 'Suggested reply: {title}',
    'conv.use': 'Use',
    'conv.library': 'Saved replies',
    'conv.libraryEmpty': 'No saved replies.',
    'conv.inserted': 'The saved reply is now in the reply field.',
    'conv.earlier': 'Earlier conversations of this person',
    'conv.earlierNone': 'No earlier conversations.',
    'conv.post': 'Post: {text}',
    'conv.handovers': 'Handovers',
    'conv.handoversNone': 'This conversation has not been handed over.',
    'conv.handedTo': 'To {unit}, by {name}, {at}',
    'conv.handedBySomeone': 'a removed user',
    'conv.handOver': 'Hand over to a unit or a colleague',
    'conv.handOverUnit': 'Unit',
    'conv.handOverTo': 'Or to a colleague',
    'conv.handOverToNone': 'No colleague (to the unit)',
    'conv.handedToColleague': 'To {to}{unit}, by {name}, {at}',
    'conv.handOverNote': 'Note for the receiver (optional)',
    'conv.handOverSend': 'Hand over',
    'conv.handedOver': 'The conversation is handed over to {unit}.',
    'conv.report': 'Report the message',
    'conv.reportTitle': 'Report the message to the moderators',
    'conv.reportReason': 'Why (for example a threat or a personal attack)',
    'conv.reportSend': 'Report',
    'conv.reportCancel': 'Cancel',
    'conv.reportMissing': 'Say why you report the message.',
    'conv.reported': 'The message is reported and in the moderation queue.',
    'conv.categories': 'Categories',
    'conv.categoriesNone': 'No categories.',
    'conv.categorySuggested': 'Suggested from similar questions:',
    'conv.categoryAdd': 'Add {name}',
    'conv.categoriesSaved': 'The categories are saved.',
    'conv.handOverMissing': 'Write which unit the conversation goes to.',
    'conv.note': 'Internal note',
    'conv.noteBy': 'Internal note by {name}',
    'conv.noteText': 'Internal note (not sent to the person)',
    'conv.noteHint': 'Seen only by staff who may read this conversation.',
    'conv.noteSend': 'Save the note',
    'conv.noted': 'The note is saved.',
    'conv.noteMissing': 'Write something in the note first.',
  },
});

function personName(s) {
  return s.person?.name || s.person?.platform_id || '?';
}

export class Conversation {
  constructor(root, ctx, { onResolved, onChanged }) {
    this.root = root;
    this.ctx = ctx;
    this.onResolved = onResolved;
    this.onChanged = onChanged;
    this.id = null;
    this.detail = null;
    this.ticker = null;
    this.request = null;
    this.library = null;
  }

  destroy() {
    clearInterval(this.ticker);
    this.request?.abort();
    this.reportDialog?.remove();
  }

  mayAnswer() {
    if (!this.detail) return false;
    return this.ctx.can(this.detail.kind === 'dm' ? 'answer_dms' : 'answer_comments');
  }

  mine() {
    return this.detail?.claim?.username === this.ctx.me.username;
  }

  open(id) {
    this.request?.abort();
    clearInterval(this.ticker);
    this.id = id;
    this.detail = null;
    if (!id) {
      replace(this.root, h('p', { class: 'muted' }, t('conv.pick')));
      return;
    }
    this.errors = h('div', { class: 'conv-errors' });
    this.header = h('header', {});
    this.windowBox = h('div', {});
    this.actions = h('div', { class: 'actions' });
    this.messages = h('ol', { class: 'messages', 'aria-label': t('conv.messages') });
    this.suggestions = h('div', {});
    this.earlier = h('div', { class: 'earlier' });
    // The list is drawn again with each load; the form is made once, so typing in it survives
    // live updates.
    this.handoverList = h('div', {});
    this.handoverSlot = h('div', {});
    this.handoverForm = null;
    this.handovers = h('section', { class: 'handovers', 'aria-labelledby': 'handovers-heading' }, h('h3', { id: 'handovers-heading' }, t('conv.handovers')), this.handoverList, this.handoverSlot);
    // Each change of a category is saved at once, so drawing it again on a live update loses nothing.
    this.categoryBox = h('div', {});
    this.categoriesSection = h('section', { class: 'categories', id: 'categories', 'aria-labelledby': 'categories-heading' }, h('h3', { id: 'categories-heading' }, t('conv.categories')), this.categoryBox);
    this.allCategories = [];
    this.replyText = h('textarea', { id: 'reply-text', name: 'reply', 'aria-describedby': 'reply-hint' });
    this.humanAgent = h('input', { type: 'checkbox', id: 'reply-human-agent' });
    this.humanAgentField = h('div', { class: 'row', hidden: true }, this.humanAgent, h('label', { for: 'reply-human-agent' }, t('conv.humanAgent')));
    this.sendButton = h('button', { type: 'submit', class: 'primary', id: 'reply-send' }, t('conv.send'));
    this.replyForm = h(
      'form',
      { class: 'reply', hidden: true, on: { submit: (e) => { e.preventDefault(); this.send(); } } },
      h('div', { class: 'field' }, h('label', { for: 'reply-text' }, t('conv.reply')), this.replyText, h('span', { id: 'reply-hint', class: 'muted' }, t('conv.replyHint'))),
      this.humanAgentField,
      this.sendButton,
    );
    this.readOnly = h('p', { class: 'muted', hidden: true }, t('conv.readOnly'));
    this.noteForm = this.makeNoteForm();
    replace(
      this.root,
      h('p', { class: 'muted loading' }, t('conv.loading')),
    );
    this.mounted = false;
    this.loading = null;
    this.refresh();
  }

  /**
   * Loads the conversation again and draws it. A newer call (a live update, say) supersedes one in
   * flight; the older caller then waits for the newer one, so code after `await refresh()` always
   * sees the latest state (claiming focuses the reply only once the claim shows as ours).
   */
  async refresh() {
    const id = this.id;
    if (!id) return;
    this.request?.abort();
    const controller = new AbortController();
    this.request = controller;
    let loading = this.load(id, controller.signal);
    this.loading = loading;
    await loading;
    while (this.loading !== loading && this.id === id) {
      loading = this.loading;
      await loading;
    }
  }

  async load(id, signal) {
    try {
      const detail = await this.ctx.api('GET', `/api/v1/conversations/${id}`, undefined, { signal });
      if (id !== this.id) return;
      this.detail = detail;
      // Mounted by whichever load comes back first: the first one may have been superseded.
      if (!this.mounted) this.mount();
      this.render();
    } catch (e) {
      if (e.name === 'AbortError') return;
      if (!this.mounted) replace(this.root, this.errors);
      showError(this.errors, e);
    }
  }

  mount() {
    this.mounted = true;
    replace(
      this.root,
      this.header,
      this.errors,
      this.windowBox,
      this.actions,
      this.handovers,
      this.categoriesSection,
      this.messages,
      this.suggestions,
      this.readOnly,
      this.replyForm,
      this.noteForm,
      this.earlier,
    );
    this.ticker = setInterval(() => this.renderWindow(), 30000);
    if (this.mayAnswer()) this.loadLibrary();
    this.loadCategories();
  }

  async loadCategories() {
    try {
      const result = await this.ctx.api('GET', '/api/v1/categories');
      this.allCategories = result.items || [];
      if (this.detail) this.renderCategories();
    } catch {
      this.allCategories = [];
    }
  }

  /** The conversation's categories: checkboxes for those who may answer it (each change saved),
   * the names for the rest; and the ones colleagues gave similar questions, to add with one press. */
  renderCategories() {
    const given = this.detail.categories || [];
    const suggested = this.detail.category_suggestions || [];
    const ids = given.map((c) => c.id);
    const save = (next) => this.act('POST', `/api/v1/conversations/${this.id}/categories`, { categories: next }, t('conv.categoriesSaved'));
    if (!this.mayAnswer()) {
      replace(this.categoryBox, h('p', { class: given.length ? '' : 'muted' }, given.length ? given.map((c) => c.name).join(', ') : t('conv.categoriesNone')));
      return;
    }
    const offered = [...this.allCategories.filter((c) => !c.archived), ...given.filter((g) => g.archived)];
    replace(
      this.categoryBox,
      suggested.length
        ? h(
            'p',
            { class: 'suggested-categories' },
            t('conv.categorySuggested'),
            ' ',
            suggested.map((c) =>
              h('button', { type: 'button', class: 'suggest-category', 'data-category': String(c.id), on: { click: () => save([...ids, c.id]) } }, t('conv.categoryAdd', { name: c.name })),
            ),
          )
        : null,
      offered.length
        ? h(
            'fieldset',
            { class: 'category-choices' },
            h('legend', { class: 'visually-hidden' }, t('conv.categories')),
            offered.map((c) =>
              h(
                'div',
                { class: 'row' },
                h('input', {
                  type: 'checkbox',
                  id: `category-${c.id}`,
                  checked: ids.includes(c.id),
                  disabled: Boolean(c.archived),
                  on: { change: (e) => save(e.target.checked ? [...ids, c.id] : ids.filter((x) => x !== c.id)) },
                }),
                h('label', { for: `category-${c.id}` }, c.name),
              ),
            ),
          )
        : h('p', { class: 'muted' }, t('conv.categoriesNone')),
    );
  }

  render() {
    const d = this.detail;
    replace(
      this.header,
      heading(personName(d), 'conversation-heading', 2),
      h('p', { class: 'muted' }, t('conv.channel', { name: d.channel_name, platform: d.platform }), ' · ', t('conv.status', { status: t(`inbox.status.${d.status}`) })),
      d.post?.text ? h('p', { class: 'user-text muted' }, t('conv.post', { text: d.post.text })) : null,
    );
    this.root.setAttribute('aria-labelledby', 'conversation-heading');
    this.root.removeAttribute('aria-label');
    this.renderWindow();
    this.renderActions();
    replace(this.messages, this.timeline());
    this.renderSuggestions();
    this.renderEarlier();
    this.renderHandovers();
    this.renderCategories();
    const answer = this.mayAnswer();
    this.replyForm.hidden = !answer;
    this.noteForm.hidden = !answer;
    this.readOnly.hidden = answer;
  }

  /** The reply window of a DM, counted down while the page is open. */
  renderWindow() {
    const d = this.detail;
    if (!d || d.kind !== 'dm') {
      replace(this.windowBox);
      return;
    }
    const w = d.reply_window;
    let box;
    if (!w) {
      box = h('p', { class: 'window closed', id: 'reply-window' }, t('conv.window.never'));
    } else {
      const now = Date.now();
      const left = (w.closes_at - now) / 1000;
      const taggedLeft = (w.human_agent_closes_at - now) / 1000;
      if (left > 0) {
        box = h('p', { class: 'window open', id: 'reply-window' }, t('conv.window.open', { left: formatDuration(left), at: formatTime(w.closes_at) }));
      } else if (taggedLeft > 0) {
        box = h('p', { class: 'window tagged', id: 'reply-window' }, t('conv.window.tagged', { left: formatDuration(taggedLeft) }));
      } else {
        box = h('p', { class: 'window closed', id: 'reply-window' }, t('conv.window.closed'));
      }
      this.humanAgentField.hidden = !(left <= 0 && taggedLeft > 0);
      this.sendButton.disabled = left <= 0 && taggedLeft <= 0;
    }
    replace(this.windowBox, box);
  }

  renderActions() {
    const d = this.detail;
    const claim = d.claim;
    const status = claim
      ? this.mine()
        ? t('conv.claimedByMe', { at: formatClock(claim.expires_at) })
        : t('conv.claimedBy', { name: claim.username, at: formatClock(claim.expires_at) })
      : t('conv.unclaimed');
    const answer = this.mayAnswer();
    const button = (id, text, handler, attrs = {}) => h('button', { type: 'button', id, on: { click: handler }, ...attrs }, text);
    replace(
      this.actions,
      h('p', { class: claim && !this.mine() ? 'claimed' : 'muted', id: 'claim-state' }, status),
      answer && !this.mine() ? button('claim', t('conv.claim'), () => this.claim(), { class: 'primary', disabled: Boolean(claim) }) : null,
      this.mine() ? button('release', t('conv.release'), () => this.release()) : null,
      answer && d.status !== 'waiting' ? button('mark-waiting', t('conv.waiting'), () => this.setStatus('waiting')) : null,
      answer && d.status !== 'resolved' ? button('mark-resolved', t('conv.resolve'), () => this.setStatus('resolved')) : null,
      answer && d.status !== 'open' ? button('mark-open', t('conv.reopen'), () => this.setStatus('open')) : null,
    );
  }

  /** Messages and internal notes in the order they were written. */
  timeline() {
    const d = this.detail;
    const items = [
      ...d.messages.map((m) => ({ at: m.platform_time, node: () => this.message(m) })),
      ...(d.notes || []).map((n) => ({ at: n.written_at, node: () => this.note(n) })),
    ];
    // A stable sort keeps messages before notes written the same millisecond.
    items.sort((a, b) => a.at - b.at);
    return items.map((i) => i.node());
  }

  /** A note is staff's words: shown as text, marked so nobody takes it for a message. */
  note(n) {
    return h(
      'li',
      { class: ['message', 'note'], 'data-note-id': String(n.id) },
      h('p', { class: 'row' }, h('span', { class: 'who' }, t('conv.noteBy', { name: n.written_by || t('conv.handedBySomeone') })), h('span', { class: 'when' }, formatTime(n.written_at))),
      h('p', { class: 'user-text text' }, n.text),
    );
  }

  makeNoteForm() {
    const text = h('textarea', { id: 'note-text', name: 'note', maxlength: '4000', 'aria-describedby': 'note-hint' });
    const errors = h('div', {});
    const submit = async (e) => {
      e.preventDefault();
      if (!text.value.trim()) {
        showError(errors, { message: t('conv.noteMissing') });
        text.focus();
        return;
      }
      showError(errors, null);
      const done = await this.act('POST', `/api/v1/conversations/${this.id}/notes`, { text: text.value }, t('conv.noted'));
      if (done) text.value = '';
    };
    return h(
      'form',
      { class: 'note-form', id: 'note-form', hidden: true, on: { submit } },
      errors,
      h('div', { class: 'field' }, h('label', { for: 'note-text' }, t('conv.noteText')), text, h('span', { id: 'note-hint', class: 'muted' }, t('conv.noteHint'))),
      h('button', { type: 'submit', id: 'note-send' }, t('conv.noteSend')),
    );
  }

  /** Buttons that reveal one masked value each (audited on the server), for those who may. */
  maskedValues(m) {
    const masked = Array.isArray(m.masked) ? m.masked : [];
    if (!masked.length || !this.ctx.can('reveal_personal_data')) return null;
    const kind = (k) => t(`conv.kind.${k}`);
    return h(
      'ul',
      { class: 'attachments', 'aria-label': t('conv.masked') },
      masked.map((span, i) => {
        const item = h('li', {});
        const show = async () => {
          try {
            const r = await this.ctx.api('POST', `/api/v1/messages/${m.id}/reveal`, { index: span.index });
            const text = t('conv.revealed', { kind: kind(r.kind), n: i + 1, value: r.value });
            replace(item, userText(text));
            this.ctx.announce(text);
          } catch (error) {
            showError(item, error);
          }
        };
        replace(item, h('button', { type: 'button', class: 'link-button', on: { click: show } }, t('conv.reveal', { kind: kind(span.kind), n: i + 1 })));
        return item;
      }),
    );
  }

  message(m) {
    const inbound = m.direction === 'inbound';
    const who = inbound ? userText(m.author?.name || m.author?.platform_id || '?') : t('conv.you');
    const notes = [
      m.sent_by ? t('conv.sentBy', { name: m.sent_by }) : null,
      m.delivery ? t(`conv.delivery.${m.delivery}`) : null,
      m.state && m.state !== 'visible' ? t(`conv.state.${m.state}`) : null,
      m.edited ? t('conv.edited') : null,
    ].filter(Boolean);
    const attachments = Array.isArray(m.attachments) ? m.attachments : [];
    return h(
      'li',
      { class: ['message', inbound ? 'inbound' : 'outbound'], 'data-message-id': String(m.id) },
      h('p', { class: 'row' }, h('span', { class: 'who' }, who), h('span', { class: 'when' }, formatTime(m.platform_time)), notes.length ? h('span', { class: 'when' }, notes.join(' · ')) : null),
      // Words the server withholds (S5, or hidden for non-moderators) say why instead.
      h('p', { class: 'user-text text' }, m.text ?? (m.withheld ? t(`conv.withheld.${m.withheld}`) : t('conv.noText'))),
      this.maskedValues(m),
      attachments.length
        ? h(
            'ul',
            { class: 'attachments', 'aria-label': t('conv.attachments') },
            attachments.map((a) => {
              const label = t('conv.attachment', { kind: a.kind || '?', name: a.name || a.url || '' });
              const url = safeUrl(a.url || '');
              // Links go out to the platform's https address only, opened without our origin.
              return h('li', {}, url && url.startsWith('https:') ? h('a', { href: url, rel: 'noopener noreferrer', target: '_blank' }, h('bdi', {}, label)) : h('bdi', {}, label));
            }),
          )
        : null,
      inbound ? h('button', { type: 'button', class: 'report-message', 'data-report': String(m.id), on: { click: () => this.openReport(m.id) } }, t('conv.report')) : null,
    );
  }

  /** The dialog for reporting one message (POST /api/v1/messages/{id}/report): made once, so a
   * live update of the timeline does not lose what is typed in it. */
  openReport(messageId) {
    if (!this.reportDialog) {
      const reason = h('textarea', { id: 'report-reason', maxlength: '2000' });
      const errors = h('div', {});
      const dialog = h(
        'dialog',
        { id: 'report-dialog', 'aria-labelledby': 'report-heading' },
        h(
          'form',
          {
            on: {
              submit: async (e) => {
                e.preventDefault();
                if (!reason.value.trim()) {
                  showError(errors, { message: t('conv.reportMissing') });
                  reason.focus();
                  return;
                }
                const done = await this.act('POST', `/api/v1/messages/${dialog.dataset.message}/report`, { reason: reason.value }, t('conv.reported'));
                if (done) {
                  reason.value = '';
                  showError(errors, null);
                  dialog.close();
                }
              },
            },
          },
          h('h3', { id: 'report-heading' }, t('conv.reportTitle')),
          errors,
          h('div', { class: 'field' }, h('label', { for: 'report-reason' }, t('conv.reportReason')), reason),
          h('div', { class: 'actions' },
            h('button', { type: 'submit', id: 'report-send', class: 'primary' }, t('conv.reportSend')),
            h('button', { type: 'button', on: { click: () => dialog.close() } }, t('conv.reportCancel'))),
        ),
      );
      this.reportDialog = dialog;
      this.reportReason = reason;
      document.body.append(dialog);
    }
    this.reportDialog.dataset.message = String(messageId);
    this.reportDialog.showModal();
    this.reportReason.focus();
  }

  renderSuggestions() {
    const s = this.detail.suggested_reply;
    if (!s?.saved_reply || !this.mayAnswer()) {
      replace(this.suggestions, this.libraryBox());
      return;
    }
    replace(
      this.suggestions,
      h(
        'div',
        { class: 'suggestion', id: 'suggested-reply' },
        h('p', {}, t('conv.suggested', { title: s.saved_reply.title })),
        h('p', { class: 'user-text muted' }, s.saved_reply.body),
        h('button', { type: 'button', on: { click: () => this.insertSaved(s.saved_reply) } }, t('conv.use')),
      ),
      this.libraryBox(),
    );
  }

  libraryBox() {
    if (!this.mayAnswer() || !this.library) return null;
    const items = this.library.filter((r) => !r.archived && (r.channel_id === null || r.channel_id === undefined || r.channel_id === this.detail.channel_id));
    return h(
      'details',
      { class: 'library' },
      h('summary', {}, t('conv.library')),
      items.length
        ? h(
            'ul',
            {},
            items.map((r) =>
              h('li', {}, h('span', {}, r.title, ' '), h('button', { type: 'button', class: 'link-button', 'data-saved-reply-id': String(r.id), on: { click: () => this.insertSaved(r) } }, t('conv.use'))),
            ),
          )
        : h('p', { class: 'muted' }, t('conv.libraryEmpty')),
    );
  }

  async loadLibrary() {
    try {
      const result = await this.ctx.api('GET', '/api/v1/saved-replies', undefined, { query: { language: this.ctx.lang } });
      this.library = result.items || [];
      if (this.detail) this.renderSuggestions();
    } catch {
      this.library = null;
    }
  }

  /** A saved reply goes into the reply field as the server fills it for this conversation
   * (the person's name, the channel), so what is sent is what the agent saw. */
  async insertSaved(reply) {
    try {
      const filled = await this.ctx.api('GET', `/api/v1/conversations/${this.id}/saved-replies/${reply.id}/preview`);
      showError(this.errors, null);
      this.insert(filled.text);
    } catch (e) {
      showError(this.errors, e);
    }
  }

  insert(text) {
    this.replyText.value = text;
    this.replyText.focus();
    this.ctx.announce(t('conv.inserted'));
  }

  renderEarlier() {
    const earlier = this.detail.earlier_conversations || [];
    replace(
      this.earlier,
      h('h3', {}, t('conv.earlier')),
      earlier.length
        ? h('ul', {}, earlier.map((c) => h('li', {}, h('a', { href: `#/inbox/${c.id}` }, formatTime(c.last_message_at), ' – ', h('bdi', {}, c.preview || '')), ' ', h('span', { class: `badge badge-${c.status}` }, t(`inbox.status.${c.status}`)))))
        : h('p', { class: 'muted' }, t('conv.earlierNone')),
    );
  }

  /** Who the conversation went to, by whom and when, with the note; and, for those who may
   * answer it, a form to hand it over (a list of the units when the organisation names them). */
  renderHandovers() {
    const list = this.detail.handovers || [];
    if (this.mayAnswer() && !this.handoverForm) {
      this.handoverForm = this.makeHandoverForm();
      replace(this.handoverSlot, this.handoverForm);
    }
    this.handoverSlot.hidden = !this.mayAnswer();
    replace(
      this.handoverList,
      list.length
        ? h(
            'ul',
            { id: 'handover-list' },
            list.map((x) =>
              h(
                'li',
                { 'data-handover-id': String(x.id) },
                h(
                  'p',
                  {},
                  x.to_staff
                    ? t('conv.handedToColleague', { to: x.to_staff, unit: x.unit ? ` (${x.unit})` : '', name: x.handed_by || t('conv.handedBySomeone'), at: formatTime(x.handed_at) })
                    : t('conv.handedTo', { unit: x.unit, name: x.handed_by || t('conv.handedBySomeone'), at: formatTime(x.handed_at) }),
                ),
                x.note ? h('p', { class: 'user-text muted' }, x.note) : null,
              ),
            ),
          )
        : h('p', { class: 'muted' }, t('conv.handoversNone')),
    );
  }

  makeHandoverForm() {
    const units = this.detail.handover_units || [];
    const unit = units.length
      ? h('select', { id: 'handover-unit', name: 'unit' }, units.map((u) => h('option', { value: u }, u)))
      : h('input', { id: 'handover-unit', name: 'unit', maxlength: '100', autocomplete: 'off' });
    const colleagues = this.detail.handover_colleagues || [];
    const to = h(
      'select',
      { id: 'handover-to', name: 'to' },
      h('option', { value: '' }, t('conv.handOverToNone')),
      colleagues.map((c) => h('option', { value: c.username }, c.unit ? `${c.username} (${c.unit})` : c.username)),
    );
    const note = h('textarea', { id: 'handover-note', name: 'note', maxlength: '2000' });
    const errors = h('div', {});
    const submit = async (e) => {
      e.preventDefault();
      if (to.value) {
        showError(errors, null);
        const done = await this.act('POST', `/api/v1/conversations/${this.id}/handover`, { to: to.value, note: note.value }, t('conv.handedOver', { unit: to.value }));
        if (done) {
          note.value = '';
          to.value = '';
        }
        return;
      }
      const name = unit.value.trim();
      if (!name) {
        showError(errors, { message: t('conv.handOverMissing') });
        unit.focus();
        return;
      }
      showError(errors, null);
      const done = await this.act('POST', `/api/v1/conversations/${this.id}/handover`, { unit: name, note: note.value }, t('conv.handedOver', { unit: name }));
      if (done) {
        note.value = '';
        if (!units.length) unit.value = '';
      }
    };
    return h(
      'details',
      { class: 'handover', id: 'handover' },
      h('summary', {}, t('conv.handOver')),
      h(
        'form',
        { on: { submit } },
        errors,
        h('div', { class: 'field' }, h('label', { for: 'handover-unit' }, t('conv.handOverUnit')), unit),
        colleagues.length ? h('div', { class: 'field' }, h('label', { for: 'handover-to' }, t('conv.handOverTo')), to) : null,
        h('div', { class: 'field' }, h('label', { for: 'handover-note' }, t('conv.handOverNote')), note),
        h('button', { type: 'submit', id: 'handover-send' }, t('conv.handOverSend')),
      ),
    );
  }

  canSend() {
    return Boolean(this.detail && this.mayAnswer() && !this.replyForm.hidden);
  }

  focusReply() {
    if (this.canSend()) this.replyText.focus();
  }

  async act(method, path, body, message) {
    try {
      const result = await this.ctx.api(method, path, body);
      showError(this.errors, null);
      if (message) this.ctx.announce(message);
      await this.refresh();
      this.onChanged?.();
      return result ?? true;
    } catch (e) {
      showError(this.errors, e);
      return null;
    }
  }

  async claim() {
    if (!this.detail || !this.mayAnswer() || this.mine()) return;
    await this.act('POST', `/api/v1/conversations/${this.id}/claim`, undefined, t('conv.claimed'));
    if (this.mine()) this.replyText.focus();
  }

  async release() {
    await this.act('POST', `/api/v1/conversations/${this.id}/release`, undefined, t('conv.released'));
  }

  async setStatus(status) {
    if (!this.detail || !this.mayAnswer() || this.detail.status === status) return;
    const done = await this.act('POST', `/api/v1/conversations/${this.id}/status`, { status }, t(`conv.status.${status}`));
    if (done && status === 'resolved') this.onResolved?.();
  }

  async send() {
    if (!this.canSend() || this.sending) return;
    const text = this.replyText.value;
    const body = { text };
    if (!this.humanAgentField.hidden && this.humanAgent.checked) body.tag = 'HUMAN_AGENT';
    this.sending = true;
    this.sendButton.disabled = true;
    const done = await this.act('POST', `/api/v1/conversations/${this.id}/replies`, body, t('conv.sent'));
    this.sending = false;
    this.sendButton.disabled = false;
    if (done) {
      this.replyText.value = '';
      this.humanAgent.checked = false;
    } else {
      this.replyText.focus();
    }
  }
}
