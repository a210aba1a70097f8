// A rolling restart of a two-node cluster (one PostgreSQL database) behind
// the real HAProxy with deploy/haproxy.cfg, under load, as
// docs/cluster.md's "Upgrading a cluster, node by node" does it: node 1 gets
// SIGTERM, drains and exits 0, is started again (the "new version") and is
// back in HAProxy; then node 2 the same. Meanwhile clickers (npm ws) send
// SCOREs as fast as they are acknowledged, and reconnect and REGISTER again
// with their secret when closed, as RopeScore's firmware does; judges
// (socket.io-client 4 and 2, one of them on long-polling only) rate hacks
// in a loop and reconnect by themselves. Asserted: every acknowledged SCORE
// and rating is stored (read back through the API), nothing is refused but
// while a connection closes, and every client is back within 5 s of losing
// its connection. The figures are printed.

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';

import WebSocket from 'ws';
import { io as ioV4 } from 'socket.io-client';
import ioV2 from 'socket.io-client-v2';

import { haproxyMissing, startBalancer, startNode } from './balancer.js';
import { ADMIN_SECRET, LOGIN_CODE, asAdmin, connect, freshDatabase, localGet, sleep } from './harness.js';

const FILE = 'rolling_restart.test.js';
const noHaproxy = haproxyMissing(FILE);
const noPostgres = !process.env.PODIUM_TEST_DATABASE_URL;
if (noPostgres && process.env.CI) {
  throw new Error(`${FILE} needs PostgreSQL: set PODIUM_TEST_DATABASE_URL (scripts/test does)`);
}
if (noPostgres) {
  console.error(
    `SKIPPED ${FILE}: it needs PostgreSQL; set PODIUM_TEST_DATABASE_URL ` +
      '(scripts/postgres start DIR prints one) or run scripts/test',
  );
}

const CLICKERS = 6;
const JUDGES = [
  { version: 4 },
  { version: 4 },
  { version: 2 },
  { version: 2 },
  { version: 4, transports: ['polling'] },
];
const HACKS = 200;
/** The longest a client may be without a connection. */
const RECONNECT_WITHIN_MS = 5_000;
/** Acknowledgements every client must get between two steps. */
const PROGRESS = 20;
/**
 * The nodes run as deployed (the drain delay of cluster mode, 5 s), except
 * that the per-connection rate limits are off: the clients here send far
 * faster than a real clicker or judge.
 */
const NODE_ENV = {
  PODIUM_DRAIN_DELAY_SECS: null,
  PODIUM_CLICKER_RATE: '0',
  PODIUM_SLEDGE_RATE: '0',
};
/** What a socket.io request sent while the node closes gets (src/sledge/session.rs). */
const RESTARTING = /^the server is restarting: nothing was changed/;

/** Which step of the test a reconnect happened in. */
let phase = 'start';

/**
 * A clicker: REGISTERs (with its secret after the first time), then sends
 * one SCORE after another, each once the previous one is acknowledged; on
 * a close it connects again after 100 ms and sends the unanswered SCORE
 * again.
 */
class FloodClicker {
  constructor(url) {
    this.url = `${url.replace('http', 'ws')}/ws`;
    this.id = null;
    this.secret = null;
    this.next = 1;
    this.outstanding = null;
    this.acked = new Set();
    this.refused = [];
    this.unanswered = 0;
    this.closes = [];
    this.reconnects = [];
    this.failedAttempts = 0;
    this.errors = [];
    this.lostAt = null;
    this.stopping = false;
  }

  connect() {
    const ws = new WebSocket(this.url);
    this.ws = ws;
    let opened = false;
    ws.on('open', () => {
      opened = true;
      ws.send(this.secret ? `REGISTER ${this.secret}` : 'REGISTER');
    });
    ws.on('message', (data) => this.onMessage(String(data)));
    // A close follows every error.
    ws.on('error', () => {});
    ws.on('close', (code, reason) => {
      if (!opened) {
        this.failedAttempts++;
      } else {
        this.closes.push({ code, reason: String(reason), phase });
        if (this.outstanding !== null) this.unanswered++;
      }
      if (this.stopping) return;
      this.lostAt ??= Date.now();
      setTimeout(() => this.connect(), 100);
    });
  }

