'use strict';
// Node.js reference server for the clicker protocol (both drafts), the
// baseline Podium's fan-out and idle-memory targets are measured against.
//
// Written the way a competent Node developer would: the `ws` library, a Map
// of device id -> Set of listening sockets, text commands split on
// whitespace, each broadcast formatted at most once per draft. In memory
// only: nothing is stored, so it does less work per SCORE than Podium.
//
// Usage: node server.js [--port N] [--host ADDR]   (or PORT / HOST env)

const http = require('http');
const crypto = require('crypto');
const { WebSocketServer } = require('ws');

function arg(name) {
  const i = process.argv.indexOf(name);
  return i > 0 ? process.argv[i + 1] : undefined;
}

const port = Number(arg('--port') || process.env.PORT || 9002);
const host = arg('--host') || process.env.HOST || '127.0.0.1';

/** id -> { id, secret, socket, latest: {ts, score} | null } */
const devices = new Map();
const bySecret = new Map();
/** id -> Set of listener sockets */
const listeners = new Map();
let lastId = 0;

const pad = (n) => String(n).padStart(6, '0');

function broadcastPresence(id, word) {
  const set = listeners.get(id);
  if (!set) return;
  const msg = `${word} ${id}`;
  for (const l of set) l.send(msg);
}

function register(ws, secret) {
  let dev;
  if (secret !== undefined) {
    dev = bySecret.get(secret);
    if (!dev) return ws.send('ERROR unknown secret');
  } else {
    const id = pad(++lastId);
    dev = { id, secret: crypto.randomBytes(16).toString('hex'), socket: null, latest: null };
    devices.set(id, dev);
    bySecret.set(dev.secret, dev);
  }
  dev.socket = ws;
  ws.device = dev;
  ws.send(`REGISTERED ${dev.id} ${dev.secret}`);
  broadcastPresence(dev.id, 'CONNECT');
}

function listen(ws, draft, tokens) {
  ws.draft = draft;
  const connected = [];
  const latest = [];
  for (const t of tokens) {
    const n = Number(t);
    if (!Number.isInteger(n) || n < 0) return ws.send(`ERROR bad id ${t}`);
    const id = pad(n);
    let set = listeners.get(id);
    if (!set) listeners.set(id, (set = new Set()));
    set.add(ws);
    ws.listening.push(id);
    const dev = devices.get(id);
    if (dev && dev.socket) connected.push(id);
    if (dev && dev.latest) latest.push(dev);
  }
  ws.send(connected.length ? `CONNECT ${connected.join(' ')}` : 'CONNECT');
  for (const dev of latest) {
    const { ts, score } = dev.latest;
    ws.send(draft === 1 ? `SCORE ${ts} ${dev.id} ${score}` : `SCORE ${ts} ${score} ${dev.id}`);
  }
}

function score(ws, msgId, ts, value) {
  const dev = ws.device;
  if (!dev) return ws.send('ERROR not registered');
  if (!/^\d+$/.test(ts) || !/^\d+$/.test(value)) return ws.send('ERROR bad SCORE');
  dev.latest = { ts, score: value };
  ws.send(msgId === undefined ? `SCORED ${ts}` : `SCORED ${msgId} ${ts}`);
  const set = listeners.get(dev.id);
  if (!set) return;
  let d1, d2;
  for (const l of set) {
    if (l.draft === 1) l.send(d1 || (d1 = `SCORE ${ts} ${dev.id} ${value}`));
    else l.send(d2 || (d2 = `SCORE ${ts} ${value} ${dev.id}`));
  }
}

function onMessage(ws, data) {
  const tokens = data.toString().trim().split(/\s+/);
  switch (tokens[0]) {
    case 'REGISTER':
      return register(ws, tokens[1]);
    case 'LISTEN':
      return listen(ws, 1, tokens.slice(1));
    case 'SUBSCRIBE':
      return listen(ws, 2, tokens.slice(1));
    case 'SCORE':
      if (tokens.length === 3) return score(ws, undefined, tokens[1], tokens[2]);
      if (tokens.length === 4) return score(ws, tokens[1], tokens[2], tokens[3]);
      return ws.send('ERROR bad SCORE');
    default:
      return ws.send(`ERROR unknown command ${tokens[0]}`);
  }
}

function onClose(ws) {
  const dev = ws.device;
  if (dev && dev.socket === ws) {
    dev.socket = null;
    broadcastPresence(dev.id, 'DISCONNECT');
  }
  for (const id of ws.listening) {
    const set = listeners.get(id);
    if (set) set.delete(ws);
  }
}

const server = http.createServer((req, res) => {
  res.writeHead(req.url === '/healthz' ? 200 : 404);
  res.end(req.url === '/healthz' ? 'ok' : '');
});
const wss = new WebSocketServer({ server, path: '/ws', perMessageDeflate: false });
wss.on('connection', (ws) => {
  ws.device = null;
  ws.draft = 0;
  ws.listening = [];
  ws.on('message', (data) => onMessage(ws, data));
  ws.on('close', () => onClose(ws));
  ws.on('error', () => {});
});
server.listen(port, host, () => console.error(`node reference server on ${host}:${port}`));
