// The organiser's speed heats (docs/speed.md): import the heat list, assign
// clickers to stations, set an event's switches, start and stop heats, enter
// deductions, and follow each event's ranking. Reads the public results and
// follows GET /api/speed/live to refresh while a heat runs; writes with the
// admin secret.

import { api } from './api.js';
import { $, h, fill, say, table } from './dom.js';

const fmt = (v) => (v === null || v === undefined ? '—' : String(Math.round(v * 100) / 100));
const ids = (text) => String(text || '').split(/[\s,]+/).filter(Boolean);

export function startSpeed(root, getSecret) {
  const message = h('p', { class: 'message', id: 'speed-message', hidden: true });
  const heatsBox = h('div', { id: 'speed-heats', class: 'stack' });
  const rankingEvent = h('select', { id: 'ranking-event' });
  const rankingBox = h('div', { id: 'speed-ranking', class: 'scroll' });
  const csvLink = h('a', { id: 'ranking-csv', href: '#' }, 'ranking.csv');
  let entries = [];
  let heats = [];
  let timer = null;
  const drafts = new Map(); // entry id -> unsaved {falseStarts, falseSwitches}

  async function act(work, describe) {
    try {
      const answer = await work();
      say(message, 'ok', describe(answer));
      await refresh();
    } catch (failure) {
      say(message, 'error', failure.message);
    }
  }
  const post = (path, body) => api(path, { secret: getSecret(), method: 'POST', body });

  const heatlistForm = h('form', { class: 'row', id: 'heatlist-form' },
    h('label', {}, 'Heat list CSV (event,heat,station,name,club) ', h('input', { type: 'file', id: 'heatlist-file', accept: '.csv,text/csv', required: true })),
    h('button', { type: 'submit' }, 'Import heat list'));
  heatlistForm.addEventListener('submit', (e) => {
    e.preventDefault();
    const file = $('#heatlist-file').files[0];
    if (file) act(() => post('/api/import/entries', file), (a) => `Imported ${a.imported} entries.`);
  });

  const stationForm = h('form', { class: 'row', id: 'station-form' },
    h('label', {}, 'Station ', h('input', { name: 'station', type: 'number', min: '1', required: true, style: 'width:5rem' })),
    h('label', {}, 'Clicker ids (head judge first) ', h('input', { name: 'devices', placeholder: '1, 2, 3, 4', required: true })),
    h('button', { type: 'submit' }, 'Assign clickers'));
  stationForm.addEventListener('submit', (e) => {
    e.preventDefault();
    const station = stationForm.station.value;
    const devices = ids(stationForm.devices.value);
    act(() => post(`/api/speed/stations/${station}/judges`, { devices, headJudge: devices[0] }),
      (a) => `Station ${a.station}: clickers ${devices.join(', ')} in heat${a.heats.length > 1 ? 's' : ''} ${a.heats.join(', ')}.`);
  });

  const eventForm = h('form', { class: 'row', id: 'event-form' },
    h('label', {}, 'Event ', h('input', { name: 'name', required: true, style: 'width:8rem' })),
    h('label', {}, 'Switches ', h('input', { name: 'switches', type: 'number', min: '0', max: '100', value: '0', style: 'width:5rem' })),
    h('button', { type: 'submit' }, 'Set switches'));
  eventForm.addEventListener('submit', (e) => {
    e.preventDefault();
    act(() => post('/api/speed/events', { name: eventForm.name.value, switches: Number(eventForm.switches.value) }),
      (a) => `${a.name} has ${a.switches} switches.`);
  });

  function heatButtons(heat) {
    const button = (label, action, cls = '') => h('button', {
      type: 'button', class: cls, 'data-heat-action': `${action}-${heat.heat}`,
      onclick: () => act(() => post(`/api/heats/${heat.heat}/${action}`), (a) => `Heat ${a.heat} is ${a.state}.`),
    }, label);
    switch (heat.state) {
      case 'running': return [button('Stop heat', 'stop')];
      case 'stopped': return [button('Unlock results', 'unlock', 'quiet')];
      case 'unlocked': return [button('Lock again', 'stop'), button('Run again', 'start', 'quiet')];
      default: return [button('Start heat', 'start')];
    }
  }

  function deductions(entry, heat) {
    const locked = heat.state === 'stopped';
    // What the organiser chose but has not saved survives the live refreshes.
    const draft = drafts.get(entry.id) ?? { falseStarts: entry.falseStarts, falseSwitches: entry.falseSwitches };
    const keep = () => drafts.set(entry.id, { falseStarts: Number(starts.value), falseSwitches: Number(switches.value) });
    const starts = h('select', { 'aria-label': 'False starts', disabled: locked, onchange: keep },
      ['0', '1'].map((v) => h('option', { value: v, selected: Number(v) === draft.falseStarts }, v)));
    const switches = h('input', { type: 'number', min: '0', value: String(draft.falseSwitches), style: 'width:4rem', 'aria-label': 'False switches', disabled: locked, oninput: keep });
    const save = h('button', {
      type: 'button', class: 'quiet', disabled: locked, 'data-deductions': entry.id,
      onclick: () => {
        const body = { falseStarts: Number(starts.value), falseSwitches: Number(switches.value) };
        drafts.delete(entry.id);
        act(() => post(`/api/entries/${entry.id}/deductions`, body), (a) => `${a.name}: R = ${fmt(a.R)}.`);
      },
    }, 'Save');
    return h('span', { class: 'row' }, 'starts ', starts, ' switches ', switches, save);
  }

  function render() {
    const byHeat = new Map();
    for (const e of entries) {
      if (!byHeat.has(e.heat)) byHeat.set(e.heat, []);
      byHeat.get(e.heat).push(e);
    }
    fill(heatsBox, heats.length === 0
      ? h('p', { class: 'empty' }, 'No heats yet: import a heat list.')
      : heats.map((heat) => {
        const rows = (byHeat.get(heat.heat) || []).sort((a, b) => a.station - b.station);
        return h('div', { class: 'heat', 'data-heat': heat.heat },
          h('h3', { class: 'row' }, `Heat ${heat.heat} · ${heat.state} `, heatButtons(heat)),
          table(['Station', 'Skipper', 'Event', 'Judges (clicker: tally)', 'a', 'm', 'R', 'Reskip', 'Deductions'],
            rows.map((e) => [String(e.station), e.club ? `${e.name} (${e.club})` : e.name, e.event,
              e.tallies.length ? e.tallies.map((t) => `${Number(t.deviceId)}${t.headJudge ? '*' : ''}: ${t.tally ?? '—'}`).join(' · ') : 'none assigned',
              fmt(e.a), fmt(e.m), fmt(e.R), e.reskip ? 'yes' : '', deductions(e, heat)]),
            'No entries.'));
      }));
    const events = [...new Set(entries.map((e) => e.event))].sort();
    const chosen = events.includes(rankingEvent.value) ? rankingEvent.value : events[0];
    fill(rankingEvent, events.map((name) => h('option', { value: name, selected: name === chosen }, name)));
    const ranked = entries.filter((e) => e.event === chosen);
    csvLink.href = `/api/speed/results?event=${encodeURIComponent(chosen || '')}&format=csv`;
    fill(rankingBox, table(['Rank', 'Skipper', 'Heat', 'Station', 'a', 'm', 'R', 'Reskip'],
      ranked.map((e) => [e.rank === null ? '—' : String(e.rank), e.name, String(e.heat), String(e.station), fmt(e.a), fmt(e.m), fmt(e.R), e.reskip ? 'yes' : '']),
      'No results yet.'));
  }

  async function refresh() {
    try {
      [heats, { entries }] = await Promise.all([api('/api/speed/heats'), api('/api/speed/results')]);
      // Typing a deduction while the heat runs: wait rather than wipe it.
      if (heatsBox.contains(document.activeElement) && document.activeElement.tagName !== 'BUTTON') {
        later(1000);
        return;
      }
      render();
    } catch (failure) {
      say(message, 'error', failure.message);
    }
  }

  function later(ms) {
    if (timer) return;
    timer = setTimeout(() => {
      timer = null;
      refresh();
    }, ms);
  }

  rankingEvent.addEventListener('change', render);
  fill(root,
    h('div', { class: 'grid2' },
      h('div', { class: 'stack' }, heatlistForm, stationForm, eventForm),
      h('p', { class: 'muted' }, 'Clickers get their ids when they first connect. Each station\'s first clicker is its head judge (*), who gives deductions: 10 steps per false start or false switch. Results follow the clickers live while a heat runs; a stopped heat is locked until unlocked. Rules and a worked example: docs/speed.md.')),
    message, heatsBox,
    h('h3', { class: 'row' }, 'Ranking ', rankingEvent, ' ', csvLink), rankingBox);
  // Results change with every click while a heat runs: refresh a few times a second at most.
  const source = new EventSource('/api/speed/live?heat=current');
  source.addEventListener('heat', () => later(300));
  refresh();
  return () => source.close();
}
