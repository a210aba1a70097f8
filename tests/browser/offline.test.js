// The judge page offline, in Chromium: the phone loses the network
// (context.setOffline, and the phone's own cable to the server cut), the
// judge rates, marks a team absent and writes a
// note, reloads (the page opens from the service worker's cache with the
// last state it had), and gets the network back: every answer lands once,
// in order, as the server's change log shows. Also with the server killed
// and restarted meanwhile, with one answer refused because the organiser
// paused judging, and with a rating changed on another device (held, shown
// with both values, and settled by the judge).

import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, connect } from 'node:net';
import { once } from 'node:events';

import { ADMIN_SECRET, call, startServer, launchBrowser, snap, skipReason } from './harness.js';

const skip = skipReason() ?? false;
if (skip) console.log(`# browser tests skipped: ${skip}`);

const TIMEOUT = 30_000;
const HACKS = ['Tally Ho', 'Quiet Room', 'Über Bus', 'Night Owl', 'Green Line', 'Paper Trail'];
let browser;
const servers = [];
const links = [];

after(async () => {
  await browser?.close();
  for (const l of links) l.close();
  for (const s of servers) await s.stop();
});

/**
 * The phone's link to `server`: a TCP relay on loopback the test can cut.
 * Chromium's offline emulation alone is not enough: right after a reload
 * the new document could reach the server for a moment and send an answer
 * before the test went online. Cut, the relay ends every connection and
 * resets new ones at once, as a phone's dead wifi fails its requests.
 */
async function cable(server) {
  const port = Number(new URL(server.url).port);
  const sockets = new Set();
  let cut = false;
  const relay = createServer((inbound) => {
    if (cut) return inbound.resetAndDestroy();
    const outbound = connect(port, '127.0.0.1');
    for (const s of [inbound, outbound]) {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
      s.on('error', () => {
        inbound.destroy();
        outbound.destroy();
      });
    }
    inbound.pipe(outbound);
    outbound.pipe(inbound);
  });
  relay.listen(0, '127.0.0.1');
  await once(relay, 'listening');
  return {
    url: `http://127.0.0.1:${relay.address().port}`,
    set cut(value) {
      cut = value;
      if (cut) for (const s of sockets) s.resetAndDestroy();
    },
    close() {
      for (const s of sockets) s.destroy();
      relay.close();
    },
  };
}

/** Takes the phone off the network (or puts it back). */
async function setOffline(phone, offline) {
  await phone.context.setOffline(offline);
  phone.link.cut = offline;
}

/** A fresh server with six hacks, all on Ada's route, and Chromium. */
async function setup() {
  browser ??= await launchBrowser();
  const server = await startServer();
  servers.push(server);
  for (const [i, name] of HACKS.entries()) {
    await call(server, 'POST', '/api/hacks', { name, description: `Story of ${name}.`, location: i + 1 });
  }
  await call(server, 'POST', '/api/judges', { name: 'Ada Lovelace', email: 'ada@example.org' });
  await call(server, 'POST', '/api/assignments', { judgesPerHack: 1 });
  return server;
}

/** Ada signs in on a phone; resolves once the worker controls the page. */
async function phone(server) {
  const { loginCode } = await call(server, 'GET', '/api/login-code');
  const link = await cable(server);
  links.push(link);
  const context = await browser.newContext({ viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true });
  const page = await context.newPage();
  if (process.env.DEBUG_PAGE) page.on('console', (m) => console.log(`# page: ${m.text()}`));
  if (process.env.DEBUG_PAGE) page.on('pageerror', (e) => console.log(`# page error: ${e.stack}`));
  await page.goto(`${link.url}/judge`);
  await page.locator('#judge-name option', { hasText: 'Ada Lovelace' }).waitFor({ state: 'attached', timeout: TIMEOUT });
  await page.selectOption('#judge-name', { label: 'Ada Lovelace' });
  await page.fill('#login-code', loginCode);
  await page.click('#signin-form button');
  await page.locator('#progress', { hasText: `Rated 0 of ${HACKS.length}` }).waitFor({ timeout: TIMEOUT });
  await page.waitForFunction(() => navigator.serviceWorker.controller !== null, null, { timeout: TIMEOUT });
  return { context, page, link, loginCode };
}

