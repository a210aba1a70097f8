// A judge gets what a judge needs: in its update-full (and GET /api/state),
// only the hacks on its route or that it rated carry their stories; every
// other hack comes with an empty description but its id, name and table. A
// hack added later reaches judges without its story, and one that becomes a
// judge's own (rated for it here) comes again whole. Driven with the
// official socket.io clients 4 and 2, long-polling then WebSocket, and with
// node's fetch (which asks for gzip and brotli) for the HTTP view.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';

import { ADMIN_SECRET, asAdmin, asJudge, serverPerSuite } from './harness.js';

const story = (i) => `## Inspiration\nThe story of hack ${i}, with "quotes" and commas.`;

async function http(server, path, { secret = ADMIN_SECRET, method = 'GET', body } = {}) {
  const res = await fetch(`${server.url}${path}`, {
    method,
    headers: { Authorization: `Bearer ${secret}`, 'Content-Type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  assert.ok(res.ok, `${method} ${path}: ${res.status}`);
  return { json: await res.json(), encoding: res.headers.get('content-encoding') };
}

for (const version of [4, 2]) {
  describe(`stories only for a judge's own hacks, socket.io-client ${version}`, () => {
    let server;

    const { open } = serverPerSuite({ version }, {
      async setup(started) {
        server = started;
      },
    });

    it('sends each judge the stories of its route only', async () => {
      const admin = await asAdmin(await open());
      for (let i = 1; i <= 6; i++) {
        await admin.request('add-hack', { name: `Hack ${i}`, description: story(i), location: 10 + i });
      }
      for (let i = 1; i <= 3; i++) {
        await admin.request('add-judge', { name: `Judge ${i}`, email: `judge${i}@example.org` });
      }
      await http(server, '/api/assignments', { method: 'POST', body: { judgesPerHack: 1 } });
      const { json: all } = await http(server, '/api/state');
      const route = new Set(all.judgeHacks.filter((a) => a.judgeId === 1).map((a) => a.hackId));
      assert.ok(route.size > 0 && route.size < 6, `judge 1 visits ${[...route]}`);

      const j1 = await open();
      const secret = await asJudge(j1, 1);
      await j1.request('subscribe-database', {});
      const { database } = await j1.next('update-full');
      assert.equal(database.hacks.length, 6);
      for (const hack of database.hacks) {
        assert.equal(hack.name, `Hack ${hack.id}`);
        assert.equal(hack.location, 10 + hack.id);
        assert.equal(hack.description, route.has(hack.id) ? story(hack.id) : '', `hack ${hack.id}`);
      }
      // GET /api/state, compressed on the wire, says the same.
      const mine = await http(server, '/api/state', { secret });
      assert.ok(['br', 'gzip'].includes(mine.encoding), `content-encoding ${mine.encoding}`);
      assert.deepEqual(mine.json, database);

      // A new hack: no story for judge 1, which is not assigned to it.
      const late = { id: 7, name: 'Late', description: story(7), location: 70 };
      await admin.request('add-hack', { name: late.name, description: late.description, location: late.location });
      assert.deepEqual((await j1.next('update-partial')).diff.hacks, [{ ...late, description: '' }]);

      // Rated for judge 1, a hack off its route becomes its own: its story follows.
      const other = all.hacks.find((h) => !route.has(h.id));
      await admin.request('rate-hack', { judgeId: 1, hackId: other.id, rating: 12 });
      const { diff } = await j1.next('update-partial');
      assert.equal(diff.ratings[0].hackId, other.id);
      assert.deepEqual(diff.hacks, [other]);
      // The admin has had every story all along.
      assert.ok(all.hacks.every((h) => h.description === story(h.id)));
    });
  });
}
