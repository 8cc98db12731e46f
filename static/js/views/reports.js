// Reports (GET /api/v1/reports?period=2026-10 or 2026Q3): a month's or quarter's figures beside
// the previous period's, simple inline-SVG charts, and links to the printable HTML page and the
// CSV. Shown only with `see_reports`; until the service has that capability nobody sees it.

import { h, replace, s, uid } from '../dom.js';
import { t, addStrings, formatDuration } from '../i18n.js';
import { showError, heading } from '../ui.js';
import { barPairs } from './charts.js';

addStrings({
  sv: {
    'rep.title': 'Rapporter',
    'rep.period': 'Period',
    'rep.months': 'Månader',
    'rep.quarters': 'Kvartal',
    'rep.show': 'Visa',
    'rep.print': 'Utskriftsvänlig sida',
    'rep.csv': 'Ladda ned CSV',
    'rep.compared': '{period} jämfört med {previous}',
    'rep.totals': 'Totalt',
    'rep.channels': 'Per kanal',
    'rep.metric': 'Mått',
    'rep.value': 'Perioden',
    'rep.previous': 'Perioden före',
    'rep.change': 'Förändring',
    'rep.kind.dm': 'Direktmeddelanden',
    'rep.kind.comments': 'Kommentarer',
    'rep.m.inbound': 'Inkommande',
    'rep.m.replies': 'Svar',
    'rep.m.questions': 'Frågor som väntade på svar',
    'rep.m.answered': 'Av dem besvarade',
    'rep.m.first_response_median_seconds': 'Första svar, median',
    'rep.m.first_response_p90_seconds': 'Första svar, 90:e percentilen',
    'rep.m.within_service_level': 'Besvarade inom servicenivån',
    'rep.m.resolved': 'Lösta',
    'rep.m.resolution_median_seconds': 'Tid till löst, median',
    'rep.m.resolution_p90_seconds': 'Tid till löst, 90:e percentilen',
    'rep.m.waiting_on_person': 'Väntar på personen',
    'rep.chart.volume': 'Inkommande och svar: perioden mot perioden före',
    'rep.faq': 'Vanligaste frågorna',
    'rep.chart.faq': 'Vanligaste frågorna: perioden mot perioden före',
    'rep.moderation': 'Moderering',
    'rep.chart.levels': 'Ärenden per nivå: perioden mot perioden före',
    'rep.m.cases': 'Ärenden',
    'rep.m.police_reports': 'Polisanmälningar',
    'rep.m.hidden_off_hours': 'Dolda utanför bemannad tid',
    'rep.m.time_to_action_median_seconds': 'Tid till åtgärd, median',
    'rep.m.time_to_action_p90_seconds': 'Tid till åtgärd, 90:e percentilen',
    'rep.heat': 'Inkommande per veckodag och timme ({kind})',
    'rep.none': '–',
    'rep.answered': 'besvarad',
    'rep.days': 'mån,tis,ons,tor,fre,lör,sön',
  },
  en: {
    'rep.title': 'Reports',
    'rep.period': 'Period',
    'rep.months': 'Months',
    'rep.quarters': 'Quarters',
    'rep.show': 'Show',
    'rep.print': 'Printable page',
    'rep.csv': 'Download CSV',
    'rep.compared': '{period} compared with {previous}',
    'rep.totals': 'Totals',
    'rep.channels': 'Per channel',
    'rep.metric': 'Measure',
    'rep.value': 'This period',
    'rep.previous': 'Period before',
    'rep.change': 'Change',
    'rep.kind.dm': 'Direct messages',
    'rep.kind.comments': 'Comments',
    'rep.m.inbound': 'Inbound',
    'rep.m.replies': 'Replies',
    'rep.m.questions': 'Questions that waited for an answer',
    'rep.m.answered': 'Of those answered',
    'rep.m.first_response_median_seconds': 'First response, median',
    'rep.m.first_response_p90_seconds': 'First response, 90th percentile',
    'rep.m.within_service_level': 'Answered within the service level',
    'rep.m.resolved': 'Resolved',
    'rep.m.resolution_median_seconds': 'Time to resolve, median',
    'rep.m.resolution_p90_seconds': 'Time to resolve, 90th percentile',
    'rep.m.waiting_on_person': 'Waiting on the person',
    'rep.chart.volume': 'Inbound and replies: this period against the one before',
    'rep.faq': 'Most frequent questions',
    'rep.chart.faq': 'Most frequent questions: this period against the one before',
    'rep.moderation': 'Moderation',
    'rep.chart.levels': 'Cases per level: this period against the one before',
    'rep.m.cases': 'Cases',
    'rep.m.police_reports': 'Police reports',
    'rep.m.hidden_off_hours': 'Hidden outside staffed hours',
    'rep.m.time_to_action_median_seconds': 'Time to action, median',
    'rep.m.time_to_action_p90_seconds': 'Time to action, 90th percentile',
    'rep.heat': 'Inbound per weekday and hour ({kind})',
    'rep.none': '–',
    'rep.answered': 'answered',
    'rep.days': 'Mon,Tue,Wed,Thu,Fri,Sat,Sun',
  },
});

