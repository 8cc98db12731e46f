// FAQ signals (GET /api/v1/faq/clusters): the questions that come again and again, their counts
// against the period before, and a chart of both. #/faq/<id> opens a cluster: its examples,
// posts, a per-day chart of its questions (from search's faq_cluster filter) and curation
// (PATCH .../{id}: name, pin, dismiss, answered by a web page or saved reply, merge; POST
// .../{id}/questions: move questions here, which is how a cluster is split).

import { h, replace, userText } from '../dom.js';
import { t, addStrings, formatTime } from '../i18n.js';
import { showError, heading } from '../ui.js';
import { barPairs, timeBars } from './charts.js';
import { SavedReplies } from './saved-replies.js';

addStrings({
  sv: {
    'faq.title': 'FAQ-signaler',
    'faq.period': 'Period',
    'faq.period.day': 'Senaste dygnet',
    'faq.period.week': 'Senaste veckan',
    'faq.period.month': 'Senaste 30 dagarna',
    'faq.period.quarter': 'Senaste kvartalet',
    'faq.dismissed': 'Visa avfärdade',
    'faq.clusters': 'Återkommande frågor',
    'faq.none': 'Inga återkommande frågor under perioden.',
    'faq.chart': 'Frågor per kluster: perioden mot perioden före',
    'faq.now': 'Perioden',
    'faq.before': 'Perioden före',
    'faq.col.question': 'Fråga',
    'faq.col.count': 'Antal',
    'faq.col.previous': 'Före',
    'faq.col.change': 'Förändring',
    'faq.col.people': 'Personer',
    'faq.col.state': 'Läge',
    'faq.pinned': 'Fäst',
    'faq.dismissedBadge': 'Avfärdad',
    'faq.answered': 'Besvarad',
    'faq.newFast': 'Ny och snabb',
    'faq.significant': 'Tydlig förändring',
    'faq.growing': 'Fortsätter trots svar',
    'faq.pick': 'Välj en fråga i listan för att se exempel och kurera den.',
    'faq.notFound': 'Klustret finns inte i listan för perioden (det kan vara sammanslaget eller avfärdat).',
    'faq.label': 'Mest typiska frågan',
    'faq.terms': 'Vanliga ord',
    'faq.examples': 'Exempel',
    'faq.noExamples': 'Inga exempel visas (klustret har flyttade frågor eller frågor utanför dina kanaler).',
    'faq.posts': 'Inlägg där frågan ställs',
    'faq.channels': 'Kanaler',
    'faq.total': { one: '{n} fråga totalt', other: '{n} frågor totalt' },
    'faq.trend': 'Frågor per dag',
    'faq.trendTitle': 'Frågor per dag i {name}',
    'faq.curate': 'Kurera',
    'faq.name': 'Namn',
    'faq.rename': 'Spara namnet',
    'faq.pin': 'Fäst överst',
    'faq.unpin': 'Lossa',
    'faq.dismiss': 'Avfärda',
    'faq.restore': 'Ta tillbaka',
    'faq.answer': 'Besvarad av',
    'faq.answer.url': 'Webbadress (https://…)',
    'faq.answer.reply': 'eller sparat svar',
    'faq.answer.none': 'Inget sparat svar',
    'faq.answer.save': 'Spara svaret',
    'faq.answer.clear': 'Inte besvarad',
    'faq.answeredBy': 'Besvarad av: ',
    'faq.savedReply': 'sparat svar {title}',
    'faq.merge': 'Slå ihop med',
    'faq.merge.pick': 'Välj ett kluster',
    'faq.merge.do': 'Slå ihop',
    'faq.merged': 'Sammanslaget med {name}.',
    'faq.questions': 'Frågorna',
    'faq.questionsHint': 'Markera frågor som hör till ett annat kluster och flytta dem dit (så delas klustret).',
    'faq.moveTo': 'Flytta markerade till',
    'faq.move': 'Flytta',
    'faq.moved': { one: '{n} fråga flyttad.', other: '{n} frågor flyttade.' },
    'faq.pickQuestions': 'Markera minst en fråga först.',
    'faq.pickTarget': 'Välj vilket kluster frågorna ska till.',
    'faq.badUrl': 'Adressen ska börja med https:// eller http://.',
    'faq.saved': 'Sparat.',
    'faq.topics': 'Ämnen',
    'faq.topicsNone': 'Inga ämnen ännu.',
    'faq.topicLine': '{members} frågor av {authors} personer',
    'faq.open': 'Öppna',
  },
  en: {
    'faq.title': 'FAQ signals',
    'faq.period': 'Period',
    'faq.period.day': 'Last day',
    'faq.period.week': 'Last week',
    'faq.period.month': 'Last 30 days',
    'faq.period.quarter': 'Last quarter',
    'faq.dismissed': 'Show dismissed',
    'faq.clusters': 'Recurring questions',
    'faq.none': 'No recurring questions in the period.',
    'faq.chart': 'Questions per cluster: this period against the one before',
    'faq.now': 'This period',
    'faq.before': 'Period before',
    'faq.col.question': 'Question',
    'faq.col.count': 'Count',
    'faq.col.previous': 'Before',
    'faq.col.change': 'Change',
    'faq.col.people': 'People',
    'faq.col.state': 'State',
    'faq.pinned': 'Pinned',
    'faq.dismissedBadge': 'Dismissed',
    'faq.answered': 'Answered',
    'faq.newFast': 'New and fast',
    'faq.significant': 'Clear change',
    'faq.growing': 'Still growing after the answer',
    'faq.pick': 'Pick a question in the list to see examples and curate it.',
    'faq.notFound': 'The cluster is not in the list for the period (it may be merged or dismissed).',
    'faq.label': 'Most typical question',
    'faq.terms': 'Common words',
    'faq.examples': 'Examples',
    'faq.noExamples': 'No examples shown (the cluster has moved questions or questions outside your channels).',
    'faq.posts': 'Posts where it is asked',
    'faq.channels': 'Channels',
    'faq.total': { one: '{n} question in all', other: '{n} questions in all' },
    'faq.trend': 'Questions per day',
    'faq.trendTitle': 'Questions per day in {name}',
    'faq.curate': 'Curate',
    'faq.name': 'Name',
    'faq.rename': 'Save the name',
    'faq.pin': 'Pin to the top',
    'faq.unpin': 'Unpin',
    'faq.dismiss': 'Dismiss',
    'faq.restore': 'Bring back',
    'faq.answer': 'Answered by',
    'faq.answer.url': 'Web address (https://…)',
    'faq.answer.reply': 'or saved reply',
    'faq.answer.none': 'No saved reply',
    'faq.answer.save': 'Save the answer',
    'faq.answer.clear': 'Not answered',
    'faq.answeredBy': 'Answered by: ',
    'faq.savedReply': 'saved reply {title}',
    'faq.merge': 'Merge into',
    'faq.merge.pick': 'Pick a cluster',
    'faq.merge.do': 'Merge',
    'faq.merged': 'Merged into {name}.',
    'faq.questions': 'The questions',
    'faq.questionsHint': 'Tick questions that belong to another cluster and move them there (this splits the cluster).',
    'faq.moveTo': 'Move the ticked ones to',
    'faq.move': 'Move',
    'faq.moved': { one: '{n} question moved.', other: '{n} questions moved.' },
    'faq.pickQuestions': 'Tick at least one question first.',
    'faq.pickTarget': 'Pick the cluster the questions should go to.',
    'faq.badUrl': 'The address must start with https:// or http://.',
    'faq.saved': 'Saved.',
    'faq.topics': 'Topics',
    'faq.topicsNone': 'No topics yet.',
    'faq.topicLine': '{members} questions from {authors} people',
    'faq.open': 'Open',
  },
});

