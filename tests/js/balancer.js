// The real HAProxy with the repository's own configuration
// (deploy/haproxy.cfg, its addresses swapped for loopback ports) in front of
// Podium nodes, for the tests of cluster mode: haproxy.test.js and
// rolling_restart.test.js. How a node runs behind it (its flags) is decided
// here only: `startNode`.

import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect as netConnect } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

import { freePort, sleep, startServer } from './harness.js';

const here = dirname(fileURLToPath(import.meta.url));
export const CONFIG = resolve(here, '..', '..', 'deploy', 'haproxy.cfg');

/**
 * True (with a note on stderr) when there is no haproxy to run `file`'s
 * tests with; under CI (env CI) a missing haproxy throws instead.
 */
export function haproxyMissing(file) {
  const missing = spawnSync('haproxy', ['-v']).error !== undefined;
  if (missing && process.env.CI) {
    throw new Error('haproxy is missing (Debian: apt-get install haproxy); CI runs these tests');
  }
  if (missing) console.error(`SKIPPED ${file}: no haproxy on PATH (Debian: apt-get install haproxy)`);
  return missing;
}

/**
 * Starts a node as deploy/haproxy.cfg expects its nodes to run (the PROXY
 * protocol on); `options` as startServer takes them.
 */
export function startNode(options = {}) {
  return startServer({ proxyProtocol: true, ...options });
}

/**
 * deploy/haproxy.cfg for a test: the balancer on `front`, its peer port on
 * `peer`, node1, node2... on the given ports, its admin socket in `dir`;
 * without what needs root or system paths (chroot, user, daemon, syslog).
 */
export function testConfig({ front, peer, nodes, dir }) {
  const dropped = /^\s*(chroot|user|group|daemon|log \/dev\/log)\b/;
  return readFileSync(CONFIG, 'utf8')
    .split('\n')
    .filter((line) => !dropped.test(line))
    .map((line) =>
      line
        .replace(/^(\s*stats socket )\S+.*$/, `$1${join(dir, 'admin.sock')} mode 600 level admin`)
        .replace(/^(\s*bind )\S+$/, `$1127.0.0.1:${front}`)
        .replace(/^(\s*peer lb1 )\S+$/, `$1127.0.0.1:${peer}`)
        .replace(/^(\s*server node(\d) )\S+/, (_, head, n) => `${head}127.0.0.1:${nodes[n - 1]}`),
    )
    .join('\n');
}

/**
 * HAProxy in front of `nodes` (as startNode started them), once it answers
 * `/healthz` through itself: `{ url, output(), status(n), waitFor(n, s), stop() }`.
 */
export async function startBalancer(nodes) {
  const dir = mkdtempSync(join(tmpdir(), 'podium-haproxy-'));
  const front = await freePort();
  const config = join(dir, 'haproxy.cfg');
  writeFileSync(config, testConfig({ front, peer: await freePort(), nodes: nodes.map((n) => n.port), dir }));
  const haproxy = spawn('haproxy', ['-db', '-f', config], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  haproxy.stdout.on('data', (d) => (output += d));
  haproxy.stderr.on('data', (d) => (output += d));
  const exited = new Promise((r) => haproxy.on('exit', r));
  const balancer = {
    url: `http://127.0.0.1:${front}`,
    output: () => output,
    /** What HAProxy's admin socket says of `node<n>`: `UP`, `DOWN`, ... */
    async status(n) {
      const csv = await adminCommand(join(dir, 'admin.sock'), 'show stat');
      const [header, ...rows] = csv.split('\n');
      const columns = header.replace(/^# /, '').split(',');
      const row = rows
        .map((r) => r.split(','))
        .find((r) => r[columns.indexOf('pxname')] === 'podium_nodes' && r[columns.indexOf('svname')] === `node${n}`);
      return row?.[columns.indexOf('status')];
    },
    /** Waits until `node<n>` has the status `wanted` (`UP`, `DOWN`). */
    async waitFor(n, wanted, timeoutMs = 30_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const status = await balancer.status(n);
        if (status === wanted) return;
        if (Date.now() > deadline) throw new Error(`node${n} is ${status}, not ${wanted}, after ${timeoutMs} ms`);
        await sleep(100);
      }
    },
    async stop() {
      haproxy.kill('SIGTERM');
      await exited;
      rmSync(dir, { recursive: true, force: true });
    },
  };
  const deadline = Date.now() + 10_000;
  for (;;) {
    try {
      if ((await fetch(`${balancer.url}/healthz`)).status === 200) break;
    } catch {
      // Not listening yet.
    }
    if (Date.now() > deadline) {
      haproxy.kill('SIGKILL');
      throw new Error(`HAProxy did not come up:\n${output}`);
    }
    await sleep(50);
  }
  return balancer;
}

/** One command on HAProxy's admin socket; its whole answer. */
function adminCommand(path, command) {
  return new Promise((resolve, reject) => {
    const socket = netConnect({ path }, () => socket.write(`${command}\n`));
    let answer = '';
    socket.on('data', (d) => (answer += d));
    socket.on('error', reject);
    socket.on('end', () => resolve(answer));
  });
}
