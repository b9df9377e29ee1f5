// The field app's service worker: it keeps the app's files so that the app
// opens with no connection. Files are fetched fresh when the network
// answers (an upgraded relay serves new code at once) and from the cache
// when it does not. Nothing under /v1/ is ever cached: records live in the
// app's database, not here.

const CACHE = 'doorstep-field-v1';
const SHELL = [
  './', 'index.html', 'app.js', 'screens.js', 'store.js', 'text.js', 'worker.js',
  'field.css', 'icon.svg', 'icon-192.png', 'icon-512.png', 'manifest.webmanifest', 'pkg/web_ffi.js', 'pkg/web_ffi_bg.wasm',
];
// A connection that answers this slowly is treated as none.
const PATIENCE_MS = 4000;

self.addEventListener('install', (event) => {
  event.waitUntil(caches.open(CACHE).then((c) => c.addAll(SHELL)).then(() => self.skipWaiting()));
});

self.addEventListener('activate', (event) => {
  event.waitUntil(caches.keys()
    .then((keys) => Promise.all(keys.filter((k) => k !== CACHE).map((k) => caches.delete(k))))
    .then(() => self.clients.claim()));
});

async function fresh(request) {
  const cache = await caches.open(CACHE);
  const timeout = new Promise((_, reject) => setTimeout(() => reject(new Error('slow')), PATIENCE_MS));
  try {
    const answer = await Promise.race([fetch(request), timeout]);
    if (answer.ok) await cache.put(request, answer.clone());
    return answer;
  } catch (e) {
    const kept = await cache.match(request, { ignoreSearch: true });
    if (kept) return kept;
    throw e;
  }
}

self.addEventListener('fetch', (event) => {
  const url = new URL(event.request.url);
  if (event.request.method !== 'GET' || url.origin !== self.location.origin) return;
  if (!url.pathname.startsWith('/field/')) return;
  event.respondWith(fresh(event.request));
});
