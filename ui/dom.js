// Small DOM helpers shared by the pages: building elements without
// innerHTML (names come from CSV files and must never be parsed as HTML).

/** h('td', {class: 'n'}, 'text', child) builds an element. */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith('on')) el.addEventListener(key.slice(2), value);
    else if (key in el && key !== 'list' && typeof value !== 'string') el[key] = value;
    else el.setAttribute(key, value === true ? '' : value);
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : String(child));
  }
  return el;
}

export const $ = (selector, root = document) => root.querySelector(selector);

/** Replaces an element's children. */
export function fill(el, ...children) {
  el.replaceChildren();
  for (const child of children.flat()) if (child) el.append(child);
}

/** A table with a header row; `rows` are arrays of cells. */
export function table(headers, rows, empty = 'Nothing yet.') {
  if (rows.length === 0) return h('p', { class: 'empty' }, empty);
  return h(
    'table',
    {},
    h('thead', {}, h('tr', {}, headers.map((t) => h('th', {}, t)))),
    h('tbody', {}, rows.map((cells) => h('tr', {}, cells.map((c) => h('td', {}, c))))),
  );
}

/**
 * Shows the connection state in the page's badge: every page has one, so a
 * person can tell a stale screen from a quiet one.
 */
export function showConnection(state, detail = '') {
  const badge = $('#connection');
  if (!badge) return;
  const words = { live: 'Live', connecting: 'Connecting…', offline: 'Offline — retrying', signedout: 'Signed out' };
  badge.dataset.state = state;
  badge.textContent = words[state] ?? state;
  badge.title = detail;
}

/** Shows a message in a page's message area; kind is 'error' or 'ok'. */
export function say(el, kind, text) {
  el.className = `message ${kind}`;
  el.textContent = text;
  el.hidden = !text;
}
