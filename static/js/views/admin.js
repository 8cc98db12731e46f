// Administration: staff (list, add people and service accounts for integrations, and at
// #/admin/staff/<id> role, disabling, channel scope, training and API tokens: staff-view.js) for
// manage_staff; channels (register, approve) and the
// quarantine of items for unregistered channels for manage_channels. Each part shows only to
// those whose capability allows it.

import { h, replace } from '../dom.js';
import { t, addStrings, formatTime } from '../i18n.js';
import { showError, heading, roleChecks, checkedRoles } from '../ui.js';
import { StaffView, ROLES, SERVICE_ROLES } from './staff-view.js';

addStrings({
  sv: {
    'admin.title': 'Administration',
    'admin.staff': 'Personal',
    'admin.col.user': 'Användarnamn',
    'admin.col.role': 'Roller',
    'admin.col.state': 'Konto',
    'admin.col.training': 'Utbildning',
    'admin.col.channels': 'Kanaler',
    'admin.active': 'Aktivt',
    'admin.disabled': 'Avstängt',
    'admin.allChannels': 'Alla',
    'admin.trainingDone': '{done} av {all} klara',
    'admin.add': 'Lägg till personal',
    'admin.username': 'Användarnamn',
    'admin.role': 'Roll',
    'admin.password': 'Lösenord (minst 12 tecken, valfritt)',
    'admin.passwordHint': 'Utan lösenord kan personen bara använda API-nycklar.',
    'admin.addDo': 'Lägg till',
    'admin.added': '{name} är tillagd. Signera utbildningen innan hen kan arbeta.',
    'admin.needUsername': 'Skriv ett användarnamn.',
    'admin.needRole': 'Markera minst en roll.',
    'admin.roles': 'Roller (en person kan ha flera)',
    'admin.shortPassword': 'Lösenordet måste ha minst 12 tecken (eller lämnas tomt).',
    'admin.service': 'Lägg till ett tjänstekonto för en integration',
    'admin.serviceHint': 'En integration (t.ex. inläsning av meddelanden) får ett eget konto, service:namn, utan lösenord. Allt den gör loggas under det namnet.',
    'admin.serviceName': 'Namn (små bokstäver, siffror och bindestreck)',
    'admin.serviceDo': 'Skapa tjänstekontot',
    'admin.serviceToken': '{name} är skapat. Dess nyckel (kopiera den nu, den visas aldrig igen):',
    'admin.channels': 'Kanaler',
    'admin.col.name': 'Namn',
    'admin.col.platform': 'Plattform',
    'admin.col.platformId': 'Konto-id',
    'admin.col.unit': 'Enhet',
    'admin.col.approved': 'Godkänd',
    'admin.col.token': 'Kan svara',
    'admin.yes': 'Ja',
    'admin.no': 'Nej',
    'admin.approve': 'Godkänn {name}',
    'admin.approved': {
      one: '{name} är godkänd. {n} väntande meddelande släpptes till kön.',
      other: '{name} är godkänd. {n} väntande meddelanden släpptes till kön.',
    },
    'admin.register': 'Registrera en kanal',
    'admin.platform': 'Plattform',
    'admin.platformId': 'Sidans eller kontots id på plattformen',
    'admin.name': 'Namn som personalen känner igen',
    'admin.unit': 'Enhet',
    'admin.purpose': 'Syfte',
    'admin.responsible': 'Ansvarig',
    'admin.pdh': 'Hantering av personuppgifter',
    'admin.approveNow': 'Godkänn direkt',
    'admin.registerDo': 'Registrera',
    'admin.registered': 'Kanalen {name} är registrerad.',
    'admin.needChannel': 'Fyll i plattformens id och ett namn.',
    'admin.quarantine': 'Karantän',
    'admin.quarantineHint': 'Meddelanden till konton som inte är registrerade och godkända. De sparas här tills kanalen godkänns.',
    'admin.quarantineNone': 'Inget väntar i karantän.',
    'admin.col.received': 'Mottaget',
    'admin.col.what': 'Innehåll',
  },
  en: {
    'admin.title': 'Administration',
    'admin.staff': 'Staff',
    'admin.col.user': 'Username',
    'admin.col.role': 'Roles',
    'admin.col.state': 'Account',
    'admin.col.training': 'Training',
    'admin.col.channels': 'Channels',
    'admin.active': 'Active',
    'admin.disabled': 'Disabled',
    'admin.allChannels': 'All',
    'admin.trainingDone': '{done} of {all} done',
    'admin.add': 'Add staff',
    'admin.username': 'Username',
    'admin.role': 'Role',
    'admin.password': 'Password (at least 12 characters, optional)',
    'admin.passwordHint': 'Without a password the person can only use API tokens.',
    'admin.addDo': 'Add',
    'admin.added': '{name} was added. Sign off their training before they can work.',
    'admin.needUsername': 'Enter a username.',
    'admin.needRole': 'Tick at least one role.',
    'admin.roles': 'Roles (a person may hold several)',
    'admin.shortPassword': 'The password needs at least 12 characters (or leave it empty).',
    'admin.service': 'Add a service account for an integration',
    'admin.serviceHint': 'An integration (e.g. submitting messages) gets an account of its own, service:name, without a password. Everything it does is logged under that name.',
    'admin.serviceName': 'Name (lowercase letters, digits and hyphens)',
    'admin.serviceDo': 'Create the service account',
    'admin.serviceToken': '{name} is created. Its token (copy it now, it is never shown again):',
    'admin.channels': 'Channels',
    'admin.col.name': 'Name',
    'admin.col.platform': 'Platform',
    'admin.col.platformId': 'Account id',
    'admin.col.unit': 'Unit',
    'admin.col.approved': 'Approved',
    'admin.col.token': 'Can reply',
    'admin.yes': 'Yes',
    'admin.no': 'No',
    'admin.approve': 'Approve {name}',
    'admin.approved': {
      one: '{name} is approved. {n} waiting message was released into the queue.',
      other: '{name} is approved. {n} waiting messages were released into the queue.',
    },
    'admin.register': 'Register a channel',
    'admin.platform': 'Platform',
    'admin.platformId': 'The page or account id on the platform',
    'admin.name': 'A name staff recognise',
    'admin.unit': 'Unit',
    'admin.purpose': 'Purpose',
    'admin.responsible': 'Responsible',
    'admin.pdh': 'Handling of personal data',
    'admin.approveNow': 'Approve at once',
    'admin.registerDo': 'Register',
    'admin.registered': 'The channel {name} is registered.',
    'admin.needChannel': 'Fill in the platform id and a name.',
    'admin.quarantine': 'Quarantine',
    'admin.quarantineHint': 'Messages for accounts that are not registered and approved. They are kept here until the channel is approved.',
    'admin.quarantineNone': 'Nothing waits in quarantine.',
    'admin.col.received': 'Received',
    'admin.col.what': 'Content',
  },
});