/**
 * Follows the server's changes as they happen (the organiser's event
 * stream): `parts` is every rating, absence and note row changed, in the
 * order the server applied them, `ids` each update's place in the log.
 */
async function follow(server) {
  const controller = new AbortController();
  const res = await fetch(`${server.url}/api/events?secret=${encodeURIComponent(ADMIN_SECRET)}`, { signal: controller.signal });
  const reader = res.body.getReader();
  const seen = { parts: [], ids: [], full: 0 };
  const reading = (async () => {
    let text = '';
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      text += new TextDecoder().decode(value);
      let end;
      while ((end = text.indexOf('\n\n')) >= 0) {
        const block = text.slice(0, end);
        text = text.slice(end + 2);
        const event = /^event: ?(.+)$/m.exec(block)?.[1];
        const data = /^data: ?(.+)$/m.exec(block)?.[1];
        if (event === 'update-full') seen.full += 1;
        if (event !== 'update-partial') continue;
        seen.ids.push(/^id: ?(.+)$/m.exec(block)?.[1]);
        seen.parts.push(...describeChange(JSON.parse(data).diff));
      }
    }
  })().catch((e) => { if (e.name !== 'AbortError') throw e; });
  // Wait for the first full state: from here on, every change is seen.
  while (seen.full === 0) await new Promise((r) => setTimeout(r, 50));
  return { seen, stop: async () => { controller.abort(); await reading; } };
}

/** A change's rows as `table:hackId=value`, for comparing with the answers made. */
function describeChange(diff) {
  const parts = [];
  for (const row of diff.ratings ?? []) parts.push(`rating:${row.hackId}=${row.rating}`);
  for (const row of diff.absences ?? []) parts.push(`absent:${row.hackId}=${row.active}`);
  for (const row of diff.notes ?? []) parts.push(`note:${row.hackId}=${row.text}`);
  return parts;
}

async function adminState(server) {
  return call(server, 'GET', '/api/state');
}

/** Rates five hacks, marks the sixth absent and writes a note, all offline. */
async function actOffline(page) {
  const cards = page.locator('#hacks section.hack');
  const ids = [];
  for (let i = 0; i < HACKS.length; i += 1) ids.push(Number(await cards.nth(i).getAttribute('data-hack-id')));
  const expected = [];
  for (let i = 0; i < 5; i += 1) {
    const card = page.locator(`section.hack[data-hack-id="${ids[i]}"]`);
    await card.getByRole('button', { name: `${11 + i} of 20`, exact: true }).click();
    await card.locator('.save-state.waiting', { hasText: 'Waiting to send' }).waitFor({ timeout: TIMEOUT });
    expected.push(`rating:${ids[i]}=${11 + i}`);
  }
  const away = page.locator(`section.hack[data-hack-id="${ids[5]}"]`);
  await away.getByRole('button', { name: 'Not here: come back later' }).click();
  await page.locator(`#later section.hack[data-hack-id="${ids[5]}"]`).waitFor({ timeout: TIMEOUT });
  expected.push(`absent:${ids[5]}=true`);
  const noted = page.locator(`section.hack[data-hack-id="${ids[0]}"] textarea`);
  await noted.fill('Great demo, shaky wifi.');
  await noted.blur();
  expected.push(`note:${ids[0]}=Great demo, shaky wifi.`);
  await page.locator('#outbox .outbox-entry[data-state="waiting"]').nth(expected.length - 1).waitFor({ timeout: TIMEOUT });
  assert.equal(await page.locator('#outbox .outbox-entry').count(), expected.length);
  assert.match(await page.locator('#pending').textContent(), /7 answer\(s\) waiting to send/);
  return { ids, expected };
}

