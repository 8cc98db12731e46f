// One moderation case (GET /api/v1/moderation/cases/{id}): the message as text, triage's
// findings, the evidence with its check, and the routine as a checklist: each step required or
// not, taken ones with who and when, the others with a small form to take them (POST .../steps).
// Closing (POST .../close) needs a decision; when the routine still misses something the service
// answers 422 and we say what is missing in the routine's own step titles.

import { h, replace, userText } from '../dom.js';
import { t, addStrings, lang, formatTime, formatDuration } from '../i18n.js';
import { showError, errorBox } from '../ui.js';

addStrings({
  sv: {
    'case.pick': 'Välj ett ärende i listan.',
    'case.heading': 'Ärende {id}: {level}',
    'case.routine': 'Rutin: {title}',
    'case.routineVersion': 'Öppnat enligt rutinversion {v}.',
    'case.message': 'Meddelandet',
    'case.s5': 'Innehållet visas aldrig för nivå S5. Följ rutinen och larma.',
    'case.author': 'Skrivet av {name}, {at}',
    'case.state': 'Läge på plattformen: {state}',
    'case.state.visible': 'synligt',
    'case.history': { one: 'Historik ({n} ändring)', other: 'Historik ({n} ändringar)' },
    'case.reason': 'Anmälarens skäl: ',
    'case.findings': 'Vad den automatiska granskningen hittade',
    'case.findingsNone': 'Den automatiska granskningen hittade inget.',
    'case.score': 'Nivå {level}, poäng {score}',
    'case.col.category': 'Kategori',
    'case.col.rule': 'Regel',
    'case.col.matched': 'Träff',
    'case.evidence': 'Bevis',
    'case.evidenceNone': 'Inget bevis har sparats ännu. Det sparas automatiskt innan något döljs eller tas bort.',
    'case.captured': 'Sparat {at} av {by}',
    'case.verified': 'Kontrollerat nu: oförändrat sedan det sparades.',
    'case.tampered': 'VARNING: beviset har ändrats efter att det sparades. Kontakta administratören.',
    'case.permalink': 'Meddelandet på plattformen',
    'case.hash': 'SHA-256: ',
    'case.steps': 'Rutinens steg',
    'case.required': 'krävs',
    'case.group': 'krävs: ett av stegen {steps}',
    'case.optional': 'valfritt',
    'case.done': 'Klart: {by}, {at}',
    'case.todo': 'Inte gjort',
    'case.take': 'Registrera: {step}',
    'case.reference': 'Polisens diarienummer',
    'case.registerRef': 'Diarienummer (valfritt)',
    'case.note': 'Anteckning (valfri)',
    'case.template': 'Meddelandemall',
    'case.ownText': 'Egen text',
    'case.language': 'Mallens språk',
    'case.text': 'Text till personen',
    'case.send': 'Skicka som privat svar på kommentaren',
    'case.sendHint': 'Bocka ur om personen har fått beskedet på annat sätt (t.ex. telefon).',
    'case.needReference': 'Skriv polisens diarienummer först.',
    'case.needText': 'Välj en mall eller skriv en text till personen.',
    'case.secondHint': 'Ska bekräftas av en annan moderator än den som tog bort eller dolde meddelandet.',
    'case.secondRefused': 'Bekräftelsen måste göras av en annan moderator än den som tog bort eller dolde meddelandet. Be en kollega öppna ärendet.',
    'case.stepTaken': 'Steget ”{step}” är registrerat.',
    'case.noticeQueued': 'Beskedet skickas som privat svar.',
    'case.noticeNot': 'Beskedet skickades inte: {reason}',
    'case.missing': 'Kvar innan ärendet kan stängas: {list}.',
    'case.oneOf': 'ett av {steps}',
    'case.or': ' eller ',
    'case.ready': 'Allt som rutinen kräver är gjort. Ärendet kan stängas.',
    'case.close': 'Stäng ärendet',
    'case.decision': 'Beslut: vad som gjordes och varför',
    'case.needDecision': 'Skriv beslutet innan du stänger ärendet.',
    'case.cannotClose': 'Ärendet kan inte stängas ännu. Det här saknas: {list}. Ta stegen ovan först.',
    'case.closed': 'Ärendet är stängt.',
    'case.closedText': 'Stängt {at}. Beslut: ',
    'case.alert.pending': 'Jourlarm: väntar på att skickas.',
    'case.alert.sending': 'Jourlarm: skickas nu.',
    'case.alert.retrying': 'Jourlarm: inte mottaget ({error}); nytt försök {at} (försök {n}).',
    'case.alert.sent': 'Jourlarm: skickat {at}.',
    'case.delivery': 'Till plattformen: {status}',
    'case.delivery.pending': 'väntar på att skickas',
    'case.delivery.sending': 'skickas',
    'case.delivery.sent': 'skickat',
    'case.delivery.failed': 'kunde inte skickas ({failure})',
    'case.flaggedEdit': 'Flaggat efter en redigering ({at}).',
    'case.model': 'Med den tränade modellen, version {v}.',
    'case.judgement': 'Vad var det?',
    'case.judgement.unsaid': '(säger inget)',
    'case.judgement.nothing': 'Inget fel med meddelandet',
    'case.judgement.hint': 'Frivilligt. Den automatiska granskningen lär sig av ditt svar.',
  },
  en: {
    'case.pick': 'Pick a case in the list.',
    'case.heading': 'Case {id}: {level}',
    'case.routine': 'Routine: {title}',
    'case.routineVersion': 'Opened under routine version {v}.',
    'case.message': 'The message',
    'case.s5': 'The content is never shown for level S5. Follow the routine and raise the alarm.',
    'case.author': 'Written by {name}, {at}',
    'case.state': 'State on the platform: {state}',
    'case.state.visible': 'visible',
    'case.history': { one: 'History ({n} change)', other: 'History ({n} changes)' },
    'case.reason': 'The reporter’s reason: ',
    'case.findings': 'What automatic triage found',
    'case.findingsNone': 'Automatic triage found nothing.',
    'case.score': 'Level {level}, score {score}',
    'case.col.category': 'Category',
    'case.col.rule': 'Rule',
    'case.col.matched': 'Match',
    'case.evidence': 'Evidence',
    'case.evidenceNone': 'No evidence captured yet. It is captured automatically before anything is hidden or removed.',
    'case.captured': 'Captured {at} by {by}',
    'case.verified': 'Checked now: unchanged since it was captured.',
    'case.tampered': 'WARNING: the evidence was changed after it was captured. Tell the administrator.',
    'case.permalink': 'The message on the platform',
    'case.hash': 'SHA-256: ',
    'case.steps': 'The routine’s steps',
    'case.required': 'required',
    'case.group': 'required: one of {steps}',
    'case.optional': 'optional',
    'case.done': 'Done: {by}, {at}',
    'case.todo': 'Not done',
    'case.take': 'Record: {step}',
    'case.reference': 'Police reference number',
    'case.registerRef': 'Register number (optional)',
    'case.note': 'Note (optional)',
    'case.template': 'Notice template',
    'case.ownText': 'Own text',
    'case.language': 'Template language',
    'case.text': 'Text to the person',
    'case.send': 'Send as a private reply to the comment',
    'case.sendHint': 'Untick when the person was told another way (by phone, say).',
    'case.needReference': 'Enter the police reference number first.',
    'case.needText': 'Pick a template or write a text to the person.',
    'case.secondHint': 'Must be confirmed by another moderator than the one who removed or hid the message.',
    'case.secondRefused': 'The confirmation must come from another moderator than the one who removed or hid the message. Ask a colleague to open the case.',
    'case.stepTaken': 'The step “{step}” is recorded.',
    'case.noticeQueued': 'The notice is sent as a private reply.',
    'case.noticeNot': 'The notice was not sent: {reason}',
    'case.missing': 'Still needed before the case can close: {list}.',
    'case.oneOf': 'one of {steps}',
    'case.or': ' or ',
    'case.ready': 'Everything the routine requires is done. The case can be closed.',
    'case.close': 'Close the case',
    'case.decision': 'Decision: what was done and why',
    'case.needDecision': 'Write the decision before closing the case.',
    'case.cannotClose': 'The case cannot close yet. Missing: {list}. Take those steps above first.',
    'case.closed': 'The case is closed.',
    'case.closedText': 'Closed {at}. Decision: ',
    'case.alert.pending': 'On-call alert: waiting to be sent.',
    'case.alert.sending': 'On-call alert: being sent.',
    'case.alert.retrying': 'On-call alert: not accepted ({error}); next try {at} (attempt {n}).',
    'case.alert.sent': 'On-call alert: sent {at}.',
    'case.delivery': 'To the platform: {status}',
    'case.delivery.pending': 'waiting to be sent',
    'case.delivery.sending': 'being sent',
    'case.delivery.sent': 'sent',
    'case.delivery.failed': 'could not be sent ({failure})',
    'case.flaggedEdit': 'Flagged after an edit ({at}).',
    'case.model': 'With the trained model, version {v}.',
    'case.judgement': 'What was it?',
    'case.judgement.unsaid': '(not saying)',
    'case.judgement.nothing': 'Nothing wrong with the message',
    'case.judgement.hint': 'Optional. Automatic triage learns from your answer.',
  },
});

