// The organiser's console: signs in with the admin secret, mirrors the
// judging tables from the event stream, and drives imports, additions,
// assignment, results and exports through the HTTP API.

import { api, download } from './api.js';
import { Live } from './live.js';
import { $, h, fill, table, say, showConnection } from './dom.js';
import { startFloor, scheduleFloor, showPaused, wireFloor } from './floor.js';
import { showLinks, wireLinks } from './links.js';
import { startSpeed } from './speed-admin.js';

const KEY = 'podium.admin.secret';
let secret = localStorage.getItem(KEY);
let live = null;
let stopSpeed = null;

const num = (v, digits = 2) => (v === null || v === undefined ? '—' : Number(v).toFixed(digits));

function showSignIn(message = '') {
  live?.stop();
  live = null;
  stopSpeed?.();
  stopSpeed = null;
  localStorage.removeItem(KEY);
  secret = null;
  startFloor(null);
  $('#signin').hidden = false;
  $('#console').hidden = true;
  $('#signout').hidden = true;
  showConnection('signedout');
  say($('#signin-message'), 'error', message);
}

async function signIn(candidate) {
  // Only the admin may read the login code: this checks the secret is the admin's.
  await api('/api/login-code', { secret: candidate });
  secret = candidate;
  localStorage.setItem(KEY, secret);
  $('#signin').hidden = true;
  $('#console').hidden = false;
  $('#signout').hidden = false;
  startFloor(secret);
  // The console shows 80 characters of each story: it need not load them all.
  live = new Live(secret, { onUpdate: render, onSignedOut: (m) => showSignIn(`Signed out: ${m}`), preview: 80 });
  showLoginCode();
  stopSpeed ??= startSpeed($('#speed'), () => secret);
}

async function showLoginCode() {
  const box = $('#login-code');
  try {
    const answer = await api('/api/login-code', { secret });
    fill(box, answer.loginCode ? h('span', { class: 'code', id: 'login-code-value' }, answer.loginCode) : h('p', { class: 'muted' }, answer.note));
  } catch (failure) {
    fill(box, h('p', { class: 'message error' }, failure.message));
  }
}

/** Shows the result of an action in `el` (or the console's message area). */
async function act(el, work, describe) {
  try {
    const answer = await work();
    say(el, 'ok', describe(answer));
    return answer;
  } catch (failure) {
    say(el, 'error', failure.message);
    if (failure.status === 401) showSignIn(failure.message);
    return null;
  }
}

function render(tables) {
  const hacks = tables.rows('hacks');
  const judges = tables.rows('judges');
  const hackName = (id) => tables.hacks.get(id)?.name ?? `#${id}`;
  const judgeName = (id) => tables.judges.get(id)?.name ?? `#${id}`;
  $('#hack-count').textContent = `(${hacks.length})`;
  $('#judge-count').textContent = `(${judges.length})`;
  fill($('#hacks'), table(['Table', 'Name', 'Description'], hacks.map((x) => [String(x.location), x.name, x.description]), 'No hacks yet: import a Devpost CSV or add one.'));
  fill($('#judges'), table(['Name', 'Email', 'Assigned', 'Rated'], judges.map((j) => {
    const assigned = tables.rows('judgeHacks').filter((a) => a.judgeId === j.id).length;
    const rated = tables.rows('ratings').filter((r) => r.judgeId === j.id && r.rating > 0).length;
    return [j.name, j.email, String(assigned), String(rated)];
  }), 'No judges yet: import a judges CSV or add one.'));
  fill($('#superlatives'), table(['Name', 'Eligible hacks'], tables.rows('superlatives').map((s) => {
    const eligible = tables.rows('superlativeHacks').filter((e) => e.superlativeId === s.id).length;
    return [s.name, eligible ? String(eligible) : 'all'];
  }), 'No superlatives yet.'));
  const assignments = tables.rows('judgeHacks').sort((a, b) => a.judgeId - b.judgeId || a.priority - b.priority);
  fill($('#assignments'), table(['Judge', 'Order', 'Table', 'Hack', 'Rating'], assignments.map((a) => {
    // A rating taken back stays as a row with rating 0.
    const rating = tables.rows('ratings').find((r) => r.judgeId === a.judgeId && r.hackId === a.hackId && r.rating > 0);
    return [judgeName(a.judgeId), String(a.priority + 1), String(tables.hacks.get(a.hackId)?.location ?? ''), hackName(a.hackId), rating ? String(rating.rating) : '—'];
  }), 'No assignments yet: run assignment once hacks and judges are in.'));
  showLinks(secret, tables);
  scheduleResults();
  showPaused(tables);
  scheduleFloor();
}

// Ratings can arrive in bursts: fetch results at most every 300 ms.
let resultsTimer = null;
function scheduleResults() {
  clearTimeout(resultsTimer);
  resultsTimer = setTimeout(loadResults, 300);
}

