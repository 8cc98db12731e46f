// Swedish by default, English by a switch (kept in localStorage). Views add their own strings
// with addStrings() next to their code; t('key', {n: 3}) fills {n}.

const STORE_KEY = 'tavla.lang';
const LANGS = ['sv', 'en'];
const strings = { sv: {}, en: {} };

export function addStrings(table) {
  for (const lang of LANGS) Object.assign(strings[lang], table[lang] || {});
}

let current = LANGS.includes(localStorage.getItem(STORE_KEY)) ? localStorage.getItem(STORE_KEY) : 'sv';

export function lang() {
  return current;
}

export function setLang(l) {
  if (!LANGS.includes(l)) return;
  current = l;
  localStorage.setItem(STORE_KEY, l);
  document.documentElement.lang = l;
}

export function t(key, params = {}) {
  const text = plural(strings[current][key] ?? strings.sv[key] ?? key, params);
  return text.replace(/\{(\w+)\}/g, (m, name) => (name in params ? String(params[name]) : m));
}

const pluralRules = {};

/**
 * A string with a count in it may be given as {one, other}: the form is chosen by the language's
 * plural rules from the count (`n`, or `total` where a string has no `n`): "1 träff", "2 träffar".
 */
function plural(text, params) {
  if (typeof text !== 'object' || text === null) return text;
  const count = Number(params.n ?? params.total ?? 0);
  pluralRules[current] ??= new Intl.PluralRules(current === 'sv' ? 'sv-SE' : 'en-GB');
  return text[pluralRules[current].select(count)] ?? text.other;
}

/** A title given as {sv, en}. */
export function pick(titles) {
  return titles?.[current] ?? titles?.sv ?? '';
}

const locale = () => (current === 'sv' ? 'sv-SE' : 'en-GB');

export function formatTime(ms) {
  if (ms === null || ms === undefined) return '';
  return new Intl.DateTimeFormat(locale(), { dateStyle: 'short', timeStyle: 'short' }).format(new Date(ms));
}

export function formatClock(ms) {
  return new Intl.DateTimeFormat(locale(), { hour: '2-digit', minute: '2-digit' }).format(new Date(ms));
}

/** "3 h 12 min", "45 min", "under 1 min". */
export function formatDuration(seconds) {
  const s = Math.max(0, Math.floor(seconds));
  const d = Math.floor(s / 86400);
  const hrs = Math.floor((s % 86400) / 3600);
  const min = Math.floor((s % 3600) / 60);
  if (d > 0) return t('duration.dh', { d, h: hrs });
  if (hrs > 0) return t('duration.hm', { h: hrs, m: min });
  if (min > 0) return t('duration.m', { m: min });
  return t('duration.lt1');
}

/** "5 min sedan" for a time in the past. */
export function formatAgo(ms) {
  return t('ago', { d: formatDuration((Date.now() - ms) / 1000) });
}

addStrings({
  sv: {
    'duration.dh': '{d} d {h} h',
    'duration.hm': '{h} h {m} min',
    'duration.m': '{m} min',
    'duration.lt1': 'under 1 min',
    ago: 'för {d} sedan',
    'app.skip': 'Hoppa till innehållet',
    'app.nav': 'Vyer',
    'app.loading': 'Laddar …',
    'app.language': 'In English',
    'app.languageLabel': 'Byt språk till engelska',
    'app.signOut': 'Logga ut',
    'app.signedInAs': 'Inloggad som {name} ({role})',
    'app.help': 'Kortkommandon',
    'app.helpClose': 'Stäng',
    'app.helpGlobal': '? visar den här hjälpen. Kortkommandon gäller inte medan du skriver i ett fält (utom Ctrl+Enter).',
    'app.live.lost': 'Liveuppdateringarna är avbrutna; försöker igen …',
    'app.live.back': 'Liveuppdateringarna fungerar igen.',
    'role.agent': 'handläggare',
    'role.communicator': 'kommunikatör',
    'role.moderator': 'moderator',
    'role.admin': 'administratör',
    'role.auditor': 'granskare',
    'role.integration': 'integration (tjänstekonto)',
    'roles.lacks': '(väntar på utbildning: {modules})',
    'roles.ready': '(klar att användas)',
    'error.network': 'Tjänsten svarar inte. Kontrollera nätverket och försök igen.',
    'error.401': 'Du är inte inloggad längre. Logga in igen.',
    'error.403': 'Du har inte behörighet till det här. Be en administratör om ditt arbete kräver det.',
    'error.403.training': 'Det här kräver utbildning som du inte har slutfört (eller som har gått ut): {modules}. Be din utbildare att signera den.',
    'error.404': 'Det finns inte, eller inte längre. Det kan ligga utanför dina kanaler.',
    'error.409.holder': '{holder} arbetar med konversationen just nu. Välj en annan eller fråga hen.',
    'error.409': 'Någon annan har just ändrat det här. Ladda om och försök igen.',
    'error.413': 'Det du skickade är för stort. Korta ned det och försök igen.',
    'error.422': 'Det gick inte att genomföra.',
    'error.429': 'För många försök. Vänta {n} s och försök igen.',
    'error.429.signin': 'För många misslyckade inloggningar. Försök igen om {n} min (kl. {at}), eller be en administratör återställa ditt lösenord.',
    'error.5xx': 'Något gick fel hos oss. Försök igen om en stund och säg till administratören om det fortsätter.',
    'error.detail': 'Tjänstens förklaring: {detail}',
  },
  en: {
    'duration.dh': '{d} d {h} h',
    'duration.hm': '{h} h {m} min',
    'duration.m': '{m} min',
    'duration.lt1': 'under 1 min',
    ago: '{d} ago',
    'app.skip': 'Skip to content',
    'app.nav': 'Views',
    'app.loading': 'Loading …',
    'app.language': 'På svenska',
    'app.languageLabel': 'Switch language to Swedish',
    'app.signOut': 'Sign out',
    'app.signedInAs': 'Signed in as {name} ({role})',
    'app.help': 'Keyboard shortcuts',
    'app.helpClose': 'Close',
    'app.helpGlobal': '? shows this help. Shortcuts do not apply while you type in a field (except Ctrl+Enter).',
    'app.live.lost': 'Live updates are interrupted; trying again …',
    'app.live.back': 'Live updates work again.',
    'role.agent': 'agent',
    'role.communicator': 'communicator',
    'role.moderator': 'moderator',
    'role.admin': 'administrator',
    'role.auditor': 'auditor',
    'role.integration': 'integration (service account)',
    'roles.lacks': '(waiting for training: {modules})',
    'roles.ready': '(ready to use)',
    'error.network': 'The service does not answer. Check the network and try again.',
    'error.401': 'You are no longer signed in. Sign in again.',
    'error.403': 'You may not do this. Ask an administrator if your work needs it.',
    'error.403.training': 'This needs training you have not completed (or that has expired): {modules}. Ask your trainer to sign it off.',
    'error.404': 'It does not exist, or no longer. It may be outside your channels.',
    'error.409.holder': '{holder} is working on this conversation now. Pick another one or ask them.',
    'error.409': 'Someone else just changed this. Reload and try again.',
    'error.413': 'What you sent is too large. Shorten it and try again.',
    'error.422': 'That could not be done.',
    'error.429': 'Too many attempts. Wait {n} s and try again.',
    'error.429.signin': 'Too many failed sign-ins. Try again in {n} min (at {at}), or ask an administrator to reset your password.',
    'error.5xx': 'Something went wrong on our side. Try again in a while and tell the administrator if it persists.',
    'error.detail': 'The service says: {detail}',
  },
});

document.documentElement.lang = current;
