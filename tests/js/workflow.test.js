// The organiser's workflow over the HTTP API, watched by socket.io
// subscribers: a Devpost import and a judges import each arrive as one
// update-partial with every row added; an assignment arrives as
// update-partials too, a judge seeing only its own assignments; and the
// HTTP API and socket.io share secrets and views (a secret from socket.io
// login works as a bearer secret; GET /api/state equals the merged view).

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { ADMIN_SECRET, asAdmin, asJudge, db, full, serverPerSuite } from './harness.js';

const here = dirname(fileURLToPath(import.meta.url));
const DEVPOST_SAMPLE = join(here, '..', '..', '..', 'shared', 'fixtures', 'devpost-sample.csv');

/** The shared Devpost sample, or (where it is not checked out) a copy of it. */
function devpostSample() {
  if (existsSync(DEVPOST_SAMPLE)) return readFileSync(DEVPOST_SAMPLE);
  return [
    '\uFEFFProject Title,Submission Url,Project Status,Judging Status,Highest Step Completed,Project Created At,About The Project,"""Try it out"" Links",Video Demo Link,Opt-In Prizes,Built With,Notes,Team Colleges/Universities,Additional Team Member Count',
    'Tally Ho,https://devpost.example/software/tally-ho,Submitted,Pending,Submit,11/01/2026 10:02:11,"Counts things, fast.\nSecond line of the story, with a comma, here.",https://tally.example,https://video.example/1,"Best Hardware Hack, Best Use of Data","rust, esp32",,State University,2',
    'Draft Idea,https://devpost.example/software/draft-idea,Draft,Pending,Details,11/01/2026 11:40:00,Not finished,,,,,,,0',
    'Quiet Room,https://devpost.example/software/quiet-room,Submitted,Pending,Submit,11/01/2026 12:15:48,"A ""library"" for noise maps",,https://video.example/3,Best Use of Data,python,,City College,3',
    '\u00DCber Bus,https://devpost.example/software/uber-bus,Submitted,Pending,Submit,11/01/2026 13:01:02,Transit times in real time,https://bus.example,,,typescript,late,Tech Institute,1',
    '',
  ].join('\r\n');
}

/** Applies a partial diff the way a client merges it: by id. */
function merge(database, diff) {
  const out = {};
  for (const key of Object.keys(database)) {
    const rows = new Map(database[key].map((r) => [r.id, r]));
    for (const row of diff[key]) rows.set(row.id, row);
    out[key] = [...rows.values()].sort((a, b) => a.id - b.id);
  }
  return out;
}

async function api(server, method, path, { secret = ADMIN_SECRET, body, type } = {}) {
  const headers = { authorization: `Bearer ${secret}` };
  if (type) headers['content-type'] = type;
  const res = await fetch(`${server.url}${path}`, { method, headers, body });
  const text = await res.text();
  let json;
  try {
    json = JSON.parse(text);
  } catch {
    json = text;
  }
  return { status: res.status, body: json };
}

