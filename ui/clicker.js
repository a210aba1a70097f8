// A listening connection of the clicker protocol (docs/clicker-protocol.md),
// draft-2: SUBSCRIBE <ids>, then CONNECT/DISCONNECT/SCORE frames. Reconnects
// by itself and subscribes again, which also brings each connected
// device's newest count at once.

import { showConnection } from './dom.js';
import { Backoff } from './retry.js';

/** Normalises "7" and "000007" to the protocol's six digits. */
export const deviceId = (id) => String(Number(id)).padStart(6, '0');

export class ClickerListener {
  /** onEvent({type: 'connect'|'disconnect'|'score'|'reset', id, score}) */
  constructor(ids, onEvent) {
    this.ids = ids;
    this.onEvent = onEvent;
    this.backoff = new Backoff();
    this.stopped = false;
    this.open();
  }

  open() {
    if (this.stopped) return;
    showConnection('connecting');
    const scheme = location.protocol === 'https:' ? 'wss' : 'ws';
    const ws = new WebSocket(`${scheme}://${location.host}/ws`);
    this.ws = ws;
    ws.addEventListener('open', () => {
      this.backoff.reset();
      showConnection('live');
      // Until CONNECT says otherwise, every device counts as disconnected.
      this.onEvent({ type: 'reset' });
      if (this.ids.length) ws.send(`SUBSCRIBE ${this.ids.join(',')}`);
    });
    ws.addEventListener('message', (e) => this.frame(String(e.data)));
    ws.addEventListener('close', () => {
      if (this.stopped || this.ws !== ws) return;
      showConnection('offline');
      this.backoff.later(() => this.open());
    });
  }

  frame(text) {
    const [verb, ...args] = text.trim().split(/\s+/);
    switch (verb.toUpperCase()) {
      case 'CONNECT':
        for (const id of args.flatMap((a) => a.split(',')).filter(Boolean)) {
          this.onEvent({ type: 'connect', id: deviceId(id) });
        }
        break;
      case 'DISCONNECT':
        this.onEvent({ type: 'disconnect', id: deviceId(args[0]) });
        break;
      case 'SCORE': // draft-2: SCORE <timestamp> <score> <id>
        this.onEvent({ type: 'score', id: deviceId(args[2]), score: Number(args[1]) });
        break;
      case 'ERROR':
        this.onEvent({ type: 'error', message: args.join(' ') });
        break;
      default:
        break; // The protocol lets servers add verbs; ignore them.
    }
  }

  stop() {
    this.stopped = true;
    this.ws?.close();
  }
}