const PERIODS = ['day', 'week', 'month', 'quarter'];
const DAYS = { day: 1, week: 7, month: 30, quarter: 91 };
const state = { period: 'week', dismissed: false };

export const view = {
  id: 'faq',
  title: { sv: 'FAQ-signaler', en: 'FAQ signals' },
  needs: ['see_faq'],
  render(root, ctx) {
    return new Faq(root, ctx);
  },
};

/** "+3", "−2", "±0": the sign is written, never only coloured. */
function signed(n) {
  if (n > 0) return `+${n}`;
  if (n < 0) return `−${-n}`;
  return '±0';
}

class Faq {
  constructor(root, ctx) {
    this.ctx = ctx;
    this.items = [];
    this.replies = [];
    this.channels = {};
    this.selected = ctx.params[0] ? Number(ctx.params[0]) : null;
    const field = (id, label, control) => h('div', { class: 'field' }, h('label', { for: id }, label), control);
    this.periodSelect = h(
      'select',
      { id: 'faq-period', on: { change: (e) => { state.period = e.target.value; this.load(); } } },
      PERIODS.map((p) => h('option', { value: p, selected: state.period === p }, t(`faq.period.${p}`))),
    );
    this.dismissedBox = h('input', {
      type: 'checkbox', id: 'faq-dismissed', checked: state.dismissed,
      on: { change: (e) => { state.dismissed = e.target.checked; this.load(); } },
    });
    this.errors = h('div', { id: 'faq-errors' });
    this.chart = h('div', { id: 'faq-chart' });
    this.table = h('div', { id: 'faq-list' });
    this.detail = h('section', { class: 'panel', id: 'faq-cluster', 'aria-labelledby': 'faq-cluster-heading' });
    this.topics = h('div', { id: 'faq-topics' });
    // Kept across re-renders of the panel, so a live update does not wipe what was just said.
    this.status = h('div', { id: 'faq-status', role: 'status' });
    this.savedBox = h('div', { id: 'faq-saved-replies' });
    root.append(
      h(
        'div',
        { class: 'split split-wide' },
        h(
          'section',
          { 'aria-labelledby': 'faq-heading' },
          heading(t('faq.title'), 'faq-heading'),
          h('form', { class: 'filters', on: { submit: (e) => e.preventDefault() } },
            field('faq-period', t('faq.period'), this.periodSelect),
            h('div', { class: 'field' }, h('span', {}, '\u00a0'), h('span', {}, this.dismissedBox, ' ', h('label', { for: 'faq-dismissed' }, t('faq.dismissed'))))),
          this.errors,
          h('h2', { id: 'faq-list-heading' }, t('faq.clusters')),
          this.chart,
          this.table,
          h('details', { class: 'topics' }, h('summary', {}, t('faq.topics')), this.topics),
          this.savedBox,
        ),
        this.detail,
      ),
    );
    this.saved = new SavedReplies(this.savedBox, ctx, () => this.loadReplies());
    this.loadChannels();
    this.loadReplies();
    this.loadTopics();
    this.load();
    this.unsubscribe = ctx.events?.subscribe((e) => {
      if (e.kind === 'faq.curated' || e.kind === 'faq.questions_moved') this.load(true);
    });
  }

