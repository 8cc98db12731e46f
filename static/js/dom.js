// The only way the console builds DOM. Everything that came from outside (message text, names,
// attachment names, server messages) is inserted as text: `h()` turns strings into text nodes,
// no string is ever parsed as HTML, and the CSP's Trusted Types rule makes any HTML string sink
// throw. Attributes are checked: no event-handler attributes, no style, and links only to our own
// routes or to https.

const SVG_NS = 'http://www.w3.org/2000/svg';

/** A URL that is safe to put in href: our own relative routes, or http(s) elsewhere. */
export function safeUrl(url) {
  if (typeof url !== 'string') return null;
  if (url.startsWith('#') || (url.startsWith('/') && !url.startsWith('//'))) return url;
  try {
    const u = new URL(url);
    return u.protocol === 'https:' || u.protocol === 'http:' ? u.href : null;
  } catch {
    return null;
  }
}

function setAttributes(el, attrs) {
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (name === 'on') {
      for (const [event, handler] of Object.entries(value)) el.addEventListener(event, handler);
    } else if (name === 'class') {
      el.setAttribute('class', Array.isArray(value) ? value.filter(Boolean).join(' ') : value);
    } else if (name === 'dataset') {
      Object.assign(el.dataset, value);
    } else if (name === 'value' || name === 'checked' || name === 'selected') {
      el[name] = value; // properties, so a later edit by the user is what the form holds
    } else if (/^on/i.test(name) || name === 'style' || name === 'srcdoc') {
      throw new Error(`dom.js: the attribute ${name} is not allowed`);
    } else if (name === 'href' || name === 'src' || name === 'action' || name === 'xlink:href') {
      const safe = safeUrl(String(value));
      if (safe) el.setAttribute(name, safe);
    } else {
      el.setAttribute(name, value === true ? '' : String(value));
    }
  }
}

function append(el, children) {
  for (const child of children) {
    if (child === null || child === undefined || child === false || child === true) continue;
    if (Array.isArray(child)) append(el, child);
    else if (child instanceof Node) el.appendChild(child);
    else el.appendChild(document.createTextNode(String(child)));
  }
}

/**
 * h('button', {class: 'primary', on: {click: fn}}, 'Svara') builds an element. Children are
 * nodes, strings (inserted as text, never parsed), numbers, arrays of these, or null (skipped).
 */
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  setAttributes(el, attrs);
  append(el, children);
  return el;
}

/** The same for SVG (charts): presentation attributes are fine, styles and scripts are not. */
export function s(tag, attrs, ...children) {
  if (tag === 'script' || tag === 'foreignObject') throw new Error(`dom.js: no <${tag}> in SVG`);
  const el = document.createElementNS(SVG_NS, tag);
  setAttributes(el, attrs);
  append(el, children);
  return el;
}

/** Replaces an element's children. */
export function replace(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

/**
 * Text from outside, isolated for direction: a name or message with right-to-left override
 * characters cannot flip the text around it.
 */
export function userText(text, attrs = {}) {
  return h('bdi', attrs, text ?? '');
}

/**
 * Text with highlighted ranges, built from the ranges (never from HTML): ranges are
 * [start, end) in Unicode code points, as the server counts characters.
 */
export function highlighted(text, ranges) {
  const chars = Array.from(text ?? '');
  const out = [];
  let at = 0;
  const sorted = [...(ranges || [])]
    .filter((r) => Array.isArray(r) && r.length === 2)
    .map(([a, b]) => [Math.max(0, a | 0), Math.min(chars.length, b | 0)])
    .sort((x, y) => x[0] - y[0]);
  for (const [start, end] of sorted) {
    if (start < at || end <= start) continue;
    if (start > at) out.push(chars.slice(at, start).join(''));
    out.push(h('mark', {}, chars.slice(start, end).join('')));
    at = end;
  }
  if (at < chars.length) out.push(chars.slice(at).join(''));
  return out;
}

/** An id unique in the page, for label/aria links. */
let counter = 0;
export function uid(prefix = 'id') {
  counter += 1;
  return `${prefix}-${counter}`;
}
