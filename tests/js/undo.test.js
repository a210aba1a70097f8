// A judge takes a rating back ("undo"), over socket.io (`unrate-hack`) with
// socket.io-client 2 and 4 and over HTTP (`DELETE
// /api/judges/{judgeId}/ratings/{hackId}`): the rating's row goes to rating
// 0 in every subscriber's view that holds it, leaves the results and the
// ratings export, is refused with nothing to take back (404) or while judging
// is paused (409), answers a repeated idempotency key once, and stays taken
// back across kill -9. Rating the hack again reuses the row.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';

import {
  ADMIN_SECRET,
  VARIANTS,
  asAdmin,
  asJudge,
  connect,
  db,
  expectRefusal,
  serverPerSuite,
  startServer,
} from './harness.js';

const NOTHING = /judge 1 has no rating of hack 1 to take back/;
const PAUSED = /judging is paused by the organiser/;

async function http(server, method, path, { body, secret = ADMIN_SECRET, key } = {}) {
  const headers = { authorization: `Bearer ${secret}` };
  if (key) headers['idempotency-key'] = key;
  const res = await fetch(`${server.url}${path}`, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : null, raw: text };
}

async function ok(server, method, path, body) {
  const res = await http(server, method, path, { body });
  assert.ok(res.status < 300, `${method} ${path}: ${res.status} ${res.raw}`);
  return res.body;
}

async function setup(server) {
  for (let i = 1; i <= 2; i++) {
    await ok(server, 'POST', '/api/hacks', { name: `Hack ${i}`, description: '', location: i });
    await ok(server, 'POST', '/api/judges', { name: `Judge ${i}`, email: `j${i}@example.org` });
  }
}

async function ratingsCsv(server) {
  const res = await fetch(`${server.url}/api/export/ratings.csv`, {
    headers: { authorization: `Bearer ${ADMIN_SECRET}` },
  });
  return (await res.text()).trim().split('\n').slice(1);
}