/** Checks the server stored every answer once, in order; prints the figures. */
async function checkLanded(server, changes, { ids, expected }, label) {
  // Every answer is acknowledged by now; a duplicate applied late would
  // still show within a second or two.
  await new Promise((r) => setTimeout(r, 2_000));
  await changes.stop();
  const landed = changes.seen.parts;
  const duplicates = landed.length - new Set(landed).size;
  console.log(`# ${label}: queued ${expected.length}, landed ${landed.length}, duplicates ${duplicates}`);
  assert.deepEqual(landed, expected, 'the server applied the answers once each, in the order made');
  const state = await adminState(server);
  const ratings = state.ratings.filter((r) => r.judgeId === 1).sort((a, b) => a.id - b.id);
  assert.deepEqual(ratings.map((r) => [r.hackId, r.rating]), ids.slice(0, 5).map((id, i) => [id, 11 + i]));
  assert.deepEqual(state.absences.filter((a) => a.active).map((a) => a.hackId), [ids[5]]);
  assert.deepEqual(state.notes.map((n) => [n.hackId, n.text]), [[ids[0], 'Great demo, shaky wifi.']]);
}

async function offlineRound(label, { restart }) {
  const server = await setup();
  const handset = await phone(server);
  const { context, page } = handset;
  await setOffline(handset, true);
  const made = await actOffline(page);
  assert.equal((await adminState(server)).ratings.length, 0, 'nothing reached the server while offline');

  // A reload with no network: the page, the route and the queue come back.
  await page.reload();
  await page.locator('#progress', { hasText: /^Rated 0 of/ }).waitFor({ timeout: TIMEOUT }).catch(async (e) => {
    throw new Error(`the page did not show its kept state: "${await page.locator("#progress").textContent()}" / "${await page.locator("#outbox-message").textContent()}": ${e.message}`);
  });
  await page.locator('section.hack .name', { hasText: HACKS[1] }).waitFor({ timeout: TIMEOUT });
  await page.locator('#outbox .outbox-entry[data-state="waiting"]').nth(made.expected.length - 1).waitFor({ timeout: TIMEOUT });
  await page.locator(`section.hack[data-hack-id="${made.ids[0]}"] .muted`, { hasText: `Story of` }).waitFor({ timeout: TIMEOUT });
  assert.equal(await page.locator(`section.hack[data-hack-id="${made.ids[0]}"] textarea`).inputValue(), 'Great demo, shaky wifi.');
  assert.equal(await page.locator(`section.hack[data-hack-id="${made.ids[2]}"] button[aria-pressed="true"]`).textContent(), '13');
  await snap(page, `40-judge-offline-${restart ? 'restart' : 'reload'}`);

  assert.equal((await adminState(server)).ratings.length, 0, 'nothing reached the server across the reload');
  if (restart) await server.restart({ signal: 'SIGKILL' });

  const changes = await follow(server);
  await setOffline(handset, false);
  await page.locator('#outbox .outbox-entry[data-state="sent"]').nth(made.expected.length - 1).waitFor({ timeout: TIMEOUT });
  assert.equal(await page.locator('#outbox .outbox-entry:not([data-state="sent"])').count(), 0);
  await page.locator('#progress', { hasText: `Rated 5 of ${HACKS.length}` }).waitFor({ timeout: TIMEOUT });
  assert.equal(await page.locator('#pending').textContent(), '');
  await snap(page, `41-judge-back-online-${restart ? 'restart' : 'reload'}`);
  await checkLanded(server, changes, made, label);
  await context.close();
}

test('offline: rate five, mark one absent, write a note, reload offline, go online: each lands once, in order', { skip }, async () => {
  await offlineRound('offline with a reload', { restart: false });
});

test('the same with the server killed and restarted while the phone was offline', { skip }, async () => {
  await offlineRound('offline with a reload and a server restart', { restart: true });
});

