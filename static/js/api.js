// The one way the console talks to the service: same-origin fetch with the session cookie, the
// CSRF token on every change, and problem+json turned into a plain-language message that says
// what to do. Views catch ApiError and show `error.message` (see ui.js showError).

import { t, formatClock } from './i18n.js';

const CSRF_KEY = 'tavla.csrf';

export function setCsrf(token) {
  if (token) sessionStorage.setItem(CSRF_KEY, token);
  else sessionStorage.removeItem(CSRF_KEY);
}

export class ApiError extends Error {
  constructor(status, problem, message, retryAfter) {
    super(message);
    this.status = status;
    this.problem = problem || {};
    this.retryAfter = retryAfter;
  }

  /** The server's own words (English), shown under the plain-language message. */
  get detail() {
    return this.problem.detail || '';
  }
}

/** The plain-language message for a failed call. */
export function explain(status, problem = {}, retryAfter = null, context = '') {
  if (status === 0) return t('error.network');
  if (status === 401) return t('error.401');
  if (status === 403) {
    const missing = problem.missing_training;
    if (Array.isArray(missing) && missing.length) {
      return t('error.403.training', { modules: missing.join(', ') });
    }
    return t('error.403');
  }
  if (status === 404) return t('error.404');
  if (status === 409) {
    return problem.holder ? t('error.409.holder', { holder: problem.holder }) : t('error.409');
  }
  if (status === 413) return t('error.413');
  if (status === 429) {
    const seconds = Number(retryAfter) || 60;
    if (context === 'signin') {
      return t('error.429.signin', {
        n: Math.ceil(seconds / 60),
        at: formatClock(Date.now() + seconds * 1000),
      });
    }
    return t('error.429', { n: seconds });
  }
  if (status >= 500) return t('error.5xx');
  return t('error.422');
}

const listeners = new Set();
/** Called with no arguments when the service says the session is over. */
export function onSignedOut(fn) {
  listeners.add(fn);
  return () => listeners.delete(fn);
}

/**
 * api('GET', '/api/v1/me') → parsed JSON (null for 204). Throws ApiError.
 * options: {query: {...}} appended as a query string (empty values left out),
 *          {context: 'signin'} for sign-in wording, {signal} to abort.
 */
export async function api(method, path, body, options = {}) {
  const url = new URL(path, location.origin);
  for (const [k, v] of Object.entries(options.query || {})) {
    if (v !== undefined && v !== null && v !== '') url.searchParams.set(k, String(v));
  }
  const headers = { Accept: 'application/json' };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  if (method !== 'GET' && method !== 'HEAD') {
    const csrf = sessionStorage.getItem(CSRF_KEY);
    if (csrf) headers['X-CSRF-Token'] = csrf;
  }
  let response;
  try {
    response = await fetch(url, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: 'same-origin',
      signal: options.signal,
    });
  } catch (e) {
    if (e.name === 'AbortError') throw e;
    throw new ApiError(0, {}, explain(0));
  }
  if (response.status === 204) return null;
  const text = await response.text();
  let data = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    data = null;
  }
  if (response.ok) return data;
  const retryAfter = response.headers.get('Retry-After');
  const error = new ApiError(
    response.status,
    data,
    explain(response.status, data || {}, retryAfter, options.context),
    retryAfter,
  );
  if (response.status === 401 && options.context !== 'signin') {
    for (const fn of listeners) fn();
  }
  throw error;
}
