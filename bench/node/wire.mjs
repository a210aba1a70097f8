// Bytes on the wire for a big event (bench/wire.sh runs it): builds the
// event through the HTTP API (a Devpost export of N projects with ~1.5 KB
// stories, M judges, k judges per hack), then loads the pages as phones do,
// counting every byte each TCP connection carries (headers included, both
// directions), and reports JSON.
//
//   node wire.mjs event  --url 127.0.0.1:PORT --admin-secret S --login-code C
//                       [--hacks 1000] [--judges 300] [--k 3] [--story 1500]
//                       [--encoding "gzip, deflate, br, zstd"] [--concurrency 30]
//   node wire.mjs import --url 127.0.0.1:PORT --admin-secret S --pid PID [--mib 10]
//
// `event` measures: the judge's first load (page, its scripts and style,
// the names list, login, the event stream's update-full), a reload with the
// browser's cache (If-None-Match), GET /api/state, the admin's first load,
// and 300 judges signing in at once (their total). `import` posts a Devpost
// export of --mib MiB with stories up to 20,000 characters to a fresh
// server and reports the answer's status, the time, and the server's peak
// memory (VmHWM) before and after. Node built-ins only.

import http from 'node:http';
import zlib from 'node:zlib';
import { readFileSync } from 'node:fs';

const args = process.argv.slice(2);
const mode = args.shift();
const opt = (name, fallback) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : fallback;
};
const [host, port] = opt('url', '127.0.0.1:8080').split(':');
const ADMIN = opt('admin-secret', '');
const LOGIN_CODE = opt('login-code', '');
const ENCODING = opt('encoding', 'gzip, deflate, br, zstd'); // what Chromium sends
const PREVIEW = opt('admin-query', '&preview=80');

// ---- a deterministic generator and Devpost-like stories -------------------

let seed = 0x2545f491;
function rand() {
  seed ^= seed << 13; seed >>>= 0;
  seed ^= seed >>> 17;
  seed ^= seed << 5; seed >>>= 0;
  return seed / 0x100000000;
}

// Words drawn with Zipf-like frequencies (rank r with weight 1/r), as in
// English prose; the sections are Devpost's own story headings.
const VOCABULARY = (
  'the of and to a in we is that for it with our on as was this app be by are from at an ' +
  'you can data users it\'s team built using which they not or have their more time how one all ' +
  'real-time api model would what will into about also each when system so make used learned ' +
  'sensor dashboard front-end back-end database firebase react python rust flask node server ' +
  'community students local people help track better simple first new challenge hardware phone ' +
  'camera machine learning accessibility climate energy food health privacy map route budget ' +
  'together hours night wifi judges demo prototype feature interface design survey feedback ' +
  'volunteers schools hospitals parents friends neighbours games music voice chat messages alerts ' +
  'latency accuracy battery cloud deploy docker websocket authentication login scores results ' +
  'many some most every could should might while after before during because through without'
).split(' ');
const WEIGHTS = VOCABULARY.map((_, r) => 1 / (r + 1));
const TOTAL = WEIGHTS.reduce((a, b) => a + b, 0);
function word() {
  let x = rand() * TOTAL;
  for (let i = 0; i < WEIGHTS.length; i++) {
    x -= WEIGHTS[i];
    if (x <= 0) return VOCABULARY[i];
  }
  return VOCABULARY[0];
}
const SECTIONS = ['Inspiration', 'What it does', 'How we built it', 'Challenges we ran into',
  'Accomplishments that we\'re proud of', 'What we learned', 'What\'s next'];

function story(bytes, name) {
  let text = '';
  let section = 0;
  while (text.length < bytes) {
    if (text.length >= (section * bytes) / SECTIONS.length && section < SECTIONS.length) {
      text += `${text ? '\n\n' : ''}## ${SECTIONS[section]}${section === 6 ? ` for ${name}` : ''}\n`;
      section++;
    }
    const n = 6 + Math.floor(rand() * 14);
    const words = Array.from({ length: n }, word);
    words[0] = words[0][0].toUpperCase() + words[0].slice(1);
    text += `${words.join(' ')}${rand() < 0.2 ? ', with "quotes"' : ''}. `;
  }
  return text.trim();
}

