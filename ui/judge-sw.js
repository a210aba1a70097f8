// The judge page's service worker: keeps the page and its files so /judge
// opens with no network. The server writes `const VERSION = '...'` above
// this line, a hash of every file it serves: a new server is a new worker,
// which fills a new cache and deletes the old ones when it takes over.
//
// Only the page's own files are answered from the cache. Everything else
// (the API, the event stream) goes to the network untouched: answering
// those here would hide from the page that it is offline, and a write must
// never be answered by anything but the server.

/* global VERSION */
const CACHE = `podium-judge-${VERSION}`;
const SHELL = [
  '/judge', '/ui/judge.html', '/ui/judge.js', '/ui/outbox.js', '/ui/api.js', '/ui/live.js',
  '/ui/dom.js', '/ui/tables.js', '/ui/retry.js', '/ui/style.css',
  '/ui/judge.webmanifest', '/ui/icon.svg',
];

self.addEventListener('install', (event) => {
  event.waitUntil((async () => {
    const cache = await caches.open(CACHE);
    // 'reload': fresh from the server, not from the browser's HTTP cache.
    await cache.addAll(SHELL.map((url) => new Request(url, { cache: 'reload' })));
    await self.skipWaiting();
  })());
});

self.addEventListener('activate', (event) => {
  event.waitUntil((async () => {
    for (const name of await caches.keys()) {
      if (name.startsWith('podium-judge-') && name !== CACHE) await caches.delete(name);
    }
    await self.clients.claim();
  })());
});

self.addEventListener('fetch', (event) => {
  const url = new URL(event.request.url);
  if (event.request.method !== 'GET' || url.origin !== self.location.origin) return;
  // The page at /judge with any query (a sign-in link's token is in the fragment, never sent).
  const path = url.pathname === '/judge' ? '/judge' : url.pathname;
  if (!SHELL.includes(path)) return;
  event.respondWith((async () => {
    const cache = await caches.open(CACHE);
    const kept = await cache.match(path);
    if (kept) return kept;
    return fetch(event.request);
  })());
});
