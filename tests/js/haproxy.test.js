// Two Podium nodes behind HAProxy with the repository's own configuration
// (deploy/haproxy.cfg, addresses swapped for loopback ports): every socket.io
// client variant keeps its session on one node over long-polling and through
// its upgrade, although the nodes are spread by least connections and every
// client shares one address; clickers' WebSockets are spread over both nodes;
// a node that dies is routed around at once. The nodes run with
// --proxy-protocol, as the configuration expects: each sees every client's
// own address (clients here pick theirs among 127.0.0.0/8), so the
// per-address connection limit applies to the client, not to HAProxy.
// The nodes answer to different admin secrets, so an `authenticate` tells
// which node a request reached.

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';

import WebSocket from 'ws';

import { CONFIG, haproxyMissing, startBalancer, startNode } from './balancer.js';
import { ADMIN_SECRET, VARIANTS, connect, localGet } from './harness.js';

const OTHER_SECRET = 'the-other-node-admin-secret-0123456789';
/** Each node's --max-connections-per-ip: above what the other tests hold from 127.0.0.1. */
const PER_ADDRESS = 12;
const NODE_ENV = {
  PODIUM_MAX_CONNECTIONS_PER_IP: String(PER_ADDRESS),
  // The refusal of a clicker connection names the client.
  PODIUM_LOG: 'warn,podium::clicker::upgrade=debug',
};

const missing = haproxyMissing('haproxy.test.js');

/** Which node answered: node1 knows ADMIN_SECRET, node2 OTHER_SECRET. */
async function nodeOf(client) {
  const ack = await client.request('authenticate', { secret: ADMIN_SECRET, userId: 0 });
  return ack.ok ? 'node1' : 'node2';
}

/** A clicker-protocol client over a WebSocket (npm ws). */
class Clicker {
  /** `localAddress`: the client's own address (any of 127.0.0.0/8 on Linux). */
  static open(url, localAddress) {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(url, { localAddress });
      const clicker = new Clicker(ws);
      ws.once('open', () => resolve(clicker));
      ws.once('unexpected-response', (_, res) => reject(new Error(`refused: HTTP ${res.statusCode}`)));
      ws.once('error', reject);
    });
  }

  constructor(ws) {
    this.ws = ws;
    this.frames = [];
    this.waiting = null;
    ws.on('message', (data) => {
      this.frames.push(data.toString());
      this.waiting?.();
    });
  }

  /** Sends `command`; the next text frame. */
  async ask(command) {
    this.ws.send(command);
    const deadline = Date.now() + 10_000;
    while (!this.frames.length) {
      assert.ok(Date.now() < deadline, `no answer to ${command}`);
      await new Promise((r) => {
        this.waiting = r;
        setTimeout(r, 100);
      });
    }
    return this.frames.shift();
  }

  close() {
    this.ws.close();
  }
}

describe('deploy/haproxy.cfg', { skip: missing }, () => {
  let nodes;
  let balancer;

  before(async () => {
    nodes = [
      await startNode({ env: NODE_ENV }),
      await startNode({ env: { ...NODE_ENV, PODIUM_ADMIN_SECRET: OTHER_SECRET } }),
    ];
    balancer = await startBalancer(nodes);
  });

  after(async () => {
    await balancer?.stop();
    for (const node of nodes ?? []) {
      await node.stop();
      node.cleanup();
    }
  });

  it('passes haproxy -c as committed', () => {
    const check = spawnSync('haproxy', ['-c', '-f', CONFIG], { encoding: 'utf8' });
    assert.equal(check.status, 0, check.stdout + check.stderr);
  });

  const variants = [
    ...VARIANTS,
    { name: 'socket.io-client 4 (long-polling only, withCredentials)', version: 4, transports: ['polling'], withCredentials: true },
  ];
  it('keeps every client variant on one node, with clients spread over both', async () => {
    const clients = [];
    const seen = new Set();
    try {
      // Earlier clients stay open, so least connections spreads the later ones.
      for (const { name, version, transports, withCredentials } of variants) {
        const client = await connect(balancer, { version, transports, withCredentials });
        clients.push(client);
        const node = await nodeOf(client);
        for (let i = 0; i < 4; i++) {
          assert.equal(await nodeOf(client), node, `${name}: a request reached the other node`);
        }
        seen.add(node);
      }
    } finally {
      for (const c of clients) c.close();
    }
    assert.deepEqual([...seen].sort(), ['node1', 'node2'], 'clients were spread over both nodes');
  });

  it('spreads clickers over both nodes, each scoring through HAProxy', async () => {
    const clickers = [];
    try {
      for (let i = 0; i < 6; i++) {
        const clicker = await Clicker.open(`${balancer.url.replace('http', 'ws')}/ws`);
        clickers.push(clicker);
        assert.match(await clicker.ask('REGISTER'), /^REGISTERED \d+ [0-9a-f]+$/);
        assert.equal(await clicker.ask('SCORE 1 1'), 'SCORED 1');
      }
      // Each node's own /metrics (not through HAProxy) counts its clickers.
      const counts = [];
      for (const node of nodes) {
        const metrics = (await localGet(node.url, '/metrics')).body;
        counts.push(Number(/^podium_connections\{protocol="clicker"\} (\d+)$/m.exec(metrics)?.[1]));
      }
      assert.equal(counts[0] + counts[1], 6, `clickers on the nodes: ${counts}`);
      assert.ok(counts[0] >= 1 && counts[1] >= 1, `least connections spreads clickers: ${counts}`);
    } finally {
      for (const c of clickers) c.close();
    }
  });

  it("passes each client's own address to the nodes (PROXY protocol)", async () => {
    const ws = `${balancer.url.replace('http', 'ws')}/ws`;
    const clickers = [];
    try {
      // Both nodes full for 127.0.0.2: PER_ADDRESS on each (least
      // connections fills them in turn)...
      for (let i = 0; i < 2 * PER_ADDRESS; i++) clickers.push(await Clicker.open(ws, '127.0.0.2'));
      await assert.rejects(Clicker.open(ws, '127.0.0.2'), /HTTP 429/, '127.0.0.2 is over its limit on both nodes');
      // ...and not for another client behind the same HAProxy.
      const other = await Clicker.open(ws, '127.0.0.3');
      clickers.push(other);
      assert.match(await other.ask('REGISTER'), /^REGISTERED \d+ [0-9a-f]+$/);
      // A node's log names the client, not HAProxy (127.0.0.1).
      const refusals = nodes
        .flatMap((n) => n.output().split('\n'))
        .filter((line) => line.includes('clicker connection refused'));
      assert.ok(refusals.length >= 1, 'a refusal was logged');
      for (const line of refusals) assert.match(line, /peer=127\.0\.0\.2:\d+/, line);
    } finally {
      for (const c of clickers) c.close();
    }
  });

  it('closes connections to a node that come without a PROXY protocol header', async () => {
    await assert.rejects(fetch(`${nodes[0].url}/healthz`));
    assert.equal((await localGet(nodes[0].url, '/healthz')).status, 200);
  });

  it('routes new clients to the surviving node at once when one dies', async () => {
    await nodes[1].kill9();
    const clients = [];
    try {
      for (let i = 0; i < 4; i++) {
        for (const { version, transports } of [VARIANTS[0], VARIANTS[3]]) {
          const client = await connect(balancer, { version, transports });
          clients.push(client);
          assert.equal(await nodeOf(client), 'node1');
        }
      }
    } finally {
      for (const c of clients) c.close();
    }
  });
});