  onMessage(text) {
    if (text.startsWith('REGISTERED ')) {
      const [, id, secret] = text.split(' ');
      if (this.id !== null && id !== this.id) this.errors.push(`registered again as ${id}, was ${this.id}`);
      this.id = id;
      this.secret = secret;
      if (this.lostAt !== null) {
        this.reconnects.push({ ms: Date.now() - this.lostAt, phase });
        this.lostAt = null;
      }
      this.send();
    } else if (text.startsWith('SCORED ')) {
      const t = Number(text.slice('SCORED '.length));
      if (t !== this.outstanding) {
        this.errors.push(`${text} while ${this.outstanding} was outstanding`);
        return;
      }
      this.acked.add(t);
      this.outstanding = null;
      this.send();
    } else if (text.startsWith('ERROR ')) {
      this.refused.push({ text, phase });
      setTimeout(() => this.send(), 100);
    } else {
      this.errors.push(`unexpected frame: ${text}`);
    }
  }

  send() {
    if (this.stopping || this.ws.readyState !== WebSocket.OPEN) return;
    this.outstanding ??= this.next++;
    // Score and timestamp alike: each SCORE its own timestamp.
    this.ws.send(`SCORE ${this.outstanding} ${this.outstanding}`);
  }

  get progress() {
    return this.acked.size;
  }

  get connected() {
    return this.lostAt === null && this.id !== null;
  }

  async stop() {
    this.stopping = true;
    const deadline = Date.now() + 10_000;
    while (this.outstanding !== null && this.ws.readyState === WebSocket.OPEN && Date.now() < deadline) {
      await sleep(20);
    }
    const closed = new Promise((r) => this.ws.once('close', r));
    this.ws.close();
    if (this.ws.readyState !== WebSocket.CLOSED) await closed;
  }
}

/**
 * A judge's page: authenticates on every (re)connection, then rates hacks
 * one after another, each once the previous one is acknowledged; a refused
 * rating is sent again, and one unanswered when the connection went is
 * sent again after the reconnection. socket.io reconnects by itself.
 */
class FloodJudge {
  constructor(url, judgeId, secret, hacks, { version, transports }) {
    this.url = url;
    this.judgeId = judgeId;
    this.secret = secret;
    this.hacks = hacks;
    this.version = version;
    this.transports = transports;
    this.name = `judge ${judgeId} (socket.io-client ${version}${transports ? `, ${transports.join('+')}` : ''})`;
    this.k = 0;
    this.acked = 0;
    /** The last acknowledged rating of each hack. */
    this.last = new Map();
    this.refused = [];
    this.unanswered = 0;
    this.timeouts = 0;
    this.disconnects = [];
    this.reconnects = [];
    this.errors = [];
    this.lostAt = null;
    this.ready = false;
    this.generation = 0;
    this.pending = null;
    this.stopping = false;
  }

  start() {
    const options = { forceNew: true };
    if (this.transports) options.transports = this.transports;
    this.socket = this.version === 2 ? ioV2(this.url, options) : ioV4(this.url, options);
    this.socket.on('connect', () => this.onConnect());
    this.socket.on('disconnect', (reason) => this.onDisconnect(reason));
  }

  async onConnect() {
    const generation = ++this.generation;
    let ack;
    try {
      ack = await this.request('authenticate', { secret: this.secret, userId: this.judgeId });
    } catch {
      return; // Gone again: the next connection authenticates.
    }
    if (!ack?.ok) {
      this.errors.push(`authenticate refused: ${JSON.stringify(ack)}`);
      return;
    }
    if (this.lostAt !== null) {
      this.reconnects.push({ ms: Date.now() - this.lostAt, phase });
      this.lostAt = null;
    }
    this.ready = true;
    this.rate(generation);
  }

  onDisconnect(reason) {
    this.generation++;
    this.ready = false;
    if (this.stopping) return;
    this.disconnects.push({ reason, phase });
    this.lostAt ??= Date.now();
    if (this.pending) {
      this.unanswered++;
      this.pending.fail(new Error('disconnected'));
    }
    // Nothing queued while away is sent on the next connection before it
    // authenticates.
    this.socket.sendBuffer = [];
  }

  async rate(generation) {
    while (generation === this.generation && !this.stopping) {
      const hackId = this.hacks[this.k % this.hacks.length];
      const rating = 1 + ((Math.floor(this.k / this.hacks.length) + this.judgeId) % 20);
      let ack;
      try {
        ack = await this.request('rate-hack', { judgeId: this.judgeId, hackId, rating });
      } catch (e) {
        if (e.message === 'disconnected') return;
        this.timeouts++;
        continue;
      }
      if (ack.ok) {
        this.acked++;
        this.last.set(hackId, rating);
        this.k++;
      } else {
        this.refused.push({ message: ack.error?.message, phase });
        await sleep(100);
      }
    }
  }