const csvCell = (s) => `"${s.replaceAll('"', '""')}"`;
const HEADER = 'Project Title,Submission Url,Project Status,Judging Status,Highest Step Completed,Project Created At,About The Project,"""Try it out"" Links",Video Demo Link,Opt-In Prizes,Built With,Notes,Team Colleges/Universities,Additional Team Member Count\r\n';

function devpostExport(projects, storyBytes) {
  const rows = [HEADER];
  for (let i = 1; i <= projects; i++) {
    const name = `Project ${i} ${word()} ${word()}`;
    const bytes = typeof storyBytes === 'function' ? storyBytes(i) : storyBytes;
    rows.push(`${csvCell(name)},https://devpost.example/software/p${i},Submitted,Pending,Submit,11/01/2026 10:02:11,${csvCell(story(bytes, name))},https://p${i}.example,,,"rust, react",,State University,2\r\n`);
  }
  return rows.join('');
}

// ---- HTTP with byte counting ----------------------------------------------

let phones = 0;

/**
 * One phone: its own connections, every byte they carry counted, from its
 * own loopback address (127.x.y.z), as phones on a venue's wifi have theirs:
 * so the login throttle, which counts per address, sees each phone alone.
 */
class Phone {
  constructor() {
    const n = 1000 + phones++;
    this.address = `127.${1 + (n >> 16)}.${(n >> 8) & 255}.${n & 255}`;
    this.agent = new http.Agent({ keepAlive: true, maxSockets: 6, localAddress: this.address });
    this.sockets = new Set();
    this.etags = new Map();
  }

  bytes() {
    let down = 0;
    let up = 0;
    for (const s of this.sockets) {
      down += s.bytesRead;
      up += s.bytesWritten;
    }
    return { down, up };
  }

  /** A request; resolves with {status, headers, body (decoded Buffer)}. */
  request(path, { method = 'GET', secret, body, type, cached = false } = {}) {
    return new Promise((resolve, reject) => {
      const headers = { 'Accept-Encoding': ENCODING, 'User-Agent': 'podium-wire-bench' };
      if (secret) headers.Authorization = `Bearer ${secret}`;
      if (body !== undefined) {
        headers['Content-Type'] = type || 'application/json';
        headers['Content-Length'] = Buffer.byteLength(body);
      }
      if (cached && this.etags.has(path)) headers['If-None-Match'] = this.etags.get(path);
      const req = http.request({ host, port, path, method, headers, agent: this.agent }, (res) => {
        const chunks = [];
        const decoded = decoder(res);
        decoded.on('data', (c) => chunks.push(c));
        decoded.on('end', () => {
          if (res.headers.etag) this.etags.set(path, res.headers.etag);
          resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks) });
        });
        decoded.on('error', reject);
      });
      req.on('socket', (s) => this.sockets.add(s));
      req.on('error', reject);
      if (body !== undefined) req.write(body);
      req.end();
    });
  }

  /** Opens the event stream, resolves with the update-full's payload, closes it. */
  firstUpdate(secret, query = '') {
    return new Promise((resolve, reject) => {
      const path = `/api/events?secret=${encodeURIComponent(secret)}${query}`;
      const headers = { 'Accept-Encoding': ENCODING, Accept: 'text/event-stream' };
      // Its own connection, as a browser's EventSource has.
      const req = http.get({ host, port, path, headers, agent: false, localAddress: this.address }, (res) => {
        if (res.statusCode !== 200) return reject(new Error(`events: ${res.statusCode}`));
        let text = '';
        const decoded = decoder(res);
        decoded.setEncoding('utf8');
        decoded.on('data', (c) => {
          text += c;
          const end = text.indexOf('\n\n');
          if (end < 0) return;
          const frame = text.slice(0, end);
          const data = frame.split('\n').filter((l) => l.startsWith('data:')).map((l) => l.slice(5).trimStart()).join('');
          req.destroy();
          resolve(JSON.parse(data));
        });
        decoded.on('error', reject);
      });
      req.on('socket', (s) => this.sockets.add(s));
      req.on('error', (e) => { if (e.code !== 'ECONNRESET') reject(e); });
    });
  }

  close() {
    this.agent.destroy();
  }
}

function decoder(res) {
  // Flushes are honoured: each flushed block decodes as it arrives.
  const flush = { finishFlush: zlib.constants.Z_SYNC_FLUSH };
  switch (res.headers['content-encoding']) {
    case 'gzip': return res.pipe(zlib.createGunzip(flush));
    case 'br': return res.pipe(zlib.createBrotliDecompress({ finishFlush: zlib.constants.BROTLI_OPERATION_FLUSH }));
    case 'deflate': return res.pipe(zlib.createInflate(flush));
    default: return res;
  }
}

