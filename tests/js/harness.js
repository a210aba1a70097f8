// Test harness: starts the real release binary on a free loopback port with a
// temporary data directory, and wraps the official socket.io clients (4.x and
// 2.x) in a small recorder that queues every server event for assertions.

import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, existsSync } from 'node:fs';
import { connect as netConnect, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import assert from 'node:assert/strict';
import { before, after } from 'node:test';

import { io as ioV4 } from 'socket.io-client';
import ioV2 from 'socket.io-client-v2';

const here = dirname(fileURLToPath(import.meta.url));

export const ADMIN_SECRET = 'test-admin-secret-0123456789abcdef';
export const LOGIN_CODE = 'test-login-code-0123456789abcdef';

/** The server events a Sledge client can receive. */
export const SERVER_EVENTS = [
  'login-response',
  'authenticate-response',
  'protocol-error',
  'update-full',
  'update-partial',
];

/** The client variants every flow runs with. */
export const VARIANTS = [
  { name: 'socket.io-client 4 (polling, then websocket)', version: 4 },
  { name: 'socket.io-client 2 (polling, then websocket)', version: 2 },
  { name: 'socket.io-client 4 (websocket only)', version: 4, transports: ['websocket'] },
  { name: 'socket.io-client 4 (long-polling only)', version: 4, transports: ['polling'] },
  { name: 'socket.io-client 2 (long-polling only)', version: 2, transports: ['polling'] },
];

export function podiumBin() {
  if (process.env.PODIUM_BIN) return process.env.PODIUM_BIN;
  const candidates = [];
  if (process.env.CARGO_TARGET_DIR) {
    candidates.push(join(process.env.CARGO_TARGET_DIR, 'release', 'podium'));
  }
  candidates.push(resolve(here, '..', '..', 'target', 'release', 'podium'));
  const found = candidates.find((p) => existsSync(p));
  if (!found) {
    throw new Error(
      `no podium binary at ${candidates.join(' or ')}: run \`cargo build --release\` or set PODIUM_BIN`,
    );
  }
  return found;
}

export async function freePort() {
  return new Promise((ok, fail) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', fail);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => ok(port));
    });
  });
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** The store the servers run on: `PODIUM_TEST_STORE` (unset: sqlite). */
export function testStore() {
  const store = process.env.PODIUM_TEST_STORE || 'sqlite';
  if (store !== 'sqlite' && store !== 'postgres') {
    throw new Error(`PODIUM_TEST_STORE=${store}: write postgres or sqlite (unset means sqlite)`);
  }
  return store;
}

/**
 * A new empty database `podium_t_<random hex>` on the server at
 * `PODIUM_TEST_DATABASE_URL`, made with psql (PostgreSQL's own client,
 * installed with the server); its URL.
 */
export function freshDatabase() {
  const server = process.env.PODIUM_TEST_DATABASE_URL;
  if (!server) {
    throw new Error(
      'PODIUM_TEST_STORE=postgres but PODIUM_TEST_DATABASE_URL is not set: point it at a PostgreSQL ' +
        'server the tests may create databases on (scripts/postgres start DIR prints one), or run scripts/test',
    );
  }
  const name = `podium_t_${randomBytes(8).toString('hex')}`;
  const psql = spawnSync('psql', ['-X', '-q', '-v', 'ON_ERROR_STOP=1', '-d', server, '-c', `CREATE DATABASE ${name}`], {
    encoding: 'utf8',
  });
  if (psql.error || psql.status !== 0) {
    throw new Error(`CREATE DATABASE ${name} on ${server} failed: ${psql.error ?? psql.stderr}`);
  }
  if (!/^postgres(ql)?:\/\//.test(server)) return `${server} dbname=${name}`;
  const url = new URL(server);
  url.pathname = `/${name}`;
  return url.toString();
}

/** The database of each data directory a server started on (restarts reuse it). */
const databases = new Map();

/**
 * `--database-url`: `url` when given (nodes of one cluster share it), else
 * `dir`'s own database under PODIUM_TEST_STORE=postgres; none on SQLite.
 */
function databaseArgs(dir, url) {
  if (url) return ['--database-url', url];
  if (testStore() !== 'postgres') return [];
  if (!databases.has(dir)) databases.set(dir, freshDatabase());
  return ['--database-url', databases.get(dir)];
}

/** A PROXY protocol v2 header with the LOCAL command: what HAProxy's health checks send. */
export const PROXY_V2_LOCAL = Buffer.from([
  0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a, 0x20, 0x00, 0x00, 0x00,
]);

/**
 * GET `path` from a node run with `--proxy-protocol`, as a balancer's own
 * request (a LOCAL header first): `{ status, body }`.
 */
export function localGet(url, path) {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = netConnect({ host: hostname, port: Number(port) }, () => {
      socket.write(PROXY_V2_LOCAL);
      socket.write(`GET ${path} HTTP/1.1\r\nHost: ${hostname}\r\nConnection: close\r\n\r\n`);
    });
    const chunks = [];
    socket.on('data', (d) => chunks.push(d));
    socket.on('error', reject);
    socket.on('end', () => {
      const text = Buffer.concat(chunks).toString();
      const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(text)?.[1]);
      if (!status) return reject(new Error(`no HTTP answer from ${url}${path}: ${JSON.stringify(text)}`));
      resolve({ status, body: text.slice(text.indexOf('\r\n\r\n') + 4) });
    });
  });
}