export const view = {
  id: 'admin',
  title: { sv: 'Administration', en: 'Administration' },
  needs: ['manage_staff', 'manage_channels'],
  render(root, ctx) {
    return new Admin(root, ctx);
  },
};

const field = (id, label, control, hint) =>
  h('div', { class: 'field' }, h('label', { for: id }, label), control, hint ? h('p', { class: 'muted', id: `${id}-hint` }, hint) : null);

class Admin {
  constructor(root, ctx) {
    this.ctx = ctx;
    this.channels = [];
    this.staffBox = h('div', { id: 'admin-staff' });
    this.channelBox = h('div', { id: 'admin-channels' });
    this.quarantineBox = h('div', { id: 'admin-quarantine' });
    // Outside the table it reports on, so reloading the table keeps the message.
    this.channelStatus = h('div', { id: 'channel-status', role: 'status' });
    this.panel = h('section', { class: 'panel', id: 'admin-person', 'aria-labelledby': 'person-heading' });
    this.person = new StaffView(this.panel, ctx, () => this.loadStaff());
    const staff = ctx.can('manage_staff');
    const channels = ctx.can('manage_channels');
    root.append(
      h('div', { class: staff ? 'split split-wide' : null },
        h('section', { 'aria-labelledby': 'admin-heading' },
          heading(t('admin.title'), 'admin-heading'),
          staff ? [h('h2', { id: 'admin-staff-heading' }, t('admin.staff')), this.staffBox, this.addForm(), this.serviceForm()] : null,
          channels
            ? [h('h2', { id: 'admin-channels-heading' }, t('admin.channels')), this.channelStatus, this.channelBox, this.registerForm(),
               h('h2', { id: 'admin-quarantine-heading' }, t('admin.quarantine')), h('p', { class: 'muted' }, t('admin.quarantineHint')), this.quarantineBox]
            : null),
        staff ? this.panel : null),
    );
    this.loadChannels();
    if (staff) {
      this.loadStaff();
      this.person.open(this.personId(ctx.params));
    }
    if (channels) this.loadQuarantine();
    this.unsubscribe = ctx.events?.subscribe((e) => {
      if (channels && (e.kind === 'quarantine.added' || String(e.kind).startsWith('channel.'))) {
        this.loadChannels();
        this.loadQuarantine();
      }
    });
  }

  destroy() {
    this.unsubscribe?.();
  }

  personId(params) {
    return params[0] === 'staff' && params[1] ? Number(params[1]) : null;
  }

  route(params) {
    this.person.open(this.personId(params));
  }

