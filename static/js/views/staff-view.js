// One staff member in the administration view (#/admin/staff/<id>): roles (a person's one or
// more as checkboxes, a service account's one), what each role gives, disabling, channel
// scope (PATCH /api/v1/staff/{id}), training records (GET/POST .../training) and API tokens
// (DELETE revokes them all; for a service account POST rotates its token and shows the new one
// this once: a person's token is theirs to create, so no one else is offered it). One's own
// channels and training are changed by another administrator, so they are not offered either.

import { h, replace } from '../dom.js';
import { t, addStrings, lang, formatTime } from '../i18n.js';
import { showError, errorBox, roleChecks, checkedRoles, rolesGive } from '../ui.js';

addStrings({
  sv: {
    'person.pick': 'Välj en person i listan.',
    'person.heading': 'Personal: {name}',
    'person.account': 'Konto',
    'person.role': 'Roll',
    'person.saveRole': 'Byt roll',
    'person.roles': 'Roller (en person kan ha flera)',
    'person.saveRoles': 'Spara rollerna',
    'person.pickRole': 'Markera minst en roll.',
    'person.gives': 'Vad varje roll ger',
    'person.unit': 'Enhet (överlämningar till enheten når personen)',
    'person.saveUnit': 'Spara enheten',
    'person.disable': 'Stäng av kontot',
    'person.enable': 'Aktivera kontot igen',
    'person.disabledNow': 'Kontot är avstängt.',
    'person.noPassword': 'Inget lösenord: personen kan bara använda API-nycklar.',
    'person.scope': 'Kanaler personen får arbeta med',
    'person.scopeHint': 'Ingen markerad betyder alla kanaler.',
    'person.saveScope': 'Spara kanalerna',
    'person.saved': 'Ändringen är sparad.',
    'person.can': 'Får göra nu: {caps}',
    'person.nothing': 'ingenting ännu',
    'person.training': 'Utbildning',
    'person.trainingHint': 'Markera de steg personen har slutfört och signera dem.',
    'person.completedAt': 'Slutförd den (tomt betyder i dag)',
    'person.grant': 'Signera markerade steg',
    'person.granted': 'Utbildningen är signerad: {modules}.',
    'person.pickModule': 'Markera minst ett utbildningssteg.',
    'person.moduleLine': '{title}: {state}',
    'person.moduleDone': '{title}: {state}, {at} (signerad av {by})',
    'person.tokens': 'API-nycklar',
    'person.tokensHint': 'En nyckel agerar som personen (roll, utbildning, kanaler), så bara personen själv kan skapa en. Du kan återkalla dem.',
    'person.serviceTokensHint': 'Tjänstekontots nyckel agerar som tjänstekontot. En ny nyckel visas bara en gång, och den gamla slutar gälla.',
    'person.service': 'Tjänstekonto för en integration: inget lösenord, kan inte logga in.',
    'person.ownScope': 'Dina egna kanaler ändras av en annan administratör.',
    'person.ownTraining': 'Din egen utbildning signeras av en annan administratör.',
    'person.createToken': 'Skapa en ny nyckel (den gamla slutar gälla)',
    'person.revokeTokens': 'Återkalla alla API-nycklar',
    'person.token': 'Den nya nyckeln (kopiera den nu, den visas aldrig igen):',
    'person.revoked': { one: '{n} nyckel återkallad.', other: '{n} nycklar återkallade.' },
  },
  en: {
    'person.pick': 'Pick a person in the list.',
    'person.heading': 'Staff: {name}',
    'person.account': 'Account',
    'person.role': 'Role',
    'person.saveRole': 'Change the role',
    'person.roles': 'Roles (a person may hold several)',
    'person.saveRoles': 'Save the roles',
    'person.pickRole': 'Tick at least one role.',
    'person.gives': 'What each role gives',
    'person.unit': 'Unit (handovers to the unit reach the person)',
    'person.saveUnit': 'Save the unit',
    'person.disable': 'Disable the account',
    'person.enable': 'Enable the account again',
    'person.disabledNow': 'The account is disabled.',
    'person.noPassword': 'No password: the person can only use API tokens.',
    'person.scope': 'Channels the person may work with',
    'person.scopeHint': 'None ticked means every channel.',
    'person.saveScope': 'Save the channels',
    'person.saved': 'The change is saved.',
    'person.can': 'May do now: {caps}',
    'person.nothing': 'nothing yet',
    'person.training': 'Training',
    'person.trainingHint': 'Tick the steps the person has completed and sign them off.',
    'person.completedAt': 'Completed on (empty means today)',
    'person.grant': 'Sign off the ticked steps',
    'person.granted': 'Training signed off: {modules}.',
    'person.pickModule': 'Tick at least one training step.',
    'person.moduleLine': '{title}: {state}',
    'person.moduleDone': '{title}: {state}, {at} (signed off by {by})',
    'person.tokens': 'API tokens',
    'person.tokensHint': 'A token acts as the person (role, training, channels), so only the person can create one. You can revoke them.',
    'person.serviceTokensHint': "The service account's token acts as the service account. A new token is shown only once, and the old one stops working.",
    'person.service': 'Service account for an integration: no password, cannot sign in.',
    'person.ownScope': 'Your own channels are changed by another administrator.',
    'person.ownTraining': 'Your own training is signed off by another administrator.',
    'person.createToken': 'Create a new token (the old one stops working)',
    'person.revokeTokens': 'Revoke every API token',
    'person.token': 'The new token (copy it now, it is never shown again):',
    'person.revoked': { one: '{n} token revoked.', other: '{n} tokens revoked.' },
  },
});