test('an answer refused on arrival because judging was paused meanwhile is shown with the reason; the rest land', { skip }, async () => {
  const server = await setup();
  const handset = await phone(server);
  const { context, page } = handset;
  const first = page.locator('#hacks section.hack').first();
  const hackId = Number(await first.getAttribute('data-hack-id'));

  await setOffline(handset, true);
  await first.getByRole('button', { name: '12 of 20', exact: true }).click();
  await first.locator('textarea').fill('Strong pitch.');
  await first.locator('textarea').blur();
  await page.locator('#outbox .outbox-entry[data-state="waiting"]').nth(1).waitFor({ timeout: TIMEOUT });
  await call(server, 'POST', '/api/judging/pause');
  await setOffline(handset, false);

  const refused = page.locator('#outbox .outbox-entry[data-state="refused"]');
  await refused.waitFor({ timeout: TIMEOUT });
  assert.match(await refused.textContent(), /Rating 12 of 20 for .*Refused: judging is paused/);
  await page.locator('#outbox .outbox-entry[data-state="sent"]', { hasText: 'Note on' }).waitFor({ timeout: TIMEOUT });
  await page.locator('#paused-banner', { hasText: 'Judging is paused' }).waitFor({ timeout: TIMEOUT });
  await snap(page, '42-judge-refused-paused');
  // The card shows what the server holds: no rating.
  await first.locator('.save-state', { hasText: 'Not rated yet' }).waitFor({ timeout: TIMEOUT });
  const state = await adminState(server);
  assert.deepEqual(state.ratings, []);
  assert.deepEqual(state.notes.map((n) => [n.hackId, n.text]), [[hackId, 'Strong pitch.']]);
  await context.close();
});

test('a rating changed on another device while offline is held and shown with both values; the judge chooses', { skip }, async () => {
  const server = await setup();
  const handset = await phone(server);
  const { context, page, loginCode } = handset;
  const cards = page.locator('#hacks section.hack');
  const [a, b] = [cards.nth(0), cards.nth(1)];
  const [idA, idB] = [Number(await a.getAttribute('data-hack-id')), Number(await b.getAttribute('data-hack-id'))];
  await a.getByRole('button', { name: '10 of 20', exact: true }).click();
  await a.locator('.save-state.saved', { hasText: '10 of 20' }).waitFor({ timeout: TIMEOUT });

  await setOffline(handset, true);
  await a.getByRole('button', { name: '15 of 20', exact: true }).click();
  await b.getByRole('button', { name: '7 of 20', exact: true }).click();
  await page.locator('#outbox .outbox-entry[data-state="waiting"]').nth(1).waitFor({ timeout: TIMEOUT });
  // Ada's tablet, meanwhile, online.
  const tablet = await call(server, 'POST', '/api/login', { judgeId: 1, loginCode }, '');
  await call(server, 'POST', '/api/ratings', { judgeId: 1, hackId: idA, rating: 18 }, tablet.secret);
  await call(server, 'POST', '/api/ratings', { judgeId: 1, hackId: idB, rating: 9 }, tablet.secret);
  await setOffline(handset, false);

  const held = page.locator('#outbox .outbox-entry[data-state="conflict"]');
  await held.nth(1).waitFor({ timeout: TIMEOUT });
  assert.match(await held.nth(0).textContent(), /it has 18 of 20; you chose 15 of 20/);
  assert.match(await held.nth(1).textContent(), /it has 9 of 20; you chose 7 of 20/);
  await snap(page, '43-judge-conflict');
  // Nothing was overwritten while held.
  let ratings = (await adminState(server)).ratings;
  assert.deepEqual(ratings.map((r) => [r.hackId, r.rating]).sort(), [[idA, 18], [idB, 9]].sort());

  await held.nth(0).getByRole('button', { name: 'Keep mine' }).click();
  await page.locator('#outbox .outbox-entry[data-state="sent"]').waitFor({ timeout: TIMEOUT });
  await page.locator(`#outbox .outbox-entry[data-key="r${idB}"] .take-theirs`).click();
  await page.locator('#outbox .outbox-entry[data-state="conflict"]').waitFor({ state: 'detached', timeout: TIMEOUT });
  await a.locator('.save-state.saved', { hasText: '15 of 20' }).waitFor({ timeout: TIMEOUT });
  await b.locator('.save-state.saved', { hasText: '9 of 20' }).waitFor({ timeout: TIMEOUT });
  ratings = (await adminState(server)).ratings;
  assert.deepEqual(ratings.map((r) => [r.hackId, r.rating]).sort(), [[idA, 15], [idB, 9]].sort());
  await context.close();
});

