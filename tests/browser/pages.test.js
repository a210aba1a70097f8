// The three web pages in a real browser: an organiser runs a competition on
// /admin, a judge rates and ranks on /judge in a second browser context (a
// phone-sized screen), the organiser's results follow without a reload, and
// a clicker simulated over a raw WebSocket drives /scoreboard.

import { test } from 'node:test';
import assert from 'node:assert/strict';

import { ADMIN_SECRET, snap, skipReason, devpostSample, clicker, serverAndBrowser } from './harness.js';

const skip = skipReason() ?? false;
if (skip) console.log(`# browser tests skipped: ${skip}`);

let server;
let browser;
let admin; // the organiser's page, kept open through the whole flow
let loginCode;
const TIMEOUT = 10_000;

serverAndBrowser(skip, (s, b) => {
  server = s;
  browser = b;
});

test('a wrong admin secret shows an error', { skip }, async () => {
  const page = await browser.newPage();
  await page.goto(`${server.url}/admin`);
  await page.fill('#admin-secret', 'not-the-secret');
  await page.click('#signin-form button');
  const message = page.locator('#signin-message');
  await message.waitFor({ state: 'visible', timeout: TIMEOUT });
  assert.match(await message.textContent(), /not the admin secret/);
  assert.equal(await page.locator('#console').isHidden(), true);
  await snap(page, '01-admin-wrong-secret');
  await page.close();
});

test('the organiser signs in, imports, adds two judges and runs assignment', { skip }, async () => {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  admin = await context.newPage();
  await admin.goto(`${server.url}/admin`);
  await admin.fill('#admin-secret', ADMIN_SECRET);
  await admin.click('#signin-form button');
  await admin.locator('#connection[data-state="live"]').waitFor({ timeout: TIMEOUT });
  loginCode = (await admin.locator('#login-code-value').textContent()).trim();
  assert.match(loginCode, /^\S{8,}$/);

  await admin.setInputFiles('#devpost-file', devpostSample());
  await admin.click('#devpost-form button');
  await admin.locator('#import-result.ok').waitFor({ timeout: TIMEOUT });
  assert.match(await admin.locator('#import-result').textContent(), /Imported 3 new hack/);
  await admin.locator('#hacks td', { hasText: 'Quiet Room' }).waitFor({ timeout: TIMEOUT });

  // A judges CSV with a bad row names the row and why; nothing is added.
  await admin.setInputFiles('#judges-file', { name: 'judges.csv', mimeType: 'text/csv', buffer: Buffer.from('name,email\nGrace,grace\n') });
  await admin.click('#judges-form button');
  await admin.locator('#import-result.error').waitFor({ timeout: TIMEOUT });
  assert.match(await admin.locator('#import-result').textContent(), /row 2.*grace/i);

  for (const [name, email] of [['Ada Lovelace', 'ada@example.org'], ['Alan Turing', 'alan@example.org']]) {
    await admin.fill('#judge-form [name=name]', name);
    await admin.fill('#judge-form [name=email]', email);
    await admin.click('#judge-form button');
    await admin.locator('#judges td', { hasText: name }).waitFor({ timeout: TIMEOUT });
  }

  await admin.fill('#judges-per-hack', '2');
  await admin.click('#assign-form button');
  await admin.locator('#assign-result.ok').waitFor({ timeout: TIMEOUT });
  assert.match(await admin.locator('#assign-result').textContent(), /2 judge\(s\) per hack: 6 new/);
  await admin.locator('#assignments td', { hasText: 'Ada Lovelace' }).first().waitFor({ timeout: TIMEOUT });
  // Coverage follows: with nothing rated yet, both judges are behind.
  await admin.locator('#coverage td', { hasText: 'Alan Turing' }).waitFor({ timeout: TIMEOUT });
  await admin.locator('#results td', { hasText: 'Quiet Room' }).waitFor({ timeout: TIMEOUT });
  await snap(admin, '02-admin-assigned');
});

