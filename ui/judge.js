// A judge's page: sign in by the link the organisers handed out (its token
// is in the URL fragment, which is never sent to a server) or with a name and
// the login code, keep the issued secret, then rate the assigned hacks in visiting order and choose first and
// second place per superlative. A table with nobody there is marked "Not
// here" and moves to "come back later"; each hack has a private note; a
// pause by the organisers shows at the top.
//
// Offline first: every answer goes into the outbox (IndexedDB, see
// outbox.js) and is sent from there in order, one at a time, each with its
// own Idempotency-Key, so the network may drop at any moment, and the page
// be reloaded or closed, without losing or doubling an answer. The last live
// state is kept too, so the route stays readable offline. An answer the
// server refuses on arrival is shown with the reason; one whose value was
// changed on another device meanwhile is held until the judge chooses.

import { api } from './api.js';
import { Live } from './live.js';
import { TABLES } from './tables.js';
import { Outbox } from './outbox.js';
import { $, h, fill, say, showConnection } from './dom.js';

const KEY = 'podium.judge';
let me = JSON.parse(localStorage.getItem(KEY) || 'null'); // {secret, judgeId, name}
let live = null;
let tables = null;
let outbox = null;
// Whether `tables` is the server's current state: false from a broken
// stream until the next full update. Answers wait for it, so a conflict is
// judged against what the server holds now, not what it held before.
let fresh = false;
// Answers sent from the outbox in this page's life, by seq: shown as sent.
const sent = [];
// Notes being typed, by hack id: a live update must not wipe them.
const drafts = new Map();
let retryDelay = 500;
let retryTimer = null;
let snapshotTimer = null;

