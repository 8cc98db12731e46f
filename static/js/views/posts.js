// Post follow-up (issue 21) for communicators and administrators: the channels' own posts with
// their figures from the platforms, beside the questions, hate and heated hours of their
// threads; one post's figures over time, goals judged, and notes on its evaluation. Post text is
// user text; everything comes from GET /api/v1/posts and /api/v1/posts/{id}.

import { h, replace, userText } from '../dom.js';
import { t, addStrings, formatTime } from '../i18n.js';
import { showError, heading } from '../ui.js';

addStrings({
  sv: {
    'posts.title': 'Inläggsuppföljning',
    'posts.period': 'Period (månad, t.ex. 2026-11)',
    'posts.sort': 'Ordning',
    'posts.sort.time': 'Senaste först',
    'posts.sort.questions': 'Flest frågor',
    'posts.sort.moderation': 'Mest moderering',
    'posts.sort.reach': 'Störst räckvidd',
    'posts.show': 'Visa',
    'posts.refresh': 'Hämta siffror nu',
    'posts.refreshed': 'Siffrorna är hämtade.',
    'posts.refreshing': 'Hämtar: {done} av {total} kanaler, {posts} inlägg.',
    'posts.refresh_failed': { one: '{n} kanal kunde inte läsas; försök igen senare eller be en administratör se över kanalen.', other: '{n} kanaler kunde inte läsas; försök igen senare eller be en administratör se över dem.' },
    'posts.list': 'Inlägg',
    'posts.col.post': 'Inlägg',
    'posts.col.channel': 'Kanal',
    'posts.col.published': 'Publicerat',
    'posts.col.reach': 'Räckvidd',
    'posts.col.comments': 'Kommentarer',
    'posts.col.questions': 'Frågor',
    'posts.col.flagged': 'Hatiska',
    'posts.none': 'Inga inlägg i perioden.',
    'posts.untitled': 'Inlägg {id}',
    'posts.back': 'Tillbaka till listan',
    'posts.figures': 'Siffror över tid',
    'posts.col.metric': 'Mått',
    'posts.col.at': 'Mätt',
    'posts.col.value': 'Värde',
    'posts.thread': 'Tråden',
    'posts.thread.text': '{comments} kommentarer, {flagged} flaggade som hatiska ({share} %), {heated} upphettade timmar.',
    'posts.questions': 'Frågor inlägget väckte',
    'posts.question': '{name}: {n} frågor, {replied} besvarade i tråden',
    'posts.answered': 'FAQ besvarad',
    'posts.unanswered': 'FAQ ej besvarad',
    'posts.goals': 'Mål',
    'posts.goal': '{metric}: {value} av {target}',
    'posts.status.met': 'uppnått',
    'posts.status.not_met': 'ej uppnått',
    'posts.status.too_early': 'för tidigt att säga',
    'posts.notes': 'Anteckningar om utvärderingen',
    'posts.note.label': 'Vad fungerade, vad gör vi annorlunda?',
    'posts.note.send': 'Spara anteckningen',
    'posts.note.saved': 'Anteckningen är sparad.',
    'posts.empty': 'Inget ännu.',
  },
  en: {
    'posts.title': 'Post follow-up',
    'posts.period': 'Period (month, e.g. 2026-11)',
    'posts.sort': 'Order',
    'posts.sort.time': 'Newest first',
    'posts.sort.questions': 'Most questions',
    'posts.sort.moderation': 'Most moderation',
    'posts.sort.reach': 'Largest reach',
    'posts.show': 'Show',
    'posts.refresh': 'Fetch figures now',
    'posts.refreshed': 'The figures are fetched.',
    'posts.refreshing': 'Fetching: {done} of {total} channels, {posts} posts.',
    'posts.refresh_failed': { one: '{n} channel could not be read; try again later or ask an administrator to look at it.', other: '{n} channels could not be read; try again later or ask an administrator to look at them.' },
    'posts.list': 'Posts',
    'posts.col.post': 'Post',
    'posts.col.channel': 'Channel',
    'posts.col.published': 'Published',
    'posts.col.reach': 'Reach',
    'posts.col.comments': 'Comments',
    'posts.col.questions': 'Questions',
    'posts.col.flagged': 'Hateful',
    'posts.none': 'No posts in the period.',
    'posts.untitled': 'Post {id}',
    'posts.back': 'Back to the list',
    'posts.figures': 'Figures over time',
    'posts.col.metric': 'Figure',
    'posts.col.at': 'Measured',
    'posts.col.value': 'Value',
    'posts.thread': 'The thread',
    'posts.thread.text': '{comments} comments, {flagged} flagged as hateful ({share} %), {heated} heated hours.',
    'posts.questions': 'Questions the post raised',
    'posts.question': '{name}: {n} questions, {replied} replied to in the thread',
    'posts.answered': 'FAQ answered',
    'posts.unanswered': 'FAQ not answered',
    'posts.goals': 'Goals',
    'posts.goal': '{metric}: {value} of {target}',
    'posts.status.met': 'met',
    'posts.status.not_met': 'not met',
    'posts.status.too_early': 'too early to say',
    'posts.notes': 'Notes on the evaluation',
    'posts.note.label': 'What worked, what do we do differently?',
    'posts.note.send': 'Save the note',
    'posts.note.saved': 'The note is saved.',
    'posts.empty': 'Nothing yet.',
  },
});

