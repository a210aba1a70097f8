// The whole judging flow, once per client variant: the admin adds hacks,
// judges and a superlative; judges log in, authenticate, rate and rank; a
// subscribed admin sees every change as a partial update with exactly the
// changed rows; each judge sees only its own share.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';

import {
  VARIANTS,
  ADMIN_SECRET,
  LOGIN_CODE,
  asAdmin,
  asJudge,
  db,
  full,
  serverPerSuite,
} from './harness.js';

for (const variant of VARIANTS) {
  describe(`judging flow with ${variant.name}`, () => {
    let server;

    const { open, clients } = serverPerSuite(variant, {
      // Debug logging, so the test can check no secret is ever logged.
      log: 'debug',
      async setup(started) {
        server = started;
      },
    });

    it('runs a competition end to end', async () => {
      const admin = await asAdmin(await open());
      assert.deepEqual(await admin.request('subscribe-database', {}), { ok: true });
      assert.deepEqual(await admin.next('update-full'), { database: full() });

      // Hacks.
      const hack1 = { id: 1, name: 'Tally Ho', description: 'Counts things.', location: 12 };
      const hack2 = { id: 2, name: 'Dropbear', description: 'Multi\nline', location: 0 };
      for (const hack of [hack1, hack2]) {
        const { id, ...payload } = hack;
        assert.deepEqual(await admin.request('add-hack', payload), { ok: true, hack });
        assert.deepEqual(await admin.next('update-partial'), { diff: db({ hacks: [hack] }) });
      }

      // Judges.
      const judge1 = { id: 1, name: 'Ada Lovelace', email: 'ada@example.org' };
      const judge2 = { id: 2, name: 'Grace Hopper', email: 'grace@example.org' };
      for (const judge of [judge1, judge2]) {
        const { id, ...payload } = judge;
        assert.deepEqual(await admin.request('add-judge', payload), { ok: true, judge });
        assert.deepEqual(await admin.next('update-partial'), { diff: db({ judges: [judge] }) });
      }

      // A superlative, sent without asking for an acknowledgement.
      const best = { id: 1, name: 'Best hardware hack' };
      admin.emit('add-superlative', { name: best.name });
      assert.deepEqual(await admin.next('update-partial'), { diff: db({ superlatives: [best] }) });

      // Judge 1 logs in, authenticates and subscribes: it sees every hack and
      // superlative, both judges' names, and only its own email. No hack is
      // its own yet (assigned, rated or placed), so none comes with its story.
      const j1 = await open();
      const secret1 = await asJudge(j1, 1);
      assert.deepEqual(await j1.request('subscribe-database', {}), { ok: true });
      const j1View = await j1.next('update-full');
      assert.deepEqual(j1View, {
        database: full({
          hacks: [hack1, hack2].map((h) => ({ ...h, description: '' })),
          judges: [judge1, { ...judge2, email: '' }],
          superlatives: [best],
        }),
      });

      const j2 = await open();
      const secret2 = await asJudge(j2, 2);
      assert.notEqual(secret1, secret2);
      assert.deepEqual(await j2.request('subscribe-database', {}), { ok: true });
      assert.deepEqual((await j2.next('update-full')).database.judges, [
        { ...judge1, email: '' },
        judge2,
      ]);

      // Ratings: the admin and the rating judge see the row, the other judge nothing.
      const rating = { id: 1, judgeId: 1, hackId: 1, rating: 15 };
      assert.deepEqual(
        await j1.request('rate-hack', { judgeId: 1, hackId: 1, rating: 15 }),
        { ok: true, rating },
      );
      assert.deepEqual(await admin.next('update-partial'), { diff: db({ ratings: [rating] }) });
      // Rated, the hack is judge 1's own: its story comes along.
      assert.deepEqual(await j1.next('update-partial'), { diff: db({ hacks: [hack1], ratings: [rating] }) });

      // Rating again replaces the rating and keeps the row id.
      const rerated = { ...rating, rating: 18 };
      assert.deepEqual(
        await j1.request('rate-hack', { judgeId: 1, hackId: 1, rating: 18 }),
        { ok: true, rating: rerated },
      );
      assert.deepEqual(await admin.next('update-partial'), { diff: db({ ratings: [rerated] }) });
      assert.deepEqual(await j1.next('update-partial'), { diff: db({ ratings: [rerated] }) });

      const rating2 = { id: 2, judgeId: 2, hackId: 2, rating: 20 };
      assert.deepEqual(
        await j2.request('rate-hack', { judgeId: 2, hackId: 2, rating: 20 }),
        { ok: true, rating: rating2 },
      );
      assert.deepEqual(await admin.next('update-partial'), { diff: db({ ratings: [rating2] }) });
      assert.deepEqual(await j2.next('update-partial'), { diff: db({ hacks: [hack2], ratings: [rating2] }) });

      // Superlative placements, replaced in place on re-ranking.
      const placement = {
        id: 1,
        judgeId: 1,
        superlativeId: 1,
        firstChoiceId: 1,
        secondChoiceId: 2,
      };
      assert.deepEqual(
        await j1.request('rank-superlative', { judgeId: 1, superId: 1, firstId: 1, secondId: 2 }),
        { ok: true, superlativePlacement: placement },
      );
      assert.deepEqual(await admin.next('update-partial'), {
        diff: db({ superlativePlacements: [placement] }),
      });
      assert.deepEqual(await j1.next('update-partial'), {
        diff: db({ hacks: [hack2], superlativePlacements: [placement] }),
      });
      const reranked = { ...placement, firstChoiceId: 2, secondChoiceId: 0 };
      assert.deepEqual(
        await j1.request('rank-superlative', { judgeId: 1, superId: 1, firstId: 2, secondId: 0 }),
        { ok: true, superlativePlacement: reranked },
      );
      assert.deepEqual(await admin.next('update-partial'), {
        diff: db({ superlativePlacements: [reranked] }),
      });
      assert.deepEqual(await j1.next('update-partial'), {
        diff: db({ superlativePlacements: [reranked] }),
      });
      // Both choices "not chosen" is allowed.
      const none = { ...placement, id: 2, judgeId: 2, firstChoiceId: 0, secondChoiceId: 0 };
      assert.deepEqual(
        await j2.request('rank-superlative', { judgeId: 2, superId: 1, firstId: 0, secondId: 0 }),
        { ok: true, superlativePlacement: none },
      );
      assert.deepEqual(await admin.next('update-partial'), {
        diff: db({ superlativePlacements: [none] }),
      });
      assert.deepEqual(await j2.next('update-partial'), {
        diff: db({ superlativePlacements: [none] }),
      });

      // The admin may act for any judge.
      const byAdmin = { id: 3, judgeId: 2, hackId: 1, rating: 1 };
      assert.deepEqual(
        await admin.request('rate-hack', { judgeId: 2, hackId: 1, rating: 1 }),
        { ok: true, rating: byAdmin },
      );
      assert.deepEqual(await admin.next('update-partial'), { diff: db({ ratings: [byAdmin] }) });
      assert.deepEqual(await j2.next('update-partial'), { diff: db({ hacks: [hack1], ratings: [byAdmin] }) });

      // A new judge reaches the judges with a blank email.
      const judge3 = { id: 3, name: 'Katherine Johnson', email: 'kj@example.org' };
      await admin.request('add-judge', { name: judge3.name, email: judge3.email });
      assert.deepEqual(await admin.next('update-partial'), { diff: db({ judges: [judge3] }) });
      for (const judge of [j1, j2]) {
        assert.deepEqual(await judge.next('update-partial'), {
          diff: db({ judges: [{ ...judge3, email: '' }] }),
        });
      }

      // Nothing else was sent: judge 1 never heard of judge 2's rows.
      await admin.none('update-partial');
      await j1.none('update-partial', 0);
      await j2.none('update-partial', 0);
      for (const c of [admin, j1, j2]) {
        assert.deepEqual(c.pending('protocol-error'), []);
      }

      // A late subscriber's full update matches what the partials built.
      const late = await asAdmin(await open());
      await late.request('subscribe-database', {});
      assert.deepEqual(await late.next('update-full'), {
        database: full({
          hacks: [hack1, hack2],
          judges: [judge1, judge2, judge3],
          superlatives: [best],
          ratings: [rerated, rating2, byAdmin],
          superlativePlacements: [reranked, none],
        }),
      });

      // No secret ever appears in an update or in the server's log.
      const everything = JSON.stringify(clients.map((c) => c.all.filter((e) => e.event.startsWith('update'))));
      const log = server.output();
      assert.ok(log.length > 0, 'debug logging produced output');
      for (const secret of [ADMIN_SECRET, LOGIN_CODE, secret1, secret2]) {
        assert.ok(!everything.includes(secret), 'a secret appeared in an update');
        assert.ok(!log.includes(secret), 'a secret appeared in the server log');
      }
    });
  });
}