/** When a case is due (strings in moderation.js), in words (not colour alone). */
export function dueText(c) {
  if (c.status === 'closed') return t('mod.closedAt', { at: formatTime(c.closed_at) });
  if (c.overdue) return t('mod.overdue', { ago: formatDuration((Date.now() - c.due_at) / 1000) });
  return t('mod.due', { left: formatDuration((c.due_at - Date.now()) / 1000) });
}

export class CaseView {
  constructor(panel, ctx, onChanged) {
    this.panel = panel;
    this.ctx = ctx;
    this.onChanged = onChanged;
    this.id = null;
    this.detail = null;
    // Kept across re-renders (a live update re-renders the case), cleared for another case.
    this.status = h('div', { id: 'case-status', role: 'status' });
    this.closeStatus = h('div', { id: 'case-close-status', role: 'status' });
  }

  async open(id) {
    if (id !== this.id) {
      this.detail = null;
      this.json = null;
      replace(this.status);
      replace(this.closeStatus);
      // Drafts are read back from the page on each render: another case starts from none.
      replace(this.panel);
    }
    this.id = id;
    if (!id) {
      replace(this.panel, h('h2', { id: 'case-heading' }, t('mod.queue')), h('p', { class: 'muted' }, t('case.pick')));
      return;
    }
    await this.refresh();
  }