  async loadStaff() {
    try {
      const list = await this.ctx.api('GET', '/api/v1/staff');
      replace(
        this.staffBox,
        h('table', { class: 'table', 'aria-labelledby': 'admin-staff-heading', id: 'staff-table' },
          h('thead', {}, h('tr', {}, ['user', 'role', 'state', 'training', 'channels'].map((k) => h('th', { scope: 'col' }, t(`admin.col.${k}`))))),
          h('tbody', {}, list.items.map(({ account: a, training }) =>
            h('tr', { 'data-staff': String(a.id) },
              h('th', { scope: 'row' }, h('a', { href: `#/admin/staff/${a.id}`, class: 'user-text' }, a.username)),
              h('td', {}, (a.roles || [a.role]).map((r) => t(`role.${r}`)).join(', ')),
              h('td', { class: a.disabled ? 'up' : null }, a.disabled ? t('admin.disabled') : t('admin.active')),
              h('td', {}, t('admin.trainingDone', {
                done: training.filter((m) => m.state === 'done' || m.state === 'expiring_soon').length,
                all: training.length,
              })),
              h('td', {}, a.channels.length ? a.channels.map((id) => this.channelName(id)).join(', ') : t('admin.allChannels')))))),
      );
    } catch (e) {
      showError(this.staffBox, e);
    }
  }

  channelName(id) {
    return this.channels.find((c) => c.id === id)?.name || `#${id}`;
  }

  addForm() {
    const username = h('input', { id: 'staff-username', type: 'text', maxlength: 64, autocomplete: 'off' });
    const roles = roleChecks('staff', t('admin.roles'), ROLES, []);
    const password = h('input', { id: 'staff-password', type: 'password', autocomplete: 'new-password', 'aria-describedby': 'staff-password-hint' });
    const status = h('div', { id: 'staff-add-status', role: 'status' });
    const submit = async (e) => {
      e.preventDefault();
      const name = username.value.trim();
      if (!name) return showError(status, new Error(t('admin.needUsername')));
      if (password.value && password.value.length < 12) return showError(status, new Error(t('admin.shortPassword')));
      const chosen = checkedRoles(roles);
      if (!chosen.length) return showError(status, new Error(t('admin.needRole')));
      try {
        const created = await this.ctx.api('POST', '/api/v1/staff', { username: name, roles: chosen, password: password.value || null });
        username.value = '';
        password.value = '';
        const said = t('admin.added', { name: created.staff.username });
        replace(status, h('p', { class: 'ok' }, said));
        this.ctx.announce(said);
        await this.loadStaff();
        this.ctx.navigate(`#/admin/staff/${created.staff.id}`);
      } catch (err) {
        showError(status, err);
      }
    };
    return h('details', {},
      h('summary', { id: 'staff-add-open' }, t('admin.add')),
      h('form', { on: { submit } },
        field('staff-username', t('admin.username'), username),
        roles,
        field('staff-password', t('admin.password'), password, t('admin.passwordHint')),
        h('button', { type: 'submit', id: 'staff-add', class: 'primary' }, t('admin.addDo'))),
      status);
  }

  serviceForm() {
    const name = h('input', { id: 'service-name', type: 'text', maxlength: 48, autocomplete: 'off' });
    const role = h('select', { id: 'service-role' }, SERVICE_ROLES.map((r) => h('option', { value: r }, t(`role.${r}`))));
    const status = h('div', { id: 'service-add-status', role: 'status' });
    const submit = async (e) => {
      e.preventDefault();
      try {
        const created = await this.ctx.api('POST', '/api/v1/service-accounts', { name: name.value.trim(), role: role.value });
        name.value = '';
        replace(status,
          h('p', { class: 'ok' }, t('admin.serviceToken', { name: created.account.username })),
          h('code', { class: 'token', id: 'service-token-value', tabindex: '0' }, created.token));
        status.querySelector('code').focus();
        await this.loadStaff();
        this.ctx.navigate(`#/admin/staff/${created.account.id}`);
      } catch (err) {
        showError(status, err);
      }
    };
    return h('details', {},
      h('summary', { id: 'service-add-open' }, t('admin.service')),
      h('p', { class: 'muted' }, t('admin.serviceHint')),
      h('form', { on: { submit } },
        field('service-name', t('admin.serviceName'), name),
        field('service-role', t('admin.role'), role),
        h('button', { type: 'submit', id: 'service-add', class: 'primary' }, t('admin.serviceDo'))),
      status);
  }

  async loadChannels() {
    try {
      this.channels = (await this.ctx.api('GET', '/api/v1/channels')).items || [];
      this.person.setChannels(this.channels);
      if (this.ctx.can('manage_channels')) this.renderChannels();
    } catch (e) {
      showError(this.channelBox, e);
    }
  }