export const ROLES = ['agent', 'communicator', 'moderator', 'admin', 'auditor'];
// A service account never administers; the integration role is for service accounts only.
export const SERVICE_ROLES = ['integration', 'agent', 'communicator', 'moderator', 'auditor'];

const field = (id, label, control) => h('div', { class: 'field' }, h('label', { for: id }, label), control);

export class StaffView {
  constructor(panel, ctx, onChanged) {
    this.panel = panel;
    this.ctx = ctx;
    this.onChanged = onChanged;
    this.id = null;
    this.channels = [];
  }

  setChannels(channels) {
    this.channels = channels;
    if (this.data) this.render();
  }

  async open(id) {
    this.id = id;
    this.data = null;
    if (!id) {
      replace(this.panel, h('h2', { id: 'person-heading' }, t('admin.staff')), h('p', { class: 'muted' }, t('person.pick')));
      return;
    }
    await this.refresh();
  }

  async refresh(focus) {
    const id = this.id;
    try {
      const data = await this.ctx.api('GET', `/api/v1/staff/${id}/training`);
      if (id !== this.id) return;
      this.data = data;
      this.render();
      if (focus) this.panel.querySelector(focus)?.focus();
    } catch (e) {
      replace(this.panel, h('h2', { id: 'person-heading' }, t('admin.staff')), errorBox(e));
    }
  }

  said(text) {
    replace(this.status, h('p', { class: 'ok' }, text));
    this.ctx.announce(text);
  }

  async change(body, focus) {
    try {
      await this.ctx.api('PATCH', `/api/v1/staff/${this.id}`, body);
      await this.refresh(focus);
      this.said(t('person.saved'));
      this.onChanged();
    } catch (e) {
      showError(this.status, e);
    }
  }

  render() {
    const { account: a, training } = this.data;
    const service = a.kind === 'service';
    const own = a.id === this.ctx.me?.id;
    this.status = h('div', { id: 'person-status', role: 'status' });
    // A service account holds one role (a select); a person one or more (checkboxes).
    const role = service
      ? h('select', { id: 'person-role' }, SERVICE_ROLES.map((r) => h('option', { value: r, selected: r === a.role }, t(`role.${r}`))))
      : null;
    const roleBoxes = service ? null : roleChecks('person', t('person.roles'), ROLES, a.roles || [a.role]);
    const saveRoles = (e) => {
      e.preventDefault();
      const chosen = checkedRoles(roleBoxes);
      if (!chosen.length) return showError(this.status, new Error(t('person.pickRole')));
      this.change({ roles: chosen }, '#person-roles-save');
    };
    const caps = training.capabilities.map((c) => t(`cap.${c}`)).join(', ') || t('person.nothing');
    replace(
      this.panel,
      h('h2', { id: 'person-heading', tabindex: '-1' }, t('person.heading', { name: a.username })),
      this.status,
      h('h3', {}, t('person.account')),
      a.disabled ? h('p', { class: 'notice' }, t('person.disabledNow')) : null,
      service ? h('p', { class: 'muted', id: 'person-service' }, t('person.service'))
        : a.has_password ? null : h('p', { class: 'muted' }, t('person.noPassword')),
      h('p', { id: 'person-can' }, t('person.can', { caps })),
      service
        ? h('form', { class: 'filters', on: { submit: (e) => { e.preventDefault(); this.change({ role: role.value }, '#person-role'); } } },
          field('person-role', t('person.role'), role),
          h('button', { type: 'submit', id: 'person-role-save' }, t('person.saveRole')))
        : h('form', { on: { submit: saveRoles } },
          roleBoxes,
          h('button', { type: 'submit', id: 'person-roles-save' }, t('person.saveRoles'))),
      h('h3', { id: 'person-gives-heading' }, t('person.gives')),
      rolesGive(this.data.per_role, 'person-gives', (id) => {
        const m = training.modules.find((x) => x.id === id);
        return m ? (lang() === 'en' ? m.title_en : m.title_sv) : id;
      }),
      service ? null : this.unitForm(a),
      h('div', { class: 'actions' },
        h('button', { type: 'button', id: 'person-disable', class: a.disabled ? null : 'danger', on: { click: () => this.change({ disabled: !a.disabled }, '#person-disable') } },
          a.disabled ? t('person.enable') : t('person.disable'))),
      own ? h('p', { class: 'muted' }, t('person.ownScope')) : this.scopeForm(a),
      own ? h('p', { class: 'muted', id: 'person-own-training' }, t('person.ownTraining')) : this.trainingForm(training),
      this.tokens(service),
    );
  }

