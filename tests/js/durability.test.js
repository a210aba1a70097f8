// What the server confirmed survives a crash: rate, get the acknowledgement,
// kill -9 the server, restart it on the same data directory, and the rating
// and the judge's secret are still there. Also: a graceful stop with clients
// connected over both transports ends promptly.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';

import { startServer, connect, asAdmin, asJudge, db, full } from './harness.js';

for (const version of [4, 2]) {
  describe(`durability with socket.io-client ${version}`, () => {
    it('keeps acknowledged changes and issued secrets across kill -9', async () => {
      const first = await startServer();
      const admin = await asAdmin(await connect(first, { version }));
      await admin.request('add-hack', { name: 'Tally', description: 'd', location: 3 });
      await admin.request('add-judge', { name: 'Ada', email: 'ada@example.org' });
      await admin.request('add-superlative', { name: 'Best' });
      const judge = await connect(first, { version });
      const secret = await asJudge(judge, 1);
      const rated = await judge.request('rate-hack', { judgeId: 1, hackId: 1, rating: 17 });
      assert.deepEqual(rated, { ok: true, rating: { id: 1, judgeId: 1, hackId: 1, rating: 17 } });
      const ranked = await judge.request('rank-superlative', { judgeId: 1, superId: 1, firstId: 1, secondId: 0 });
      assert.equal(ranked.ok, true);
      // Crash right after the acknowledgement.
      const { signal } = await first.kill9();
      assert.equal(signal, 'SIGKILL');
      admin.close();
      judge.close();

      const second = await startServer({ dataDir: first.dataDir });
      try {
        const again = await connect(second, { version });
        assert.deepEqual(await again.request('authenticate', { secret, userId: 1 }), {
          ok: true,
          userId: 1,
          judgeId: 1,
        });
        await again.request('subscribe-database', {});
        assert.deepEqual(await again.next('update-full'), {
          database: full({
            hacks: [{ id: 1, name: 'Tally', description: 'd', location: 3 }],
            judges: [{ id: 1, name: 'Ada', email: 'ada@example.org' }],
            superlatives: [{ id: 1, name: 'Best' }],
            ratings: [{ id: 1, judgeId: 1, hackId: 1, rating: 17 }],
            superlativePlacements: [
              { id: 1, judgeId: 1, superlativeId: 1, firstChoiceId: 1, secondChoiceId: 0 },
            ],
          }),
        });
        // Re-rating after the restart still keeps the row id.
        const rerated = await again.request('rate-hack', { judgeId: 1, hackId: 1, rating: 2 });
        assert.deepEqual(rerated.rating, { id: 1, judgeId: 1, hackId: 1, rating: 2 });
        again.close();
      } finally {
        await second.stop();
        first.cleanup();
      }
    });
  });
}

describe('shutdown', () => {
  it('stops promptly with socket.io clients connected over every transport', async () => {
    const server = await startServer();
    const clients = [
      await connect(server, { version: 4, transports: ['polling'] }),
      await connect(server, { version: 2, transports: ['polling'] }),
      await connect(server, { version: 4, transports: ['websocket'] }),
      await connect(server, { version: 2 }),
    ];
    const admin = await asAdmin(clients[0]);
    await admin.request('subscribe-database', {});
    await admin.next('update-full');
    const disconnected = clients.map(
      (c) => new Promise((r) => c.socket.once('disconnect', r)),
    );
    const started = Date.now();
    const { code } = await server.stop();
    assert.equal(code, 0, server.output());
    assert.ok(Date.now() - started < 5000, `stop took ${Date.now() - started} ms`);
    let timer;
    await Promise.race([
      Promise.all(disconnected),
      new Promise((_, fail) => {
        timer = setTimeout(() => fail(new Error('clients not disconnected')), 10_000);
      }),
    ]);
    clearTimeout(timer);
    server.cleanup();
  });
});
