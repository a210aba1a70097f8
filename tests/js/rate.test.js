// Each socket is held to an event rate (--sledge-rate, --sledge-burst):
// events over it are refused with a protocol-error and an error
// acknowledgement and not acted on, other sockets carry on, and a socket
// that stays over the rate for 5 s is disconnected.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';

import { ADMIN_SECRET, startServer, connect, asAdmin, sleep } from './harness.js';

const RATE = { PODIUM_SLEDGE_RATE: '10', PODIUM_SLEDGE_BURST: '10' };

describe('event rate per socket', () => {
  for (const version of [4, 2]) {
    it(`refuses events over the rate and keeps other sockets going (socket.io ${version})`, async () => {
      const server = await startServer({ env: RATE });
      try {
        const flooder = await asAdmin(await connect(server, { version }));
        // The burst of 10 has one event spent on authenticate: of 30 sent
        // at once, the first 9 are added and the rest refused.
        const acks = await Promise.all(
          Array.from({ length: 30 }, (_, i) => flooder.request('add-superlative', { name: `Prize ${i}` })),
        );
        const accepted = acks.filter((a) => a.ok);
        const refused = acks.filter((a) => !a.ok);
        assert.ok(accepted.length >= 9 && accepted.length <= 11, `accepted ${accepted.length}`);
        assert.equal(accepted.length + refused.length, 30);
        for (const ack of refused) {
          assert.equal(ack.error.original, 'add-superlative');
          assert.match(ack.error.message, /^rate limit exceeded: at most 10 events a second \(bursts of 10\); this event was dropped/);
        }
        const error = await flooder.next('protocol-error');
        assert.match(error.message, /rate limit exceeded/);

        // Another socket has its own budget.
        const other = await asAdmin(await connect(server, { version }));
        const ok = await other.request('add-superlative', { name: 'Other' });
        assert.equal(ok.ok, true, JSON.stringify(ok));

        // Refused events were not acted on: only the accepted ones exist.
        const state = await fetch(`${server.url}/api/state`, {
          headers: { authorization: `Bearer ${ADMIN_SECRET}` },
        }).then((r) => r.json());
        assert.equal(state.superlatives.length, accepted.length + 1);

        // A second later the flooder may send again.
        await sleep(1100);
        const again = await flooder.request('add-superlative', { name: 'Later' });
        assert.equal(again.ok, true, JSON.stringify(again));
        flooder.close();
        other.close();
      } finally {
        await server.stop();
        server.cleanup();
      }
    });
  }

  it('disconnects a socket that stays over the rate for 5 s', async () => {
    const server = await startServer({ env: RATE });
    try {
      const flooder = await connect(server);
      const gone = new Promise((resolve) => flooder.socket.on('disconnect', resolve));
      const bystander = await asAdmin(await connect(server));
      const started = Date.now();
      let reason = null;
      gone.then((r) => (reason = r));
      // 100 events a second, ten times the rate, until the server hangs up.
      while (reason === null && Date.now() - started < 15_000) {
        flooder.emit('no-such-event');
        await sleep(10);
      }
      const elapsed = Date.now() - started;
      assert.equal(reason, 'io server disconnect');
      assert.ok(elapsed >= 4500 && elapsed < 10_000, `disconnected after ${elapsed} ms`);
      // The bystander on the same address never noticed.
      const ok = await bystander.request('add-superlative', { name: 'Still here' });
      assert.equal(ok.ok, true, JSON.stringify(ok));
      bystander.close();
    } finally {
      await server.stop();
      server.cleanup();
    }
  });
});