  /** The unit the person belongs to; empty for none. */
  unitForm(a) {
    const unit = h('input', { id: 'person-unit', maxlength: '100', autocomplete: 'off', value: a.unit || '' });
    return h(
      'form',
      { class: 'filters', on: { submit: (e) => { e.preventDefault(); this.change({ unit: unit.value.trim() || null }, '#person-unit'); } } },
      field('person-unit', t('person.unit'), unit),
      h('button', { type: 'submit', id: 'person-unit-save' }, t('person.saveUnit')),
    );
  }

  scopeForm(a) {
    if (!this.channels.length) return null;
    const boxes = this.channels.map((c) =>
      h('div', {}, h('input', { type: 'checkbox', id: `person-ch-${c.id}`, value: String(c.id), checked: a.channels.includes(c.id) }), ' ',
        h('label', { for: `person-ch-${c.id}`, class: 'user-text' }, c.name)));
    const submit = (e) => {
      e.preventDefault();
      const ids = boxes.map((b) => b.querySelector('input')).filter((i) => i.checked).map((i) => Number(i.value));
      this.change({ channels: ids }, '#person-scope-save');
    };
    return h('form', { on: { submit } },
      h('fieldset', { class: 'checks', 'aria-describedby': 'person-scope-hint' },
        h('legend', {}, t('person.scope')),
        h('p', { class: 'muted', id: 'person-scope-hint' }, t('person.scopeHint')),
        boxes),
      h('button', { type: 'submit', id: 'person-scope-save' }, t('person.saveScope')));
  }

  trainingForm(training) {
    const title = (m) => (lang() === 'en' ? m.title_en : m.title_sv);
    const boxes = training.modules.map((m) => {
      const state = t(`training.state.${m.state}`);
      const label = m.completed_at
        ? t('person.moduleDone', { title: title(m), state, at: formatTime(m.completed_at), by: m.signed_off_by || '' })
        : t('person.moduleLine', { title: title(m), state });
      return h('div', { class: `state-${m.state}` },
        h('input', { type: 'checkbox', id: `person-m-${m.id}`, value: m.id }), ' ',
        h('label', { for: `person-m-${m.id}` }, label));
    });
    const date = h('input', { type: 'date', id: 'person-completed' });
    const submit = async (e) => {
      e.preventDefault();
      const modules = boxes.map((b) => b.querySelector('input')).filter((i) => i.checked).map((i) => i.value);
      if (!modules.length) return showError(this.status, new Error(t('person.pickModule')));
      // A date means noon that day, so no time zone puts it in the future or on another day.
      const completed = date.value ? new Date(`${date.value}T12:00:00`).getTime() : null;
      try {
        const r = await this.ctx.api('POST', `/api/v1/staff/${this.id}/training`, { modules, completed_at: completed });
        await this.refresh('#person-training-save');
        this.said(t('person.granted', { modules: r.recorded.join(', ') }));
        this.onChanged();
      } catch (err) {
        showError(this.status, err);
      }
    };
    return h('section', { 'aria-labelledby': 'person-training-heading' },
      h('h3', { id: 'person-training-heading' }, t('person.training')),
      h('form', { on: { submit } },
        h('fieldset', { class: 'checks' }, h('legend', {}, t('person.trainingHint')), boxes),
        field('person-completed', t('person.completedAt'), date),
        h('button', { type: 'submit', id: 'person-training-save', class: 'primary' }, t('person.grant'))));
  }

  tokens(service) {
    const out = h('div', { id: 'person-token', 'aria-live': 'polite' });
    const create = async () => {
      try {
        const r = await this.ctx.api('POST', `/api/v1/staff/${this.id}/tokens`);
        replace(out, h('p', {}, t('person.token')), h('code', { class: 'token', id: 'person-token-value', tabindex: '0' }, r.token));
        out.querySelector('code').focus();
      } catch (e) {
        showError(out, e);
      }
    };
    const revoke = async () => {
      try {
        const r = await this.ctx.api('DELETE', `/api/v1/staff/${this.id}/tokens`);
        replace(out, h('p', { class: 'ok' }, t('person.revoked', { n: r.revoked })));
        this.ctx.announce(t('person.revoked', { n: r.revoked }));
      } catch (e) {
        showError(out, e);
      }
    };
    return h('section', { 'aria-labelledby': 'person-tokens-heading' },
      h('h3', { id: 'person-tokens-heading' }, t('person.tokens')),
      h('p', { class: 'muted' }, t(service ? 'person.serviceTokensHint' : 'person.tokensHint')),
      h('div', { class: 'actions' },
        service ? h('button', { type: 'button', id: 'person-token-create', on: { click: create } }, t('person.createToken')) : null,
        h('button', { type: 'button', id: 'person-token-revoke', class: 'danger', on: { click: revoke } }, t('person.revokeTokens'))),
      out);
  }
}
