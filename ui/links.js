// The organiser's sign-in links: each judge's link and QR code (made by
// the server as SVG), a button to re-issue one, and the sheet of cards to
// print (name, QR code, where the judge's route starts), six to a page.

import { api } from './api.js';
import { $, h, fill, say } from './dom.js';

const PER_PAGE = 6;
let links = [];
let tables = null;
let loadedFor = -1;
let drawnFor = '';

const qrImage = (link) => h('img', {
  class: 'qr',
  alt: `Sign-in QR code for ${link.name}`,
  'data-judge-id': String(link.judgeId),
  src: `data:image/svg+xml;charset=utf-8,${encodeURIComponent(link.qrSvg)}`,
});

/** Where a judge's route starts: the first hack assigned to them. */
function routeStart(judgeId) {
  const first = tables?.rows('judgeHacks').filter((a) => a.judgeId === judgeId).sort((a, b) => a.priority - b.priority)[0];
  const hack = first && tables.hacks.get(first.hackId);
  return hack ? `Start at table ${hack.location}: ${hack.name}` : 'No route assigned yet';
}

const expiry = (link) => (link.expiresAt ? `Expires ${new Date(link.expiresAt).toLocaleString()}` : 'Valid until re-issued');

function render(secret) {
  fill($('#links'), links.length === 0 ? h('p', { class: 'empty' }, 'No judges yet: their links appear here once they are added.') : null,
    links.map((link) => h('div', { class: 'link-row', 'data-judge-id': String(link.judgeId) },
      qrImage(link),
      h('div', { class: 'link-text' },
        h('strong', {}, link.name),
        h('a', { href: link.url, class: 'link-url', target: '_blank', rel: 'noreferrer' }, link.url),
        h('span', { class: 'muted' }, `${routeStart(link.judgeId)} · ${expiry(link)}`),
        h('button', { class: 'quiet', type: 'button', onclick: () => reissue(secret, link) }, 'New link (the old one stops working)')))));
  // The print sheet: pages of cards.
  const pages = [];
  for (let i = 0; i < links.length; i += PER_PAGE) pages.push(links.slice(i, i + PER_PAGE));
  fill($('#link-cards'), pages.map((page) => h('div', { class: 'print-page' },
    page.map((link) => h('div', { class: 'link-card' },
      h('div', { class: 'card-name' }, link.name),
      qrImage(link),
      h('div', { class: 'card-route' }, routeStart(link.judgeId)),
      h('div', { class: 'card-help' }, 'Scan with your phone\'s camera to sign in to judging.'))))));
}

async function reissue(secret, link) {
  try {
    const fresh = await api(`/api/judges/${link.judgeId}/link`, { secret, method: 'POST' });
    links = links.map((l) => (l.judgeId === fresh.judgeId ? fresh : l));
    render(secret);
    say($('#links-message'), 'ok', `New link for ${fresh.name}: the old one no longer signs in.`);
  } catch (failure) {
    say($('#links-message'), 'error', failure.message);
  }
}

export async function loadLinks(secret) {
  try {
    links = await api('/api/judges/links', { secret });
    render(secret);
  } catch (failure) {
    say($('#links-message'), 'error', failure.message);
  }
}

/** Called with every update of the mirrored tables: new judges need links. */
export function showLinks(secret, mirrored) {
  tables = mirrored;
  const judges = tables.rows('judges').length;
  if (judges !== loadedFor) {
    loadedFor = judges;
    loadLinks(secret);
    return;
  }
  // Ratings come often; only assignment moves where a route starts.
  const drawn = JSON.stringify(tables.rows('judgeHacks').filter((a) => a.priority === 0).map((a) => [a.judgeId, a.hackId]));
  if (drawn !== drawnFor) {
    drawnFor = drawn;
    render(secret);
  }
}

export function wireLinks() {
  $('#print-cards').addEventListener('click', () => {
    document.body.classList.add('print-cards');
    window.print();
  });
  window.addEventListener('afterprint', () => document.body.classList.remove('print-cards'));
}
