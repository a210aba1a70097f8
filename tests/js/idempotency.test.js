// Idempotency keys over socket.io (issue 25): a write event repeated with
// the same `idempotencyKey` answers the first acknowledgement and changes
// nothing, with the official clients 2 and 4; a repeat on a new connection
// (as after a reconnect) too; a key reused for another payload is refused.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';

import { ADMIN_SECRET, startServer, connect, asAdmin, asJudge } from './harness.js';

async function state(server) {
  const r = await fetch(`${server.url}/api/state`, {
    headers: { authorization: `Bearer ${ADMIN_SECRET}` },
  });
  assert.equal(r.status, 200);
  return r.json();
}

describe('idempotency keys over socket.io', () => {
  for (const version of [4, 2]) {
    it(`a repeated rate-hack answers the first ack and stores one rating (socket.io ${version})`, async () => {
      const server = await startServer();
      try {
        const admin = await asAdmin(await connect(server, { version }));
        for (const n of [1, 2]) {
          const hack = await admin.request('add-hack', { name: `Hack ${n}`, description: '', location: n, idempotencyKey: `hack-${n}` });
          assert.equal(hack.ok, true, JSON.stringify(hack));
        }
        const judgeAdded = await admin.request('add-judge', { name: 'Ada', email: 'ada@example.org', idempotencyKey: 'judge-1' });
        assert.equal(judgeAdded.ok, true, JSON.stringify(judgeAdded));
        // The admin's add-hack repeated adds no second hack.
        const hackAgain = await admin.request('add-hack', { name: 'Hack 1', description: '', location: 1, idempotencyKey: 'hack-1' });
        assert.equal(hackAgain.ok, true);
        assert.equal(hackAgain.hack.id, 1);

        const judge = await connect(server, { version });
        await asJudge(judge, 1);
        const rate = { judgeId: 1, hackId: 2, rating: 14, idempotencyKey: 'offline-action-1' };
        const first = await judge.request('rate-hack', rate);
        assert.equal(first.ok, true, JSON.stringify(first));
        const second = await judge.request('rate-hack', rate);
        assert.deepEqual(second, first);

        // The phone reconnects and sends its queue again.
        judge.close();
        const again = await connect(server, { version });
        await asJudge(again, 1);
        const third = await again.request('rate-hack', rate);
        assert.deepEqual(third, first);

        const reused = await again.request('rate-hack', { ...rate, rating: 3 });
        assert.equal(reused.ok, false, JSON.stringify(reused));
        assert.match(reused.error.message, /already used by this caller for a different request/);

        const s = await state(server);
        assert.equal(s.hacks.length, 2);
        assert.deepEqual(
          s.ratings.map((r) => [r.judgeId, r.hackId, r.rating]),
          [[1, 2, 14]],
        );
        admin.close();
        again.close();
      } finally {
        await server.stop();
        server.cleanup();
      }
    });
  }
});