const excerpt = (post) => post.text ? post.text.slice(0, 120) : t('posts.untitled', { id: post.id });

export const view = {
  id: 'posts',
  title: { sv: 'Inläggsuppföljning', en: 'Post follow-up' },
  needs: ['see_faq', 'manage_channels'],
  render(root, ctx) {
    this.ctx = ctx;
    this.root = root;
    this.route(ctx.params);
    return this;
  },
  route(params) {
    if (params && params[0]) this.showPost(Number(params[0]));
    else this.showList();
  },
  showList() {
    const ctx = this.ctx;
    const errors = h('div', { id: 'posts-errors' });
    const period = h('input', { id: 'posts-period', type: 'text', maxlength: 7, placeholder: '2026-11' });
    const sort = h('select', { id: 'posts-sort' }, ['time', 'questions', 'moderation', 'reach'].map((s) => h('option', { value: s }, t(`posts.sort.${s}`))));
    const body = h('tbody', {});
    const cols = ['post', 'channel', 'published', 'reach', 'comments', 'questions', 'flagged'];
    const load = async () => {
      try {
        const query = { sort: sort.value };
        if (period.value.trim()) query.period = period.value.trim();
        const list = await ctx.api('GET', '/api/v1/posts', undefined, { query });
        const rows = list.items.map((p) => h('tr', {},
          h('td', {}, h('a', { href: `#/posts/${p.id}` }, userText(excerpt(p)))),
          h('td', { class: 'user-text' }, p.channel_name),
          h('td', {}, p.published_at ? formatTime(p.published_at) : ''),
          h('td', {}, p.figures.reach === undefined ? '–' : String(p.figures.reach)),
          h('td', {}, String(p.comments)),
          h('td', {}, String(p.questions)),
          h('td', {}, String(p.flagged))));
        replace(body, rows.length ? rows : h('tr', {}, h('td', { colspan: cols.length }, t('posts.none'))));
        showError(errors, null);
      } catch (e) {
        showError(errors, e);
      }
    };
    const refresh = h('button', { type: 'button', id: 'posts-refresh', on: { click: async () => {
      try {
        // The refresh runs in the background: follow its progress until it has ended.
        let job = await ctx.api('POST', '/api/v1/posts/refresh', {});
        const id = job.id;
        for (let i = 0; i < 600 && job.id === id && job.state === 'running'; i += 1) {
          ctx.announce(t('posts.refreshing', { done: job.channels_done, total: job.channels_total, posts: job.posts_fetched }));
          await new Promise((resolve) => setTimeout(resolve, 1000));
          job = await ctx.api('GET', '/api/v1/posts/refresh');
        }
        ctx.announce(job.channels_failed ? t('posts.refresh_failed', { n: job.channels_failed }) : t('posts.refreshed'));
        await load();
      } catch (e) {
        showError(errors, e);
      }
    } } }, t('posts.refresh'));
    replace(this.root,
      h('section', { 'aria-labelledby': 'posts-heading' },
        heading(t('posts.title'), 'posts-heading'),
        h('form', { class: 'filters', on: { submit: (e) => { e.preventDefault(); load(); } } },
          h('div', { class: 'field' }, h('label', { for: 'posts-period' }, t('posts.period')), period),
          h('div', { class: 'field' }, h('label', { for: 'posts-sort' }, t('posts.sort')), sort),
          h('button', { type: 'submit', class: 'primary', id: 'posts-show' }, t('posts.show'))),
        refresh,
        errors,
        h('table', { class: 'table', id: 'posts-table' },
          h('caption', {}, t('posts.list')),
          h('thead', {}, h('tr', {}, cols.map((c) => h('th', { scope: 'col' }, t(`posts.col.${c}`))))),
          body)));
    load();
  },
  async showPost(id) {
    const ctx = this.ctx;
    const errors = h('div', { id: 'post-errors' });
    const container = h('div', { id: 'post-body' });
    replace(this.root,
      h('section', { 'aria-labelledby': 'post-heading' },
        heading(t('posts.untitled', { id }), 'post-heading'),
        h('p', {}, h('a', { href: '#/posts' }, t('posts.back'))),
        errors,
        container));
    try {
      const post = await ctx.api('GET', `/api/v1/posts/${id}`);
      const series = [];
      for (const [metric, points] of Object.entries(post.series)) {
        for (const p of points) series.push(h('tr', {}, h('td', {}, metric), h('td', {}, formatTime(p.at)), h('td', {}, String(p.value))));
      }
      const share = Math.round(post.thread.hateful_share * 1000) / 10;
      const noteText = h('textarea', { id: 'post-note-text', maxlength: 4000, rows: 3 });
      const notes = h('ul', { id: 'post-notes' }, post.notes.map((n) => h('li', {}, userText(n.text), ' — ', n.written_by || '', ', ', formatTime(n.written_at))));
      const save = async (e) => {
        e.preventDefault();
        try {
          const note = await ctx.api('POST', `/api/v1/posts/${id}/notes`, { text: noteText.value });
          notes.append(h('li', {}, userText(note.text), ' — ', note.written_by || '', ', ', formatTime(note.written_at)));
          noteText.value = '';
          ctx.announce(t('posts.note.saved'));
          showError(errors, null);
        } catch (err) {
          showError(errors, err);
        }
      };
      replace(container,
        post.text ? h('p', { class: 'user-text' }, userText(post.text)) : '',
        post.permalink ? h('p', {}, h('a', { href: post.permalink, rel: 'noopener noreferrer' }, post.permalink)) : '',
        heading(t('posts.figures'), 'post-figures', 2),
        h('table', { class: 'table', id: 'post-series' },
          h('caption', {}, t('posts.figures')),
          h('thead', {}, h('tr', {}, ['metric', 'at', 'value'].map((c) => h('th', { scope: 'col' }, t(`posts.col.${c}`))))),
          h('tbody', {}, series.length ? series : h('tr', {}, h('td', { colspan: 3 }, t('posts.empty'))))),
        heading(t('posts.thread'), 'post-thread', 2),
        h('p', { id: 'post-thread-text' }, t('posts.thread.text', { comments: post.thread.comments, flagged: post.thread.flagged, share, heated: post.thread.heated_hours })),
        heading(t('posts.questions'), 'post-questions', 2),
        h('ul', { id: 'post-question-list' }, post.raised_questions.length ? post.raised_questions.map((q) => h('li', {},
          userText(t('posts.question', { name: q.name, n: q.questions, replied: q.replied })), ' (', q.answered ? t('posts.answered') : t('posts.unanswered'), ')')) : h('li', {}, t('posts.empty'))),
        heading(t('posts.goals'), 'post-goals', 2),
        h('ul', { id: 'post-goal-list' }, post.goals.length ? post.goals.map((g) => h('li', {},
          t('posts.goal', { metric: g.metric, value: g.value === null ? '–' : g.value, target: g.target }), ' — ', t(`posts.status.${g.status}`),
          g.plan_text ? h('span', { class: 'user-text' }, ' · ', userText(g.plan_text)) : '')) : h('li', {}, t('posts.empty'))),
        heading(t('posts.notes'), 'post-notes-heading', 2),
        notes,
        h('form', { on: { submit: save } },
          h('div', { class: 'field' }, h('label', { for: 'post-note-text' }, t('posts.note.label')), noteText),
          h('button', { type: 'submit', class: 'primary', id: 'post-note-send' }, t('posts.note.send'))));
      showError(errors, null);
    } catch (e) {
      showError(errors, e);
    }
  },
};