  destroy() {
    this.unsubscribe?.();
  }

  route(params) {
    this.selected = params[0] ? Number(params[0]) : null;
    this.renderList();
    this.renderDetail();
  }

  async loadChannels() {
    try {
      const list = await this.ctx.api('GET', '/api/v1/channels');
      this.channels = Object.fromEntries((list.items || []).map((c) => [c.id, c.name]));
    } catch {
      // Channel ids are shown as numbers then; nothing else depends on the names.
    }
  }

  async loadReplies() {
    try {
      this.replies = (await this.ctx.api('GET', '/api/v1/saved-replies')).items || [];
      this.saved.render(this.replies);
      this.renderDetail(true);
    } catch (e) {
      showError(this.errors, e);
    }
  }

  async loadTopics() {
    try {
      const topics = await this.ctx.api('GET', '/api/v1/faq/topics');
      replace(
        this.topics,
        topics.note ? h('p', { class: 'muted' }, topics.note) : null,
        topics.items.length
          ? h('ul', {}, topics.items.map((tp) => h('li', {}, h('span', { class: 'user-text' }, tp.label), ' – ', t('faq.topicLine', { members: tp.members, authors: tp.authors }))))
          : h('p', { class: 'muted' }, t('faq.topicsNone')),
      );
    } catch (e) {
      showError(this.topics, e);
    }
  }

  async load(gentle = false) {
    try {
      const list = await this.ctx.api('GET', '/api/v1/faq/clusters', undefined, {
        query: { period: state.period, include_dismissed: state.dismissed ? 'true' : '' },
      });
      this.items = list.items || [];
      showError(this.errors, null);
    } catch (e) {
      showError(this.errors, e);
      return;
    }
    this.renderList();
    this.renderDetail(gentle);
  }