test('a judge signs in on a phone, rates and ranks; the organiser sees results live', { skip }, async () => {
  const phone = await browser.newContext({ viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true });
  const judge = await phone.newPage();
  // Every file and answer of the page arrives compressed where it is worth it.
  const encodings = new Map();
  judge.on('response', async (res) => {
    const path = new URL(res.url()).pathname;
    if (res.status() === 200) encodings.set(path, (await res.allHeaders())['content-encoding']);
  });
  await judge.goto(`${server.url}/judge`);
  await judge.locator('#judge-name option', { hasText: 'Ada Lovelace' }).waitFor({ state: 'attached', timeout: TIMEOUT });
  await judge.selectOption('#judge-name', { label: 'Ada Lovelace' });

  // A wrong login code first.
  await judge.fill('#login-code', 'wrong-code');
  await judge.click('#signin-form button');
  await judge.locator('#signin-message.error').waitFor({ timeout: TIMEOUT });
  assert.match(await judge.locator('#signin-message').textContent(), /login code is not right/);
  await snap(judge, '03-judge-wrong-code');

  await judge.fill('#login-code', loginCode);
  await judge.click('#signin-form button');
  await judge.locator('#connection[data-state="live"]').waitFor({ timeout: TIMEOUT });
  await judge.locator('#progress', { hasText: 'Rated 0 of 3' }).waitFor({ timeout: TIMEOUT });
  await snap(judge, '04-judge-assigned');
  // The hacks on the judge's route come with their stories.
  await judge.locator('section.hack p', { hasText: 'Counts things, fast.' }).waitFor({ timeout: TIMEOUT });
  for (const path of ['/judge', '/ui/judge.js', '/ui/style.css', '/ui/live.js']) {
    assert.match(encodings.get(path) ?? 'none', /^(br|gzip)$/, `${path} is compressed`);
  }

  // No ranking before any rating.
  assert.equal(await admin.locator('#results-table tbody tr:first-child td:first-child').textContent(), '—');

  const cards = judge.locator('section.hack');
  assert.equal(await cards.count(), 3);
  const scores = [17, 9, 12];
  for (let i = 0; i < 3; i++) {
    await cards.nth(i).getByRole('button', { name: `${scores[i]} of 20`, exact: true }).click();
    await judge.locator(`section.hack:nth-child(${i + 1}) .save-state.saved`).waitFor({ timeout: TIMEOUT });
  }
  await judge.locator('#progress', { hasText: 'Rated 3 of 3' }).waitFor({ timeout: TIMEOUT });

  // First and second place for a superlative two hacks opted into.
  const superlative = judge.locator('.superlative', { hasText: 'Best Use of Data' });
  assert.equal(await superlative.locator('select[data-choice=firstId] option').count(), 3);
  await superlative.locator('select[data-choice=firstId]').selectOption({ label: 'Table 2: Quiet Room' });
  await superlative.locator('.save-state.saved').waitFor({ timeout: TIMEOUT });
  await superlative.locator('select[data-choice=secondId]').selectOption({ label: 'Table 1: Tally Ho' });
  await superlative.locator('select[data-choice=secondId] option:checked', { hasText: 'Tally Ho' }).waitFor({ state: 'attached', timeout: TIMEOUT });
  await superlative.locator('.save-state.saved').waitFor({ timeout: TIMEOUT });
  await snap(judge, '05-judge-rated');

  // The organiser's page changed by itself: a ranked hack and superlative points.
  await admin.locator('#results-table tbody tr:first-child td:first-child', { hasText: '1' }).waitFor({ timeout: TIMEOUT });
  await admin.locator('#superlative-results div', { hasText: 'Best Use of Data' }).locator('tbody tr:first-child', { hasText: 'Quiet Room' }).waitFor({ timeout: TIMEOUT });
  await snap(admin, '06-admin-results-live');

  // A reload keeps the judge signed in (the secret is in localStorage).
  await judge.reload();
  await judge.locator('#progress', { hasText: 'Rated 3 of 3' }).waitFor({ timeout: TIMEOUT });
  assert.equal(await judge.locator('#signin').isHidden(), true);
  await phone.close();
});

test('a clicker pushes scores and the scoreboard shows them', { skip }, async () => {
  const first = await clicker(server.url);
  const second = await clicker(server.url);
  await first.count(5); // counting before the scoreboard opens
  const context = await browser.newContext({ viewport: { width: 1280, height: 720 } });
  const board = await context.newPage();
  await board.goto(`${server.url}/scoreboard?ids=${Number(first.id)},${Number(second.id)},999`);
  const count = (id) => board.locator(`[data-device="${id}"] .count`);
  await count(first.id).filter({ hasText: /^5$/ }).waitFor({ timeout: TIMEOUT });
  for (const n of [6, 7, 8]) await first.count(n);
  await second.count(11);
  await count(first.id).filter({ hasText: /^8$/ }).waitFor({ timeout: TIMEOUT });
  await count(second.id).filter({ hasText: /^11$/ }).waitFor({ timeout: TIMEOUT });
  assert.match(await board.locator('[data-device="000999"]').getAttribute('class'), /disconnected/);
  await snap(board, '07-scoreboard-grid');

  await board.selectOption('#layout', 'ranked');
  await board.selectOption('#background', 'green');
  const order = await board.locator('.device').evaluateAll((els) => els.map((e) => e.dataset.device));
  assert.deepEqual(order.slice(0, 2), [second.id, first.id]);
  assert.match(board.url(), /layout=ranked/);
  await snap(board, '08-scoreboard-ranked-green');

  second.close();
  await board.locator(`[data-device="${second.id}"].disconnected`).waitFor({ timeout: TIMEOUT });
  await board.click('#hide');
  await snap(board, '09-scoreboard-disconnected-overlay');
  first.close();
  await context.close();
});
