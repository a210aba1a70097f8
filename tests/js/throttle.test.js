// Wrong guesses are budgeted, never delayed: each judge at an address has
// 10 wrong codes (then one every 2 minutes), each address 300 (then 300 an
// hour). A right code is answered at once whatever others at the same
// address mistyped; once a budget is spent, attempts on it are refused
// unchecked, right or wrong, so the refusal reveals nothing.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';

import { ADMIN_SECRET, LOGIN_CODE, startServer, connect, asAdmin } from './harness.js';

async function timed(promise) {
  const started = performance.now();
  const value = await promise;
  return { value, ms: performance.now() - started };
}

describe('throttling of guesses', () => {
  it('spends a judge\'s budget on its wrong codes without slowing anyone', async () => {
    const server = await startServer();
    try {
      const admin = await asAdmin(await connect(server));
      await admin.request('add-judge', { name: 'Ada', email: 'ada@example.org' });
      await admin.request('add-judge', { name: 'Grace', email: 'grace@example.org' });
      const guesser = await connect(server);
      // Ten wrong codes for judge 1: each answered "wrong" at once.
      for (let i = 0; i < 10; i++) {
        const { value, ms } = await timed(guesser.request('login', { judgeId: 1, loginCode: `guess-${i}` }));
        assert.equal(value.ok, false);
        assert.match(value.error.message, /the login code is wrong/);
        assert.ok(ms < 200, `wrong attempt ${i} took ${ms} ms`);
      }
      // The eleventh for judge 1 is refused unchecked, and so is the right
      // code for judge 1 from this address (no answer tells them apart).
      const eleventh = await timed(guesser.request('login', { judgeId: 1, loginCode: 'guess-10' }));
      assert.equal(eleventh.value.ok, false);
      assert.match(eleventh.value.error.message, /too many failed attempts from your address for judge 1: wait \d+s/);
      assert.ok(eleventh.ms < 200, `a refusal took ${eleventh.ms} ms`);
      const right = await guesser.request('login', { judgeId: 1, loginCode: LOGIN_CODE });
      assert.equal(right.ok, false);
      assert.match(right.error.message, /too many failed attempts/);
      // Another judge at the same address signs in at once.
      const other = await connect(server);
      const grace = await timed(other.request('login', { judgeId: 2, loginCode: LOGIN_CODE }));
      assert.equal(grace.value.ok, true);
      assert.ok(grace.ms < 200, `judge 2's right code took ${grace.ms} ms`);
      // A wrong admin secret counts against the address, is told as wrong,
      // and does not slow the right one.
      const wrongSecret = await timed(other.request('authenticate', { secret: 'guess', userId: 0 }));
      assert.equal(wrongSecret.value.ok, false);
      assert.ok(wrongSecret.ms < 200);
      const rightSecret = await timed(other.request('authenticate', { secret: ADMIN_SECRET, userId: 0 }));
      assert.equal(rightSecret.value.ok, true);
      assert.ok(rightSecret.ms < 200, `the admin secret took ${rightSecret.ms} ms`);
      for (const c of [admin, guesser, other]) c.close();
    } finally {
      await server.stop();
      server.cleanup();
    }
  });
});