  async refresh(focusAfter) {
    if (!this.id) return;
    const id = this.id;
    try {
      const detail = await this.ctx.api('GET', `/api/v1/moderation/cases/${id}`);
      if (id !== this.id) return;
      // A live update that changed nothing (often the echo of our own step) leaves the page
      // alone, so the control someone is about to use stays where it is.
      const json = JSON.stringify(detail);
      if (json === this.json && !focusAfter) return;
      this.json = json;
      this.detail = detail;
      this.render();
      if (focusAfter) this.panel.querySelector(focusAfter)?.focus();
    } catch (e) {
      replace(this.panel, h('h2', { id: 'case-heading' }, t('mod.queue')), errorBox(e));
    }
  }

  title(kind) {
    const step = this.detail?.routine?.steps.find((s) => s.kind === kind);
    if (!step) return kind;
    return lang() === 'en' ? step.title_en : step.title_sv;
  }

  /** `missing` from the service ("register", "one of hide or remove") in step titles. */
  missingText(missing) {
    return missing
      .map((m) => {
        const group = /^one of (.+)$/.exec(m);
        if (!group) return this.title(m);
        const kinds = group[1].split(/ or |, /).map((k) => this.title(k.trim()));
        return t('case.oneOf', { steps: kinds.join(t('case.or')) });
      })
      .join(', ');
  }

  render() {
    const d = this.detail;
    const c = d.case;
    const active = document.activeElement?.id;
    replace(
      this.panel,
      h('h2', { id: 'case-heading', tabindex: '-1' }, t('case.heading', { id: c.id, level: c.level })),
      h('p', { class: 'row' },
        h('span', { class: `badge badge-${c.level}` }, c.level),
        h('span', {}, c.categories.join(', ')),
        h('span', { class: c.overdue ? 'overdue' : 'muted', id: 'case-due' }, dueText(c))),
      d.routine ? h('p', {}, t('case.routine', { title: lang() === 'en' ? d.routine.title_en : d.routine.title_sv })) : null,
      d.routine?.summary_sv ? h('p', { class: 'muted', lang: 'sv' }, d.routine.summary_sv) : null,
      h('p', { class: 'muted' }, t('case.routineVersion', { v: c.routine_version })),
      c.reason ? h('p', {}, h('strong', {}, t('case.reason')), h('span', { class: 'user-text' }, c.reason)) : null,
      this.alert(d.on_call_alert),
      this.message(d),
      this.findings(d),
      this.evidence(d),
      h('h3', { id: 'case-steps-heading' }, t('case.steps')),
      this.status,
      h('ol', { class: 'checklist', id: 'case-steps', 'aria-labelledby': 'case-steps-heading' },
        (d.routine?.steps || []).map((s) => this.step(s))),
      this.closing(d),
    );
    // A live refresh must not drop the keyboard user's place.
    if (active && active !== 'case-heading') this.panel.querySelector(`#${CSS.escape(active)}`)?.focus();
  }