  renderList() {
    const top = this.items.slice(0, 10);
    replace(
      this.chart,
      top.length
        ? barPairs({
            title: t('faq.chart'),
            rows: top.map((c) => ({ label: c.name, a: c.count, b: c.previous })),
            names: [t('faq.now'), t('faq.before')],
          })
        : null,
    );
    if (!this.items.length) {
      replace(this.table, h('p', { class: 'muted' }, t('faq.none')));
      return;
    }
    const cols = ['question', 'count', 'previous', 'change', 'people', 'state'];
    replace(
      this.table,
      h(
        'table',
        { class: 'table', 'aria-labelledby': 'faq-list-heading' },
        h('thead', {}, h('tr', {}, cols.map((c) => h('th', { scope: 'col' }, t(`faq.col.${c}`))))),
        h(
          'tbody',
          {},
          this.items.map((c) =>
            h(
              'tr',
              { 'data-cluster': String(c.id) },
              h('th', { scope: 'row' },
                h('a', { href: `#/faq/${c.id}`, 'aria-current': c.id === this.selected ? 'true' : null, class: 'user-text' }, c.name)),
              h('td', {}, String(c.count)),
              h('td', {}, String(c.previous)),
              h('td', { class: c.change > 0 ? 'up' : c.change < 0 ? 'down' : null }, signed(c.change)),
              h('td', {}, String(c.people)),
              h('td', {}, this.badges(c)),
            ),
          ),
        ),
      ),
    );
  }

  badges(c) {
    const b = (key, cls = '') => h('span', { class: `badge ${cls}` }, t(key));
    return h('span', { class: 'row' },
      c.pinned ? b('faq.pinned') : null,
      c.dismissed ? b('faq.dismissedBadge') : null,
      c.new_and_fast ? b('faq.newFast', 'badge-waiting') : null,
      c.significant ? b('faq.significant') : null,
      c.answered_url ? b('faq.answered', 'badge-done') : null,
      c.growing_after_answer ? b('faq.growing', 'badge-expired') : null);
  }

  cluster() {
    return this.items.find((c) => c.id === this.selected) || null;
  }

  answerText(url) {
    const m = /^saved-reply:(\d+)$/.exec(url || '');
    if (!m) return h('a', { href: url, rel: 'noopener noreferrer', class: 'user-text' }, url);
    const reply = this.replies.find((r) => r.id === Number(m[1]));
    return h('span', { class: 'user-text' }, t('faq.savedReply', { title: reply ? reply.title : `#${m[1]}` }));
  }

  /**
   * `gentle`: a live update while someone works in the panel refreshes the facts only, so a
   * half-typed name is not lost; after one's own change the whole panel is rebuilt (the forms
   * carry the cluster's state) and focus goes back to the control that was used.
   */
  renderDetail(gentle = false) {
    const c = this.cluster();
    if (!this.selected || !c) {
      this.shown = null;
      replace(
        this.detail,
        h('h2', { id: 'faq-cluster-heading' }, t('faq.curate')),
        h('p', { class: 'muted' }, this.selected && this.items.length ? t('faq.notFound') : t('faq.pick')),
      );
      return;
    }
    const active = this.detail.contains(document.activeElement) ? document.activeElement.id : null;
    if (gentle && this.shown === c.id && active) {
      replace(this.facts, this.factsOf(c));
      return;
    }
    if (this.shown !== c.id) replace(this.status);
    this.shown = c.id;
    this.facts = h('div', {}, this.factsOf(c));
    this.questions = h('div', { id: 'faq-questions' });
    this.trend = h('div', { id: 'faq-trend' });
    replace(
      this.detail,
      h('h2', { id: 'faq-cluster-heading', tabindex: '-1' }, userText(c.name)),
      this.facts,
      h('h3', {}, t('faq.trend')),
      this.trend,
      h('h3', {}, t('faq.curate')),
      this.status,
      this.curationForms(c),
      h('h3', {}, t('faq.questions')),
      h('p', { class: 'muted' }, t('faq.questionsHint')),
      this.questions,
    );
    this.loadQuestions(c);
    if (active) this.detail.querySelector(`#${CSS.escape(active)}`)?.focus();
  }

