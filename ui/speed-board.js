// The scoreboard's heat mode (/scoreboard?heat=current, or ?heat=3): each
// station's skipper with the official live count (R, by the IJRU rules, see
// docs/speed.md) big, the judges' own counts small beside it. With
// layout=ranked it shows an event's ranking instead (&event=SRSS, or the
// event of the heat on screen). Follows GET /api/speed/live (Server-Sent
// Events); EventSource reconnects by itself.

import { api } from './api.js';
import { $, h, fill, showConnection } from './dom.js';

const fmt = (v) => (v === null || v === undefined ? '–' : String(Math.round(v * 100) / 100));

export function startHeatBoard(params) {
  const board = h('div', { id: 'heat', class: 'devices grid' });
  $('#devices').hidden = true;
  $('#devices').after(board);
  $('#ids-form').hidden = true;
  let view = null;
  let ranking = null;
  let rankingFor = null;
  let pending = null;

  const ranked = () => params.get('layout') === 'ranked';
  const event = () => params.get('event') || view?.entries?.[0]?.event || null;

  async function loadRanking() {
    const name = event();
    if (!name) return;
    try {
      const answer = await api(`/api/speed/results?event=${encodeURIComponent(name)}`);
      ranking = answer.entries;
      rankingFor = name;
      render();
    } catch {
      // The next change of the heat tries again.
    }
  }

  // Results change with every click: ask at most twice a second.
  function refreshRanking() {
    if (!ranked() || pending) return;
    pending = setTimeout(() => {
      pending = null;
      loadRanking();
    }, 500);
  }

  function render() {
    board.className = `devices ${ranked() ? 'ranked' : 'grid'}`;
    if (ranked()) {
      if (!ranking || rankingFor !== event()) {
        fill(board, h('p', { class: 'board-empty' }, event() ? 'Loading the ranking…' : 'No event to rank yet.'));
        return;
      }
      fill(board, h('h2', { class: 'heat-title' }, `${rankingFor} · ranking`),
        ranking.map((e) => h('div', { class: 'device station connected', 'data-entry': e.id },
          h('span', { class: 'place' }, e.rank === null ? '–' : String(e.rank)),
          h('span', { class: 'label' }, e.name, h('small', { class: 'club' }, e.club ? ` ${e.club}` : '')),
          h('span', { class: 'count' }, fmt(e.R)))));
      return;
    }
    if (!view || view.heat === null) {
      fill(board, h('p', { class: 'board-empty' }, 'No heat has started yet.'));
      return;
    }
    fill(board, h('h2', { class: 'heat-title', 'data-state': view.state }, `Heat ${view.heat} · ${view.state}`),
      view.entries.map((e) => h('div', {
        class: `device station ${e.reskip ? 'reskip' : 'connected'}`,
        'data-station': e.station,
      },
      h('span', { class: 'label' }, `Station ${e.station}`),
      h('span', { class: 'skipper' }, e.name, e.club ? h('small', { class: 'club' }, ` ${e.club}`) : null),
      h('span', { class: 'count' }, fmt(e.R)),
      h('span', { class: 'judges' }, e.tallies.map((t) => h('span', {
        class: t.headJudge ? 'judge head' : 'judge',
        title: `Clicker ${t.deviceId}${t.headJudge ? ' (head judge)' : ''}`,
      }, t.tally === null ? '–' : String(t.tally)))),
      e.m ? h('span', { class: 'state' }, `−${fmt(e.m)} deduction`) : null,
      e.reskip ? h('span', { class: 'state' }, 'reskip allowed') : null)));
  }

  const which = params.get('heat') || 'current';
  const source = new EventSource(`/api/speed/live?heat=${encodeURIComponent(which)}`);
  showConnection('connecting');
  source.addEventListener('heat', (e) => {
    showConnection('live');
    view = JSON.parse(e.data);
    render();
    refreshRanking();
  });
  source.addEventListener('error', () => showConnection(source.readyState === EventSource.CLOSED ? 'offline' : 'connecting'));
  $('#layout').addEventListener('change', () => {
    render();
    if (ranked()) loadRanking();
  });
  render();
}
