// The console's shell: who is signed in (GET /api/v1/me), the navigation (only the views whose
// capability the person has), the hash router (#/<view>/<params...>), the language switch, the
// keyboard help and the live event stream. Views live in views/ and are listed in views/index.js.

import { h, replace } from './dom.js';
import { t, lang, setLang, pick } from './i18n.js';
import { api, onSignedOut, setCsrf } from './api.js';
import { announce, errorBox, typing } from './ui.js';
import { LiveEvents } from './events.js';
import { views } from './views/index.js';
import { renderSignIn } from './views/signin.js';

const main = document.getElementById('main');
const nav = document.getElementById('nav');
const tools = document.getElementById('top-tools');

const state = { me: null, view: null, handle: null, live: null, help: null };

// Who was signed in when this tab last loaded the console. A reload starts the view from it while
// GET /api/v1/me confirms, so the first page does not wait for that round trip; the server checks
// every call regardless, and the view is drawn again if anything changed.
const ME_KEY = 'tavla.me';

/** Whether the signed-in person may use a view: any one of its capabilities is enough. */
export function allowed(view, me) {
  return !view.needs?.length || view.needs.some((c) => me.capabilities.includes(c));
}

function visibleViews() {
  return views.filter((v) => allowed(v, state.me));
}

function parseHash() {
  const parts = location.hash
    .replace(/^#\/?/, '')
    .split('/')
    .filter(Boolean)
    .map((p) => {
      try {
        return decodeURIComponent(p);
      } catch {
        return '';
      }
    });
  return { id: parts[0] || '', params: parts.slice(1) };
}

/** The first view with work in it; the training view when the person can do nothing yet. */
function defaultView() {
  const usable = visibleViews();
  return usable.find((v) => !v.fallback) || usable[0];
}

function context(params) {
  return {
    me: state.me,
    params,
    t,
    lang: lang(),
    api,
    events: state.live,
    announce,
    can: (capability) => state.me.capabilities.includes(capability),
    navigate: (hash) => {
      if (location.hash === hash) route();
      else location.hash = hash;
    },
  };
}

function destroyCurrent() {
  try {
    state.handle?.destroy?.();
  } catch (e) {
    console.error(e);
  }
  state.handle = null;
  state.view = null;
}

function route() {
  if (!state.me) return;
  const { id, params } = parseHash();
  const view = visibleViews().find((v) => v.id === id);
  if (!view) {
    const fallback = defaultView();
    location.replace(`#/${fallback.id}`);
    if (state.view !== fallback) show(fallback, []);
    return;
  }
  if (state.view === view && state.handle?.route) {
    state.handle.route(params);
    return;
  }
  show(view, params);
}

function show(view, params) {
  destroyCurrent();
  replace(main);
  state.view = view;
  document.title = `${pick(view.title)} – tavla`;
  renderNav();
  try {
    state.handle = view.render(main, context(params)) || {};
  } catch (e) {
    console.error(e);
    replace(main, errorBox(e));
  }
  main.querySelector('.view-heading')?.focus();
}

function renderNav() {
  const { id } = parseHash();
  replace(
    nav,
    h(
      'ul',
      {},
      visibleViews().map((v) =>
        h(
          'li',
          {},
          h('a', { href: `#/${v.id}`, 'aria-current': v.id === id || state.view === v ? 'page' : null }, pick(v.title)),
        ),
      ),
    ),
  );
  nav.setAttribute('aria-label', t('app.nav'));
}

function renderTools() {
  const other = lang() === 'sv' ? 'en' : 'sv';
  replace(
    tools,
    h(
      'button',
      {
        type: 'button',
        class: 'link-button',
        lang: other,
        on: { click: () => switchLanguage(other) },
      },
      t('app.language'),
    ),
    state.me
      ? [
          h('span', { class: 'who' }, t('app.signedInAs', { name: state.me.username, role: (state.me.roles || [state.me.role]).map((r) => t(`role.${r}`)).join(', ') })),
          h('button', { type: 'button', class: 'link-button', on: { click: () => openHelp() } }, t('app.help')),
          h('button', { type: 'button', class: 'secondary', on: { click: signOut } }, t('app.signOut')),
        ]
      : null,
  );
  document.getElementById('skip-link').textContent = t('app.skip');
}

function switchLanguage(l) {
  setLang(l);
  renderTools();
  if (state.me) {
    const view = state.view;
    const { params } = parseHash();
    if (view) show(view, params);
    tools.querySelector('button')?.focus();
  } else {
    showSignIn();
  }
}

function openHelp() {
  state.help?.remove();
  const keys = [...(state.view?.keys || [])];
  const dialog = h(
    'dialog',
    { class: 'help', 'aria-labelledby': 'help-title' },
    h('h2', { id: 'help-title' }, t('app.help')),
    h('p', {}, t('app.helpGlobal')),
    keys.length
      ? h(
          'dl',
          { class: 'keys' },
          keys.map((k) => [h('dt', {}, h('kbd', {}, k.keys)), h('dd', {}, pick(k))]),
        )
      : null,
    h('form', { method: 'dialog' }, h('button', { type: 'submit' }, t('app.helpClose'))),
  );
  dialog.addEventListener('close', () => dialog.remove());
  document.body.appendChild(dialog);
  state.help = dialog;
  dialog.showModal();
}

document.addEventListener('keydown', (e) => {
  if (e.key === '?' && !typing(e) && !e.ctrlKey && !e.metaKey && !e.altKey && state.me) {
    e.preventDefault();
    openHelp();
  }
});

async function signOut() {
  try {
    await api('DELETE', '/api/v1/session');
  } catch {
    // Signed out already, or the service is away: the page forgets the session either way.
  }
  signedOut();
}

function signedOut() {
  setCsrf(null);
  sessionStorage.removeItem(ME_KEY);
  state.live?.stop();
  state.me = null;
  destroyCurrent();
  showSignIn();
}

function showSignIn() {
  destroyCurrent();
  replace(nav);
  renderTools();
  document.title = 'tavla';
  renderSignIn(main, { onSignedIn: () => boot() });
}

function rememberedMe() {
  try {
    const me = JSON.parse(sessionStorage.getItem(ME_KEY) || 'null');
    return Array.isArray(me?.capabilities) ? me : null;
  } catch {
    return null;
  }
}

function startLive() {
  state.live?.stop();
  state.live = new LiveEvents({
    onLost: () => announce(t('app.live.lost')),
    onBack: () => announce(t('app.live.back')),
  });
  state.live.start();
}

/** Back from single sign-on: the CSRF token of the new session comes in the address's fragment
 * (never sent to a server); keep it for this tab and take it out of the address and history. */
function takeSignedIn() {
  const found = location.hash.match(/^#signed-in=([A-Za-z0-9_-]+)$/);
  if (!found) return;
  setCsrf(found[1]);
  sessionStorage.removeItem(ME_KEY);
  history.replaceState(null, '', location.pathname + location.search);
}

async function boot() {
  takeSignedIn();
  renderTools();
  if (!sessionStorage.getItem('tavla.csrf')) {
    // Without the token of this session no change can be made: sign in (again) first.
    showSignIn();
    return;
  }
  const confirming = api('GET', '/api/v1/me');
  const remembered = rememberedMe();
  if (remembered) {
    state.me = remembered;
    startLive();
    renderTools();
    route();
  }
  let me;
  try {
    me = await confirming;
  } catch (e) {
    if (e.status === 401) {
      // onSignedOut has already run if a view was showing; otherwise the sign-in is shown here.
      if (state.me) signedOut();
      else if (!main.querySelector('#signin-username')) showSignIn();
    } else if (!state.me) {
      replace(main, errorBox(e));
    }
    return;
  }
  sessionStorage.setItem(ME_KEY, JSON.stringify(me));
  const changed = JSON.stringify(me) !== JSON.stringify(remembered);
  state.me = me;
  if (!remembered) {
    startLive();
    renderTools();
    route();
  } else if (changed) {
    // Roles, training or channels changed since: the navigation and the view follow.
    renderTools();
    destroyCurrent();
    route();
  }
}

onSignedOut(() => {
  if (state.me) signedOut();
});
window.addEventListener('hashchange', route);
boot();
