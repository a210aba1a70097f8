// A judge's page: sign in by the link the organisers handed out (its token
// is in the URL fragment, which is never sent to a server) or with a name and
// the login code, keep the issued secret, then rate the assigned hacks in visiting order and choose first and
// second place per superlative. Each answer shows whether the server has
// saved it or it is still being sent; unsent answers are retried. A table
// with nobody there is marked "Not here" and moves to "come back later";
// each hack has a private note; a pause by the organisers shows at the top.

import { api } from './api.js';
import { Live } from './live.js';
import { $, h, fill, say, showConnection } from './dom.js';

const KEY = 'podium.judge';
let me = JSON.parse(localStorage.getItem(KEY) || 'null'); // {secret, judgeId, name}
let live = null;
let tables = null;
// Answers sent but not yet confirmed, by key ('r<hackId>', 's<superId>',
// 'a<hackId>' for "not here", 'n<hackId>' for a note).
const pending = new Map();
// Notes being typed, by hack id: a live update must not wipe them.
const drafts = new Map();

function showSignIn(message = '') {
  live?.stop();
  live = null;
  me = null;
  localStorage.removeItem(KEY);
  $('#signin').hidden = false;
  $('#judging').hidden = true;
  $('#signout').hidden = true;
  $('#title').textContent = 'Podium · Judging';
  showConnection('signedout');
  say($('#signin-message'), 'error', message);
  loadNames();
}

async function loadNames() {
  const select = $('#judge-name');
  try {
    const names = await api('/api/judges/names');
    fill(select, h('option', { value: '' }, names.length ? 'Choose your name…' : 'No judges yet: ask the organisers'),
      names.map((j) => h('option', { value: String(j.id) }, j.name)));
  } catch (failure) {
    fill(select, h('option', { value: '' }, 'Names unavailable'));
    say($('#signin-message'), 'error', failure.message);
    setTimeout(() => !me && loadNames(), 3000);
  }
}

function start() {
  $('#signin').hidden = true;
  $('#judging').hidden = false;
  $('#signout').hidden = false;
  $('#title').textContent = `Judging · ${me.name}`;
  live = new Live(me.secret, {
    onUpdate: (t) => { tables = t; render(); },
    onSignedOut: (m) => showSignIn(`Please sign in again: ${m}`),
  });
}

/** Sends an answer; keeps it pending (and retries) until the server saves it. */
async function send(key, path, body, attempt = 0) {
  pending.set(key, { body, state: 'sending' });
  render();
  try {
    await api(path, { secret: me.secret, method: 'POST', body });
    if (pending.get(key)?.body === body) pending.delete(key);
  } catch (failure) {
    if (pending.get(key)?.body !== body) return; // A newer answer replaced it.
    if (failure.status === 401) return showSignIn(`Please sign in again: ${failure.message}`);
    const retry = failure.status === 0 || failure.status === 429 || failure.status >= 500;
    pending.set(key, { body, state: retry ? 'sending' : 'failed', message: failure.message });
    if (retry) setTimeout(() => pending.get(key)?.body === body && send(key, path, body, attempt + 1), Math.min(1000 * 2 ** attempt, 10_000));
  }
  render();
}

function saveState(savedText, entry) {
  if (entry?.state === 'failed') return h('span', { class: 'save-state failed' }, `Not saved: ${entry.message}`);
  if (entry) return h('span', { class: 'save-state sending' }, 'Sending…');
  if (savedText) return h('span', { class: 'save-state saved' }, `Saved ✓ ${savedText}`);
  return h('span', { class: 'save-state' }, 'Not rated yet');
}