  factsOf(c) {
    return [
      h('p', { class: 'row' }, this.badges(c), h('span', { class: 'muted' }, t('faq.total', { n: c.total_members }))),
      h('p', {}, h('strong', {}, `${t('faq.label')}: `), h('span', { class: 'user-text', id: 'faq-label' }, c.label)),
      c.top_terms.length ? h('p', {}, h('strong', {}, `${t('faq.terms')}: `), h('span', { class: 'user-text' }, c.top_terms.join(', '))) : null,
      h('h3', {}, t('faq.examples')),
      c.examples.length
        ? h('ul', { id: 'faq-examples' }, c.examples.map((e) => h('li', { class: 'user-text' }, e)))
        : h('p', { class: 'muted' }, t('faq.noExamples')),
      c.posts.length ? [h('h3', {}, t('faq.posts')), h('ul', { id: 'faq-posts' }, c.posts.map((p) => h('li', { class: 'user-text' }, p)))] : null,
      c.channels.length ? h('p', {}, h('strong', {}, `${t('faq.channels')}: `), c.channels.map((id) => this.channels[id] || `#${id}`).join(', ')) : null,
      c.answered_url ? h('p', { id: 'faq-answered' }, t('faq.answeredBy'), this.answerText(c.answered_url)) : null,
    ];
  }

  async curate(c, change, done) {
    try {
      await this.ctx.api('PATCH', `/api/v1/faq/clusters/${c.id}`, change);
      await this.load();
      replace(this.status, h('p', { class: 'ok' }, done || t('faq.saved')));
      this.ctx.announce(done || t('faq.saved'));
      return true;
    } catch (e) {
      showError(this.status, e);
      return false;
    }
  }

  curationForms(c) {
    const others = this.items.filter((o) => o.id !== c.id);
    const name = h('input', { id: 'faq-name', type: 'text', value: c.name === c.label ? '' : c.name, maxlength: 200, class: 'wide' });
    const url = h('input', { id: 'faq-url', type: 'url', value: /^https?:/.test(c.answered_url || '') ? c.answered_url : '', class: 'wide' });
    const current = /^saved-reply:(\d+)$/.exec(c.answered_url || '');
    const reply = h('select', { id: 'faq-reply' },
      h('option', { value: '' }, t('faq.answer.none')),
      this.replies.map((r) => h('option', { value: String(r.id), selected: current && Number(current[1]) === r.id }, r.title)));
    const merge = h('select', { id: 'faq-merge' },
      h('option', { value: '' }, t('faq.merge.pick')),
      others.map((o) => h('option', { value: String(o.id) }, o.name)));
    const field = (id, label, control) => h('div', { class: 'field' }, h('label', { for: id }, label), control);
    return h(
      'div',
      {},
      h('form', { on: { submit: (e) => { e.preventDefault(); this.curate(c, { name: name.value.trim() }); } } },
        field('faq-name', t('faq.name'), name),
        h('button', { type: 'submit', id: 'faq-rename' }, t('faq.rename'))),
      h('div', { class: 'actions' },
        h('button', { type: 'button', id: 'faq-pin', on: { click: () => this.curate(c, { pinned: !c.pinned }) } }, c.pinned ? t('faq.unpin') : t('faq.pin')),
        h('button', { type: 'button', id: 'faq-dismiss', on: { click: () => this.curate(c, { dismissed: !c.dismissed }) } }, c.dismissed ? t('faq.restore') : t('faq.dismiss'))),
      h('form', { on: { submit: (e) => {
        e.preventDefault();
        const u = url.value.trim();
        if (u && !/^https?:\/\//i.test(u)) {
          showError(this.status, new Error(t('faq.badUrl')));
          url.focus();
          return;
        }
        const answered = reply.value ? `saved-reply:${reply.value}` : u;
        this.curate(c, { answered_url: answered });
      } } },
        h('fieldset', { class: 'checks' }, h('legend', {}, t('faq.answer')),
          field('faq-url', t('faq.answer.url'), url),
          field('faq-reply', t('faq.answer.reply'), reply),
          h('div', { class: 'actions' },
            h('button', { type: 'submit', id: 'faq-answer' }, t('faq.answer.save')),
            c.answered_url ? h('button', { type: 'button', on: { click: () => this.curate(c, { answered_url: '' }) } }, t('faq.answer.clear')) : null))),
      others.length
        ? h('form', { class: 'filters', on: { submit: (e) => {
            e.preventDefault();
            const into = this.items.find((o) => o.id === Number(merge.value));
            if (!into) { showError(this.status, new Error(t('faq.pickTarget'))); return; }
            this.curate(c, { merged_into: into.id }, t('faq.merged', { name: into.name })).then((ok) => ok && this.ctx.navigate(`#/faq/${into.id}`));
          } } },
            field('faq-merge', t('faq.merge'), merge),
            h('button', { type: 'submit', id: 'faq-merge-do' }, t('faq.merge.do')))
        : null,
    );
  }