export const view = {
  id: 'reports',
  title: { sv: 'Rapporter', en: 'Reports' },
  needs: ['see_reports'],
  render(root, ctx) {
    return new Reports(root, ctx);
  },
};

/** The last 12 whole months and last 6 whole quarters, newest first ("2026-10", "2026Q3"). */
function periods() {
  const now = new Date();
  const months = [];
  for (let i = 1; i <= 12; i += 1) {
    const d = new Date(now.getFullYear(), now.getMonth() - i, 1);
    months.push(`${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, '0')}`);
  }
  const quarters = [];
  let q = Math.floor(now.getMonth() / 3);
  let y = now.getFullYear();
  for (let i = 0; i < 6; i += 1) {
    q -= 1;
    if (q < 0) { q = 3; y -= 1; }
    quarters.push(`${y}Q${q + 1}`);
  }
  return { months, quarters };
}

function format(metric, v) {
  if (v === null || v === undefined) return t('rep.none');
  if (metric.endsWith('_seconds')) return formatDuration(v);
  if (metric === 'within_service_level') return `${Math.round(v * 100)} %`;
  return String(v);
}

function change(metric, f) {
  if (f.value === null || f.previous === null) return t('rep.none');
  const d = f.value - f.previous;
  if (metric.endsWith('_seconds')) return `${d > 0 ? '+' : d < 0 ? '−' : '±'}${formatDuration(Math.abs(d))}`;
  if (metric === 'within_service_level') return `${d >= 0 ? '+' : '−'}${Math.abs(Math.round(d * 100))} %`;
  return d > 0 ? `+${d}` : d < 0 ? `−${-d}` : '±0';
}

class Reports {
  constructor(root, ctx) {
    this.ctx = ctx;
    const { months, quarters } = periods();
    this.select = h('select', { id: 'rep-period' },
      h('optgroup', { label: t('rep.months') }, months.map((m) => h('option', { value: m }, m))),
      h('optgroup', { label: t('rep.quarters') }, quarters.map((x) => h('option', { value: x }, x))));
    this.pick(ctx.params[0]);
    this.errors = h('div', { id: 'rep-errors' });
    this.links = h('p', { class: 'actions', id: 'rep-links' });
    this.body = h('div', { id: 'rep-body' });
    root.append(
      h('section', { 'aria-labelledby': 'rep-heading' },
        heading(t('rep.title'), 'rep-heading'),
        h('form', { class: 'filters', on: { submit: (e) => { e.preventDefault(); ctx.navigate(`#/reports/${this.select.value}`); } } },
          h('div', { class: 'field' }, h('label', { for: 'rep-period' }, t('rep.period')), this.select),
          h('button', { type: 'submit', class: 'primary', id: 'rep-show' }, t('rep.show'))),
        this.errors, this.links, this.body),
    );
    this.load(this.select.value);
  }

  /** Selects a period from the hash (#/reports/2025-06), adding it when it is not listed. */
  pick(wanted) {
    if (!wanted || !/^\d{4}(-\d{2}|-?Q[1-4])$/.test(wanted)) return;
    if (![...this.select.options].some((o) => o.value === wanted)) this.select.prepend(h('option', { value: wanted }, wanted));
    this.select.value = wanted;
  }

  route(params) {
    this.pick(params[0]);
    this.load(this.select.value);
  }

  async load(period) {
    const url = (fmt) => `/api/v1/reports?period=${encodeURIComponent(period)}&format=${fmt}&lang=${this.ctx.lang}`;
    replace(this.links,
      h('a', { href: url('html'), target: '_blank', rel: 'noopener', class: 'button' }, t('rep.print')),
      h('a', { href: url('csv'), download: `tavla-${period}.csv`, class: 'button' }, t('rep.csv')));
    try {
      const r = await this.ctx.api('GET', '/api/v1/reports', undefined, { query: { period } });
      showError(this.errors, null);
      this.render(r);
    } catch (e) {
      replace(this.body);
      showError(this.errors, e);
    }
  }

