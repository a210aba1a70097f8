// The judging floor over socket.io, with every client variant: a judge marks
// a team absent (`mark-absent`) and keeps notes (`note-hack`); the organiser
// pauses judging over HTTP and every subscriber sees it live; while paused,
// ratings, placements and absences are refused with `protocol-error` and
// change nothing; a later rating clears the hack's absences. Throughout, a
// judge never sees another judge's absences or notes.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';

import {
  ADMIN_SECRET,
  VARIANTS,
  asAdmin,
  asJudge,
  db,
  expectRefusal,
  serverPerSuite,
} from './harness.js';

const PAUSED = /judging is paused by the organiser: ratings, placements and absences are not taken until judging resumes; nothing was changed/;

async function http(server, method, path, body) {
  const res = await fetch(`${server.url}${path}`, {
    method,
    headers: { authorization: `Bearer ${ADMIN_SECRET}` },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const json = await res.json();
  assert.ok(res.ok, `${method} ${path}: ${res.status} ${JSON.stringify(json)}`);
  return json;
}

for (const variant of VARIANTS) {
  describe(`judging floor with ${variant.name}`, () => {
    let server;

    const { open } = serverPerSuite(variant, {
      async setup(started) {
        server = started;
        for (let i = 1; i <= 3; i++) {
          await http(server, 'POST', '/api/hacks', { name: `Hack ${i}`, description: '', location: i });
        }
        for (let i = 1; i <= 2; i++) {
          await http(server, 'POST', '/api/judges', { name: `Judge ${i}`, email: `j${i}@example.org` });
        }
        await http(server, 'POST', '/api/superlatives', { name: 'Best' });
        // Both judges visit every hack, each in table order (1, 2, 3 or a rotation).
        await http(server, 'POST', '/api/assignments', { judgesPerHack: 2 });
      },
    });

    it('marks absences, keeps notes, pauses and resumes, scoped per judge', async () => {
      const admin = await asAdmin(await open());
      const j1 = await open();
      await asJudge(j1, 1);
      const j2 = await open();
      await asJudge(j2, 2);
      for (const c of [admin, j1, j2]) {
        assert.deepEqual(await c.request('subscribe-database', {}), { ok: true });
      }
      const full1 = (await j1.next('update-full')).database;
      assert.deepEqual(full1.judgingStatus, [{ id: 1, paused: false }]);
      assert.deepEqual(full1.absences, []);
      assert.deepEqual(full1.notes, []);
      await admin.next('update-full');
      await j2.next('update-full');
      const route1 = full1.judgeHacks.sort((a, b) => a.priority - b.priority);
      const first = route1[0];

      // Judge 1 finds nobody at its first table: the hack goes to the end.
      const ack = await j1.request('mark-absent', { judgeId: 1, hackId: first.hackId });
      assert.deepEqual(ack, {
        ok: true,
        absence: { id: 1, judgeId: 1, hackId: first.hackId, active: true },
      });
      const moved = { ...first, priority: route1[route1.length - 1].priority + 1 };
      const expected = db({ absences: [ack.absence], judgeHacks: [moved] });
      assert.deepEqual(await j1.next('update-partial'), { diff: expected });
      assert.deepEqual(await admin.next('update-partial'), { diff: expected });

      // A note, private to judge 1 and the admin.
      const noted = await j1.request('note-hack', { judgeId: 1, hackId: 2, text: 'ask about\nthe battery' });
      assert.deepEqual(noted, {
        ok: true,
        note: { id: 1, judgeId: 1, hackId: 2, text: 'ask about\nthe battery' },
      });
      assert.deepEqual(await j1.next('update-partial'), { diff: db({ notes: [noted.note] }) });
      assert.deepEqual(await admin.next('update-partial'), { diff: db({ notes: [noted.note] }) });
      await j2.none('update-partial');

      // A judge cannot mark or note for another; payloads are checked.
      await expectRefusal(j2, 'mark-absent', [{ judgeId: 1, hackId: 3 }], /authenticated as judge 2 and cannot mark-absent as judge 1/);
      await expectRefusal(j2, 'note-hack', [{ judgeId: 2, hackId: 3, text: 'x'.repeat(2001) }], /text is 2001 characters long; the limit is 2000/);
      await expectRefusal(j2, 'mark-absent', [{ judgeId: 2, hackId: 3, why: 'gone' }], /mark-absent payload: unknown field `why`/);

      // The organiser pauses: everyone sees it live.
      await http(server, 'POST', '/api/judging/pause');
      const paused = { diff: db({ judgingStatus: [{ id: 1, paused: true }] }) };
      for (const c of [admin, j1, j2]) assert.deepEqual(await c.next('update-partial'), paused);

      // While paused: ratings, placements and absences are refused, by a
      // judge and by the admin, and nothing changes.
      const before = await http(server, 'GET', '/api/state');
      await expectRefusal(j2, 'rate-hack', [{ judgeId: 2, hackId: 1, rating: 12 }], PAUSED);
      await expectRefusal(j2, 'rank-superlative', [{ judgeId: 2, superId: 1, firstId: 1, secondId: 2 }], PAUSED);
      await expectRefusal(j2, 'mark-absent', [{ judgeId: 2, hackId: first.hackId }], PAUSED);
      await expectRefusal(admin, 'rate-hack', [{ judgeId: 1, hackId: 3, rating: 5 }], PAUSED);
      assert.deepEqual(await http(server, 'GET', '/api/state'), before);
      // Notes still go in.
      const pausedNote = await j2.request('note-hack', { judgeId: 2, hackId: 1, text: 'waiting' });
      assert.equal(pausedNote.ok, true);
      assert.deepEqual(await j2.next('update-partial'), { diff: db({ notes: [pausedNote.note] }) });
      await admin.next('update-partial');
      await j1.none('update-partial');

      // Resumed: judge 2 finds the same team away; the hack is flagged.
      await http(server, 'POST', '/api/judging/resume');
      for (const c of [admin, j1, j2]) {
        assert.deepEqual(await c.next('update-partial'), { diff: db({ judgingStatus: [{ id: 1, paused: false }] }) });
      }
      const second = await j2.request('mark-absent', { judgeId: 2, hackId: first.hackId });
      assert.equal(second.ok, true);
      const j2diff = (await j2.next('update-partial')).diff;
      assert.deepEqual(j2diff.absences, [second.absence]);
      await admin.next('update-partial');
      await j1.none('update-partial');
      const floor = await http(server, 'GET', '/api/floor');
      const flagged = floor.hacks.find((h) => h.hackId === first.hackId);
      assert.deepEqual([flagged.absentBy, flagged.flagged], [[1, 2], true]);

      // The team is back after all: judge 1 rates it, which clears both
      // absences; each judge hears only about its own.
      const rated = await j1.request('rate-hack', { judgeId: 1, hackId: first.hackId, rating: 15 });
      assert.equal(rated.ok, true);
      assert.deepEqual(await j1.next('update-partial'), {
        diff: db({ ratings: [rated.rating], absences: [{ ...ack.absence, active: false }] }),
      });
      assert.deepEqual(await j2.next('update-partial'), {
        diff: db({ absences: [{ ...second.absence, active: false }] }),
      });
      const adminDiff = (await admin.next('update-partial')).diff;
      assert.equal(adminDiff.absences.length, 2);
      const after = await http(server, 'GET', '/api/floor');
      assert.equal(after.hacks.find((h) => h.hackId === first.hackId).flagged, false);

      // Judge 2's whole view holds none of judge 1's absences or notes.
      j2.emit('subscribe-database', {});
      const view2 = (await j2.next('update-full')).database;
      assert.ok(view2.absences.every((a) => a.judgeId === 2));
      assert.deepEqual(view2.notes, [pausedNote.note]);
    });
  });
}
