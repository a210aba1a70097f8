// Speed results against RopeScore's own rules: random heats (one to five
// judges a station, ties, false starts and relay false switches) are run
// through the real server by real clickers (npm ws, draft-2 REGISTER then
// SCORE), and every entry's a, m, R, reskip flag and rank from
// GET /api/speed/results must equal what RopeScore's package
// (@ropescore/rulesets, model ijru.speed@1.0.0) computes from the same
// tallies and deductions.
//
// The heats are drawn from a seed printed at the start; PODIUM_TEST_SEED
// replays one.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import WebSocket from 'ws';

import model, {
  speedJudge,
  speedHeadJudge,
} from '@ropescore/rulesets/models/competition-events/ijru.speed@1.0.0';

import { ADMIN_SECRET, startServer } from './harness.js';

const HEATS = 10;
const MAX_STATIONS = 4;
const MAX_JUDGES = 5;
const RELAY = { name: 'SRSR', switches: 3 };
const SOLO = { name: 'SRSS', switches: 0 };

const seed = Number(process.env.PODIUM_TEST_SEED ?? Math.floor(Math.random() * 2 ** 31));
console.log(`speed heats drawn from seed ${seed} (PODIUM_TEST_SEED=${seed} replays them)`);

/** mulberry32: a small seeded generator, so a failing draw can be replayed. */
function generator(state) {
  return () => {
    state = (state + 0x6d2b79f5) | 0;
    let t = Math.imul(state ^ (state >>> 15), 1 | state);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
const random = generator(seed);
const between = (low, high) => low + Math.floor(random() * (high - low + 1));
const chance = (p) => random() < p;

/** A clicker as the firmware drives it: each SCORE waits for its SCORED. */
class Clicker {
  static async register(url) {
    const ws = new WebSocket(`${url.replace('http', 'ws')}/ws`);
    await new Promise((ok, fail) => {
      ws.once('open', ok);
      ws.once('error', fail);
    });
    const clicker = new Clicker(ws);
    ws.send('REGISTER');
    clicker.id = (await clicker.next()).split(' ')[1];
    return clicker;
  }

  constructor(ws) {
    this.ws = ws;
    this.frames = [];
    this.waiters = [];
    this.msg = 0;
    ws.on('message', (data) => {
      this.frames.push(String(data));
      while (this.waiters.length) this.waiters.shift()();
    });
  }

  async next() {
    while (!this.frames.length) await new Promise((r) => this.waiters.push(r));
    return this.frames.shift();
  }

  /** Shows each count in turn, as the judge's thumb would. */
  async show(...counts) {
    for (const count of counts) {
      this.msg += 1;
      this.ws.send(`SCORE ${this.msg} ${1_700_000_000_000 + this.msg * 137} ${count}`);
      assert.match(await this.next(), new RegExp(`^SCORED ${this.msg} `));
    }
  }

  /** Adds `tally` steps in this heat: a reset, then counting, sometimes with an undo. */
  async count(tally) {
    const clicks = [0];
    if (tally > 0 && chance(0.3)) clicks.push(tally + between(1, 4)); // overshoot, then minus
    if (tally > 0) clicks.push(tally);
    await this.show(...clicks);
  }
}

async function admin(url, path, body) {
  const res = await fetch(`${url}${path}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${ADMIN_SECRET}`, 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const answer = await res.json();
  assert.ok(res.ok, `${path}: ${res.status} ${JSON.stringify(answer)}`);
  return answer;
}

/** One station's draw: tallies (head judge first) and deductions. */
function drawPanel(event, earlier) {
  // Ties: sometimes the very result of an earlier entry of the event.
  const same = earlier.filter((p) => p.event === event);
  if (same.length && chance(0.2)) {
    const copy = same[between(0, same.length - 1)];
    return { ...copy, tallies: [...copy.tallies] };
  }
  const judges = between(1, MAX_JUDGES);
  const base = between(20, 120);
  const tallies = [];
  for (let j = 0; j < judges; j += 1) {
    tallies.push(chance(0.2) ? base : Math.max(0, base + between(-7, 7)));
  }
  return {
    event,
    tallies,
    falseStarts: chance(0.25) ? 1 : 0,
    falseSwitches: event.switches && chance(0.4) ? between(1, event.switches) : 0,
  };
}

/** RopeScore's result of one entry, from the same tallies and deductions. */
function ropescore(entryId, panel, options) {
  const meta = { entryId: String(entryId), participantId: `p${entryId}`, competitionEventId: panel.event.name };
  const headJudge = speedHeadJudge(options);
  const judge = speedJudge(options);
  const judgeResults = panel.tallies.map((step, j) =>
    j === 0
      ? headJudge.calculateJudgeResult({
          meta: { ...meta, judgeId: `j${j}`, judgeTypeId: 'Shj' },
          tally: { step, falseStart: panel.falseStarts, falseSwitch: panel.falseSwitches },
        })
      : judge.calculateJudgeResult({
          meta: { ...meta, judgeId: `j${j}`, judgeTypeId: 'S' },
          tally: { step },
        }),
  );
  return model.calculateEntry(meta, judgeResults, options);
}

const round2 = (x) => Math.round(x * 100) / 100;

let server;
const clickers = [];

before(async () => {
  server = await startServer();
  for (let i = 0; i < MAX_STATIONS * MAX_JUDGES; i += 1) clickers.push(await Clicker.register(server.url));
});

after(async () => {
  for (const c of clickers) c.ws.close();
  await server?.stop();
  server?.cleanup();
});

test('random heats give RopeScore rulesets results, ranks and reskip flags', async () => {
  await admin(server.url, '/api/speed/events', RELAY);
  const panels = new Map(); // entry id -> panel
  for (let heat = 1; heat <= HEATS; heat += 1) {
    const stations = between(1, MAX_STATIONS);
    const drawn = [];
    let next = 0;
    for (let station = 1; station <= stations; station += 1) {
      const event = chance(0.5) ? RELAY : SOLO;
      const panel = drawPanel(event, [...panels.values()]);
      const devices = clickers.slice(next, next + panel.tallies.length).map((c) => c.id);
      const entry = await admin(server.url, '/api/entries', {
        event: event.name,
        heat,
        station,
        name: `Skipper ${heat}-${station}`,
        devices,
        headJudge: devices[0],
      });
      drawn.push({ entry, panel, judges: clickers.slice(next, next + panel.tallies.length) });
      panels.set(entry.id, panel);
      next += panel.tallies.length;
    }
    await admin(server.url, `/api/heats/${heat}/start`);
    await Promise.all(
      drawn.flatMap(({ panel, judges }) => judges.map((clicker, j) => clicker.count(panel.tallies[j]))),
    );
    for (const { entry, panel } of drawn) {
      if (panel.falseStarts || panel.falseSwitches) {
        await admin(server.url, `/api/entries/${entry.id}/deductions`, {
          falseStarts: panel.falseStarts,
          falseSwitches: panel.falseSwitches,
        });
      }
    }
    await admin(server.url, `/api/heats/${heat}/stop`);
  }

  const res = await fetch(`${server.url}/api/speed/results`);
  assert.equal(res.status, 200);
  const { entries } = await res.json();
  assert.equal(entries.length, panels.size);

  let reskips = 0;
  let sharedRanks = 0;
  for (const event of [SOLO, RELAY]) {
    const options = { falseSwitches: event.switches };
    const ours = entries.filter((e) => e.event === event.name);
    const theirs = model.rankEntries(
      ours.map((e) => ropescore(e.id, panels.get(e.id), options)),
      options,
    );
    for (const e of ours) {
      const panel = panels.get(e.id);
      const want = theirs.find((t) => t.meta.entryId === String(e.id));
      const where = `entry ${e.id} (${event.name}, heat ${e.heat}, station ${e.station}), tallies ${panel.tallies}, deductions ${panel.falseStarts}+${panel.falseSwitches}`;
      assert.deepEqual(e.tallies.map((t) => t.tally), panel.tallies, `${where}: the tallies counted`);
      assert.deepEqual(
        { a: e.a, m: e.m, R: e.R, reskip: e.reskip, rank: e.rank },
        {
          a: round2(want.result.a),
          m: round2(want.result.m),
          R: want.result.R,
          reskip: !want.statuses.withinThree,
          rank: want.result.S,
        },
        where,
      );
      if (e.reskip) reskips += 1;
      if (ours.some((o) => o !== e && o.rank === e.rank)) sharedRanks += 1;
    }
  }
  console.log(
    `# ${entries.length} entries in ${HEATS} heats: ${reskips} reskips allowed, ${sharedRanks} sharing a rank`,
  );
});