  message(d) {
    if (d.case.level === 'S5' || !d.message || d.message.withheld === 's5') {
      return [h('h3', {}, t('case.message')), h('p', { class: 'notice' }, t('case.s5'))];
    }
    const m = d.message;
    const state = m.state === 'visible' ? t('case.state.visible') : t(`conv.state.${m.state}`);
    return [
      h('h3', {}, t('case.message')),
      h('div', { class: 'message', id: 'case-message' },
        h('p', { class: 'muted' }, t('case.author', { name: m.author?.name || m.author?.platform_id || '?', at: formatTime(m.platform_time) })),
        h('p', { class: 'user-text', dir: 'auto', id: 'case-text' }, m.text ?? ''),
        h('p', { class: 'muted', id: 'case-state' }, t('case.state', { state }))),
      m.history?.length > 1
        ? h('details', {}, h('summary', {}, t('case.history', { n: m.history.length })),
            h('ol', {}, m.history.map((r) => h('li', {}, `${r.change} · ${formatTime(r.platform_time)} `, r.text ? h('span', { class: 'user-text' }, r.text) : null))))
        : null,
    ];
  }

  findings(d) {
    const f = d.triage;
    if (!f) return [h('h3', {}, t('case.findings')), h('p', { class: 'muted' }, t('case.findingsNone'))];
    return [
      h('h3', {}, t('case.findings')),
      h('p', {}, t('case.score', { level: f.severity, score: f.score.toFixed(2) }), ' · ', f.categories.join(', ')),
      f.flagged_revision
        ? h('p', { class: 'muted', id: 'case-flagged-edit' }, t('case.flaggedEdit', { at: formatTime(f.flagged_revision.platform_time) }))
        : null,
      f.model_version ? h('p', { class: 'muted' }, t('case.model', { v: f.model_version })) : null,
      f.findings.length
        ? h('table', { class: 'table', id: 'case-findings' },
            h('thead', {}, h('tr', {}, ['category', 'rule', 'matched'].map((k) => h('th', { scope: 'col' }, t(`case.col.${k}`))))),
            h('tbody', {}, f.findings.map((x) => h('tr', {}, h('td', {}, x.category), h('td', { class: 'user-text' }, x.rule), h('td', {}, userText(x.matched))))))
        : null,
    ];
  }

  evidence(d) {
    const e = d.evidence[0];
    if (!e) return [h('h3', {}, t('case.evidence')), h('p', { class: 'muted', id: 'case-evidence' }, t('case.evidenceNone'))];
    return [
      h('h3', {}, t('case.evidence')),
      h('div', { id: 'case-evidence' },
        h('p', {}, t('case.captured', { at: formatTime(e.captured_at), by: e.captured_by })),
        h('p', { class: e.verified ? 'ok' : 'error', id: 'case-verified' }, e.verified ? t('case.verified') : t('case.tampered')),
        e.permalink ? h('p', {}, h('a', { href: e.permalink, rel: 'noopener noreferrer' }, t('case.permalink'))) : null,
        h('p', { class: 'hash' }, t('case.hash'), e.sha256)),
    ];
  }

  step(s) {
    const taken = this.detail.steps.find((r) => r.step === s.kind);
    const group = s.group ? this.detail.routine.steps.filter((o) => o.group === s.group).map((o) => this.title(o.kind)) : null;
    const need = s.required ? t('case.required') : group ? t('case.group', { steps: group.join(t('case.or')) }) : t('case.optional');
    const closed = this.detail.case.status === 'closed';
    return h(
      'li',
      { id: `step-${s.kind}`, class: [taken ? 'taken' : 'todo', s.required || group ? 'required' : null] },
      h('p', { class: 'row' },
        h('span', { class: 'step-title' }, this.title(s.kind)),
        h('span', { class: 'badge' }, need),
        h('span', { class: taken ? 'ok' : 'muted' }, taken ? t('case.done', { by: taken.actor, at: formatTime(taken.at) }) : t('case.todo'))),
      taken ? this.takenDetail(taken) : closed ? null : this.form(s),
    );
  }