  figuresTable(caption, rows) {
    return h('table', { class: 'table' },
      h('caption', {}, caption),
      h('thead', {}, h('tr', {}, ['metric', 'value', 'previous', 'change'].map((k) => h('th', { scope: 'col' }, t(`rep.${k}`))))),
      h('tbody', {}, rows.map(([metric, f]) =>
        h('tr', {},
          h('th', { scope: 'row' }, t(`rep.m.${metric}`)),
          h('td', {}, format(metric, f.value)),
          h('td', {}, format(metric, f.previous)),
          h('td', {}, change(metric, f))))));
  }

  render(r) {
    const kindName = (k) => t(`rep.kind.${k === 'dm' ? 'dm' : 'comments'}`);
    const m = r.moderation;
    replace(
      this.body,
      h('p', {}, t('rep.compared', { period: r.period.label, previous: r.previous_period.label })),
      h('h2', {}, t('rep.totals')),
      barPairs({
        title: t('rep.chart.volume'),
        rows: r.totals.flatMap((x) => [
          { label: `${kindName(x.kind)}: ${t('rep.m.inbound')}`, a: x.figures.inbound.value ?? 0, b: x.figures.inbound.previous ?? 0 },
          { label: `${kindName(x.kind)}: ${t('rep.m.replies')}`, a: x.figures.replies.value ?? 0, b: x.figures.replies.previous ?? 0 },
        ]),
        names: [r.period.label, r.previous_period.label],
      }),
      r.totals.map((x) => this.figuresTable(kindName(x.kind), Object.entries(x.figures))),
      r.channels.length
        ? [h('h2', {}, t('rep.channels')),
           r.channels.map((x) => this.figuresTable(`${x.channel_name ?? ''} – ${kindName(x.kind)}`, Object.entries(x.figures)))]
        : null,
      ['dm', 'comments'].map((k) => (r.heatmap?.[k] ? this.heatmap(k, r.heatmap[k].value, kindName(k)) : null)),
      h('h2', {}, t('rep.faq')),
      r.faq.length
        ? [barPairs({
            title: t('rep.chart.faq'),
            rows: r.faq.map((f) => ({ label: f.name, a: f.count.value ?? 0, b: f.count.previous ?? 0 })),
            names: [r.period.label, r.previous_period.label],
          }),
          h('ol', {}, r.faq.map((f) => h('li', {}, h('span', { class: 'user-text' }, f.name), ` – ${f.count.value ?? 0} (${change('count', f.count)})`, f.answered ? `, ${t('rep.answered')}` : '')))]
        : h('p', { class: 'muted' }, t('rep.none')),
      h('h2', {}, t('rep.moderation')),
      barPairs({
        title: t('rep.chart.levels'),
        rows: Object.entries(m.by_level).map(([level, f]) => ({ label: level, a: f.value ?? 0, b: f.previous ?? 0 })),
        names: [r.period.label, r.previous_period.label],
      }),
      this.figuresTable(t('rep.moderation'), ['cases', 'police_reports', 'hidden_off_hours', 'time_to_action_median_seconds', 'time_to_action_p90_seconds']
        .filter((k) => m[k]).map((k) => [k, m[k]])),
    );
  }

  /** 7 × 24 squares, darker for more; each square's number is in its title, and the busiest
   *  hours are also in the printable page's table. */
  heatmap(kind, grid, name) {
    const id = uid('heat');
    const max = Math.max(1, ...grid.flat());
    const days = t('rep.days').split(',');
    return h('figure', { class: 'chart-box' },
      s('svg', { class: 'chart', viewBox: '0 0 640 200', role: 'img', 'aria-labelledby': id, width: '100%' },
        s('title', { id }, t('rep.heat', { kind: name })),
        grid.map((row, d) => [
          s('text', { x: 0, y: 36 + d * 22, class: 'chart-text' }, days[d]),
          row.map((n, hour) => s('rect', {
            x: 40 + hour * 24, y: 22 + d * 22, width: 22, height: 20, class: 'bar-a', 'fill-opacity': String(0.08 + (0.92 * n) / max),
          }, s('title', {}, `${days[d]} ${hour}:00 – ${n}`))),
        ]),
        [0, 6, 12, 18, 23].map((hour) => s('text', { x: 40 + hour * 24, y: 14, class: 'chart-num' }, `${hour}`))));
  }
}