  /** The cluster's questions from search (faq_cluster filter), for the chart and for moving. */
  async loadQuestions(c) {
    const since = Date.now() - DAYS[state.period] * 86400000;
    let hits = [];
    try {
      for (let offset = 0; offset < 500; offset += 100) {
        const page = await this.ctx.api('GET', '/api/v1/search', undefined, {
          query: { faq_cluster: c.id, sort: 'newest', limit: 100, offset },
        });
        hits = hits.concat(page.items);
        if (hits.length >= page.total || !page.items.length) break;
      }
    } catch (e) {
      showError(this.questions, e);
      return;
    }
    if (this.shown !== c.id) return;
    this.renderTrend(c, hits.map((x) => x.message.platform_time).filter((ms) => ms >= since));
    const others = this.items.filter((o) => o.id !== c.id);
    const target = h('select', { id: 'faq-move-to' },
      h('option', { value: '' }, t('faq.merge.pick')),
      others.map((o) => h('option', { value: String(o.id) }, o.name)));
    const boxes = hits.map(({ message: m, snippet }) =>
      h('div', {},
        h('input', { type: 'checkbox', id: `faq-q-${m.message_id}`, value: String(m.message_id) }), ' ',
        h('label', { for: `faq-q-${m.message_id}`, class: 'user-text' }, snippet?.text || ''),
        h('span', { class: 'muted' }, ` · ${formatTime(m.platform_time)}`)));
    replace(
      this.questions,
      hits.length
        ? h('form', { on: { submit: (e) => { e.preventDefault(); this.move(c, target.value, boxes); } } },
            h('fieldset', { class: 'checks' }, h('legend', {}, t('faq.questions')), boxes),
            others.length
              ? h('div', { class: 'filters' },
                  h('div', { class: 'field' }, h('label', { for: 'faq-move-to' }, t('faq.moveTo')), target),
                  h('button', { type: 'submit', id: 'faq-move' }, t('faq.move')))
              : null)
        : h('p', { class: 'muted' }, t('faq.none')),
    );
  }

  renderTrend(c, times) {
    const days = DAYS[state.period];
    const start = new Date();
    start.setHours(0, 0, 0, 0);
    const points = [];
    for (let i = days - 1; i >= 0; i -= 1) {
      const from = start.getTime() - i * 86400000;
      const d = new Date(from);
      points.push({ label: `${d.getDate()}/${d.getMonth() + 1}`, value: times.filter((ms) => ms >= from && ms < from + 86400000).length });
    }
    replace(this.trend, timeBars({ title: t('faq.trendTitle', { name: c.name }), points }));
  }

  async move(c, into, boxes) {
    const ids = boxes.map((b) => b.querySelector('input')).filter((i) => i.checked).map((i) => Number(i.value));
    if (!ids.length) return showError(this.status, new Error(t('faq.pickQuestions')));
    if (!into) return showError(this.status, new Error(t('faq.pickTarget')));
    try {
      const result = await this.ctx.api('POST', `/api/v1/faq/clusters/${into}/questions`, { messages: ids });
      const done = t('faq.moved', { n: result.moved });
      await this.load();
      replace(this.status, h('p', { class: 'ok' }, done));
      this.ctx.announce(done);
    } catch (e) {
      showError(this.status, e);
    }
  }
}
