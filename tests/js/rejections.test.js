// Every kind of rejected input gets a protocol-error {original, message} (and
// an error acknowledgement), and changes nothing: a subscribed admin hears no
// update, and the database is the same afterwards. Run with both clients.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';

import {
  ADMIN_SECRET,
  LOGIN_CODE,
  asAdmin,
  asJudge,
  expectRefusal,
  serverPerSuite,
} from './harness.js';

for (const version of [4, 2]) {
  describe(`rejections with socket.io-client ${version}`, () => {
    let admin;
    let watcher;
    let judge;
    let before_;

    const { open } = serverPerSuite({ version }, {
      async setup() {
        admin = await asAdmin(await open());
        await admin.request('add-hack', { name: 'Tally', description: '', location: 1 });
        await admin.request('add-hack', { name: 'Dropbear', description: '', location: 2 });
        await admin.request('add-judge', { name: 'Ada', email: 'Ada@Example.org' });
        await admin.request('add-judge', { name: 'Grace', email: 'grace@example.org' });
        await admin.request('add-superlative', { name: 'Best' });
        judge = await open();
        await asJudge(judge, 1);
        watcher = await asAdmin(await open());
        await watcher.request('subscribe-database', {});
        before_ = await watcher.next('update-full');
      },
      async teardown() {
        // Nothing that was refused reached the database or any subscriber.
        await watcher.none('update-partial', 200);
        await watcher.request('subscribe-database', {});
        assert.deepEqual(await watcher.next('update-full'), before_);
      },
    });

    it('refuses an unknown event', async () => {
      const e = await expectRefusal(admin, 'delete-hack', [{ id: 1 }], /unknown event "delete-hack"/);
      assert.match(e.message, /add-hack/);
      // Also without a payload, and without asking for an acknowledgement.
      admin.emit('frobnicate');
      assert.deepEqual(await admin.next('protocol-error'), {
        original: 'frobnicate',
        message: e.message.replace('delete-hack', 'frobnicate'),
      });
    });

    it('refuses a missing, null or non-object payload', async () => {
      await expectRefusal(admin, 'add-superlative', [], /add-superlative takes one JSON object .* got nothing/);
      await expectRefusal(admin, 'add-superlative', [null], /got nothing \(or null\)/);
      await expectRefusal(admin, 'add-hack', ['Tally'], /got a string/);
      await expectRefusal(admin, 'add-hack', [[1, 2]], /got an array/);
      await expectRefusal(admin, 'subscribe-database', [7], /got a number/);
    });

    it('refuses a missing field', async () => {
      await expectRefusal(
        admin,
        'add-hack',
        [{ name: 'x', description: '' }],
        /missing field `location`.*"location": integer/,
      );
      await expectRefusal(admin, 'authenticate', [{ userId: 0 }], /missing field `secret`/);
    });

    it('refuses wrong types', async () => {
      await expectRefusal(
        admin,
        'add-hack',
        [{ name: 'x', description: '', location: '3' }],
        /invalid type: string "3", expected i64/,
      );
      await expectRefusal(admin, 'add-judge', [{ name: 5, email: 'a@b.co' }], /invalid type: integer `5`, expected a string/);
      await expectRefusal(admin, 'rate-hack', [{ judgeId: '1', hackId: 1, rating: 5 }], /invalid type: string "1"/);
      await expectRefusal(admin, 'rate-hack', [{ judgeId: 1, hackId: 1, rating: true }], /invalid type: boolean/);
    });

    it('refuses a fractional number where an integer belongs', async () => {
      await expectRefusal(
        admin,
        'rate-hack',
        [{ judgeId: 1, hackId: 1, rating: 1.5 }],
        /invalid type: floating point `1.5`, expected i64/,
      );
      await expectRefusal(
        admin,
        'rank-superlative',
        [{ judgeId: 1, superId: 1, firstId: 0.5, secondId: 0 }],
        /floating point `0.5`/,
      );
    });

    it('refuses unknown fields', async () => {
      await expectRefusal(admin, 'add-superlative', [{ name: 'x', prize: 100 }], /unknown field `prize`, expected `name`/);
      await expectRefusal(admin, 'subscribe-database', [{ everything: true }], /unknown field `everything`/);
      await expectRefusal(
        admin,
        'rate-hack',
        [{ judgeId: 1, hackId: 1, rating: 5, comment: 'nice' }],
        /unknown field `comment`/,
      );
    });

    it('refuses negative ids', async () => {
      await expectRefusal(admin, 'rate-hack', [{ judgeId: 1, hackId: -1, rating: 5 }], /hackId must be an integer >= 0; got -1/);
      await expectRefusal(admin, 'login', [{ judgeId: 0, loginCode: LOGIN_CODE }], /judgeId must be an integer >= 1; got 0/);
    });

    it('refuses out-of-range ratings', async () => {
      for (const rating of [0, 21, -5, 1000]) {
        await expectRefusal(
          admin,
          'rate-hack',
          [{ judgeId: 1, hackId: 1, rating }],
          new RegExp(`rating ${rating} is out of range: a rating is an integer from 1 to 20`),
        );
      }
    });

    it('refuses references to nothing', async () => {
      await expectRefusal(admin, 'rate-hack', [{ judgeId: 99, hackId: 1, rating: 5 }], /judge 99 does not exist/);
      await expectRefusal(admin, 'rate-hack', [{ judgeId: 1, hackId: 42, rating: 5 }], /hack 42 does not exist/);
      await expectRefusal(
        admin,
        'rank-superlative',
        [{ judgeId: 1, superId: 9, firstId: 1, secondId: 2 }],
        /superlative 9 does not exist/,
      );
      await expectRefusal(
        admin,
        'rank-superlative',
        [{ judgeId: 1, superId: 1, firstId: 77, secondId: 0 }],
        /firstId 77 names no hack/,
      );
      await expectRefusal(
        admin,
        'rank-superlative',
        [{ judgeId: 1, superId: 1, firstId: 1, secondId: 78 }],
        /secondId 78 names no hack/,
      );
      await expectRefusal(admin, 'login', [{ judgeId: 50, loginCode: LOGIN_CODE }], /judge 50 does not exist/);
    });

    it('refuses the same hack as first and second choice', async () => {
      await expectRefusal(
        judge,
        'rank-superlative',
        [{ judgeId: 1, superId: 1, firstId: 2, secondId: 2 }],
        /firstId and secondId are both 2: the first and second choice must be different hacks/,
      );
    });

    it('refuses a duplicate judge email, ignoring case', async () => {
      await expectRefusal(
        admin,
        'add-judge',
        [{ name: 'Ada again', email: 'ada@EXAMPLE.org' }],
        /judge 1 already has the email "ada@EXAMPLE.org"/,
      );
    });

    it('refuses names over the limit, empty names and implausible emails', async () => {
      await expectRefusal(
        admin,
        'add-hack',
        [{ name: 'x'.repeat(201), description: '', location: 1 }],
        /name is 201 characters long; the limit is 200/,
      );
      await expectRefusal(admin, 'add-superlative', [{ name: '   ' }], /name must not be empty/);
      await expectRefusal(
        admin,
        'add-hack',
        [{ name: 'ok', description: 'd'.repeat(10_001), location: 1 }],
        /description is 10001 characters long; the limit is 10000/,
      );
      await expectRefusal(admin, 'add-hack', [{ name: 'ok', description: '', location: -3 }], /location -3 is out of range/);
      for (const email of ['not-an-email', 'a@b', 'two@@example.org', 'spa ce@example.org']) {
        await expectRefusal(admin, 'add-judge', [{ name: 'Bob', email }], /is not a plausible address/);
      }
    });

    it('refuses privileged requests from an unauthenticated socket', async () => {
      const anon = await open();
      await expectRefusal(
        anon,
        'add-hack',
        [{ name: 'x', description: '', location: 1 }],
        /add-hack may only be sent by the admin, and this socket is not authenticated/,
      );
      await expectRefusal(anon, 'rate-hack', [{ judgeId: 1, hackId: 1, rating: 5 }], /needs an authenticated socket/);
      await expectRefusal(anon, 'subscribe-database', [{}], /subscribe-database needs an authenticated socket/);
      await anon.none('update-full', 0);
    });

    it('refuses admin requests from a judge', async () => {
      await expectRefusal(
        judge,
        'add-hack',
        [{ name: 'x', description: '', location: 1 }],
        /add-hack may only be sent by the admin, and this socket is authenticated as judge 1/,
      );
      await expectRefusal(judge, 'add-judge', [{ name: 'x', email: 'x@example.org' }], /may only be sent by the admin/);
      await expectRefusal(judge, 'add-superlative', [{ name: 'x' }], /may only be sent by the admin/);
    });

    it('refuses a judge acting as another judge', async () => {
      await expectRefusal(
        judge,
        'rate-hack',
        [{ judgeId: 2, hackId: 1, rating: 5 }],
        /authenticated as judge 1 and cannot rate-hack as judge 2: judgeId must be 1/,
      );
      await expectRefusal(
        judge,
        'rank-superlative',
        [{ judgeId: 2, superId: 1, firstId: 1, secondId: 0 }],
        /cannot rank-superlative as judge 2/,
      );
    });

    it('answers a wrong login code with login-response {success: false}', async () => {
      const anon = await open();
      const ack = await anon.request('login', { judgeId: 1, loginCode: 'guess' });
      assert.deepEqual(ack, {
        ok: false,
        error: {
          original: 'login',
          message: 'the login code is wrong: ask the organiser for the current code',
        },
      });
      assert.deepEqual(await anon.next('login-response'), { success: false });
      await anon.none('protocol-error', 100);
    });

    it('answers a wrong secret with protocol-error and authenticate-response {success: false}', async () => {
      const anon = await open();
      await expectRefusal(
        anon,
        'authenticate',
        [{ secret: 'not-the-secret', userId: 0 }],
        /the secret is not valid for userId 0/,
      );
      assert.deepEqual(await anon.next('authenticate-response'), { success: false });
      // The login code is not a secret for authenticate.
      await expectRefusal(anon, 'authenticate', [{ secret: LOGIN_CODE, userId: 1 }], /not valid for userId 1/);
      assert.deepEqual(await anon.next('authenticate-response'), { success: false });
      // Still anonymous.
      await expectRefusal(anon, 'subscribe-database', [{}], /needs an authenticated socket/);
    });

    it('sends protocol-error before a failed authenticate-response, as SledgeClient needs', async () => {
      // HackRU's 2018 SledgeClient emits authenticate without an
      // acknowledgement and closes its socket on authenticate-response
      // {success: false}: the reason must already be there by then.
      const client = await open();
      const closedOnFailure = new Promise((resolve) => {
        client.socket.on('authenticate-response', (response) => {
          if (!response.success) {
            client.close();
            resolve();
          }
        });
      });
      client.emit('authenticate', { secret: 'not-the-secret', userId: 0 });
      await closedOnFailure;
      assert.deepEqual(
        client.all.map((e) => e.event),
        ['protocol-error', 'authenticate-response'],
      );
      assert.equal(client.all[0].data.original, 'authenticate');
      assert.match(client.all[0].data.message, /the secret is not valid for userId 0/);
      assert.deepEqual(client.all[1].data, { success: false });
    });

    it("refuses one judge's secret for another judge, and keeps the identity it had", async () => {
      const other = await open();
      const login = await other.request('login', { judgeId: 2, loginCode: LOGIN_CODE });
      await other.next('login-response');
      await expectRefusal(other, 'authenticate', [{ secret: login.secret, userId: 1 }], /not valid for userId 1/);
      assert.deepEqual(await other.next('authenticate-response'), { success: false });
      // The judge's secret does not make it the admin either.
      await expectRefusal(other, 'authenticate', [{ secret: login.secret, userId: 0 }], /not valid for userId 0/);
      await other.next('authenticate-response');
      // A failed attempt leaves the socket as it was: judge 1 stays judge 1.
      await expectRefusal(judge, 'authenticate', [{ secret: 'wrong', userId: 2 }], /not valid for userId 2/);
      await judge.next('authenticate-response');
      await expectRefusal(judge, 'rate-hack', [{ judgeId: 2, hackId: 1, rating: 3 }], /authenticated as judge 1/);
    });

    it('refuses the admin secret for a judge that does not exist', async () => {
      const anon = await open();
      await expectRefusal(anon, 'authenticate', [{ secret: ADMIN_SECRET, userId: 40 }], /judge 40 does not exist/);
      assert.deepEqual(await anon.next('authenticate-response'), { success: false });
    });
  });
}
