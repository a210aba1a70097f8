// The event stream's resume in a real browser: Chromium's EventSource
// follows GET /api/events, the server restarts under it (a deploy, a
// crash), and EventSource reconnects by itself with Last-Event-ID: the
// page gets exactly the changes it missed, once each, in order, and no
// second update-full (it does not reload everything).

import { test } from 'node:test';
import assert from 'node:assert/strict';

import { ADMIN_SECRET, skipReason, serverAndBrowser } from './harness.js';

const skip = skipReason() ?? false;
if (skip) console.log(`# browser tests skipped: ${skip}`);

const TIMEOUT = 15_000;
let server;
let browser;

async function addHack(name) {
  const res = await fetch(`${server.url}/api/hacks`, {
    method: 'POST',
    headers: { authorization: `Bearer ${ADMIN_SECRET}` },
    body: JSON.stringify({ name, description: '', location: 1 }),
  });
  assert.equal(res.status, 201, `${name}: ${await res.text()}`);
}

serverAndBrowser(skip, (s, b) => {
  server = s;
  browser = b;
});

test('EventSource resumes across a server restart with only the missed changes', { skip }, async () => {
  const page = await (await browser.newContext()).newPage();
  await page.goto(`${server.url}/healthz`);
  await page.evaluate((secret) => {
    window.seen = [];
    const events = new EventSource(`/api/events?secret=${encodeURIComponent(secret)}`);
    for (const type of ['update-full', 'update-partial']) {
      events.addEventListener(type, (e) => {
        const data = JSON.parse(e.data);
        const hacks = (type === 'update-full' ? data.database : data.diff).hacks;
        window.seen.push({ type, id: e.lastEventId, hacks: hacks.map((h) => h.name) });
      });
    }
    events.addEventListener('error', () => window.seen.push({ type: 'error' }));
  }, ADMIN_SECRET);
  const hacksSeen = () => page.evaluate(() => window.seen.flatMap((e) => e.hacks ?? []));
  const waitFor = (fn, arg) => page.waitForFunction(fn, arg, { timeout: TIMEOUT });

  await waitFor(() => window.seen.some((e) => e.type === 'update-full'));
  for (const name of ['One', 'Two', 'Three']) await addHack(name);
  await waitFor(() => window.seen.flatMap((e) => e.hacks ?? []).length === 3);

  await server.restart();
  for (const name of ['Four', 'Five']) await addHack(name);
  await waitFor(() => window.seen.flatMap((e) => e.hacks ?? []).length >= 5);
  await addHack('Six');
  await waitFor(() => window.seen.flatMap((e) => e.hacks ?? []).length >= 6);
  await new Promise((r) => setTimeout(r, 300));

  const seen = await page.evaluate(() => window.seen);
  assert.ok(seen.some((e) => e.type === 'error'), 'the stream was cut by the restart');
  const fulls = seen.filter((e) => e.type === 'update-full');
  assert.equal(fulls.length, 1, `one update-full only: ${JSON.stringify(seen)}`);
  assert.deepEqual(await hacksSeen(), ['One', 'Two', 'Three', 'Four', 'Five', 'Six'], 'each change once, in order');
  const ids = seen.filter((e) => e.id).map((e) => e.id);
  const [epoch] = ids[0].split(':');
  assert.ok(ids.every((id) => id.startsWith(`${epoch}:`)), `one epoch: ${ids}`);
  const seqs = ids.map((id) => Number(id.split(':')[1]));
  assert.deepEqual(seqs, [...seqs].sort((a, b) => a - b), `ids increase: ${ids}`);
  assert.equal(seqs.at(-1), seqs[0] + 6, 'the last id names the sixth change');
});