test('undo: a rated hack has an Undo that takes the rating back, online and offline; each lands once', { skip }, async () => {
  const server = await setup();
  const handset = await phone(server);
  const { context, page } = handset;
  const cards = page.locator('#hacks section.hack');
  const [a, b] = [cards.nth(0), cards.nth(1)];
  const [idA, idB] = [Number(await a.getAttribute('data-hack-id')), Number(await b.getAttribute('data-hack-id'))];
  const changes = await follow(server);
  // No Undo before there is a rating.
  assert.equal(await a.getByRole('button', { name: 'Undo rating' }).count(), 0);

  // Online: rate, then take it back.
  await a.getByRole('button', { name: '12 of 20', exact: true }).click();
  await a.locator('.save-state.saved', { hasText: '12 of 20' }).waitFor({ timeout: TIMEOUT });
  await page.locator('#progress', { hasText: `Rated 1 of ${HACKS.length}` }).waitFor({ timeout: TIMEOUT });
  await a.getByRole('button', { name: 'Undo rating' }).click();
  await a.locator('.save-state', { hasText: 'Not rated yet' }).waitFor({ timeout: TIMEOUT });
  await page.locator('#progress', { hasText: `Rated 0 of ${HACKS.length}` }).waitFor({ timeout: TIMEOUT });
  assert.equal(await a.locator('button[aria-pressed="true"]').count(), 0);
  assert.equal(await a.getByRole('button', { name: 'Undo rating' }).count(), 0);

  // Offline: a rating made before goes back while the phone has no network,
  // and lands when it returns.
  await b.getByRole('button', { name: '15 of 20', exact: true }).click();
  await b.locator('.save-state.saved', { hasText: '15 of 20' }).waitFor({ timeout: TIMEOUT });
  await setOffline(handset, true);
  await b.getByRole('button', { name: 'Undo rating' }).click();
  await b.locator('.save-state.waiting', { hasText: 'Waiting to send' }).waitFor({ timeout: TIMEOUT });
  await page.locator('#outbox .outbox-entry[data-state="waiting"]', { hasText: 'Undo rating of' }).waitFor({ timeout: TIMEOUT });
  await snap(page, '44-judge-undo-offline');
  await setOffline(handset, false);
  await page.locator('#outbox .outbox-entry[data-state="sent"]', { hasText: 'Undo rating of' }).waitFor({ timeout: TIMEOUT });
  await b.locator('.save-state', { hasText: 'Not rated yet' }).waitFor({ timeout: TIMEOUT });

  await new Promise((r) => setTimeout(r, 1_000));
  await changes.stop();
  const landed = changes.seen.parts;
  const expected = [`rating:${idA}=12`, `rating:${idA}=0`, `rating:${idB}=15`, `rating:${idB}=0`];
  console.log(`# undo: queued ${expected.length}, landed ${landed.length}, duplicates ${landed.length - new Set(landed).size}`);
  assert.deepEqual(landed, expected, 'each rating and each undo landed once, in order');
  const results = await call(server, 'GET', '/api/results');
  assert.ok(results.hacks.every((h) => h.ratings === 0), 'a taken-back rating counts nowhere');
  await context.close();
});