for (const [index, variant] of VARIANTS.slice(0, 2).entries()) {
  describe(`undo a rating with ${variant.name}`, () => {
    let server;
    const { open } = serverPerSuite(variant, { setup: async (s) => setup((server = s)) });

    it('takes a rating back live, refuses what cannot be taken back, and rates again in the same row', async () => {
      const admin = await asAdmin(await open());
      const j1 = await open();
      const secret1 = await asJudge(j1, 1);
      const j2 = await open();
      await asJudge(j2, 2);
      for (const c of [admin, j1, j2]) {
        assert.deepEqual(await c.request('subscribe-database', {}), { ok: true });
        await c.next('update-full');
      }

      const rated = await j1.request('rate-hack', { judgeId: 1, hackId: 1, rating: 12 });
      assert.equal(rated.ok, true);
      await j1.next('update-partial');
      await admin.next('update-partial');
      assert.equal((await ok(server, 'GET', '/api/results')).hacks.find((h) => h.hackId === 1).ratings, 1);

      // Another judge may not take it back; the judge may.
      await expectRefusal(j2, 'unrate-hack', [{ judgeId: 1, hackId: 1 }], /authenticated as judge 2 and cannot unrate-hack as judge 1/);
      const undone = await j1.request('unrate-hack', { judgeId: 1, hackId: 1 });
      const gone = { ...rated.rating, rating: 0 };
      assert.deepEqual(undone, { ok: true, rating: gone });
      assert.deepEqual(await j1.next('update-partial'), { diff: db({ ratings: [gone] }) });
      assert.deepEqual(await admin.next('update-partial'), { diff: db({ ratings: [gone] }) });
      await j2.none('update-partial');

      // It counts nowhere: results, the floor, the export.
      const hack1 = (await ok(server, 'GET', '/api/results')).hacks.find((h) => h.hackId === 1);
      assert.equal(hack1.ratings, 0);
      assert.equal(hack1.rank, null);
      assert.deepEqual(await ratingsCsv(server), []);

      // Nothing left to take back: 404 over HTTP, a refusal over socket.io.
      await expectRefusal(j1, 'unrate-hack', [{ judgeId: 1, hackId: 1 }], NOTHING);
      const again = await http(server, 'DELETE', '/api/judges/1/ratings/1', { secret: secret1 });
      assert.equal(again.status, 404);
      assert.match(again.body.error, NOTHING);
      assert.equal((await http(server, 'DELETE', '/api/judges/1/ratings/-1', { secret: secret1 })).status, 400);

      // Rating again reuses the row.
      const rerated = await j1.request('rate-hack', { judgeId: 1, hackId: 1, rating: 7 });
      assert.deepEqual(rerated.rating, { ...rated.rating, rating: 7 });
      await j1.next('update-partial');
      await admin.next('update-partial');

      // Paused: 409 over HTTP, the pause's refusal over socket.io; nothing changes.
      await ok(server, 'POST', '/api/judging/pause');
      for (const c of [admin, j1, j2]) await c.next('update-partial');
      const paused = await http(server, 'DELETE', '/api/judges/1/ratings/1', { secret: secret1 });
      assert.equal(paused.status, 409);
      assert.match(paused.body.error, PAUSED);
      await expectRefusal(j1, 'unrate-hack', [{ judgeId: 1, hackId: 1 }], PAUSED);
      await ok(server, 'POST', '/api/judging/resume');
      for (const c of [admin, j1, j2]) await c.next('update-partial');

      // Over HTTP, as the judge, with an idempotency key sent twice: 204
      // both times, and the change is made and sent once.
      const first = await http(server, 'DELETE', '/api/judges/1/ratings/1', { secret: secret1, key: `undo-${index}` });
      assert.deepEqual([first.status, first.raw], [204, '']);
      const repeat = await http(server, 'DELETE', '/api/judges/1/ratings/1', { secret: secret1, key: `undo-${index}` });
      assert.deepEqual([repeat.status, repeat.raw], [204, '']);
      assert.deepEqual(await j1.next('update-partial'), { diff: db({ ratings: [gone] }) });
      await j1.none('update-partial');

      // The same over socket.io: a repeated key answers the first answer.
      await j1.request('rate-hack', { judgeId: 1, hackId: 1, rating: 9 });
      await j1.next('update-partial');
      const keyed = { judgeId: 1, hackId: 1, idempotencyKey: `sio-undo-${index}` };
      assert.deepEqual(await j1.request('unrate-hack', keyed), { ok: true, rating: gone });
      assert.deepEqual(await j1.request('unrate-hack', keyed), { ok: true, rating: gone });
      assert.deepEqual(await j1.next('update-partial'), { diff: db({ ratings: [gone] }) });
      await j1.none('update-partial');

      // The admin may take back any judge's rating.
      await j2.request('rate-hack', { judgeId: 2, hackId: 2, rating: 20 });
      const byAdmin = await http(server, 'DELETE', '/api/judges/2/ratings/2');
      assert.equal(byAdmin.status, 204);
      const state = await ok(server, 'GET', '/api/state');
      assert.deepEqual(state.ratings.map((r) => [r.judgeId, r.hackId, r.rating]), [[1, 1, 0], [2, 2, 0]]);
    });
  });
}

for (const version of [4, 2]) {
  describe(`undo survives kill -9 with socket.io-client ${version}`, () => {
    it('a rating taken back stays taken back after a crash', async () => {
      const first = await startServer();
      let second;
      try {
        await setup(first);
        const judge = await connect(first, { version });
        const secret = await asJudge(judge, 1);
        await judge.request('rate-hack', { judgeId: 1, hackId: 1, rating: 17 });
        const undone = await judge.request('unrate-hack', { judgeId: 1, hackId: 1 });
        assert.equal(undone.ok, true);
        await first.kill9();
        judge.close();

        second = await startServer({ dataDir: first.dataDir });
        const again = await connect(second, { version });
        await again.request('authenticate', { secret, userId: 1 });
        await again.request('subscribe-database', {});
        const view = (await again.next('update-full')).database;
        assert.deepEqual(view.ratings, [{ id: 1, judgeId: 1, hackId: 1, rating: 0 }]);
        again.close();
      } finally {
        await second?.stop();
        first.cleanup();
      }
    });
  });
}
