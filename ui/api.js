// The HTTP API as the pages use it: JSON in and out, the Bearer secret on
// every call, and every failure turned into a sentence a person can act on.

export class ApiFailure extends Error {
  constructor(status, message, body = {}) {
    super(message);
    this.status = status;
    this.body = body;
  }
}

/** What to tell a person about a refusal with this status and server message. */
export function explain(status, serverMessage, retryAfter) {
  const detail = serverMessage ? ` (${serverMessage})` : '';
  switch (status) {
    case 0:
      return 'Cannot reach the Podium server. Check the network; the page keeps trying.';
    case 401:
      return `That secret or code was not accepted. Check it and try again${detail}.`;
    case 403:
      return `You are signed in, but not allowed to do that${detail}.`;
    case 404:
      return `Not found: ${serverMessage || 'it may have been removed'}.`;
    case 409:
      return `Not possible right now: ${serverMessage}.`;
    case 413:
      return `That file is too large for the server${detail}.`;
    case 429:
      return `Too many wrong attempts from this device. Wait ${retryAfter || 'a few'} seconds, then try again.`;
    case 503:
      return `The server could not save this; nothing was changed. Try again shortly${detail}.`;
    default:
      if (status >= 400 && status < 500) return `The server refused this: ${serverMessage || `error ${status}`}.`;
      return `The server failed (error ${status})${detail}. Try again shortly.`;
  }
}

/**
 * Calls the API. `body` may be an object (sent as JSON) or a File/Blob/string
 * (sent as is, for the CSV imports). Resolves with the parsed answer, or a
 * Response when `raw` is set (the CSV exports); rejects with ApiFailure.
 * `idempotencyKey` is sent as the Idempotency-Key header.
 */
export async function api(path, { secret, method = 'GET', body, raw = false, idempotencyKey } = {}) {
  const headers = {};
  if (secret) headers.Authorization = `Bearer ${secret}`;
  // The same key on every retry of one action: the server applies it once.
  if (idempotencyKey) headers['Idempotency-Key'] = idempotencyKey;
  let payload = body;
  if (body !== undefined && !(body instanceof Blob) && typeof body !== 'string') {
    payload = JSON.stringify(body);
    headers['Content-Type'] = 'application/json';
  }
  let res;
  try {
    res = await fetch(path, { method, headers, body: payload, cache: 'no-store' });
  } catch {
    throw new ApiFailure(0, explain(0));
  }
  if (res.ok) return raw ? res : res.status === 204 ? null : res.json();
  let answer = {};
  try {
    answer = await res.json();
  } catch {
    // A proxy's HTML error page, say: the status alone has to do.
  }
  throw new ApiFailure(res.status, explain(res.status, answer.error, res.headers.get('Retry-After')), answer);
}

/** Downloads an authenticated file (a CSV export) through a blob URL. */
export async function download(path, secret, fallbackName) {
  const res = await api(path, { secret, raw: true });
  const disposition = res.headers.get('Content-Disposition') || '';
  const name = /filename="?([^";]+)"?/.exec(disposition)?.[1] || fallbackName;
  const url = URL.createObjectURL(await res.blob());
  const link = Object.assign(document.createElement('a'), { href: url, download: name });
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}