  takenDetail(r) {
    const parts = ['reference', 'template', 'text', 'note'].filter((k) => r.detail?.[k]).map((k) => `${k}: ${r.detail[k]}`);
    const what = parts.length ? h('p', { class: 'user-text muted' }, parts.join(' · ')) : null;
    // What the step sent to the platform (a hide, a removal, the notice), and how it stands.
    const d = r.delivery;
    const sent = d
      ? h('p', { class: d.status === 'failed' ? 'error' : 'muted', id: `step-${r.step}-delivery` },
          t('case.delivery', { status: t(`case.delivery.${d.status}`, { failure: d.failure || '' }) }))
      : null;
    return what || sent ? [what, sent] : null;
  }

  /** The on-call alert of an S4/S5 case, in words (null when none is configured). */
  alert(a) {
    if (!a) return null;
    const at = formatTime(a.status === 'sent' ? a.sent_at : a.next_attempt_at);
    return h('p', { id: 'case-alert', class: a.status === 'retrying' ? 'error' : 'muted' },
      t(`case.alert.${a.status}`, { at, n: a.attempts, error: a.last_error || '' }));
  }

  form(s) {
    const k = s.kind;
    const field = (id, label, control, hint) =>
      h('div', { class: 'field' }, h('label', { for: id }, label), control, hint ? h('p', { class: 'muted', id: `${id}-hint` }, hint) : null);
    // What someone has typed and not yet sent survives a live re-render (an alert retried, a
    // colleague's step), as the decision's draft does; `take` empties it once it is sent.
    const typed = (id) => this.panel.querySelector(`#${CSS.escape(id)}`)?.value || '';
    const note = h('input', { type: 'text', id: `step-${k}-note`, maxlength: 2000, value: typed(`step-${k}-note`) });
    const controls = [];
    let reference = null;
    let notice = null;
    if (k === 'police_report' || k === 'register') {
      const id = `step-${k}-reference`;
      reference = h('input', { type: 'text', id, maxlength: 100, value: typed(id), 'aria-required': k === 'police_report' ? 'true' : null });
      controls.push(field(reference.id, k === 'police_report' ? t('case.reference') : t('case.registerRef'), reference));
    }
    if (k === 'notify_poster') {
      notice = this.noticeControls(field);
      controls.push(notice.nodes);
    }
    let hint = null;
    if (k === 'second_confirmation') {
      hint = h('p', { class: 'muted' }, t('case.secondHint'));
    }
    controls.push(field(note.id, t('case.note'), note));
    const submit = (e) => {
      e.preventDefault();
      const body = { step: k };
      if (note.value.trim()) body.note = note.value.trim();
      if (reference) {
        if (k === 'police_report' && !reference.value.trim()) {
          showError(this.status, new Error(t('case.needReference')));
          reference.focus();
          return;
        }
        if (reference.value.trim()) body.reference = reference.value.trim();
      }
      if (notice && !notice.fill(body)) {
        showError(this.status, new Error(t('case.needText')));
        return;
      }
      this.take(k, body);
    };
    return h('form', { on: { submit } }, hint, controls,
      h('button', { type: 'submit', id: `step-${k}-do`, class: s.required || s.group ? 'primary' : null }, t('case.take', { step: this.title(k) })));
  }

  /** notify_poster: a template from `notices` (when the service offers them) or an own text. */
  noticeControls(field) {
    const notices = Array.isArray(this.detail.notices) ? this.detail.notices : null;
    const text = h('textarea', { id: 'step-notify_poster-text', maxlength: 2000, value: this.panel.querySelector('#step-notify_poster-text')?.value || '' });
    const nodes = [];
    let template = null;
    let language = null;
    let send = null;
    if (notices?.length) {
      template = h('select', { id: 'step-notify_poster-template' },
        h('option', { value: '' }, t('case.ownText')),
        notices.map((n) => h('option', { value: n.id }, lang() === 'en' ? n.title_en : n.title_sv)));
      language = h('select', { id: 'step-notify_poster-language' }, ['sv', 'en'].map((l) => h('option', { value: l }, l === 'sv' ? 'Svenska' : 'English')));
      nodes.push(field(template.id, t('case.template'), template), field(language.id, t('case.language'), language));
    }
    nodes.push(field(text.id, t('case.text'), text));
    if (notices) {
      // Only the service that knows notices accepts `send` and `language`.
      send = h('input', { type: 'checkbox', id: 'step-notify_poster-send', checked: true, 'aria-describedby': 'step-notify_poster-send-hint' });
      nodes.push(h('div', { class: 'field' },
        h('span', {}, send, ' ', h('label', { for: send.id }, t('case.send'))),
        h('p', { class: 'muted', id: 'step-notify_poster-send-hint' }, t('case.sendHint'))));
    }
    const fill = (body) => {
      if (template?.value) {
        body.template = template.value;
        body.language = language.value;
      }
      if (text.value.trim()) body.text = text.value.trim();
      if (send) body.send = send.checked;
      return Boolean(body.template || body.text);
    };
    return { nodes, fill };
  }