/**
 * Starts podium. `dataDir` reuses a directory (for restarts); by default a
 * fresh temporary one is made and removed by `cleanup()`. Under
 * `PODIUM_TEST_STORE=postgres` each data directory also gets its own
 * PostgreSQL database, kept across restarts on that directory;
 * `databaseUrl` names one instead (the nodes of a cluster share theirs).
 * `port`: listen there (a restart behind a balancer keeps its address);
 * by default a free one. `proxyProtocol`: run with `--proxy-protocol`
 * (behind HAProxy); the start-up check then speaks as the balancer does.
 * SIGTERM stops at once unless `env` unsets PODIUM_DRAIN_DELAY_SECS (null):
 * a test server has no balancer to drain towards.
 */
export async function startServer({
  dataDir,
  env = {},
  log = 'warn',
  proxyProtocol = false,
  databaseUrl,
  port: fixedPort,
} = {}) {
  const dir = dataDir ?? mkdtempSync(join(tmpdir(), 'podium-sledge-'));
  const port = fixedPort ?? (await freePort());
  // `env` overrides; a null value removes the variable.
  const fullEnv = {
    ...process.env,
    PODIUM_ADMIN_SECRET: ADMIN_SECRET,
    PODIUM_LOGIN_CODE: LOGIN_CODE,
    PODIUM_LOG: log,
    PODIUM_LOG_FORMAT: 'text',
    PODIUM_DRAIN_DELAY_SECS: '0',
    NO_COLOR: '1',
    ...env,
  };
  for (const [key, value] of Object.entries(fullEnv)) {
    if (value === null) delete fullEnv[key];
  }
  const proc = spawn(
    podiumBin(),
    [
      'serve',
      '--listen',
      `127.0.0.1:${port}`,
      '--data-dir',
      dir,
      ...databaseArgs(dir, databaseUrl),
      ...(proxyProtocol ? ['--proxy-protocol'] : []),
    ],
    { env: fullEnv, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let output = '';
  proc.stdout.on('data', (d) => (output += d));
  proc.stderr.on('data', (d) => (output += d));
  const exited = new Promise((r) => proc.on('exit', (code, signal) => r({ code, signal })));
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 15_000;
  for (;;) {
    if (proc.exitCode !== null || proc.signalCode !== null) {
      throw new Error(`podium exited during start-up:\n${output}`);
    }
    try {
      const res = proxyProtocol ? await localGet(url, '/healthz') : await fetch(`${url}/healthz`);
      if (res.status === 200) break;
    } catch {
      // Not listening yet.
    }
    if (Date.now() > deadline) {
      proc.kill('SIGKILL');
      throw new Error(`podium did not become healthy within 15 s:\n${output}`);
    }
    await sleep(50);
  }
  const server = {
    url,
    port,
    dataDir: dir,
    proc,
    output: () => output,
    /** SIGTERM and wait: a graceful stop. */
    async stop() {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGTERM');
      return exited;
    },
    /** SIGKILL and wait: a crash. */
    async kill9() {
      proc.kill('SIGKILL');
      return exited;
    },
    cleanup() {
      if (!dataDir) rmSync(dir, { recursive: true, force: true });
    },
  };
  return server;
}

/** A connected Sledge client that records every server event. */
export class Client {
  constructor(socket, version) {
    this.socket = socket;
    this.version = version;
    this.queues = new Map(SERVER_EVENTS.map((e) => [e, []]));
    this.waiters = [];
    this.all = [];
    for (const event of SERVER_EVENTS) {
      socket.on(event, (data) => {
        this.all.push({ event, data });
        const waiter = this.waiters.find((w) => w.event === event);
        if (waiter) {
          this.waiters.splice(this.waiters.indexOf(waiter), 1);
          clearTimeout(waiter.timer);
          waiter.resolve(data);
        } else {
          this.queues.get(event).push(data);
        }
      });
    }
  }

  /** The next `event` from the server (oldest first). */
  next(event, timeoutMs = 10_000) {
    const queued = this.queues.get(event);
    if (queued.length) return Promise.resolve(queued.shift());
    return new Promise((resolve, reject) => {
      const waiter = { event, resolve };
      waiter.timer = setTimeout(() => {
        this.waiters.splice(this.waiters.indexOf(waiter), 1);
        reject(new Error(`no ${event} within ${timeoutMs} ms; received so far: ${JSON.stringify(this.all)}`));
      }, timeoutMs);
      this.waiters.push(waiter);
    });
  }

  /** Asserts that no `event` arrives within `ms` (and none is queued). */
  async none(event, ms = 300) {
    await sleep(ms);
    assert.deepEqual(this.queues.get(event), [], `unexpected ${event}`);
  }

  /** Events of this kind received and not yet taken. */
  pending(event) {
    return this.queues.get(event).slice();
  }

  /** Emits without asking for an acknowledgement. */
  emit(event, ...args) {
    this.socket.emit(event, ...args);
  }

  /** Emits asking for an acknowledgement; resolves with it. */
  request(event, ...args) {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no acknowledgement for ${event}`)), 10_000);
      this.socket.emit(event, ...args, (ack) => {
        clearTimeout(timer);
        resolve(ack);
      });
    });
  }

  close() {
    this.socket.close();
  }
}

/** Connects a client of socket.io `version` (4 or 2). */
export async function connect(server, { version = 4, transports, withCredentials } = {}) {
  const options = { forceNew: true, reconnection: false, timeout: 5000 };
  if (transports) options.transports = transports;
  if (withCredentials) options.withCredentials = true;
  const socket = version === 2 ? ioV2(server.url, options) : ioV4(server.url, options);
  await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('connect timed out')), 10_000);
    socket.once('connect', () => {
      clearTimeout(timer);
      resolve();
    });
    socket.once('connect_error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
  });
  return new Client(socket, version);
}

/** Authenticates as the admin and checks the answer. */
/**
 * One server for a `describe` block and the clients its tests open:
 * `open()` connects a client with `clientOptions` (as `connect` takes
 * them), and `clients` lists every client opened. The server starts before the block's tests, then `setup(server)`
 * runs; after them `teardown()` runs, the clients close and the server
 * stops and is removed.
 */
export function serverPerSuite(clientOptions, { setup, teardown, ...serverOptions } = {}) {
  let server;
  const clients = [];
  before(async () => {
    server = await startServer(serverOptions);
    if (setup) await setup(server);
  });
  after(async () => {
    if (teardown) await teardown();
    for (const c of clients) c.close();
    await server.stop();
    server.cleanup();
  });
  return {
    clients,
    async open() {
      const c = await connect(server, clientOptions);
      clients.push(c);
      return c;
    },
  };
}

export async function asAdmin(client) {
  const ack = await client.request('authenticate', { secret: ADMIN_SECRET, userId: 0 });
  assert.deepEqual(ack, { ok: true, userId: 0, judgeId: 0 });
  assert.deepEqual(await client.next('authenticate-response'), {
    success: true,
    userId: 0,
    judgeId: 0,
  });
  return client;
}

/** Logs judge `judgeId` in and authenticates with the issued secret. */
export async function asJudge(client, judgeId) {
  const login = await client.request('login', { judgeId, loginCode: LOGIN_CODE });
  assert.equal(login.ok, true, JSON.stringify(login));
  const response = await client.next('login-response');
  assert.equal(response.success, true);
  assert.equal(response.userId, judgeId);
  assert.match(response.secret, /^[0-9a-f]{64}$/);
  assert.equal(login.secret, response.secret);
  const ack = await client.request('authenticate', { secret: response.secret, userId: judgeId });
  assert.deepEqual(ack, { ok: true, userId: judgeId, judgeId });
  assert.deepEqual(await client.next('authenticate-response'), {
    success: true,
    userId: judgeId,
    judgeId,
  });
  return response.secret;
}

/** A DataStore with the given tables and every other table empty. */
export function db(tables = {}) {
  return {
    hacks: [],
    judges: [],
    judgeHacks: [],
    superlatives: [],
    superlativePlacements: [],
    ratings: [],
    superlativeHacks: [],
    absences: [],
    notes: [],
    judgingStatus: [],
    withdrawals: [],
    ...tables,
  };
}

/** A whole DataStore (update-full, GET /api/state): like db(), with the
 * judging status row every full state carries (judging not paused). */
export function full(tables = {}) {
  return db({ judgingStatus: [{ id: 1, paused: false }], ...tables });
}

/** Asserts a refusal: a protocol-error, and the error acknowledgement. */
export async function expectRefusal(client, event, payloadArgs, messagePattern) {
  const ack = await client.request(event, ...payloadArgs);
  assert.equal(ack.ok, false, `${event} ${JSON.stringify(payloadArgs)} was accepted: ${JSON.stringify(ack)}`);
  assert.equal(ack.error.original, event);
  assert.match(ack.error.message, messagePattern);
  const error = await client.next('protocol-error');
  assert.deepEqual(error, ack.error);
  return error;
}

export { sleep };