  /** Emits with an acknowledgement: it, or an error on a disconnect or after 10 s. */
  request(event, payload) {
    return new Promise((resolve, reject) => {
      const pending = {
        fail: (e) => {
          clearTimeout(pending.timer);
          this.pending = null;
          reject(e);
        },
      };
      pending.timer = setTimeout(() => pending.fail(new Error(`no acknowledgement of ${event} within 10 s`)), 10_000);
      this.pending = pending;
      this.socket.emit(event, payload, (ack) => {
        if (this.pending !== pending) return;
        clearTimeout(pending.timer);
        this.pending = null;
        resolve(ack);
      });
    });
  }

  get progress() {
    return this.acked;
  }

  get connected() {
    return this.ready;
  }

  async stop() {
    this.stopping = true;
    const deadline = Date.now() + 10_000;
    while (this.pending && Date.now() < deadline) await sleep(20);
    this.socket.close();
  }
}

/** Waits until `condition()` holds; fails after `ms` saying `what`. */
async function until(condition, ms, what) {
  const deadline = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`${what} within ${ms} ms`);
    await sleep(50);
  }
}

describe('rolling restart of two nodes behind HAProxy', { skip: noHaproxy || noPostgres }, () => {
  let database;
  const nodes = [];
  /** The nodes as first started: they own the data directories. */
  const firsts = [];
  let balancer;
  const clickers = [];
  const judges = [];

  before(async () => {
    database = freshDatabase();
    nodes.push(await startNode({ databaseUrl: database, env: NODE_ENV }));
    nodes.push(await startNode({ databaseUrl: database, env: NODE_ENV }));
    firsts.push(...nodes);
    balancer = await startBalancer(nodes);
  });

  after(async () => {
    for (const client of [...clickers, ...judges]) {
      client.stopping = true;
      client.ws?.terminate();
      client.socket?.close();
    }
    await balancer?.stop();
    for (const node of nodes) await node.stop();
    for (const node of firsts) node.cleanup();
  });

  it('loses nothing acknowledged, refuses nothing but while closing, and has every client back within 5 s', async () => {
    // The judging the judges rate.
    const admin = await asAdmin(await connect(balancer));
    const hacks = [];
    for (let i = 1; i <= HACKS; i++) {
      const ack = await admin.request('add-hack', { name: `Hack ${i}`, description: '', location: i });
      assert.equal(ack.ok, true, JSON.stringify(ack));
      hacks.push(ack.hack.id);
    }
    for (const [i, variant] of JUDGES.entries()) {
      const added = await admin.request('add-judge', { name: `Judge ${i + 1}`, email: `judge${i + 1}@example.org` });
      assert.equal(added.ok, true, JSON.stringify(added));
      const login = await admin.request('login', { judgeId: added.judge.id, loginCode: LOGIN_CODE });
      assert.equal(login.ok, true, JSON.stringify(login));
      judges.push(new FloodJudge(balancer.url, added.judge.id, login.secret, hacks, variant));
    }
    admin.close();

    for (let i = 0; i < CLICKERS; i++) clickers.push(new FloodClicker(balancer.url));
    for (const clicker of clickers) clicker.connect();
    for (const judge of judges) judge.start();
    const clients = [...clickers, ...judges];
    const progressed = (from) => clients.every((c, i) => c.connected && c.progress >= from[i] + PROGRESS);
    const snapshot = () => clients.map((c) => c.progress);
    const started = snapshot();
    await until(() => progressed(started), 30_000, 'every client acknowledged 20 times');

    const drains = [];
    for (const n of [1, 2]) {
      phase = `node${n}`;
      const node = nodes[n - 1];
      const before = snapshot();
      const signalled = Date.now();
      const exited = node.stop();
      // While it drains it still serves, but tells HAProxy it is leaving.
      let health;
      for (;;) {
        health = await localGet(node.url, '/healthz');
        if (health.status !== 200 || Date.now() - signalled > 4_000) break;
        await sleep(20);
      }
      assert.equal(health.status, 503, health.body);
      assert.match(health.body, /^draining: /);
      let down = null;
      const watch = (async () => {
        while (down === null && node.proc.exitCode === null) {
          if ((await balancer.status(n)) === 'DOWN') down = Date.now() - signalled;
          await sleep(100);
        }
      })();
      const { code, signal } = await exited;
      await watch;
      assert.equal(code, 0, `node${n} exit (signal ${signal}):\n${node.output()}`);
      drains.push({ node: n, exitMs: Date.now() - signalled, downMs: down });
      // The "new version": the same node, address and database.
      nodes[n - 1] = await startNode({ dataDir: node.dataDir, port: node.port, databaseUrl: database, env: NODE_ENV });
      await balancer.waitFor(n, 'UP');
      await until(() => progressed(before), 30_000, `every client acknowledged 20 more times after node${n}'s restart`);
    }
    phase = 'end';
    await Promise.all(clients.map((c) => c.stop()));

    // What the cluster stored, read back through HAProxy.
    const headers = { authorization: `Bearer ${ADMIN_SECRET}` };
    const state = await (await fetch(`${balancer.url}/api/state`, { headers })).json();
    const stored = new Map(state.ratings.map((r) => [`${r.judgeId}/${r.hackId}`, r.rating]));
    const ratings = { acknowledged: 0, pairs: 0, stored: 0, lost: [], refused: [], unanswered: 0, timeouts: 0 };
    for (const judge of judges) {
      ratings.acknowledged += judge.acked;
      ratings.unanswered += judge.unanswered;
      ratings.timeouts += judge.timeouts;
      ratings.refused.push(...judge.refused);
      for (const [hackId, rating] of judge.last) {
        ratings.pairs++;
        const key = `${judge.judgeId}/${hackId}`;
        if (stored.get(key) === rating) ratings.stored++;
        else ratings.lost.push(`${key}: acknowledged ${rating}, stored ${stored.get(key)}`);
      }
    }
    const scores = { acknowledged: 0, stored: 0, lost: [], refused: [], unanswered: 0 };
    for (const clicker of clickers) {
      const rows = await (await fetch(`${balancer.url}/api/clicker/devices/${clicker.id}/scores`)).json();
      const timestamps = new Set(rows.map((r) => Number(r.timestamp)));
      scores.acknowledged += clicker.acked.size;
      scores.unanswered += clicker.unanswered;
      scores.refused.push(...clicker.refused);
      for (const t of clicker.acked) {
        if (timestamps.has(t)) scores.stored++;
        else scores.lost.push(`${clicker.id}@${t}`);
      }
    }
    const reconnects = clients.flatMap((c) => c.reconnects.map((r) => ({ ...r, who: c.name ?? `clicker ${c.id}` })));
    const longest = reconnects.reduce((a, b) => (b.ms > (a?.ms ?? -1) ? b : a), null);
    const disconnectReasons = [...new Set(judges.flatMap((j) => j.disconnects.map((d) => d.reason)))];
    const closeCodes = [...new Set(clickers.flatMap((c) => c.closes.filter((x) => x.phase !== 'end').map((x) => x.code)))];
    console.log(
      [
        'rolling restart of 2 nodes behind HAProxy, under load:',
        `  SCOREs (${CLICKERS} clickers): acknowledged ${scores.acknowledged}, stored ${scores.stored}, lost ${scores.lost.length}, ` +
          `refused ${scores.refused.length}, unanswered at a close and sent again ${scores.unanswered}`,
        `  ratings (${JUDGES.length} judges): acknowledged ${ratings.acknowledged} (${ratings.pairs} judge/hack pairs), ` +
          `stored ${ratings.stored} pairs, lost ${ratings.lost.length}, refused while closing ${ratings.refused.length}, ` +
          `unanswered at a disconnect and sent again ${ratings.unanswered}`,
        `  reconnects ${reconnects.length}, longest ${longest?.ms ?? 0} ms (${longest?.who ?? '-'}, ${longest?.phase ?? '-'}); ` +
          `clicker close codes ${JSON.stringify(closeCodes)}, socket.io disconnect reasons ${JSON.stringify(disconnectReasons)}`,
        ...drains.map(
          (d) => `  node${d.node}: exit ${d.exitMs} ms after SIGTERM; DOWN in HAProxy after ${d.downMs ?? 'never seen'} ms`,
        ),
      ].join('\n'),
    );

    for (const client of clients) assert.deepEqual(client.errors, [], client.name ?? `clicker ${client.id}`);
    assert.deepEqual(scores.lost, [], 'acknowledged SCOREs lost');
    assert.deepEqual(ratings.lost, [], 'acknowledged ratings lost');
    assert.equal(scores.stored, scores.acknowledged);
    assert.equal(ratings.stored, ratings.pairs);
    assert.deepEqual(scores.refused, [], 'SCOREs refused');
    for (const r of ratings.refused) assert.match(r.message, RESTARTING, `a rating refused in ${r.phase}`);
    assert.equal(ratings.timeouts, 0, 'ratings without an answer on a live connection');
    // Clickers were told "service restart", never cut off.
    assert.deepEqual(closeCodes, [1012]);
    // Both restarts moved clients, and every one came back in time.
    for (const n of [1, 2]) {
      assert.ok(reconnects.some((r) => r.phase === `node${n}`), `node${n}'s restart moved no client`);
    }
    assert.ok(longest.ms < RECONNECT_WITHIN_MS, `${longest.who} took ${longest.ms} ms to reconnect (${longest.phase})`);
  });
});
