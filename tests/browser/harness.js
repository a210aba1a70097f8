// Starts the real release binary on a free loopback port with a temporary
// data directory (as tests/js/harness.js does), and Debian's Chromium
// through playwright-core.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, existsSync, mkdirSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

import { before, after } from 'node:test';

import WebSocket from 'ws';

const here = dirname(fileURLToPath(import.meta.url));
export const repo = resolve(here, '..', '..');
export const ADMIN_SECRET = 'browser-admin-secret-0123456789abcdef';
export const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
export const SCREENSHOTS = join(repo, 'build', 'screenshots');

/**
 * Why the browser tests cannot run here, or null. Without Chromium they skip,
 * except in CI (env CI set), where skipping would hide a broken setup.
 */
/**
 * Calls the HTTP API of `server` as `secret` (the admin by default) and
 * answers the JSON body; a refusal fails the test with what the server said.
 */
export async function call(server, method, path, body, secret = ADMIN_SECRET) {
  const res = await fetch(`${server.url}${path}`, {
    method,
    headers: { authorization: `Bearer ${secret}` },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const json = await res.json();
  assert.ok(res.ok, `${method} ${path}: ${res.status} ${JSON.stringify(json)}`);
  return json;
}

export function skipReason() {
  if (existsSync(CHROMIUM)) return null;
  const why = `Chromium not found at ${CHROMIUM}: install it (apt-get install -y chromium) or set CHROMIUM`;
  if (process.env.CI) throw new Error(`${why}; CI is set, so the browser tests may not be skipped`);
  return why;
}

/** The Devpost sample: ../shared/fixtures beside the repository, or the copy in tests. */
export function devpostSample() {
  const candidates = [
    resolve(repo, '..', 'shared', 'fixtures', 'devpost-sample.csv'),
    resolve(here, 'devpost-sample.copy.csv'),
  ];
  const found = candidates.find((p) => existsSync(p));
  if (!found) throw new Error(`no Devpost sample at ${candidates.join(' or ')}`);
  return found;
}

function podiumBin() {
  if (process.env.PODIUM_BIN) return process.env.PODIUM_BIN;
  const candidates = [];
  if (process.env.CARGO_TARGET_DIR) candidates.push(join(process.env.CARGO_TARGET_DIR, 'release', 'podium'));
  candidates.push(join(repo, 'target', 'release', 'podium'));
  const found = candidates.find((p) => existsSync(p));
  if (!found) throw new Error(`no podium binary at ${candidates.join(' or ')}: run \`cargo build --release\` or set PODIUM_BIN`);
  return found;
}

async function freePort() {
  return new Promise((ok, fail) => {
    const srv = createServer();
    srv.on('error', fail);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => ok(port));
    });
  });
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/**
 * Starts podium with a configured admin secret and a generated login code
 * (so the admin page can show it: a configured one exists only as a hash).
 */
export async function startServer({ log = 'warn' } = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'podium-pages-'));
  const port = await freePort();
  let output = '';
  let proc = await spawnServer(dir, port, log, (d) => (output += d));
  return {
    url: `http://127.0.0.1:${port}`,
    output: () => output,
    /**
     * Stops the server (gracefully, or with `signal` 'SIGKILL' as a crash)
     * and starts it again on the same port and data.
     */
    async restart({ signal = 'SIGTERM' } = {}) {
      proc.kill(signal);
      await new Promise((r) => (proc.exitCode !== null ? r() : proc.on('exit', r)));
      proc = await spawnServer(dir, port, log, (d) => (output += d));
    },
    async stop() {
      proc.kill('SIGTERM');
      await new Promise((r) => (proc.exitCode !== null ? r() : proc.on('exit', r)));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

async function spawnServer(dir, port, log, record) {
  const env = { ...process.env, PODIUM_ADMIN_SECRET: ADMIN_SECRET, PODIUM_LOG: log, NO_COLOR: '1' };
  delete env.PODIUM_LOGIN_CODE;
  const proc = spawn(podiumBin(), ['serve', '--listen', `127.0.0.1:${port}`, '--data-dir', dir], {
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  proc.stdout.on('data', (d) => { output += d; record(d); });
  proc.stderr.on('data', (d) => { output += d; record(d); });
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 15_000;
  for (;;) {
    if (proc.exitCode !== null) throw new Error(`podium exited during start-up:\n${output}`);
    try {
      if ((await fetch(`${url}/healthz`)).status === 200) break;
    } catch {
      // Not listening yet.
    }
    if (Date.now() > deadline) {
      proc.kill('SIGKILL');
      throw new Error(`podium did not become healthy within 15 s:\n${output}`);
    }
    await sleep(50);
  }
  return proc;
}

/** Launches headless Chromium with the flags this environment needs. */
export async function launchBrowser() {
  const { chromium } = await import('playwright-core');
  mkdirSync(SCREENSHOTS, { recursive: true });
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync',
    ],
  });
}

/**
 * Starts a server and Chromium before a file's tests and stops both after
 * them (unless the file is skipped); `set(server, browser)` hands them over.
 */
export function serverAndBrowser(skip, set) {
  let server;
  let browser;
  before(async () => {
    if (skip) return;
    server = await startServer();
    browser = await launchBrowser();
    set(server, browser);
  });
  after(async () => {
    await browser?.close();
    await server?.stop();
  });
}

/** Takes a full-page screenshot into build/screenshots/<name>.png. */
export async function snap(page, name) {
  // A full-page shot of a scrolled page paints the sticky header mid-page.
  await page.evaluate(() => window.scrollTo(0, 0));
  await page.screenshot({ path: join(SCREENSHOTS, `${name}.png`), fullPage: true });
}

/**
 * A clicker as the ESP32 firmware drives it over the raw protocol: REGISTER,
 * then draft-2 SCOREs, each acknowledged; `count(a, b, ...)` sends counts in order.
 */
export async function clicker(url) {
  const ws = new WebSocket(`${url.replace('http', 'ws')}/ws`);
  const frames = [];
  const waiters = [];
  ws.on('message', (data) => {
    frames.push(String(data));
    while (waiters.length) waiters.shift()();
  });
  await new Promise((ok, fail) => { ws.once('open', ok); ws.once('error', fail); });
  const next = async () => {
    while (!frames.length) await new Promise((r) => waiters.push(r));
    return frames.shift();
  };
  ws.send('REGISTER');
  const [, id] = (await next()).split(' ');
  let msg = 0;
  return {
    id,
    async count(...scores) {
      for (const score of scores) {
        msg += 1;
        ws.send(`SCORE ${msg} ${Date.now() + msg} ${score}`);
        assert.match(await next(), /^SCORED /);
      }
    },
    close: () => ws.close(),
  };
}