  async take(kind, body) {
    try {
      const result = await this.ctx.api('POST', `/api/v1/moderation/cases/${this.id}/steps`, body);
      // Sent: the step's typed words are not kept for the next render.
      for (const field of this.panel.querySelectorAll(`input[type=text][id^="step-${kind}-"], textarea[id^="step-${kind}-"]`)) {
        field.value = '';
      }
      const said = [t('case.stepTaken', { step: this.title(kind) })];
      if (result?.notice) said.push(result.notice.queued ? t('case.noticeQueued') : t('case.noticeNot', { reason: result.notice.reason || '' }));
      const next = this.detail.routine.steps.find((s) => s.kind !== kind && !this.detail.steps.some((r) => r.step === s.kind));
      await this.refresh(next ? `#step-${next.kind}-do` : '#case-decision');
      replace(this.status, h('p', { class: 'ok' }, said.join(' ')));
      this.ctx.announce(said.join(' '));
      this.onChanged();
    } catch (e) {
      if (e.status === 422 && kind === 'second_confirmation') {
        // The usual reason: the same moderator removed it. Say who may do it instead.
        showError(this.status, Object.assign(new Error(t('case.secondRefused')), { detail: e.detail }));
      } else {
        showError(this.status, e);
      }
    }
  }

  closing(d) {
    const c = d.case;
    if (c.status === 'closed') {
      return h('p', { class: 'ok', id: 'case-closed' }, t('case.closedText', { at: formatTime(c.closed_at) }), h('span', { class: 'user-text' }, c.decision || ''));
    }
    // The draft decision survives a live re-render.
    const draft = this.panel.querySelector('#case-decision')?.value || '';
    const decision = h('textarea', { id: 'case-decision', maxlength: 2000, 'aria-describedby': 'case-missing', value: draft });
    // What it was, in the moderator's judgement: what triage learns from (optional).
    const judged = this.panel.querySelector('#case-judgement')?.value || '';
    const judgement = h('select', { id: 'case-judgement', 'aria-describedby': 'case-judgement-hint' },
      h('option', { value: '' }, t('case.judgement.unsaid')),
      h('option', { value: '-', selected: judged === '-' }, t('case.judgement.nothing')),
      (d.categories_known || []).map((k) => h('option', { value: k, selected: judged === k }, k)));
    return h('section', { 'aria-labelledby': 'case-close-heading' },
      h('h3', { id: 'case-close-heading' }, t('case.close')),
      h('p', { id: 'case-missing', class: d.missing.length ? 'notice' : 'ok' },
        d.missing.length ? t('case.missing', { list: this.missingText(d.missing) }) : t('case.ready')),
      h('form', { on: { submit: (e) => { e.preventDefault(); this.close(decision, judgement); } } },
        h('div', { class: 'field' }, h('label', { for: 'case-decision' }, t('case.decision')), decision),
        h('div', { class: 'field' }, h('label', { for: 'case-judgement' }, t('case.judgement')), judgement,
          h('p', { class: 'muted', id: 'case-judgement-hint' }, t('case.judgement.hint'))),
        h('button', { type: 'submit', class: 'primary', id: 'case-close' }, t('case.close'))),
      this.closeStatus);
  }

  async close(decision, judgement) {
    if (!decision.value.trim()) {
      showError(this.closeStatus, new Error(t('case.needDecision')));
      decision.focus();
      return;
    }
    const body = { decision: decision.value };
    if (judgement.value) body.categories = judgement.value === '-' ? [] : [judgement.value];
    try {
      await this.ctx.api('POST', `/api/v1/moderation/cases/${this.id}/close`, body);
      await this.refresh('#case-heading');
      this.ctx.announce(t('case.closed'));
      this.onChanged();
    } catch (e) {
      if (e.status === 422 && /requires/.test(e.detail)) {
        // Say what is missing in the routine's words, from a fresh read of the case.
        await this.refresh();
        const field = this.panel.querySelector('#case-decision');
        showError(this.closeStatus, Object.assign(new Error(t('case.cannotClose', { list: this.missingText(this.detail.missing) })), { detail: '' }));
        field?.focus();
      } else {
        showError(this.closeStatus, e);
      }
    }
  }
}