async function ok(promise, what) {
  const r = await promise;
  if (r.status >= 300 && r.status !== 304) throw new Error(`${what}: ${r.status} ${r.body.toString().slice(0, 300)}`);
  return r;
}

/** A page and everything it pulls in: stylesheet, scripts and their imports. */
async function loadPage(phone, page, cached = false) {
  const seen = new Set();
  const queue = [page];
  const statuses = [];
  while (queue.length) {
    const batch = queue.splice(0);
    const replies = await Promise.all(batch.map((p) => ok(phone.request(p, { cached }), p)));
    replies.forEach((r, i) => {
      statuses.push(r.status);
      const base = batch[i];
      let text = r.body.toString();
      if (r.status === 304) text = phone.seenBodies?.get(base) ?? '';
      phone.seenBodies ??= new Map();
      if (r.status === 200) phone.seenBodies.set(base, text);
      const refs = [...text.matchAll(/(?:href|src)="(\/ui\/[^"]+)"/g)].map((m) => m[1])
        .concat([...text.matchAll(/from '\.\/([^']+)'/g)].map((m) => `/ui/${m[1]}`));
      for (const ref of refs) {
        if (!seen.has(ref)) {
          seen.add(ref);
          queue.push(ref);
        }
      }
    });
  }
  return statuses;
}

async function judgeFirstLoad(phone, judgeId) {
  await loadPage(phone, '/judge');
  await ok(phone.request('/api/judges/names'), 'names');
  const login = await ok(phone.request('/api/login', { method: 'POST', body: JSON.stringify({ judgeId, loginCode: LOGIN_CODE }) }), 'login');
  const { secret } = JSON.parse(login.body);
  const full = await phone.firstUpdate(secret);
  return { secret, full };
}

async function adminFirstLoad(phone) {
  await loadPage(phone, '/admin');
  await ok(phone.request('/api/login-code', { secret: ADMIN }), 'login-code');
  await ok(phone.request('/api/login-code', { secret: ADMIN }), 'login-code');
  // As ui/admin.js asks: 80 characters of each story (a server without
  // ?preview= sends them whole).
  const full = await phone.firstUpdate(ADMIN, PREVIEW);
  await ok(phone.request('/api/results', { secret: ADMIN }), 'results');
  return full;
}

const kb = (n) => Math.round(n / 100) / 10;
const total = (b) => b.down + b.up;

async function runEvent() {
  const hacks = Number(opt('hacks', 1000));
  const judges = Number(opt('judges', 300));
  const k = Number(opt('k', 3));
  const storyBytes = Number(opt('story', 1500));
  const concurrency = Number(opt('concurrency', 30));
  const setup = new Phone();

  const csv = devpostExport(hacks, storyBytes);
  let t = performance.now();
  const imported = await ok(setup.request('/api/import/devpost', { method: 'POST', secret: ADMIN, body: csv, type: 'text/csv' }), 'import devpost');
  const importMs = performance.now() - t;
  const judgesCsv = 'name,email\n' + Array.from({ length: judges }, (_, i) => `Judge ${i + 1},judge${i + 1}@example.org\n`).join('');
  await ok(setup.request('/api/import/judges', { method: 'POST', secret: ADMIN, body: judgesCsv, type: 'text/csv' }), 'import judges');
  await ok(setup.request('/api/assignments', { method: 'POST', secret: ADMIN, body: JSON.stringify({ judgesPerHack: k }) }), 'assign');
  setup.close();

  // One judge's first load, then a reload with its cache.
  const judge = new Phone();
  const first = await judgeFirstLoad(judge, 1);
  const judgeFirst = judge.bytes();
  const assetsAgain = await loadPage(judge, '/judge', true);
  await judge.firstUpdate(first.secret);
  const reload = { down: judge.bytes().down - judgeFirst.down, up: judge.bytes().up - judgeFirst.up };
  judge.close();
  const route = first.full.database.judgeHacks.length;
  const described = first.full.database.hacks.filter((h) => h.description).length;

  const stateJudge = new Phone();
  const state = await ok(stateJudge.request('/api/state', { secret: first.secret }), 'state');
  const judgeState = stateJudge.bytes();
  stateJudge.close();
  const stateAdmin = new Phone();
  await ok(stateAdmin.request('/api/state', { secret: ADMIN }), 'state');
  const adminState = stateAdmin.bytes();
  stateAdmin.close();

  const admin = new Phone();
  await adminFirstLoad(admin);
  const adminFirst = admin.bytes();
  admin.close();

  // Every judge signs in, `concurrency` phones at a time.
  t = performance.now();
  let everyone = { down: 0, up: 0 };
  for (let start = 1; start <= judges; start += concurrency) {
    const wave = [];
    for (let id = start; id < start + concurrency && id <= judges; id++) {
      wave.push((async () => {
        const phone = new Phone();
        await judgeFirstLoad(phone, id);
        const b = phone.bytes();
        phone.close();
        return b;
      })());
    }
    for (const b of await Promise.all(wave)) {
      everyone = { down: everyone.down + b.down, up: everyone.up + b.up };
    }
  }
  const signInMs = performance.now() - t;

  return {
    scenario: 'wire-event',
    encoding: ENCODING,
    hacks, judges, judges_per_hack: k, story_bytes: storyBytes,
    devpost_csv_bytes: Buffer.byteLength(csv),
    devpost_import_ms: Math.round(importMs),
    devpost_import_adjusted: JSON.parse(imported.body).adjusted?.length ?? null,
    judge_route_hacks: route,
    judge_hacks_with_description: described,
    judge_state_json_bytes: state.body.length,
    judge_state_wire_bytes: total(judgeState),
    admin_state_wire_bytes: total(adminState),
    judge_first_load_wire_bytes: total(judgeFirst),
    judge_first_load_kb: kb(total(judgeFirst)),
    judge_reload_wire_bytes: total(reload),
    judge_reload_asset_statuses: assetsAgain,
    admin_first_load_wire_bytes: total(adminFirst),
    admin_first_load_kb: kb(total(adminFirst)),
    all_judges_sign_in_wire_bytes: total(everyone),
    all_judges_sign_in_mb: Math.round(total(everyone) / 1e5) / 10,
    all_judges_sign_in_ms: Math.round(signInMs),
  };
}

function vm(pid, key) {
  const line = readFileSync(`/proc/${pid}/status`, 'utf8').split('\n').find((l) => l.startsWith(`${key}:`));
  return line ? Number(line.split(/\s+/)[1]) * 1024 : null;
}

async function runImport() {
  const pid = opt('pid');
  const mib = Number(opt('mib', 10));
  // Every tenth story 20,000 characters long, the others 6,000 to 12,000.
  const projects = [];
  let size = HEADER.length;
  let i = 0;
  const sizes = [];
  while (size < mib * 1024 * 1024) {
    i++;
    const bytes = i % 10 === 3 ? 20000 : 6000 + Math.floor(rand() * 6000);
    sizes.push(bytes);
    size += bytes + 150;
  }
  const csv = devpostExport(sizes.length, (n) => sizes[n - 1]);
  projects.length = sizes.length;
  const before = { hwm: vm(pid, 'VmHWM'), rss: vm(pid, 'VmRSS') };
  const phone = new Phone();
  const t = performance.now();
  const answer = await phone.request('/api/import/devpost', { method: 'POST', secret: ADMIN, body: csv, type: 'text/csv' });
  const ms = performance.now() - t;
  phone.close();
  const after = { hwm: vm(pid, 'VmHWM'), rss: vm(pid, 'VmRSS') };
  let parsed = {};
  try { parsed = JSON.parse(answer.body); } catch { /* not JSON */ }
  return {
    scenario: 'wire-import',
    csv_bytes: Buffer.byteLength(csv),
    projects: sizes.length,
    longest_story_chars: Math.max(...sizes),
    status: answer.status,
    error: parsed.error ?? null,
    hacks_added: parsed.hacksAdded ?? 0,
    adjusted: parsed.adjusted?.length ?? null,
    import_ms: Math.round(ms),
    server_peak_rss_before_bytes: before.hwm,
    server_peak_rss_after_bytes: after.hwm,
    server_peak_rss_after_mib: Math.round(after.hwm / 1048576),
    server_rss_after_bytes: after.rss,
  };
}

const result = mode === 'import' ? await runImport() : await runEvent();
console.log(JSON.stringify(result, null, 2));
