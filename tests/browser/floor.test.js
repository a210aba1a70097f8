// The judging floor in a real browser: a judge on a phone finds nobody at a
// table and taps "Not here" (the hack moves to "Come back later"); a second
// judge (over HTTP) finds the same; the organiser's floor view flags the
// hack live, pauses judging (the judge's page says so and its buttons stop),
// resumes, and clears the flag; the judge then rates the team after all and
// keeps a note, and the organiser's floor view follows.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';

import { ADMIN_SECRET, call as api, startServer, launchBrowser, snap, skipReason } from './harness.js';

const skip = skipReason() ?? false;
if (skip) console.log(`# browser tests skipped: ${skip}`);

const TIMEOUT = 10_000;
let server;
let browser;

const call = (method, path, body, secret) => api(server, method, path, body, secret);

before(async () => {
  if (skip) return;
  server = await startServer();
  browser = await launchBrowser();
  for (const [name, table] of [['Tally Ho', 1], ['Quiet Room', 2], ['Über Bus', 3]]) {
    await call('POST', '/api/hacks', { name, description: '', location: table });
  }
  await call('POST', '/api/judges', { name: 'Ada Lovelace', email: 'ada@example.org' });
  await call('POST', '/api/judges', { name: 'Alan Turing', email: 'alan@example.org' });
  await call('POST', '/api/assignments', { judgesPerHack: 2 });
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

test('a judge marks a team absent, the organiser sees the flag and clears it, the judge rates it after all', { skip }, async () => {
  const { loginCode } = await call('GET', '/api/login-code');

  const desk = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const admin = await desk.newPage();
  await admin.goto(`${server.url}/admin`);
  await admin.fill('#admin-secret', ADMIN_SECRET);
  await admin.click('#signin-form button');
  await admin.locator('#connection[data-state="live"]').waitFor({ timeout: TIMEOUT });
  await admin.locator('#floor-judges td', { hasText: 'not started' }).first().waitFor({ timeout: TIMEOUT });

  const phone = await browser.newContext({ viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true });
  const judge = await phone.newPage();
  await judge.goto(`${server.url}/judge`);
  await judge.locator('#judge-name option', { hasText: 'Ada Lovelace' }).waitFor({ state: 'attached', timeout: TIMEOUT });
  await judge.selectOption('#judge-name', { label: 'Ada Lovelace' });
  await judge.fill('#login-code', loginCode);
  await judge.click('#signin-form button');
  await judge.locator('#progress', { hasText: 'Rated 0 of 3' }).waitFor({ timeout: TIMEOUT });
  assert.equal(await judge.locator('#later-card').isHidden(), true);

  // Nobody at the first table on Ada's route: "Not here".
  const firstCard = judge.locator('#hacks section.hack').first();
  const absentName = (await firstCard.locator('.name').textContent()).trim();
  const absentId = Number(await firstCard.getAttribute('data-hack-id'));
  await firstCard.getByRole('button', { name: 'Not here: come back later' }).click();
  await judge.locator('#later section.hack', { hasText: absentName }).waitFor({ timeout: TIMEOUT });
  assert.equal(await judge.locator('#hacks section.hack').count(), 2);
  assert.equal(await judge.locator('#hacks section.hack', { hasText: absentName }).count(), 0);
  await snap(judge, '10-judge-come-back-later');

  // One judge is not enough for a flag; the organiser sees who found it away.
  const row = admin.locator(`#floor-hacks tr[data-hack-id="${absentId}"]`);
  await row.locator('td', { hasText: 'Ada Lovelace' }).waitFor({ timeout: TIMEOUT });
  assert.equal(await admin.locator('#floor-hacks tr.flagged').count(), 0);

  // Alan (on another phone, here over HTTP) finds the same table empty.
  const alan = await call('POST', '/api/login', { judgeId: 2, loginCode }, '');
  await call('POST', '/api/absences', { judgeId: 2, hackId: absentId }, alan.secret);
  await admin.locator(`#floor-hacks tr.flagged[data-hack-id="${absentId}"]`).waitFor({ timeout: TIMEOUT });
  assert.match(await row.textContent(), /Absent \(2 judges\)/);
  assert.match(await row.textContent(), /Ada Lovelace, Alan Turing/);
  // Flagged hacks come first.
  assert.equal(await admin.locator('#floor-hacks tbody tr').first().getAttribute('data-hack-id'), String(absentId));
  assert.match(await admin.locator('#floor-judges tr[data-judge-id="1"]').textContent(), /0 of 3.*Table \d.*0 min ago/);
  await snap(admin, '11-admin-floor-flagged');

  // A pause: the judge's page says so at once and its buttons stop.
  await admin.click('#pause-button');
  await admin.locator('#paused-banner').waitFor({ timeout: TIMEOUT });
  await judge.locator('#paused-banner', { hasText: 'Judging is paused' }).waitFor({ timeout: TIMEOUT });
  assert.equal(await judge.locator('#hacks section.hack').first().getByRole('button', { name: '10 of 20', exact: true }).isDisabled(), true);
  await snap(judge, '12-judge-paused');
  await snap(admin, '13-admin-paused');
  assert.equal(await admin.locator('#pause-button').textContent(), 'Resume judging');
  await admin.click('#pause-button');
  await judge.locator('#paused-banner').waitFor({ state: 'hidden', timeout: TIMEOUT });

  // The team is back: the organiser clears the flag; the hack returns to
  // the end of Ada's route.
  await row.getByRole('button', { name: 'Team is back' }).click();
  await admin.locator('#floor-hacks tr.flagged').waitFor({ state: 'detached', timeout: TIMEOUT });
  await judge.locator('#later-card').waitFor({ state: 'hidden', timeout: TIMEOUT });
  const back = judge.locator('#hacks section.hack').last();
  assert.equal(await back.getAttribute('data-hack-id'), String(absentId));

  // Ada rates it after all, and keeps a note.
  await back.getByRole('button', { name: '14 of 20', exact: true }).click();
  await back.locator('.save-state.saved', { hasText: '14 of 20' }).waitFor({ timeout: TIMEOUT });
  await back.locator('textarea').fill('Team was at lunch; great demo once back.');
  await back.locator('textarea').blur();
  await back.locator('.save-state.saved', { hasText: 'Note saved' }).waitFor({ timeout: TIMEOUT });
  await judge.locator('#progress', { hasText: 'Rated 1 of 3' }).waitFor({ timeout: TIMEOUT });
  await snap(judge, '14-judge-rated-after-all');

  await row.locator('td', { hasText: '1 of 2' }).waitFor({ timeout: TIMEOUT });
  await admin.locator('#floor-judges tr[data-judge-id="1"] td', { hasText: '1 of 3' }).waitFor({ timeout: TIMEOUT });
  await snap(admin, '15-admin-floor-after');
  const csv = await (await fetch(`${server.url}/api/export/ratings.csv`, { headers: { authorization: `Bearer ${ADMIN_SECRET}` } })).text();
  assert.match(csv, /,1,\d,14,Ada Lovelace,.*,Team was at lunch; great demo once back\./);
  await desk.close();
  await phone.close();
});
