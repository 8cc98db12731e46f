// Sign-in: username and password to POST /api/v1/session, which sets the session cookie and
// gives the CSRF token for changes. Errors say what happened and what to do: a wrong password,
// or locked out until a time. With single sign-on configured (GET /api/v1/signin-options) a link
// "Sign in with <provider>" goes to /auth/oidc/start; with local passwords off it is the only way.

import { h, replace } from '../dom.js';
import { t, addStrings } from '../i18n.js';
import { api, setCsrf } from '../api.js';
import { showError, heading } from '../ui.js';

addStrings({
  sv: {
    'signin.title': 'Logga in',
    'signin.intro': 'Logga in med ditt användarnamn och lösenord för tavla.',
    'signin.username': 'Användarnamn',
    'signin.password': 'Lösenord',
    'signin.submit': 'Logga in',
    'signin.busy': 'Loggar in …',
    'signin.wrong': 'Fel användarnamn eller lösenord. Kontrollera stavningen och Caps Lock och försök igen.',
    'signin.missing': 'Fyll i både användarnamn och lösenord.',
    'signin.oidc': 'Logga in med {name}',
    'signin.oidc.intro': 'Logga in med organisationens gemensamma inloggning.',
    'signin.or': 'Eller logga in med ditt användarnamn och lösenord för tavla:',
  },
  en: {
    'signin.title': 'Sign in',
    'signin.intro': 'Sign in with your tavla username and password.',
    'signin.username': 'Username',
    'signin.password': 'Password',
    'signin.submit': 'Sign in',
    'signin.busy': 'Signing in …',
    'signin.wrong': 'Wrong username or password. Check the spelling and Caps Lock and try again.',
    'signin.missing': 'Fill in both username and password.',
    'signin.oidc': 'Sign in with {name}',
    'signin.oidc.intro': "Sign in with your organisation's single sign-on.",
    'signin.or': 'Or sign in with your tavla username and password:',
  },
});

export function renderSignIn(root, { onSignedIn }) {
  const errors = h('div', { id: 'signin-errors' });
  const username = h('input', { id: 'signin-username', name: 'username', autocomplete: 'username', required: true });
  const password = h('input', {
    id: 'signin-password',
    name: 'password',
    type: 'password',
    autocomplete: 'current-password',
    required: true,
  });
  const submit = h('button', { type: 'submit', class: 'primary', id: 'signin-submit' }, t('signin.submit'));
  const form = h(
    'form',
    { class: 'signin', novalidate: true, 'aria-describedby': 'signin-intro' },
    h('p', { id: 'signin-intro' }, t('signin.intro')),
    errors,
    h('div', { class: 'field' }, h('label', { for: 'signin-username' }, t('signin.username')), username),
    h('div', { class: 'field' }, h('label', { for: 'signin-password' }, t('signin.password')), password),
    submit,
  );
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    if (!username.value.trim() || !password.value) {
      showError(errors, { message: t('signin.missing') });
      (username.value.trim() ? password : username).focus();
      return;
    }
    submit.disabled = true;
    submit.textContent = t('signin.busy');
    try {
      const session = await api(
        'POST',
        '/api/v1/session',
        { username: username.value.trim(), password: password.value },
        { context: 'signin' },
      );
      setCsrf(session.csrf_token);
      onSignedIn();
    } catch (err) {
      const shown = err.status === 401 ? { message: t('signin.wrong') } : err;
      showError(errors, shown);
      password.value = '';
      password.focus();
      submit.disabled = false;
      submit.textContent = t('signin.submit');
    }
  });
  const single = h('div', { id: 'signin-oidc', hidden: true });
  replace(root, h('section', { class: 'signin-page', 'aria-labelledby': 'signin-heading' }, h('h1', { id: 'signin-heading', tabindex: '-1', class: 'view-heading' }, t('signin.title')), single, form));
  username.focus();
  offerSingleSignOn(single, form);
}

/** Adds the single sign-on link when there is one, and hides the form when passwords are off. */
async function offerSingleSignOn(single, form) {
  let options;
  try {
    options = await api('GET', '/api/v1/signin-options', undefined, { context: 'signin' });
  } catch {
    return; // The password form stays; its own errors say what is wrong.
  }
  if (!options?.oidc) return;
  const link = h('a', { id: 'signin-oidc-link', class: 'button primary', href: options.oidc.start }, t('signin.oidc', { name: options.oidc.provider_name }));
  replace(single, h('p', {}, t('signin.oidc.intro')), h('p', {}, link));
  single.hidden = false;
  if (options.local_passwords) {
    form.querySelector('#signin-intro').textContent = t('signin.or');
  } else {
    form.hidden = true;
    link.focus();
  }
}