  renderChannels() {
    const yes = (b) => (b ? t('admin.yes') : t('admin.no'));
    replace(
      this.channelBox,
      h('table', { class: 'table', 'aria-labelledby': 'admin-channels-heading', id: 'channel-table' },
        h('thead', {}, h('tr', {}, ['name', 'platform', 'platformId', 'unit', 'approved', 'token'].map((k) => h('th', { scope: 'col' }, t(`admin.col.${k}`))))),
        h('tbody', {}, this.channels.map((c) =>
          h('tr', { 'data-channel': String(c.id) },
            h('th', { scope: 'row', class: 'user-text' }, c.name),
            h('td', {}, c.platform),
            h('td', { class: 'user-text' }, c.platform_id),
            h('td', { class: 'user-text' }, c.unit || ''),
            h('td', {}, c.approved ? yes(true) : h('button', { type: 'button', id: `approve-${c.id}`, on: { click: () => this.approve(c) } }, t('admin.approve', { name: c.name }))),
            h('td', {}, yes(c.has_access_token)))))),
    );
  }

  async approve(c) {
    const status = this.channelStatus;
    try {
      const result = await this.ctx.api('POST', `/api/v1/channels/${c.id}/approve`);
      const said = t('admin.approved', { name: c.name, n: result.released_from_quarantine });
      await this.loadChannels();
      replace(status, h('p', { class: 'ok' }, said));
      this.ctx.announce(said);
      this.loadQuarantine();
    } catch (e) {
      showError(status, e);
    }
  }

  registerForm() {
    const input = (id, max = 500) => h('input', { id, type: 'text', maxlength: max, class: 'wide' });
    const platform = h('select', { id: 'channel-platform' }, ['facebook', 'instagram', 'linkedin'].map((p) => h('option', { value: p }, p)));
    const f = {
      platform_id: input('channel-platform-id', 200),
      name: input('channel-name', 200),
      unit: input('channel-unit'),
      purpose: input('channel-purpose'),
      responsible: input('channel-responsible'),
      personal_data_handling: input('channel-pdh'),
    };
    const approved = h('input', { type: 'checkbox', id: 'channel-approve' });
    const status = h('div', { id: 'channel-add-status', role: 'status' });
    const submit = async (e) => {
      e.preventDefault();
      const body = { platform: platform.value, approved: approved.checked };
      for (const [k, el] of Object.entries(f)) if (el.value.trim()) body[k] = el.value.trim();
      if (!body.platform_id || !body.name) return showError(status, new Error(t('admin.needChannel')));
      try {
        await this.ctx.api('POST', '/api/v1/channels', body);
        for (const el of Object.values(f)) el.value = '';
        const said = t('admin.registered', { name: body.name });
        replace(status, h('p', { class: 'ok' }, said));
        this.ctx.announce(said);
        this.loadChannels();
        this.loadQuarantine();
      } catch (err) {
        showError(status, err);
      }
    };
    return h('details', {},
      h('summary', { id: 'channel-add-open' }, t('admin.register')),
      h('form', { on: { submit } },
        field('channel-platform', t('admin.platform'), platform),
        field(f.platform_id.id, t('admin.platformId'), f.platform_id),
        field(f.name.id, t('admin.name'), f.name),
        field(f.unit.id, t('admin.unit'), f.unit),
        field(f.purpose.id, t('admin.purpose'), f.purpose),
        field(f.responsible.id, t('admin.responsible'), f.responsible),
        field(f.personal_data_handling.id, t('admin.pdh'), f.personal_data_handling),
        h('div', { class: 'field' }, h('span', {}, approved, ' ', h('label', { for: 'channel-approve' }, t('admin.approveNow')))),
        h('button', { type: 'submit', id: 'channel-add', class: 'primary' }, t('admin.registerDo'))),
      status);
  }

  async loadQuarantine() {
    try {
      const list = await this.ctx.api('GET', '/api/v1/quarantine');
      replace(
        this.quarantineBox,
        list.items.length
          ? h('table', { class: 'table', 'aria-labelledby': 'admin-quarantine-heading' },
              h('thead', {}, h('tr', {}, ['platform', 'platformId', 'received', 'what'].map((k) => h('th', { scope: 'col' }, t(`admin.col.${k}`))))),
              // What waits and why; its words only when the caller reads that kind (the server decides).
              h('tbody', {}, list.items.map((q) => h('tr', {},
                h('td', {}, q.platform),
                h('td', { class: 'user-text' }, q.channel_platform_id),
                h('td', {}, formatTime(q.received_at)),
                h('td', { class: 'user-text' }, [q.item_type, q.kind, q.waiting_because, q.text].filter(Boolean).join(' · '))))))
          : h('p', { class: 'muted' }, t('admin.quarantineNone')),
      );
    } catch (e) {
      showError(this.quarantineBox, e);
    }
  }
}