function render() {
  if (!tables || !me) return;
  const paused = tables.rows('judgingStatus').some((s) => s.paused);
  $('#paused-banner').hidden = !paused;
  const withdrawn = new Set(tables.rows('withdrawals').filter((w) => w.withdrawn).map((w) => w.hackId));
  const away = new Set(tables.rows('absences').filter((a) => a.judgeId === me.judgeId && a.active).map((a) => a.hackId));
  const noteOf = (hackId) => tables.rows('notes').find((n) => n.judgeId === me.judgeId && n.hackId === hackId);
  const assigned = tables.rows('judgeHacks').filter((a) => a.judgeId === me.judgeId && !withdrawn.has(a.hackId)).sort((a, b) => a.priority - b.priority);
  const ratingOf = (hackId) => tables.rows('ratings').find((r) => r.judgeId === me.judgeId && r.hackId === hackId);
  const rated = assigned.filter((a) => ratingOf(a.hackId)).length;
  // Keep the caret in a note being typed across the re-render.
  const typing = document.activeElement?.dataset?.noteFor;
  const caret = typing ? [document.activeElement.selectionStart, document.activeElement.selectionEnd] : null;
  $('#progress').textContent = assigned.length
    ? `Rated ${rated} of ${assigned.length}`
    : 'No hacks assigned to you yet. This page updates by itself when the organisers run assignment.';
  $('#pending').textContent = pending.size ? `${pending.size} answer(s) still being sent…` : '';

  const card = (a, i) => {
    const hack = tables.hacks.get(a.hackId);
    if (!hack) return null;
    const saved = ratingOf(hack.id);
    const entry = pending.get(`r${hack.id}`);
    const shown = entry ? entry.body.rating : saved?.rating;
    const note = noteOf(hack.id);
    const noteEntry = pending.get(`n${hack.id}`);
    const absentEntry = pending.get(`a${hack.id}`);
    return h('section', { class: 'card hack', 'data-hack-id': String(hack.id) },
      h('div', { class: 'title' },
        h('span', { class: 'table-no' }, `${i + 1}. Table ${hack.location}`),
        h('span', { class: 'name' }, hack.name)),
      hack.description ? h('p', { class: 'muted' }, hack.description.slice(0, 240)) : null,
      h('div', { class: 'rating', role: 'group', 'aria-label': `Rating for ${hack.name}` },
        Array.from({ length: 20 }, (_, k) => k + 1).map((n) => h('button', {
          type: 'button',
          'aria-pressed': String(n === shown),
          'aria-label': `${n} of 20`,
          disabled: paused,
          onclick: () => send(`r${hack.id}`, '/api/ratings', { judgeId: me.judgeId, hackId: hack.id, rating: n }),
        }, String(n)))),
      saveState(saved ? `${saved.rating} of 20` : '', entry),
      saved || away.has(hack.id) ? null : h('p', { class: 'row' },
        h('button', {
          type: 'button', class: 'quiet not-here', disabled: paused,
          onclick: () => send(`a${hack.id}`, '/api/absences', { judgeId: me.judgeId, hackId: hack.id }),
        }, 'Not here: come back later'),
        absentEntry ? saveState('', absentEntry) : null),
      h('label', { class: 'note' }, 'Your private note (only you and the organisers see it)',
        h('textarea', {
          rows: 2, maxlength: 2000, 'data-note-for': String(hack.id),
          oninput: (e) => drafts.set(hack.id, e.target.value),
          onchange: (e) => { drafts.delete(hack.id); send(`n${hack.id}`, '/api/notes', { judgeId: me.judgeId, hackId: hack.id, text: e.target.value }); },
        }, drafts.get(hack.id) ?? noteEntry?.body.text ?? note?.text ?? '')),
      noteEntry ? saveState('', noteEntry) : note?.text ? h('span', { class: 'save-state saved' }, 'Note saved ✓') : null);
  };
  const here = assigned.filter((a) => !away.has(a.hackId));
  const later = assigned.filter((a) => away.has(a.hackId));
  fill($('#hacks'), here.map((a, i) => card(a, i)));
  fill($('#later'), later.map((a, i) => card(a, here.length + i)));
  $('#later-card').hidden = later.length === 0;
  if (typing) {
    const box = document.querySelector(`textarea[data-note-for="${typing}"]`);
    box?.focus();
    box?.setSelectionRange(...caret);
  }

  const superlatives = tables.rows('superlatives');
  $('#superlatives-card').hidden = superlatives.length === 0;
  const byTable = tables.rows('hacks').sort((a, b) => a.location - b.location);
  fill($('#superlatives'), superlatives.map((s) => {
    const eligibleIds = new Set(tables.rows('superlativeHacks').filter((e) => e.superlativeId === s.id).map((e) => e.hackId));
    const eligible = eligibleIds.size ? byTable.filter((x) => eligibleIds.has(x.id)) : byTable;
    const saved = tables.rows('superlativePlacements').find((p) => p.judgeId === me.judgeId && p.superlativeId === s.id);
    const entry = pending.get(`s${s.id}`);
    const current = entry?.body ?? { firstId: saved?.firstChoiceId ?? 0, secondId: saved?.secondChoiceId ?? 0 };
    const choose = (which) => (e) => {
      const next = { judgeId: me.judgeId, superId: s.id, firstId: current.firstId, secondId: current.secondId, [which]: Number(e.target.value) };
      if (next.firstId && next.firstId === next.secondId) {
        // Same hack twice is meaningless: move it rather than refuse.
        if (which === 'firstId') next.secondId = 0; else next.firstId = 0;
      }
      send(`s${s.id}`, '/api/placements', next);
    };
    const picker = (label, which) => h('label', {}, label,
      h('select', { onchange: choose(which), 'data-choice': which },
        h('option', { value: '0' }, '— not chosen —'),
        eligible.map((x) => h('option', { value: String(x.id), selected: x.id === current[which] }, `Table ${x.location}: ${x.name}`))));
    return h('div', { class: 'superlative', 'data-superlative-id': String(s.id) },
      h('h3', {}, s.name),
      h('div', { class: 'placement' }, picker('First place', 'firstId'), picker('Second place', 'secondId')),
      entry ? saveState('', entry) : saved ? h('span', { class: 'save-state saved' }, 'Saved ✓') : h('span', { class: 'save-state' }, 'Not chosen yet'));
  }));
}