function showSignIn(message = '') {
  live?.stop();
  live = null;
  me = null;
  // The outbox stays stored: the same judge signing in again sends it.
  outbox = null;
  tables = null;
  fresh = false;
  sent.length = 0;
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

async function start() {
  $('#signin').hidden = true;
  $('#judging').hidden = false;
  $('#signout').hidden = false;
  $('#title').textContent = `Judging · ${me.name}`;
  const judge = me;
  $('#progress').textContent = 'Opening what this phone kept…';
  outbox = await Outbox.open(judge.judgeId);
  if (me !== judge) return; // Signed out meanwhile.
  $('#progress').textContent = 'Reading the last state this phone had…';
  // Answers caught mid-send by a reload: whether they landed is unknown;
  // their keys make sending them again safe.
  for (const entry of outbox.entries) if (entry.state === 'sending') entry.state = 'waiting';
  let keptError = null;
  const kept = await outbox.loadSnapshot().catch((failure) => { keptError = failure; return null; });
  if (me !== judge) return;
  $('#progress').textContent = kept ? 'Connecting…'
    : keptError ? `Connecting… (what this phone kept could not be read: ${keptError.name}: ${keptError.message})`
      : `Connecting… (nothing kept on this phone yet: the route needs the network once)${outbox.durable ? '' : ' [no storage]'}`;
  live = new Live(me.secret, {
    onUpdate: (t, diff) => {
      tables = t;
      if (diff === null) fresh = true;
      keepSnapshot({ now: diff === null });
      render();
      pump();
    },
    onLost: () => { fresh = false; render(); },
    onSignedOut: (m) => showSignIn(`Please sign in again: ${m}`),
  });
  if (kept && !fresh) {
    // Readable at once, offline too, until the server's state arrives.
    live.tables.load(kept.database);
    tables = live.tables;
  }
  render();
}

/**
 * Keeps the last live state for opening offline. A full state is kept at
 * once: a judge who signs in and loses the network within the second must
 * still find the route after a reload. Changes after it are kept at most
 * once a second.
 */
function keepSnapshot({ now }) {
  const save = () => {
    clearTimeout(snapshotTimer);
    snapshotTimer = null;
    if (!tables || !outbox) return;
    const database = Object.fromEntries(TABLES.map((name) => [name, tables.rows(name)]));
    outbox.saveSnapshot(database).catch(() => {});
  };
  if (now) save();
  else snapshotTimer ??= setTimeout(save, 1000);
}

/** The server's value for an answer's key, as a comparable string (null: none). */
function serverValue(key) {
  const id = Number(key.slice(1));
  const mine = (table, field, value) => tables.rows(table).find((r) => r.judgeId === me.judgeId && r[field] === value);
  switch (key[0]) {
    case 'r': return mine('ratings', 'hackId', id)?.rating?.toString() ?? null;
    case 'n': return mine('notes', 'hackId', id)?.text ?? null;
    case 's': {
      const p = mine('superlativePlacements', 'superlativeId', id);
      return p ? `${p.firstChoiceId ?? 0}/${p.secondChoiceId ?? 0}` : null;
    }
    default: return null;
  }
}

/** The value an answer sets, comparable with serverValue (null: not compared). */
function answerValue(entry) {
  switch (entry.key[0]) {
    case 'r': return String(entry.body?.rating ?? 0); // an undo: the taken-back value
    case 'n': return entry.body.text;
    case 's': return `${entry.body.firstId}/${entry.body.secondId}`;
    default: return null;
  }
}

/** Queues an answer: kept in the outbox before anything is sent. */
async function send(key, path, body, what, method = 'POST') {
  if (!outbox) return;
  const offline = !navigator.onLine || !fresh;
  const entry = await outbox.add({ key, path, method, body, what, seen: tables ? serverValue(key) : null, delayed: offline });
  render();
  pump();
  return entry;
}

let pumping = false;

/**
 * Sends the outbox in order, one answer at a time, while the live state is
 * fresh. A network failure stops the round and retries later with the same
 * key; a refusal is kept with its reason; an answer whose value the server
 * changed meanwhile (to neither what the judge saw nor what they chose) is
 * held as a conflict, and later answers for the same thing wait behind it.
 */
async function pump() {
  if (pumping || !outbox || !me || !fresh) return;
  pumping = true;
  clearTimeout(retryTimer);
  try {
    for (;;) {
      const held = new Set(outbox.entries.filter((e) => e.state === 'conflict').map((e) => e.key));
      const entry = outbox.entries.find((e) => e.state === 'waiting' && !held.has(e.key));
      if (!entry || !fresh) break;
      const theirs = serverValue(entry.key);
      const mine = answerValue(entry);
      if (mine !== null && theirs !== mine && theirs !== entry.seen && !entry.alsoOk.includes(theirs)) {
        entry.state = 'conflict';
        entry.theirs = theirs;
        await outbox.update(entry);
        render();
        continue;
      }
      entry.state = 'sending';
      render();
      try {
        await api(entry.path, { secret: me.secret, method: entry.method ?? 'POST', body: entry.body ?? undefined, idempotencyKey: entry.idempotencyKey });
        retryDelay = 500;
        // Later answers for the same thing may find this value on the server.
        for (const later of outbox.entries) {
          if (later !== entry && later.key === entry.key && later.state !== 'sent') {
            later.alsoOk.push(mine);
            await outbox.update(later);
          }
        }
        entry.state = 'sent';
        await outbox.remove(entry);
        if (entry.delayed) sent.push(entry);
        if (sent.length > 50) sent.shift();
      } catch (failure) {
        if (failure.status === 401) {
          entry.state = 'waiting';
          showSignIn(`Please sign in again: ${failure.message}`);
          return;
        }
        if (failure.status === 0 || failure.status === 429 || failure.status >= 500) {
          entry.state = 'waiting';
          entry.delayed = true;
          await outbox.update(entry);
          retryTimer = setTimeout(pump, retryDelay);
          retryDelay = Math.min(retryDelay * 2, 10_000);
          break;
        }
        entry.state = 'refused';
        entry.message = failure.body?.error ?? failure.message;
        await outbox.update(entry);
      }
      render();
    }
  } finally {
    pumping = false;
    render();
  }
}

/** A held conflict resolved: send mine over theirs, or drop mine. */
async function resolve(entry, keepMine) {
  if (keepMine) {
    entry.seen = entry.theirs;
    entry.state = 'waiting';
    await outbox.update(entry);
  } else {
    await outbox.remove(entry);
  }
  render();
  pump();
}

/** Forgets a refused answer once the judge has read why. */
async function dismiss(entry) {
  await outbox.remove(entry);
  render();
}

/** The newest unsaved answer for a key (refused ones are shown in the outbox, not here). */
function latest(key) {
  return outbox?.entries.filter((e) => e.key === key && e.state !== 'refused').at(-1);
}

function saveState(savedText, entry) {
  if (entry?.state === 'conflict') return h('span', { class: 'save-state failed' }, 'Changed on another device: see above');
  if (entry?.state === 'sending') return h('span', { class: 'save-state sending' }, 'Sending…');
  if (entry) return h('span', { class: 'save-state waiting' }, 'Waiting to send');
  if (savedText) return h('span', { class: 'save-state saved' }, `Saved ✓ ${savedText}`);
  return h('span', { class: 'save-state' }, 'Not rated yet');
}

function render() {
  if (!tables || !me) return;
  const paused = tables.rows('judgingStatus').some((s) => s.paused);
  $('#paused-banner').hidden = !paused;
  const withdrawn = new Set(tables.rows('withdrawals').filter((w) => w.withdrawn).map((w) => w.hackId));
  const away = new Set(tables.rows('absences').filter((a) => a.judgeId === me.judgeId && a.active).map((a) => a.hackId));
  for (const e of outbox?.entries ?? []) if (e.key[0] === 'a' && e.state !== 'refused') away.add(e.body.hackId);
  const noteOf = (hackId) => tables.rows('notes').find((n) => n.judgeId === me.judgeId && n.hackId === hackId);
  const assigned = tables.rows('judgeHacks').filter((a) => a.judgeId === me.judgeId && !withdrawn.has(a.hackId)).sort((a, b) => a.priority - b.priority);
  // A rating taken back stays as a row with rating 0: not rated.
  const ratingOf = (hackId) => tables.rows('ratings').find((r) => r.judgeId === me.judgeId && r.hackId === hackId && r.rating > 0);
  const rated = assigned.filter((a) => ratingOf(a.hackId)).length;
  // Keep the caret in a note being typed across the re-render.
  const typing = document.activeElement?.dataset?.noteFor;
  const caret = typing ? [document.activeElement.selectionStart, document.activeElement.selectionEnd] : null;
  $('#progress').textContent = assigned.length
    ? `Rated ${rated} of ${assigned.length}`
    : 'No hacks assigned to you yet. This page updates by itself when the organisers run assignment.';
  const unsent = outbox?.entries.filter((e) => e.state === 'waiting' || e.state === 'sending').length ?? 0;
  $('#pending').textContent = unsent
    ? `${unsent} answer(s) waiting to send${fresh ? '…' : ': they are kept on this phone and sent when the network is back.'}`
    : '';
  renderOutbox();

  const card = (a, i) => {
    const hack = tables.hacks.get(a.hackId);
    if (!hack) return null;
    const saved = ratingOf(hack.id);
    const entry = latest(`r${hack.id}`);
    const shown = entry ? (entry.body?.rating ?? 0) : saved?.rating;
    const note = noteOf(hack.id);
    const noteEntry = latest(`n${hack.id}`);
    const absentEntry = latest(`a${hack.id}`);
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
          onclick: () => send(`r${hack.id}`, '/api/ratings', { judgeId: me.judgeId, hackId: hack.id, rating: n }, `Rating ${n} of 20 for ${hack.name}`),
        }, String(n)))),
      saveState(saved ? `${saved.rating} of 20` : '', entry),
      shown ? h('button', {
        type: 'button', class: 'quiet undo', disabled: paused,
        onclick: () => send(`r${hack.id}`, `/api/judges/${me.judgeId}/ratings/${hack.id}`, null, `Undo rating of ${hack.name}`, 'DELETE'),
      }, 'Undo rating') : null,
      saved || (away.has(hack.id) && !absentEntry) ? null : h('p', { class: 'row' },
        h('button', {
          type: 'button', class: 'quiet not-here', disabled: paused || Boolean(absentEntry),
          onclick: () => send(`a${hack.id}`, '/api/absences', { judgeId: me.judgeId, hackId: hack.id }, `Not here: ${hack.name}`),
        }, 'Not here: come back later'),
        absentEntry ? saveState('', absentEntry) : null),
      h('label', { class: 'note' }, 'Your private note (only you and the organisers see it)',
        h('textarea', {
          rows: 2, maxlength: 2000, 'data-note-for': String(hack.id),
          oninput: (e) => drafts.set(hack.id, e.target.value),
          onchange: (e) => { drafts.delete(hack.id); send(`n${hack.id}`, '/api/notes', { judgeId: me.judgeId, hackId: hack.id, text: e.target.value }, `Note on ${hack.name}`); },
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
    const entry = latest(`s${s.id}`);
    const current = entry?.body ?? { firstId: saved?.firstChoiceId ?? 0, secondId: saved?.secondChoiceId ?? 0 };
    const choose = (which) => (e) => {
      const next = { judgeId: me.judgeId, superId: s.id, firstId: current.firstId, secondId: current.secondId, [which]: Number(e.target.value) };
      if (next.firstId && next.firstId === next.secondId) {
        // Same hack twice is meaningless: move it rather than refuse.
        if (which === 'firstId') next.secondId = 0; else next.firstId = 0;
      }
      const name = (id) => tables.hacks.get(id)?.name ?? 'none';
      send(`s${s.id}`, '/api/placements', next, `${s.name}: first ${name(next.firstId)}, second ${name(next.secondId)}`);
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

/** How a value reads to the judge. */
function describe(key, value) {
  if (value === null || value === undefined) return 'nothing';
  switch (key[0]) {
    case 'r': return value === '0' ? 'no rating (taken back)' : `${value} of 20`;
    case 'n': return `“${value}”`;
    case 's': {
      const [first, second] = value.split('/').map(Number);
      const name = (id) => (id ? tables?.hacks.get(id)?.name ?? `hack ${id}` : 'none');
      return `first ${name(first)}, second ${name(second)}`;
    }
    default: return String(value);
  }
}

/**
 * The answers that could not be sent at once, in the order made: each
 * waiting, sent, refused (with the server's reason) or held because the
 * same thing was changed on another device (with both values and a choice).
 */
function renderOutbox() {
  const shown = [...sent, ...(outbox?.entries ?? []).filter((e) => e.delayed || e.state === 'refused' || e.state === 'conflict')]
    .sort((a, b) => a.seq - b.seq);
  $('#outbox-card').hidden = shown.length === 0;
  if (outbox && !outbox.durable) say($('#outbox-message'), 'error', 'This browser cannot store answers: keep this tab open until they are sent.');
  fill($('#outbox'), shown.map((e) => {
    const state = {
      waiting: () => h('span', { class: 'save-state waiting' }, 'Waiting to send'),
      sending: () => h('span', { class: 'save-state sending' }, 'Sending…'),
      sent: () => h('span', { class: 'save-state saved' }, 'Sent ✓'),
      refused: () => h('span', { class: 'save-state failed' }, `Refused: ${e.message}`),
      conflict: () => h('span', { class: 'save-state failed' },
        `Changed on another device meanwhile: it has ${describe(e.key, e.theirs)}; you chose ${describe(e.key, answerValue(e))}.`),
    }[e.state]();
    const actions = e.state === 'conflict'
      ? h('span', { class: 'row' },
        h('button', { type: 'button', class: 'keep-mine', onclick: () => resolve(e, true) }, 'Keep mine'),
        h('button', { type: 'button', class: 'quiet take-theirs', onclick: () => resolve(e, false) }, 'Take theirs'))
      : e.state === 'refused' ? h('button', { type: 'button', class: 'quiet dismiss', onclick: () => dismiss(e) }, 'Dismiss') : null;
    return h('div', { class: `outbox-entry ${e.state}`, 'data-key': e.key, 'data-state': e.state },
      h('span', { class: 'what' }, e.what ?? e.key), ' ', state, actions);
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

// A reload must find the store free: an old document's open connection
// can hold up the new one's.
window.addEventListener('pagehide', () => outbox?.close());

// Back online: send at once rather than at the next retry.
window.addEventListener('online', () => { retryDelay = 500; pump(); });

// The installed app and opening offline: only where service workers exist
// (https, or localhost); elsewhere the page still queues, but needs the
// network to open.
if ('serviceWorker' in navigator) {
  navigator.serviceWorker.register('/judge-sw.js', { scope: '/judge' }).catch(() => {});
}

const linkToken = takeLinkToken();
if (linkToken) signInByLink(linkToken);
else if (me) start();
else showSignIn('');
