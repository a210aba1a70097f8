// The live event stream (GET /api/events) with the secret a page holds.
// EventSource retries network errors by itself but gives up for good on an
// HTTP error, so this wrapper owns reconnection: on any error it closes the
// stream, asks /api/state whether the secret still holds (a 401 means sign
// out; anything else means the server is away), and reopens with backoff.

import { api } from './api.js';
import { Tables } from './tables.js';
import { showConnection } from './dom.js';
import { Backoff } from './retry.js';

export class Live {
  /**
   * onUpdate(tables, diff|null) after each update (diff null for a full one);
   * onSignedOut(message) when the server no longer accepts the secret;
   * onLost() when the stream breaks (what the page holds may be stale until
   * the next full update);
   * preview: cut hack descriptions to that many characters (for a page that
   * shows only their start, so it does not download every story).
   */
  constructor(secret, { onUpdate, onSignedOut, onLost, preview }) {
    this.secret = secret;
    this.preview = preview;
    this.tables = new Tables();
    this.onUpdate = onUpdate;
    this.onSignedOut = onSignedOut;
    this.onLost = onLost;
    this.backoff = new Backoff();
    this.stopped = false;
    this.open();
  }

  open() {
    if (this.stopped) return;
    showConnection('connecting');
    const preview = this.preview === undefined ? '' : `&preview=${this.preview}`;
    const url = `/api/events?secret=${encodeURIComponent(this.secret)}${preview}`;
    const source = new EventSource(url);
    this.source = source;
    source.addEventListener('update-full', (e) => {
      this.backoff.reset();
      showConnection('live');
      this.tables.load(JSON.parse(e.data).database);
      this.onUpdate(this.tables, null);
    });
    source.addEventListener('update-partial', (e) => {
      const diff = JSON.parse(e.data).diff;
      this.tables.merge(diff);
      this.onUpdate(this.tables, diff);
    });
    source.addEventListener('error', () => {
      source.close();
      if (this.stopped || this.source !== source) return;
      showConnection('offline');
      this.onLost?.();
      this.backoff.later(() => this.check());
    });
  }

  async check() {
    if (this.stopped) return;
    try {
      // Only whether the secret holds matters: no stories needed.
      await api('/api/state?preview=0', { secret: this.secret });
    } catch (failure) {
      if (failure.status === 401) {
        this.stop();
        this.onSignedOut(failure.message);
        return;
      }
      // Unreachable, throttled or failing: keep trying.
    }
    this.open();
  }

  stop() {
    this.stopped = true;
    this.source?.close();
    showConnection('signedout');
  }
}
