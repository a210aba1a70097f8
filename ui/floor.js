// The organiser's live view of the judging floor (GET /api/floor): per
// judge, rated of assigned, the next table and minutes since their last
// action (idle judges stand out); per hack, ratings against the coverage
// target, who found the team absent, and the flag with its actions (the
// team is back, withdraw, restore). Also the pause button. Refreshed after
// every live update (at most every 300 ms) and each minute for the clocks.

import { api } from './api.js';
import { $, h, fill, say } from './dom.js';

let secret = null;
let timer = null;
let ticker = null;
let paused = false;

/** Starts refreshing the floor view with the admin `secret` (null stops). */
export function startFloor(adminSecret) {
  secret = adminSecret;
  clearInterval(ticker);
  if (secret) ticker = setInterval(scheduleFloor, 60_000);
}

export function scheduleFloor() {
  clearTimeout(timer);
  timer = setTimeout(loadFloor, 300);
}

/** Shows "Judging is paused" on the page and the right pause button. */
export function showPaused(tables) {
  paused = tables.rows('judgingStatus').some((s) => s.paused);
  $('#paused-banner').hidden = !paused;
  const button = $('#pause-button');
  button.textContent = paused ? 'Resume judging' : 'Pause judging';
  button.dataset.paused = String(paused);
}

async function post(path, body) {
  try {
    await api(path, { secret, method: 'POST', body });
    say($('#floor-message'), 'ok', '');
  } catch (failure) {
    say($('#floor-message'), 'error', failure.message);
  }
}

export function wireFloor() {
  $('#pause-button').addEventListener('click', () =>
    post(paused ? '/api/judging/resume' : '/api/judging/pause'));
}

async function loadFloor() {
  if (!secret) return;
  let floor;
  try {
    floor = await api('/api/floor', { secret });
  } catch (failure) {
    say($('#floor-message'), 'error', failure.message);
    return;
  }
  const judgeName = new Map(floor.judges.map((j) => [j.judgeId, j.name]));
  const idle = floor.judges.filter((j) => j.idle).length;
  $('#floor-summary').textContent = `${floor.judges.length} judge(s), ${idle} idle over ${floor.idleMinutes} min; ` +
    `${floor.hacks.filter((x) => x.flagged).length} hack(s) flagged absent`;

  fill($('#floor-judges'), floor.judges.length === 0 ? h('p', { class: 'empty' }, 'No judges yet.') : h('table', { id: 'floor-judges-table' },
    h('thead', {}, h('tr', {}, ['Judge', 'Rated', 'Next table', 'Last action'].map((t) => h('th', {}, t)))),
    h('tbody', {}, floor.judges.map((j) => h('tr', { class: j.idle ? 'idle' : null, 'data-judge-id': String(j.judgeId) },
      h('td', {}, j.name),
      h('td', {}, `${j.rated} of ${j.assigned}`),
      h('td', {}, j.nextTable === null ? (j.assigned ? 'done' : '—') : `Table ${j.nextTable}`),
      h('td', {}, j.minutesSinceAction === null ? 'not started'
        : j.idle ? h('strong', {}, `idle ${j.minutesSinceAction} min`) : `${j.minutesSinceAction} min ago`))))));

  // Flagged hacks first, then the ones judges found away, then by table.
  const order = (x) => (x.flagged ? 0 : x.absentBy.length ? 1 : 2);
  const hacks = [...floor.hacks].sort((a, b) => order(a) - order(b) || a.location - b.location);
  fill($('#floor-hacks'), hacks.length === 0 ? h('p', { class: 'empty' }, 'No hacks yet.') : h('table', { id: 'floor-hacks-table' },
    h('thead', {}, h('tr', {}, ['Table', 'Hack', 'Ratings', 'Absent for', 'Status'].map((t) => h('th', {}, t)))),
    h('tbody', {}, hacks.map((x) => h('tr', { class: x.flagged ? 'flagged' : x.withdrawn ? 'withdrawn' : null, 'data-hack-id': String(x.hackId) },
      h('td', {}, String(x.location)),
      h('td', {}, x.name),
      h('td', {}, `${x.ratings} of ${x.target}`),
      h('td', {}, x.absentBy.map((id) => judgeName.get(id) ?? `#${id}`).join(', ') || '—'),
      h('td', {},
        x.withdrawn ? ['Withdrawn ', h('button', { class: 'quiet', type: 'button', onclick: () => post('/api/withdrawals', { hackId: x.hackId, withdrawn: false }) }, 'Restore')]
          : x.flagged ? [h('strong', {}, `Absent (${x.absentBy.length} judges) `),
            h('button', { type: 'button', onclick: () => post('/api/absences/clear', { hackId: x.hackId }) }, 'Team is back'), ' ',
            h('button', { class: 'quiet', type: 'button', onclick: () => post('/api/withdrawals', { hackId: x.hackId, withdrawn: true }) }, 'Withdraw')]
            : x.absentBy.length ? [h('span', {}, 'Away once '),
              h('button', { class: 'quiet', type: 'button', onclick: () => post('/api/absences/clear', { hackId: x.hackId }) }, 'Team is back')]
              : x.ratings >= x.target ? 'Covered' : 'Judging'))))));
}