for (const version of [4, 2]) {
  describe(`imports and assignment reach socket.io-client ${version} subscribers`, () => {
    let server;

    const { open } = serverPerSuite({ version }, {
      async setup(started) {
        server = started;
      },
    });

    it('sends imports and assignments as update-partials', async () => {
      const admin = await asAdmin(await open());
      assert.deepEqual(await admin.request('subscribe-database', {}), { ok: true });
      let adminView = (await admin.next('update-full')).database;
      assert.deepEqual(adminView, full());

      // Devpost import: one partial with the hacks, prizes and eligibility.
      const csv = devpostSample();
      const imported = await api(server, 'POST', '/api/import/devpost', { body: csv, type: 'text/csv' });
      assert.equal(imported.status, 200, JSON.stringify(imported.body));
      assert.deepEqual(imported.body.hackIds, [1, 2, 3]);
      let { diff } = await admin.next('update-partial');
      assert.deepEqual(
        diff.hacks.map((h) => [h.id, h.name, h.location]),
        [
          [1, 'Tally Ho', 1],
          [2, 'Quiet Room', 2],
          [3, 'Über Bus', 3],
        ],
      );
      assert.deepEqual(diff.superlatives, [
        { id: 1, name: 'Best Hardware Hack' },
        { id: 2, name: 'Best Use of Data' },
      ]);
      assert.deepEqual(diff.superlativeHacks, [
        { id: 1, superlativeId: 1, hackId: 1 },
        { id: 2, superlativeId: 2, hackId: 1 },
        { id: 3, superlativeId: 2, hackId: 2 },
      ]);
      assert.deepEqual(diff.judges, []);
      adminView = merge(adminView, diff);

      // Judges import: one partial with every judge.
      const judges = 'name,email\nAda,ada@example.org\nGrace,grace@example.org\nAlan,alan@example.org\n';
      const added = await api(server, 'POST', '/api/import/judges', { body: judges, type: 'text/csv' });
      assert.equal(added.status, 200, JSON.stringify(added.body));
      ({ diff } = await admin.next('update-partial'));
      assert.deepEqual(
        diff.judges.map((j) => j.email),
        ['ada@example.org', 'grace@example.org', 'alan@example.org'],
      );
      adminView = merge(adminView, diff);

      // A rejected import sends nothing.
      const bad = await api(server, 'POST', '/api/import/judges', {
        body: 'Eve,eve@example.org\nMallory,nope\n',
        type: 'text/csv',
      });
      assert.equal(bad.status, 400);
      assert.equal(bad.body.row, 2);
      await admin.none('update-partial');

      // Judge 2 logs in over socket.io and subscribes.
      const judge = await open();
      const secret = await asJudge(judge, 2);
      assert.deepEqual(await judge.request('subscribe-database', {}), { ok: true });
      let judgeView = (await judge.next('update-full')).database;
      assert.deepEqual(judgeView.judgeHacks, []);
      assert.equal(judgeView.superlativeHacks.length, 3);

      // Assignment: the admin sees every row, the judge only its own.
      const assigned = await api(server, 'POST', '/api/assignments', {
        body: JSON.stringify({ judgesPerHack: 2 }),
        type: 'application/json',
      });
      assert.equal(assigned.status, 200, JSON.stringify(assigned.body));
      assert.equal(assigned.body.created.length, 6);
      ({ diff } = await admin.next('update-partial'));
      assert.equal(diff.judgeHacks.length, 6);
      adminView = merge(adminView, diff);
      ({ diff } = await judge.next('update-partial'));
      assert.ok(diff.judgeHacks.length >= 1);
      assert.ok(diff.judgeHacks.every((r) => r.judgeId === 2), JSON.stringify(diff));
      assert.deepEqual(
        diff.judgeHacks.map((r) => r.priority).sort(),
        [...diff.judgeHacks.keys()],
      );
      judgeView = merge(judgeView, diff);

      // The socket.io secret works over HTTP, and GET /api/state is the
      // same view as the merged updates.
      const state = await api(server, 'GET', '/api/state', { secret });
      assert.equal(state.status, 200);
      assert.deepEqual(state.body, judgeView);
      const all = await api(server, 'GET', '/api/state');
      assert.deepEqual(all.body, adminView);

      // A rating over HTTP reaches the judge's socket as a partial.
      const hackId = judgeView.judgeHacks[0].hackId;
      const rated = await api(server, 'POST', '/api/ratings', {
        secret,
        body: JSON.stringify({ judgeId: 2, hackId, rating: 17 }),
      });
      assert.equal(rated.status, 200, JSON.stringify(rated.body));
      ({ diff } = await judge.next('update-partial'));
      assert.deepEqual(diff.ratings, [{ id: 1, judgeId: 2, hackId, rating: 17 }]);
    });
  });
}
