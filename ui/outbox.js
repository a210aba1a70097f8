// The judge page's memory across network loss and reloads, in IndexedDB:
// the queue of answers not yet saved by the server (each with its own
// Idempotency-Key, made once and reused on every retry, so a retry after a
// lost answer cannot apply twice) and the last live state the page had (so
// the route, hacks and notes stay readable offline). Where IndexedDB is
// unavailable the queue lives in memory only: it still orders and retries,
// but a reload loses it.

const DB = 'podium-judge';
const QUEUE = 'outbox';
const SNAPSHOT = 'snapshot';

/** A fresh random key: 128 bits from crypto.getRandomValues, as hex. */
export function newKey() {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}

function request(req) {
  return new Promise((ok, fail) => {
    req.onsuccess = () => ok(req.result);
    req.onerror = () => fail(req.error);
  });
}

/** `promise`, or a rejection after `ms` milliseconds. */
function within(ms, promise) {
  return Promise.race([promise, new Promise((_, fail) => setTimeout(() => fail(new Error('timed out')), ms))]);
}

function openDb() {
  const req = indexedDB.open(DB, 1);
  req.onupgradeneeded = () => {
    req.result.createObjectStore(QUEUE, { keyPath: 'seq', autoIncrement: true });
    req.result.createObjectStore(SNAPSHOT, { keyPath: 'judgeId' });
  };
  return request(req);
}

export class Outbox {
  constructor(db, judgeId, entries) {
    this.db = db;
    this.judgeId = judgeId;
    /** This judge's unsaved answers, oldest first (a mirror of the store). */
    this.entries = entries;
    this.memorySeq = 0;
  }

  /**
   * The outbox of one judge; entries of another judge on this phone stay
   * stored, untouched. Opening is retried: during a reload the store can
   * stay busy with the old document for a moment, and a page stuck there
   * would show nothing.
   */
  static async open(judgeId) {
    for (let attempt = 1; ; attempt += 1) {
      let db = null;
      try {
        db = await within(2000 * attempt, openDb());
        const all = await within(2000 * attempt, request(db.transaction(QUEUE).objectStore(QUEUE).getAll()));
        return new Outbox(db, judgeId, all.filter((e) => e.judgeId === judgeId));
      } catch (failure) {
        db?.close();
        if (failure.message !== 'timed out' || attempt === 5) return new Outbox(null, judgeId, []);
      }
    }
  }

  /** Lets go of the store (the page is going away). */
  close() {
    this.db?.close();
  }

  /** Whether a reload keeps the queue (false where IndexedDB failed). */
  get durable() {
    return this.db !== null;
  }

  async write(store, change) {
    if (!this.db) return undefined;
    const tx = this.db.transaction(store, 'readwrite');
    const result = request(change(tx.objectStore(store)));
    await new Promise((ok, fail) => {
      tx.oncomplete = ok;
      tx.onerror = () => fail(tx.error);
      tx.onabort = () => fail(tx.error);
    });
    return result;
  }

  /** Queues an answer; it is stored (if storage works) before this resolves. */
  async add(fields) {
    const entry = { ...fields, judgeId: this.judgeId, idempotencyKey: newKey(), state: 'waiting', alsoOk: [], at: Date.now() };
    entry.seq = this.db ? await this.write(QUEUE, (s) => s.add(entry)) : ++this.memorySeq;
    this.entries.push(entry);
    return entry;
  }

  async update(entry) {
    await this.write(QUEUE, (s) => s.put(entry));
  }

  async remove(entry) {
    this.entries = this.entries.filter((e) => e !== entry);
    await this.write(QUEUE, (s) => s.delete(entry.seq));
  }

  async saveSnapshot(database) {
    await this.write(SNAPSHOT, (s) => s.put({ judgeId: this.judgeId, database, at: Date.now() }));
  }

  /** The last state kept for this judge, or null (retried like opening). */
  async loadSnapshot() {
    if (!this.db) return null;
    for (let attempt = 1; ; attempt += 1) {
      try {
        return (await within(2000 * attempt, request(this.db.transaction(SNAPSHOT).objectStore(SNAPSHOT).get(this.judgeId)))) ?? null;
      } catch (failure) {
        if (failure.message !== 'timed out' || attempt === 4) throw failure;
      }
    }
  }
}
