// What each identity sees: the admin everything, a judge every hack and
// superlative, all judges' names, and only its own email, ratings and
// placements; secrets never. Also: the order of updates is the same for every
// subscriber, and one socket's events are handled in the order sent.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';

import {
  ADMIN_SECRET,
  LOGIN_CODE,
  asAdmin,
  asJudge,
  db,
  serverPerSuite,
} from './harness.js';

/** Applies partial diffs to a database the way a client merges them: by id. */
function merge(database, diff) {
  const out = {};
  for (const key of Object.keys(database)) {
    const rows = new Map(database[key].map((r) => [r.id, r]));
    for (const row of diff[key]) rows.set(row.id, row);
    out[key] = [...rows.values()].sort((a, b) => a.id - b.id);
  }
  return out;
}

for (const version of [4, 2]) {
  describe(`scoping and ordering with socket.io-client ${version}`, () => {
    const secrets = [];

    const { open, clients } = serverPerSuite({ version }, {
      async setup() {
        const admin = await asAdmin(await open());
        for (let i = 1; i <= 3; i++) {
          await admin.request('add-hack', { name: `Hack ${i}`, description: '', location: i });
          await admin.request('add-judge', { name: `Judge ${i}`, email: `judge${i}@example.org` });
        }
        await admin.request('add-superlative', { name: 'Best' });
        // Judges 2 and 3 rate and rank before judge 1 looks.
        for (const id of [2, 3]) {
          const j = await open();
          secrets.push(await asJudge(j, id));
          await j.request('rate-hack', { judgeId: id, hackId: 1, rating: id });
          await j.request('rank-superlative', { judgeId: id, superId: 1, firstId: 1, secondId: 2 });
        }
      },
    });

    it("shows a judge no other judge's email, ratings or placements", async () => {
      const j1 = await open();
      secrets.push(await asJudge(j1, 1));
      await j1.request('rate-hack', { judgeId: 1, hackId: 3, rating: 11 });
      await j1.request('subscribe-database', {});
      const { database } = await j1.next('update-full');
      assert.deepEqual(Object.keys(database).sort(), Object.keys(db()).sort());
      assert.equal(database.hacks.length, 3);
      assert.equal(database.superlatives.length, 1);
      assert.deepEqual(database.judges, [
        { id: 1, name: 'Judge 1', email: 'judge1@example.org' },
        { id: 2, name: 'Judge 2', email: '' },
        { id: 3, name: 'Judge 3', email: '' },
      ]);
      assert.deepEqual(database.ratings, [{ id: 3, judgeId: 1, hackId: 3, rating: 11 }]);
      assert.deepEqual(database.superlativePlacements, []);
      assert.deepEqual(database.judgeHacks, []);

      // Other judges' later rows never reach judge 1.
      const j2 = await open();
      await j2.request('authenticate', { secret: secrets[0], userId: 2 });
      await j2.request('rate-hack', { judgeId: 2, hackId: 2, rating: 9 });
      await j2.request('rank-superlative', { judgeId: 2, superId: 1, firstId: 3, secondId: 0 });
      await j1.none('update-partial', 300);
    });

    it('lets the admin secret act as a judge, scoped as that judge', async () => {
      const c = await open();
      assert.deepEqual(await c.request('authenticate', { secret: ADMIN_SECRET, userId: 3 }), {
        ok: true,
        userId: 3,
        judgeId: 3,
      });
      assert.deepEqual(await c.next('authenticate-response'), { success: true, userId: 3, judgeId: 3 });
      await c.request('subscribe-database', {});
      const { database } = await c.next('update-full');
      assert.ok(database.ratings.every((r) => r.judgeId === 3));
      assert.deepEqual(
        database.judges.map((j) => j.email),
        ['', '', 'judge3@example.org'],
      );
      // As judge 3 it cannot add hacks.
      const ack = await c.request('add-superlative', { name: 'x' });
      assert.equal(ack.ok, false);
      await c.next('protocol-error');
    });

    it('starts a subscription over with a new full update when the socket re-authenticates', async () => {
      const c = await open();
      await c.request('authenticate', { secret: secrets[0], userId: 2 });
      await c.request('subscribe-database', {});
      const asJudge2 = (await c.next('update-full')).database;
      assert.ok(asJudge2.ratings.length > 0 && asJudge2.ratings.every((r) => r.judgeId === 2));
      await c.request('authenticate', { secret: ADMIN_SECRET, userId: 0 });
      const asAdminView = (await c.next('update-full')).database;
      assert.deepEqual(
        asAdminView.judges.map((j) => j.email),
        ['judge1@example.org', 'judge2@example.org', 'judge3@example.org'],
      );
      assert.ok(new Set(asAdminView.ratings.map((r) => r.judgeId)).size === 3);
    });

    it('never sends a secret in any update', async () => {
      const admin = await asAdmin(await open());
      await admin.request('subscribe-database', {});
      const full = JSON.stringify(await admin.next('update-full'));
      const updates = JSON.stringify(clients.flatMap((c) => c.all.filter((e) => e.event.startsWith('update'))));
      for (const secret of [ADMIN_SECRET, LOGIN_CODE, ...secrets]) {
        assert.ok(!full.includes(secret));
        assert.ok(!updates.includes(secret));
      }
      assert.ok(!/secret/i.test(full), 'no field even mentions a secret');
    });

    it('gives every subscriber the same changes in the same order', async () => {
      const watchers = [await asAdmin(await open()), await asAdmin(await open())];
      const judgeWatcher = await open();
      await judgeWatcher.request('authenticate', { secret: secrets[1], userId: 3 });
      const starts = [];
      for (const w of [...watchers, judgeWatcher]) {
        await w.request('subscribe-database', {});
        starts.push((await w.next('update-full')).database);
      }
      // Three judges rate concurrently, without waiting for each other.
      const writers = [];
      for (const [id, secret] of [[2, secrets[0]], [3, secrets[1]], [1, secrets[2]]]) {
        const w = await open();
        await w.request('authenticate', { secret, userId: id });
        writers.push({ id, w });
      }
      const acks = [];
      for (let round = 1; round <= 20; round++) {
        for (const { id, w } of writers) {
          acks.push(w.request('rate-hack', { judgeId: id, hackId: 1 + (round % 3), rating: round }));
        }
      }
      assert.ok((await Promise.all(acks)).every((a) => a.ok));
      // Give the last partials time to arrive, then compare.
      await new Promise((r) => setTimeout(r, 300));
      const seen = watchers.map((w) => w.pending('update-partial'));
      assert.ok(seen[0].length > 0);
      assert.deepEqual(seen[0], seen[1], 'two admins saw different sequences');
      // Each admin's merge of its partials equals a fresh full update.
      const late = await asAdmin(await open());
      await late.request('subscribe-database', {});
      const truth = (await late.next('update-full')).database;
      for (const [i, w] of watchers.entries()) {
        const built = w.pending('update-partial').reduce((d, p) => merge(d, p.diff), starts[i]);
        assert.deepEqual(built, truth);
      }
      // The judge's merge equals its own scoped truth.
      const judgeTruthSocket = await open();
      await judgeTruthSocket.request('authenticate', { secret: secrets[1], userId: 3 });
      await judgeTruthSocket.request('subscribe-database', {});
      const judgeTruth = (await judgeTruthSocket.next('update-full')).database;
      const judgeBuilt = judgeWatcher.pending('update-partial').reduce((d, p) => merge(d, p.diff), starts[2]);
      assert.deepEqual(judgeBuilt, judgeTruth);
    });

    it('includes every acknowledged change in a later update-full, even under load', async () => {
      const admin = await asAdmin(await open());
      const busy = await asAdmin(await open());
      let flooding = true;
      const flood = (async () => {
        for (let i = 0; flooding; i++) {
          await Promise.all(
            [1, 2, 3].map((judgeId) =>
              busy.request('rate-hack', { judgeId, hackId: 1 + (i % 3), rating: 1 + (i % 20) }),
            ),
          );
        }
      })();
      try {
        for (let round = 0; round < 25; round++) {
          const ack = await admin.request('add-superlative', { name: `Read ${round}` });
          const reader = await asAdmin(await open());
          await reader.request('subscribe-database', {});
          const { database } = await reader.next('update-full');
          assert.ok(
            database.superlatives.some((s) => s.id === ack.superlative.id),
            `superlative ${ack.superlative.id} missing from a later update-full`,
          );
          reader.close();
        }
      } finally {
        flooding = false;
        await flood;
      }
    });

    it("handles one socket's events in the order they were sent", async () => {
      const c = await open();
      // No waiting between events: authenticate must take effect before add-hack.
      const acks = [
        c.request('authenticate', { secret: ADMIN_SECRET, userId: 0 }),
        c.request('add-superlative', { name: 'Ordered 1' }),
        c.request('add-superlative', { name: 'Ordered 2' }),
        c.request('subscribe-database', {}),
      ];
      const [auth, s1, s2, sub] = await Promise.all(acks);
      assert.equal(auth.ok, true);
      assert.equal(s1.ok, true, JSON.stringify(s1));
      assert.equal(s2.superlative.id, s1.superlative.id + 1);
      assert.deepEqual(sub, { ok: true });
      const { database } = await c.next('update-full');
      assert.deepEqual(database.superlatives.slice(-2).map((s) => s.name), ['Ordered 1', 'Ordered 2']);
    });
  });
}