async function loadResults() {
  if (!secret) return;
  let results;
  try {
    results = await api('/api/results', { secret });
  } catch (failure) {
    fill($('#results'), h('p', { class: 'message error' }, failure.message));
    return;
  }
  fill($('#results'), table(
    ['Rank', 'Hack', 'Ratings', 'Mean', 'Normalised'],
    results.hacks.map((x) => [x.rank === null ? '—' : String(x.rank), x.name, String(x.ratings), num(x.mean), num(x.normalized)]),
    'No hacks yet.',
  ));
  $('#results table')?.setAttribute('id', 'results-table');
  fill($('#superlative-results'), results.superlatives.map((s) => h('div', {},
    h('h3', {}, s.name),
    table(['Rank', 'Hack', 'Points'], s.ranking.map((r) => [String(r.rank), results.hacks.find((x) => x.hackId === r.hackId)?.name ?? `#${r.hackId}`, String(r.points)]), 'No placements yet.'),
  )));
  const { hacksShort, judgesBehind } = results.coverage;
  fill($('#coverage'),
    hacksShort.length === 0 && judgesBehind.length === 0
      ? h('p', { class: 'muted' }, 'Every hack has its ratings and no judge is behind.')
      : null,
    hacksShort.length ? table(['Hack short of ratings', 'Ratings', 'Needed'], hacksShort.map((x) => [x.name, String(x.ratings), String(x.needed)])) : null,
    judgesBehind.length ? table(['Judge behind', 'Rated', 'Assigned'], judgesBehind.map((j) => [j.name, String(j.rated), String(j.assigned)])) : null,
  );
}

function formValues(form) {
  return Object.fromEntries(new FormData(form).entries());
}

function wire() {
  wireFloor();
  wireLinks();
  $('#signin-form').addEventListener('submit', async (e) => {
    e.preventDefault();
    const candidate = $('#admin-secret').value.trim();
    try {
      await signIn(candidate);
      $('#admin-secret').value = '';
    } catch (failure) {
      const words = {
        401: 'That is not the admin secret. Check it (podium secrets show prints it) and try again.',
        403: 'That is a judge\'s secret, not the admin secret.',
      };
      showSignIn(words[failure.status] ?? failure.message);
    }
  });
  $('#signout').addEventListener('click', () => showSignIn(''));

  const upload = (formId, fileId, path, describe) => $(formId).addEventListener('submit', (e) => {
    e.preventDefault();
    const file = $(fileId).files[0];
    act($('#import-result'), () => api(path, { secret, method: 'POST', body: file }), describe)
      .then((ok) => ok && e.target.reset());
  });
  upload('#devpost-form', '#devpost-file', '/api/import/devpost', (a) =>
    `Imported ${a.hacksAdded} new hack(s) (${a.hacksMatched.length} already there), ${a.superlativesAdded} new superlative(s), ${a.eligibilityAdded} eligibility row(s).`);
  upload('#judges-form', '#judges-file', '/api/import/judges', (a) => `Imported ${a.judgesAdded} judge(s).`);

  const add = (formId, path, shape, describe) => $(formId).addEventListener('submit', (e) => {
    e.preventDefault();
    act($('#message'), () => api(path, { secret, method: 'POST', body: shape(formValues(e.target)) }), describe)
      .then((ok) => ok && e.target.reset());
  });
  add('#hack-form', '/api/hacks', (v) => ({ name: v.name, description: v.description || '', location: Number(v.location || 0) }), (x) => `Added hack “${x.name}” at table ${x.location}.`);
  add('#judge-form', '/api/judges', (v) => ({ name: v.name, email: v.email }), (x) => `Added judge ${x.name}.`);
  add('#superlative-form', '/api/superlatives', (v) => ({ name: v.name }), (x) => `Added superlative “${x.name}”.`);

  $('#assign-form').addEventListener('submit', (e) => {
    e.preventDefault();
    const k = $('#judges-per-hack').value;
    act($('#assign-result'), () => api('/api/assignments', { secret, method: 'POST', body: k ? { judgesPerHack: Number(k) } : {} }),
      (a) => `Assigned with ${a.judgesPerHack} judge(s) per hack: ${a.created.length} new, ${a.updated.length} changed, ${a.total} in all.`);
  });

  for (const button of document.querySelectorAll('[data-export]')) {
    button.addEventListener('click', () => {
      const path = button.dataset.export;
      download(path, secret, path.split('/').pop()).catch((failure) => say($('#message'), 'error', failure.message));
    });
  }
}

// A stored secret is tried again at load; a server that is away (rather
// than one that refuses the secret) must not make the organiser retype it.
async function resume() {
  try {
    await signIn(secret);
  } catch (failure) {
    if (failure.status === 0 || failure.status === 429 || failure.status >= 500) {
      showConnection('offline', failure.message);
      setTimeout(resume, 3000);
    } else {
      showSignIn(failure.message);
    }
  }
}

wire();
if (secret) resume();
else showSignIn('');
