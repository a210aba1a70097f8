// Speed heats in a real browser: the organiser imports a heat list on
// /admin, assigns clickers to stations and starts the heat with the page's
// buttons; six clickers (raw WebSockets speaking draft-2: REGISTER, then
// SCORE) count; /scoreboard?heat=current shows each station's official live
// count with the judges' counts beside it, then the ranking on a green
// screen; the organiser stops the heat and the ranking shows on /admin.

import { test } from 'node:test';
import assert from 'node:assert/strict';

import { ADMIN_SECRET, snap, skipReason, clicker, serverAndBrowser } from './harness.js';

const skip = skipReason() ?? false;
if (skip) console.log(`# browser tests skipped: ${skip}`);

let server;
let browser;
const TIMEOUT = 10_000;

serverAndBrowser(skip, (s, b) => {
  server = s;
  browser = b;
});

test('a speed heat: admin runs it, the scoreboard shows official counts live', { skip }, async () => {
  const judges = [];
  for (let i = 0; i < 6; i += 1) judges.push(await clicker(server.url));
  // Left over from before the heat, not reset: must not count.
  await judges[1].count(40);

  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const admin = await context.newPage();
  await admin.goto(`${server.url}/admin`);
  await admin.fill('#admin-secret', ADMIN_SECRET);
  await admin.click('#signin-form button');
  await admin.locator('#speed-heats').waitFor({ timeout: TIMEOUT });
  await admin.setInputFiles('#heatlist-file', {
    name: 'heats.csv',
    mimeType: 'text/csv',
    buffer: Buffer.from('event,heat,station,name,club\nSRSS,1,1,Ada Lovelace,North\nSRSS,1,2,Bo Chen,South\n'),
  });
  await admin.click('#heatlist-form button');
  await admin.locator('#speed-message.ok', { hasText: 'Imported 2 entries' }).waitFor({ timeout: TIMEOUT });
  for (const [station, panel] of [[1, judges.slice(0, 3)], [2, judges.slice(3)]]) {
    await admin.fill('#station-form [name="station"]', String(station));
    await admin.fill('#station-form [name="devices"]', panel.map((j) => Number(j.id)).join(', '));
    await admin.click('#station-form button');
    await admin.locator('#speed-message.ok', { hasText: `Station ${station}:` }).waitFor({ timeout: TIMEOUT });
  }
  await admin.click('[data-heat-action="start-1"]');
  await admin.locator('[data-heat="1"] h3', { hasText: 'running' }).waitFor({ timeout: TIMEOUT });

  const hall = await browser.newContext({ viewport: { width: 1280, height: 720 } });
  const board = await hall.newPage();
  await board.goto(`${server.url}/scoreboard?heat=current`);
  const station = (n) => board.locator(`[data-station="${n}"]`);
  await station(2).waitFor({ timeout: TIMEOUT });
  assert.match(await station(1).textContent(), /Ada Lovelace/);

  // Station 1: 50, 52, 51 -> both pairs equally close: the higher, 51.5. The second
  // clicker showed 40 before and ends on 92 (52); the third is reset, then 51.
  await judges[0].count(10, 30, 50);
  await judges[1].count(60, 92);
  await judges[2].count(0, 51);
  // Station 2: 70, 75, 80 -> equally close: the higher pair, 77.5; reskip.
  await judges[3].count(70);
  await judges[4].count(75);
  await judges[5].count(81, 80); // an undo
  await station(1).locator('.count', { hasText: /^51\.5$/ }).waitFor({ timeout: TIMEOUT });
  await station(2).locator('.count', { hasText: /^77\.5$/ }).waitFor({ timeout: TIMEOUT });
  const tallies = await station(1).locator('.judge').allTextContents();
  assert.deepEqual(tallies, ['50', '52', '51']);
  assert.match(await station(2).getAttribute('class'), /reskip/);
  assert.match(await board.locator('.heat-title').textContent(), /Heat 1 · running/);
  await snap(board, '10-scoreboard-heat-live');

  // The head judge of station 1 saw a false start: 51.5 - 10.
  const ada = admin.locator('[data-heat="1"] tr', { hasText: 'Ada Lovelace' });
  await ada.locator('select').selectOption('1');
  await ada.locator('[data-deductions]').click();
  await station(1).locator('.count', { hasText: /^41\.5$/ }).waitFor({ timeout: TIMEOUT });
  await admin.click('[data-heat-action="stop-1"]');
  await admin.locator('[data-heat="1"] h3', { hasText: 'stopped' }).waitFor({ timeout: TIMEOUT });
  await board.locator('.heat-title', { hasText: 'stopped' }).waitFor({ timeout: TIMEOUT });
  await snap(admin, '11-admin-speed-heat-stopped');

  await board.selectOption('#layout', 'ranked');
  await board.selectOption('#background', 'green');
  await board.locator('.heat-title', { hasText: 'SRSS · ranking' }).waitFor({ timeout: TIMEOUT });
  const ranking = await board.locator('[data-entry] .label').allTextContents();
  assert.deepEqual(ranking.map((t) => t.split(' ')[0]), ['Bo', 'Ada']);
  assert.match(board.url(), /heat=current.*layout=ranked|layout=ranked.*heat=current/);
  await snap(board, '12-scoreboard-ranked-green');

  const adminRanking = await admin.locator('#speed-ranking td').allTextContents();
  assert.deepEqual(adminRanking.slice(0, 2), ['1', 'Bo Chen']);
  for (const j of judges) j.close();
  await hall.close();
  await context.close();
});