$('#signin-form').addEventListener('submit', async (e) => {
  e.preventDefault();
  const select = $('#judge-name');
  const judgeId = Number(select.value);
  if (!judgeId) return say($('#signin-message'), 'error', 'Choose your name first.');
  try {
    const answer = await api('/api/login', { method: 'POST', body: { judgeId, loginCode: $('#login-code').value.trim() } });
    me = { secret: answer.secret, judgeId, name: select.selectedOptions[0].textContent };
    localStorage.setItem(KEY, JSON.stringify(me));
    say($('#signin-message'), 'ok', '');
    $('#login-code').value = '';
    start();
  } catch (failure) {
    say($('#signin-message'), 'error', failure.status === 401 ? 'That login code is not right. Check it with the organisers and try again.' : failure.message);
  }
});
$('#signout').addEventListener('click', () => showSignIn(''));

/** The token of a sign-in link (`/judge#token=...`), taken out of the address bar. */
function takeLinkToken() {
  const token = new URLSearchParams(location.hash.slice(1)).get('token');
  if (token !== null) history.replaceState(null, '', location.pathname + location.search);
  return token;
}

async function signInByLink(token, attempt = 0) {
  live?.stop();
  live = null;
  $('#signin').hidden = false;
  $('#judging').hidden = true;
  say($('#signin-message'), 'ok', 'Signing you in…');
  try {
    const answer = await api('/api/login/link', { method: 'POST', body: { token } });
    const names = await api('/api/judges/names').catch(() => []);
    const name = names.find((j) => j.id === answer.userId)?.name ?? `Judge ${answer.userId}`;
    me = { secret: answer.secret, judgeId: answer.userId, name };
    localStorage.setItem(KEY, JSON.stringify(me));
    say($('#signin-message'), 'ok', '');
    start();
  } catch (failure) {
    if ((failure.status === 0 || failure.status >= 500) && attempt < 10) {
      say($('#signin-message'), 'error', `${failure.message} Retrying…`);
      setTimeout(() => signInByLink(token, attempt + 1), Math.min(1000 * 2 ** attempt, 10_000));
      return;
    }
    const reason = failure.body?.error ?? failure.message;
    showSignIn(/^this sign-in link/.test(reason)
      ? `T${reason.slice(1)}`
      : `This sign-in link did not work: ${reason}`);
  }
}

const linkToken = takeLinkToken();
if (linkToken) signInByLink(linkToken);
else if (me) start();
else showSignIn('');
