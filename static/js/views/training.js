// My training: what each of my roles gives, each module with its state, and what each withheld
// part of my work still needs.
// Shown to everyone; it is where a newcomer lands until their training lets them work.

import { h } from '../dom.js';
import { t, addStrings, lang, formatTime } from '../i18n.js';
import { heading, rolesGive } from '../ui.js';

addStrings({
  sv: {
    'training.title': 'Min utbildning',
    'training.intro': 'Din utbildning avgör vad du får göra i tavla. Din utbildare signerar varje steg.',
    'training.modules': 'Utbildningssteg',
    'training.module': 'Steg',
    'training.state': 'Status',
    'training.completed': 'Slutförd',
    'training.expires': 'Gäller till',
    'training.signedBy': 'Signerad av',
    'training.state.done': 'Klar',
    'training.state.expiring_soon': 'Går snart ut',
    'training.state.expired': 'Har gått ut',
    'training.state.missing': 'Saknas',
    'training.missing': 'Det här väntar på utbildning',
    'training.missingItem': '{what}: saknar {modules}',
    'training.allSet': 'Du har all utbildning som din roll kräver.',
    'training.none': 'Din roll kräver ingen utbildning.',
    'cap.read_dms': 'Läsa direktmeddelanden',
    'cap.answer_dms': 'Svara på direktmeddelanden',
    'cap.read_comments': 'Läsa kommentarer',
    'cap.answer_comments': 'Svara på kommentarer',
    'cap.see_faq': 'Se FAQ-signaler',
    'cap.moderate': 'Moderera',
    'cap.manage_staff': 'Hantera personal',
    'cap.manage_channels': 'Hantera kanaler',
    'cap.read_audit': 'Läsa granskningsloggen',
    'cap.ingest': 'Skicka in meddelanden',
    'cap.see_reports': 'Se uppföljningsrapporter',
    'cap.handle_privacy_requests': 'Besvara begäranden om personuppgifter',
    'cap.manage_retention': 'Gallring och bevarandebeslut',
    'cap.reveal_personal_data': 'Visa maskerade personuppgifter',
    'training.roles': 'Vad dina roller ger',
  },
  en: {
    'training.title': 'My training',
    'training.intro': 'Your training decides what you may do in tavla. Your trainer signs off each step.',
    'training.modules': 'Training steps',
    'training.module': 'Step',
    'training.state': 'State',
    'training.completed': 'Completed',
    'training.expires': 'Valid until',
    'training.signedBy': 'Signed off by',
    'training.state.done': 'Done',
    'training.state.expiring_soon': 'Expires soon',
    'training.state.expired': 'Expired',
    'training.state.missing': 'Missing',
    'training.missing': 'Waiting for training',
    'training.missingItem': '{what}: needs {modules}',
    'training.allSet': 'You have all the training your role needs.',
    'training.none': 'Your role needs no training.',
    'cap.read_dms': 'Reading direct messages',
    'cap.answer_dms': 'Answering direct messages',
    'cap.read_comments': 'Reading comments',
    'cap.answer_comments': 'Answering comments',
    'cap.see_faq': 'Seeing FAQ signals',
    'cap.moderate': 'Moderating',
    'cap.manage_staff': 'Managing staff',
    'cap.manage_channels': 'Managing channels',
    'cap.read_audit': 'Reading the audit trail',
    'cap.ingest': 'Submitting messages',
    'cap.see_reports': 'Seeing follow-up reports',
    'cap.handle_privacy_requests': "Handling people's requests about their data",
    'cap.manage_retention': 'Retention and legal holds',
    'cap.reveal_personal_data': 'Revealing masked personal data',
    'training.roles': 'What your roles give',
  },
});

export const view = {
  id: 'training',
  title: { sv: 'Min utbildning', en: 'My training' },
  needs: [],
  // Listed last and never the landing view unless nothing else is allowed.
  fallback: true,
  render(root, ctx) {
    const me = ctx.me;
    const title = (m) => (lang() === 'sv' ? m.title_sv : m.title_en);
    const byId = Object.fromEntries((me.training || []).map((m) => [m.id, m]));
    const missing = Object.entries(me.missing_training || {});
    root.append(
      h(
        'section',
        { class: 'view training', 'aria-labelledby': 'training-heading' },
        heading(t('training.title'), 'training-heading'),
        h('p', {}, t('training.intro')),
        // Each role and what it gives: a person may hold several, each gated by its training.
        h('h2', { id: 'training-roles-heading' }, t('training.roles')),
        rolesGive(me.per_role, 'training-roles', (id) => (byId[id] ? title(byId[id]) : id)),
        missing.length
          ? h(
              'div',
              { class: 'notice', id: 'training-missing' },
              h('h2', {}, t('training.missing')),
              h(
                'ul',
                {},
                missing.map(([cap, modules]) =>
                  h('li', {}, t('training.missingItem', {
                    what: t(`cap.${cap}`),
                    modules: modules.map((m) => (byId[m] ? title(byId[m]) : m)).join(', '),
                  })),
                ),
              ),
            )
          : h('p', { class: 'ok' }, (me.training || []).length ? t('training.allSet') : t('training.none')),
        (me.training || []).length
          ? h(
              'table',
              { class: 'table' },
              h('caption', {}, t('training.modules')),
              h(
                'thead',
                {},
                h('tr', {}, ['training.module', 'training.state', 'training.completed', 'training.expires', 'training.signedBy'].map((k) => h('th', { scope: 'col' }, t(k)))),
              ),
              h(
                'tbody',
                {},
                me.training.map((m) =>
                  h(
                    'tr',
                    { class: `state-${m.state}` },
                    h('th', { scope: 'row' }, title(m)),
                    h('td', {}, h('span', { class: `badge badge-${m.state}` }, t(`training.state.${m.state}`))),
                    h('td', {}, formatTime(m.completed_at)),
                    h('td', {}, formatTime(m.expires_at)),
                    h('td', {}, m.signed_off_by || ''),
                  ),
                ),
              ),
            )
          : null,
      ),
    );
    return {};
  },
};
