// Signing judges in by link: the organiser's /admin shows each judge's QR
// code; the test reads it back from a screenshot (pngjs + jsQR, as a
// phone's camera would), opens the URL in a phone-sized context and lands
// signed in on /judge with the token gone from the address bar. A re-issued
// link's old URL is refused with a message saying why; the print sheet has
// a card per judge; and no token ever appears in the server's output
// (logging at debug).

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import jsQR from 'jsqr';
import { PNG } from 'pngjs';

import { ADMIN_SECRET, startServer, launchBrowser, snap, skipReason } from './harness.js';

const skip = skipReason() ?? false;
if (skip) console.log(`# browser tests skipped: ${skip}`);

const TIMEOUT = 10_000;
const PHONE = { viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true };
let server;
let browser;
let admin;
const tokens = [];

async function call(path, body) {
  const res = await fetch(`${server.url}${path}`, {
    method: body === undefined ? 'GET' : 'POST',
    headers: { Authorization: `Bearer ${ADMIN_SECRET}`, 'Content-Type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  assert.ok(res.ok, `${path}: ${res.status} ${await res.clone().text()}`);
  return res.json();
}

/** Reads the QR code shown for `judgeId` on the admin page. */
async function scanQr(judgeId) {
  const image = admin.locator(`#links .link-row[data-judge-id="${judgeId}"] img.qr`);
  await image.waitFor({ timeout: TIMEOUT });
  const png = PNG.sync.read(await image.screenshot());
  const found = jsQR(new Uint8ClampedArray(png.data), png.width, png.height);
  assert.ok(found, 'the QR code could not be read');
  return found.data;
}

async function openOnPhone(url) {
  const phone = await browser.newContext(PHONE);
  const page = await phone.newPage();
  await page.goto(url);
  return { phone, page };
}

before(async () => {
  if (skip) return;
  server = await startServer({ log: 'debug' });
  browser = await launchBrowser();
  for (const [name, email] of [['Ada Lovelace', 'ada@example.org'], ['Alan Turing', 'alan@example.org'], ['Grace Hopper', 'grace@example.org']]) {
    await call('/api/judges', { name, email });
  }
  await call('/api/hacks', { name: 'Quiet Room', description: 'A room that listens', location: 12 });
  await call('/api/assignments', { judgesPerHack: 3 });
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  admin = await context.newPage();
  await admin.goto(`${server.url}/admin`);
  await admin.fill('#admin-secret', ADMIN_SECRET);
  await admin.click('#signin-form button');
  await admin.locator('#connection[data-state="live"]').waitFor({ timeout: TIMEOUT });
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

test('a judge scans their QR code on a phone and is signed in', { skip }, async () => {
  const url = await scanQr(1);
  assert.match(url, new RegExp(`^${server.url}/judge#token=[0-9a-f]{32}$`));
  tokens.push(url.split('#token=')[1]);
  assert.match(await admin.locator('#links .link-row[data-judge-id="1"]').textContent(), /Ada Lovelace.*Start at table 12/);
  await snap(admin, '20-admin-sign-in-links');

  const { phone, page } = await openOnPhone(url);
  await page.locator('#judging').waitFor({ state: 'visible', timeout: TIMEOUT });
  assert.equal(await page.locator('#title').textContent(), 'Judging · Ada Lovelace');
  await page.locator('.hack .name', { hasText: 'Quiet Room' }).waitFor({ timeout: TIMEOUT });
  // The token is gone from the address bar (and so from history).
  assert.equal(page.url(), `${server.url}/judge`);
  // The page works as signed in: a rating is saved.
  await page.locator('.hack .rating button', { hasText: /^15$/ }).click();
  await page.locator('.hack .save-state.saved').waitFor({ timeout: TIMEOUT });
  await snap(page, '21-judge-signed-in-by-link');
  await phone.close();
});

test('a re-issued link\'s old URL is refused with a clear message', { skip }, async () => {
  const old = await scanQr(2);
  await admin.locator('#links .link-row[data-judge-id="2"] button').click();
  await admin.locator('#links-message.ok').waitFor({ timeout: TIMEOUT });
  assert.match(await admin.locator('#links-message').textContent(), /New link for Alan Turing/);
  const fresh = await scanQr(2);
  assert.notEqual(fresh, old);
  tokens.push(old.split('#token=')[1], fresh.split('#token=')[1]);

  const stale = await openOnPhone(old);
  const message = stale.page.locator('#signin-message.error');
  await message.waitFor({ state: 'visible', timeout: TIMEOUT });
  assert.match(await message.textContent(), /^This sign-in link is not valid: it was replaced by a newer one.*ask the organisers for your current link/);
  assert.equal(await stale.page.locator('#judging').isHidden(), true);
  assert.equal(stale.page.url(), `${server.url}/judge`);
  await snap(stale.page, '22-judge-old-link-refused');
  await stale.phone.close();

  const current = await openOnPhone(fresh);
  await current.page.locator('#judging').waitFor({ state: 'visible', timeout: TIMEOUT });
  assert.equal(await current.page.locator('#title').textContent(), 'Judging · Alan Turing');
  await current.phone.close();
});

test('the print sheet has a card per judge with name, QR code and first table', { skip }, async () => {
  await admin.evaluate(() => document.body.classList.add('print-cards'));
  await admin.emulateMedia({ media: 'print' });
  const cards = admin.locator('#link-cards .link-card');
  assert.equal(await cards.count(), 3);
  for (let i = 0; i < 3; i++) {
    assert.equal(await cards.nth(i).isVisible(), true);
    assert.match(await cards.nth(i).textContent(), /Start at table 12: Quiet Room/);
    assert.equal(await cards.nth(i).locator('img.qr').count(), 1);
  }
  assert.equal(await admin.locator('#results').isVisible(), false, 'the rest of the page is not printed');
  await snap(admin, '23-admin-print-cards');
  await admin.emulateMedia({ media: 'screen' });
  await admin.evaluate(() => document.body.classList.remove('print-cards'));
});

test('no sign-in token appears in the server\'s output', { skip }, async () => {
  const listed = await call('/api/judges/links');
  for (const link of listed) tokens.push(link.url.split('#token=')[1]);
  assert.ok(tokens.length >= 5);
  const output = server.output();
  assert.match(output, /DEBUG|INFO/, 'the server logged at debug level');
  assert.match(output, /judge signed in by link/);
  for (const token of tokens) assert.ok(!output.includes(token), `token ${token} appeared in the server's output`);
});
