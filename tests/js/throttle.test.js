// Repeated failed logins and authentications from one address are slowed
// down: the first three failures cost nothing, then each attempt waits a
// delay that doubles (250 ms, 500 ms, ...), right or wrong.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';

import { ADMIN_SECRET, LOGIN_CODE, startServer, connect, asAdmin } from './harness.js';

async function timed(promise) {
  const started = performance.now();
  const value = await promise;
  return { value, ms: performance.now() - started };
}

describe('throttling of guesses', () => {
  it('delays attempts after three failures from one address', async () => {
    const server = await startServer();
    try {
      const admin = await asAdmin(await connect(server));
      await admin.request('add-judge', { name: 'Ada', email: 'ada@example.org' });
      const guesser = await connect(server);
      for (let i = 0; i < 3; i++) {
        const { value, ms } = await timed(guesser.request('login', { judgeId: 1, loginCode: `guess-${i}` }));
        assert.equal(value.ok, false);
        assert.ok(ms < 200, `free attempt ${i} took ${ms} ms`);
      }
      // A wrong secret counts too, and is itself delayed now.
      const fourth = await timed(guesser.request('authenticate', { secret: 'guess', userId: 0 }));
      assert.equal(fourth.value.ok, false);
      assert.ok(fourth.ms >= 240, `4th attempt answered after ${fourth.ms} ms`);
      // The right code is delayed just the same, so timing reveals nothing.
      const fifth = await timed(guesser.request('login', { judgeId: 1, loginCode: LOGIN_CODE }));
      assert.equal(fifth.value.ok, true);
      assert.ok(fifth.ms >= 490, `5th attempt answered after ${fifth.ms} ms`);
      // Another socket from the same address waits as well.
      const other = await connect(server);
      const sixth = await timed(other.request('authenticate', { secret: ADMIN_SECRET, userId: 0 }));
      assert.equal(sixth.value.ok, true);
      assert.ok(sixth.ms >= 490, `other socket answered after ${sixth.ms} ms`);
      // Requests that are not guesses are not slowed.
      const quick = await timed(admin.request('add-superlative', { name: 'Best' }));
      assert.ok(quick.ms < 200);
      for (const c of [admin, guesser, other]) c.close();
    } finally {
      await server.stop();
      server.cleanup();
    }
  });
});
