// Reconnection pacing shared by the live connections (clicker WebSocket,
// event stream): start at half a second, double per failure, cap at ten
// seconds, and start over once a connection works again.

export class Backoff {
  constructor() {
    this.reset();
  }

  /** A connection worked: the next failure retries quickly again. */
  reset() {
    this.delay = 500;
  }

  /** Runs `retry` after the current delay, and lengthens the next one. */
  later(retry) {
    setTimeout(retry, this.delay);
    this.delay = Math.min(this.delay * 2, 10_000);
  }
}
