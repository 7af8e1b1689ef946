// The service worker: keeps the app shell (page, scripts, styles, label lists) and the engine (pkg/: webclip.js and
// the .wasm) in Cache Storage so that, after one visit, the page opens with the network off. Network first (so a
// rebuilt page shows at once), the stored copy when the network fails or is slow. The model itself is stored by
// the inference worker in "webclip-models-v1" (lib/model-store.js) and read from there directly; requests not
// listed here pass through untouched. The page registers it as sw.js?wasm=NAME, the engine build the browser runs
// (lib/wasm-features.js bestBuild): only that build is stored at install (Safari never downloads the relaxed-SIMD
// build it cannot run); the others are stored when a page it serves fetches them (?wasm=simd128, ?threads=1). The
// threads build is its own folder, pkg/threads/ (glue, .wasm, and wasm-bindgen's snippets/ with the script of its
// worker threads, whose path holds a hash): everything under it is stored when fetched.

const SHELL_CACHE = 'webclip-shell-v1';
const NETWORK_WAIT_MS = 4000; // then answer from the cache (a stalled connection is as bad as none)
/** The .wasm of the engine build `name` (lib/wasm-features.js's BUILDS); both when it is not one's name. */
function engine(name) {
  const builds = { 'relaxed-simd': 'pkg/webclip_relaxed_bg.wasm', simd128: 'pkg/webclip_bg.wasm' };
  if (name === THREADS) return [...THREADS_FILES, builds['relaxed-simd']]; // and its one-thread fallback
  return builds[name] ? [builds[name]] : Object.values(builds);
}
const THREADS = 'relaxed-simd-threads'; // lib/wasm-features.js's THREADS_BUILD
const THREADS_FILES = ['pkg/threads/webclip.js', 'pkg/threads/webclip_bg.wasm'];
const BUILD = new URL(self.location.href).searchParams.get('wasm'); // sw.js?wasm=NAME, from the page
const SHELL = [
  './', 'index.html', 'app.js', 'style.css', 'app.css',
  'lib/adapter.js', 'lib/bundle-header.js', 'lib/client.js', 'lib/drop-zone.js', 'lib/engine.js', 'lib/errors.js', 'lib/labels.js', 'lib/loader.js',
  'lib/model-store.js', 'lib/source.js', 'lib/embedding-store.js', 'lib/idb.js', 'lib/worker.js', 'lib/zero-shot.js',
  'lib/wasm-features.js',
  'ui/dom.js', 'ui/export.js', 'ui/inputs.js', 'ui/labels-panel.js', 'ui/model-panel.js', 'ui/notice.js',
  'ui/results.js',
  'collection.html', 'collection.js', 'collection.css', // the collection view
  'ui/collection/export.js', 'ui/collection/folder.js', 'ui/collection/store.js', 'ui/collection/view.js',
  'presets/cifar100.json', 'presets/common-objects.json', 'presets/scenes.json',
  'pkg/webclip.js', ...engine(BUILD),
  'pkg/assets/prompts/imagenet_classnames.json', 'pkg/assets/prompts/imagenet_templates.json',
];
const SHELL_URLS = new Set([...SHELL, ...engine(null), ...THREADS_FILES]
  .map((f) => new URL(f, self.registration.scope).href));
const THREADS_DIR = new URL('pkg/threads/', self.registration.scope).href;
const INDEX = new URL('index.html', self.registration.scope).href;

self.addEventListener('install', (ev) => {
  ev.waitUntil((async () => {
    const cache = await caches.open(SHELL_CACHE);
    // revalidated with the server (a file the page already loaded comes back as 304, not a second download of the
    // 5 MB engine), all or nothing: a half-stored shell would not start offline
    await cache.addAll(SHELL.map((f) => new Request(f, { cache: 'no-cache' })));
    await self.skipWaiting();
  })());
});

self.addEventListener('activate', (ev) => {
  ev.waitUntil((async () => {
    for (const name of await caches.keys()) {
      if (name.startsWith('webclip-shell-') && name !== SHELL_CACHE) await caches.delete(name);
    }
    await self.clients.claim(); // the first visit's page is served offline-capable without a reload
  })());
});

self.addEventListener('fetch', (ev) => {
  const req = ev.request;
  if (req.method !== 'GET' || req.headers.has('Range')) return;
  const url = new URL(req.url);
  url.search = '';
  url.hash = '';
  // the page itself under any query (?model=…) is index.html
  const key = req.mode === 'navigate' && url.href.startsWith(self.registration.scope)
    && (url.href === self.registration.scope || url.href === INDEX) ? INDEX : url.href;
  if (!SHELL_URLS.has(key) && !key.startsWith(THREADS_DIR)) return;
  ev.respondWith(networkFirst(req, key));
});

async function networkFirst(req, key) {
  const cache = await caches.open(SHELL_CACHE);
  const network = fetch(req).then((res) => {
    if (res.ok && res.type === 'basic') cache.put(key, res.clone()).catch(() => {}); // the offline copy follows
    return res;
  });
  const stored = await cache.match(key);
  if (!stored) return network;
  const late = new Promise((ok) => setTimeout(() => ok(stored), NETWORK_WAIT_MS));
  return Promise.race([network.catch(() => stored), late]);
}
