// The hall screen: big live counts for the clicker ids in the address
// (/scoreboard?ids=1,2&layout=ranked&bg=green) or typed in; with ?heat=
// the official counts of a speed heat instead (speed-board.js). Options live in
// the address so a configured screen survives a reload and can be bookmarked.

import { ClickerListener, deviceId } from './clicker.js';
import { $, h, fill } from './dom.js';
import { startHeatBoard } from './speed-board.js';

const params = new URLSearchParams(location.search);
const devices = new Map(); // id -> {score, connected}
let listener = null;

function parseIds(text) {
  return [...new Set(String(text || '').split(/[\s,]+/).filter((t) => /^\d{1,6}$/.test(t) && Number(t) > 0).map(deviceId))];
}

function setAddress() {
  history.replaceState(null, '', `${location.pathname}?${params.toString().replace(/%2C/g, ',')}`);
}

function listen(ids) {
  listener?.stop();
  devices.clear();
  for (const id of ids) devices.set(id, { score: null, connected: false });
  render();
  if (ids.length === 0) return;
  listener = new ClickerListener(ids, (event) => {
    if (event.type === 'reset') for (const d of devices.values()) d.connected = false;
    const device = devices.get(event.id);
    if (device && event.type === 'connect') device.connected = true;
    if (device && event.type === 'disconnect') device.connected = false;
    if (device && event.type === 'score') {
      device.score = event.score;
      device.connected = true;
    }
    render();
  });
}

function render() {
  const ranked = params.get('layout') === 'ranked';
  const board = $('#devices');
  board.className = `devices ${ranked ? 'ranked' : 'grid'}`;
  let list = [...devices.entries()];
  if (ranked) list.sort((a, b) => (b[1].score ?? -1) - (a[1].score ?? -1) || a[0].localeCompare(b[0]));
  if (list.length === 0) {
    fill(board, h('p', { class: 'board-empty' }, 'Type the clicker ids to show above, e.g. 1, 2, 3.'));
    return;
  }
  fill(board, list.map(([id, d], i) => h('div', {
    class: `device ${d.connected ? 'connected' : 'disconnected'}`,
    'data-device': id,
  },
  h('span', { class: 'place' }, `${i + 1}`),
  h('span', { class: 'label' }, `Clicker ${Number(id)}`),
  h('span', { class: 'count' }, d.score === null ? '–' : String(d.score)),
  h('span', { class: 'state' }, d.connected ? 'connected' : 'disconnected'))));
}

function applyLook() {
  const bg = params.get('bg');
  document.body.classList.toggle('chroma-green', bg === 'green');
  document.body.classList.toggle('chroma-blue', bg === 'blue');
  $('#layout').value = params.get('layout') === 'ranked' ? 'ranked' : 'grid';
  $('#background').value = bg === 'green' || bg === 'blue' ? bg : '';
}

$('#ids-form').addEventListener('submit', (e) => {
  e.preventDefault();
  const ids = parseIds($('#ids').value);
  params.set('ids', ids.map(Number).join(','));
  setAddress();
  listen(ids);
});
$('#layout').addEventListener('change', (e) => { params.set('layout', e.target.value); setAddress(); render(); });
$('#background').addEventListener('change', (e) => {
  if (e.target.value) params.set('bg', e.target.value); else params.delete('bg');
  setAddress();
  applyLook();
});
// Hidden controls leave only the counts, for an overlay or a projector.
$('#hide').addEventListener('click', () => document.body.classList.add('hide-controls'));
const showControls = () => document.body.classList.remove('hide-controls');
document.addEventListener('keydown', (e) => e.key === 'Escape' && showControls());
$('#devices').addEventListener('dblclick', showControls);

const initial = parseIds(params.get('ids'));
$('#ids').value = initial.map(Number).join(', ');
applyLook();
if (params.has('heat')) startHeatBoard(params);
else listen(initial);
