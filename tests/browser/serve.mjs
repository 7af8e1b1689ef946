// A small static file server for www/ (no dependencies): `node tests/browser/serve.mjs --root www --port 8080`.
// It sends what the page needs: exact MIME types (application/wasm for streaming compilation), cross-origin
// isolation headers (COOP/COEP/CORP, so SharedArrayBuffer and wasm threads are allowed), no-cache with validators,
// HTTP Range + HEAD for multi-hundred-MB model files, and gzip for text and wasm (the 5 MB engine is ~1.6 MB so;
// model files are sent as they are, so their Content-Length drives the download progress). Browser tests import
// { serve } from here.
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { createServer } from 'node:http';
import { createGzip } from 'node:zlib';
import { extname, join, resolve, sep } from 'node:path';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';

const MIME = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.txt': 'text/plain; charset=utf-8',
  '.md': 'text/plain; charset=utf-8',
  '.wasm': 'application/wasm',
  '.wgsl': 'text/plain; charset=utf-8',
  '.ts': 'text/plain; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.jpeg': 'image/jpeg',
  '.gif': 'image/gif',
  '.webp': 'image/webp',
  '.ico': 'image/x-icon',
  '.woff2': 'font/woff2',
  // model files: safetensors weights, our quantized bundles, anything else binary
  '.safetensors': 'application/octet-stream',
  '.bin': 'application/octet-stream',
};

/** Types worth compressing: text and the wasm engine (quantized weights do not shrink, images are compressed). */
const COMPRESSIBLE = /^(text\/|application\/(json|wasm)|image\/svg)/;

const COMMON_HEADERS = {
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Embedder-Policy': 'require-corp',
  'Cross-Origin-Resource-Policy': 'same-origin',
  'Cache-Control': 'no-cache',
  'X-Content-Type-Options': 'nosniff',
};

/** Parses a `Range: bytes=…` header against a file of `size` bytes.
 *  Returns {start, end} (inclusive), null to send the whole file, or 'unsatisfiable'. */
export function parseRange(header, size) {
  const m = /^bytes=(\d*)-(\d*)$/.exec((header || '').trim());
  // absent, malformed or multi-range: send the whole file (RFC 9110 lets a server ignore Range)
  if (!m || (m[1] === '' && m[2] === '')) return null;
  let start, end;
  if (m[1] === '') { // suffix: the last N bytes
    const n = Number(m[2]);
    if (n === 0) return 'unsatisfiable';
    start = Math.max(0, size - n);
    end = size - 1;
  } else {
    start = Number(m[1]);
    end = m[2] === '' ? size - 1 : Math.min(Number(m[2]), size - 1);
    if (start >= size || end < start) return 'unsatisfiable';
  }
  return { start, end };
}

/** Maps a URL path to a file under root, or null when it would leave root (or is not a valid path). */
export function resolveUnder(root, urlPath) {
  let path;
  try { path = decodeURIComponent(urlPath); } catch { return null; }
  if (path.includes('\0') || path.includes('\\')) return null;
  const file = resolve(root, '.' + (path.startsWith('/') ? path : '/' + path));
  return file === root || file.startsWith(root + sep) ? file : null;
}

async function handle(root, req, res, extraHeaders = {}) {
  const send = (status, body, headers = {}) => {
    res.writeHead(status,
      { ...COMMON_HEADERS, ...extraHeaders, 'Content-Type': 'text/plain; charset=utf-8', ...headers });
    res.end(req.method === 'HEAD' ? undefined : body + '\n');
  };
  if (req.method !== 'GET' && req.method !== 'HEAD') return send(405, 'method not allowed', { Allow: 'GET, HEAD' });

  const urlPath = new URL(req.url, 'http://localhost').pathname;
  let file = resolveUnder(root, urlPath);
  if (file === null) return send(403, 'forbidden: outside the served folder');
  let info = await stat(file).catch(() => null);
  if (info?.isDirectory()) {
    if (!urlPath.endsWith('/')) return send(301, 'moved', { Location: urlPath + '/' });
    file = join(file, 'index.html');
    info = await stat(file).catch(() => null);
  }
  if (!info?.isFile()) return send(404, `not found: ${urlPath}`);

  const type = MIME[extname(file).toLowerCase()] ?? 'application/octet-stream';
  const gzip = COMPRESSIBLE.test(type) && !req.headers.range && /\bgzip\b/.test(req.headers['accept-encoding'] ?? '');
  const etag = `"${info.size.toString(16)}-${Math.floor(info.mtimeMs).toString(16)}${gzip ? '-gz' : ''}"`;
  const headers = {
    ...COMMON_HEADERS,
    ...extraHeaders,
    'Content-Type': type,
    'Accept-Ranges': 'bytes',
    'Last-Modified': info.mtime.toUTCString(),
    ETag: etag,
  };
  if (COMPRESSIBLE.test(type)) headers.Vary = 'Accept-Encoding';
  if (req.headers['if-none-match'] === etag) {
    res.writeHead(304, headers);
    return res.end();
  }
  if (gzip) {
    res.writeHead(200, { ...headers, 'Content-Encoding': 'gzip' }); // length unknown until compressed: chunked
    if (req.method === 'HEAD') return res.end();
    return createReadStream(file).on('error', (err) => res.destroy(err))
      .pipe(createGzip({ level: 6 })).pipe(res);
  }
  // If-Range: serve the range only if the file is still the version the client has.
  const ifRange = req.headers['if-range'];
  const range = ifRange && ifRange !== etag ? null : parseRange(req.headers.range, info.size);
  if (range === 'unsatisfiable') {
    return send(416, 'range not satisfiable', { 'Content-Range': `bytes */${info.size}` });
  }
  const { start, end } = range ?? { start: 0, end: info.size - 1 };
  if (range) headers['Content-Range'] = `bytes ${start}-${end}/${info.size}`;
  headers['Content-Length'] = String(end - start + 1);
  res.writeHead(range ? 206 : 200, headers);
  if (req.method === 'HEAD' || info.size === 0) return res.end();
  createReadStream(file, { start, end })
    .on('error', (err) => res.destroy(err))
    .pipe(res);
}

/** Starts serving `root`; resolves to the listening http.Server (port 0 picks a free port: server.address().port).
 *  `headers` are added to every response (e.g. a Content-Security-Policy, as a host page would send). */
export function serve({ root, port = 8080, host = '127.0.0.1', log = false, headers = {} }) {
  const absRoot = resolve(root);
  const server = createServer((req, res) => {
    handle(absRoot, req, res, headers)
      .catch((err) => {
        if (!res.headersSent) res.writeHead(500, { 'Content-Type': 'text/plain; charset=utf-8' });
        res.end(`internal error: ${err.message}\n`);
      })
      .finally(() => log && console.log(`${req.method} ${req.url} ${res.statusCode}`));
  });
  return new Promise((ok, fail) => {
    server.once('error', fail);
    server.listen(port, host, () => {
      server.off('error', fail);
      ok(server);
    });
  });
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const { values: opt } = parseArgs({
    options: {
      root: { type: 'string', default: 'www' },
      port: { type: 'string', default: process.env.PORT ?? '8080' },
      host: { type: 'string', default: '127.0.0.1' },
      quiet: { type: 'boolean', default: false },
    },
  });
  try {
    const server = await serve({ root: opt.root, port: Number(opt.port), host: opt.host, log: !opt.quiet });
    const { port } = server.address();
    console.log(`serving ${resolve(opt.root)} at http://${opt.host}:${port}/ (Ctrl-C to stop)`);
  } catch (err) {
    if (err.code === 'EADDRINUSE') {
      console.error(`serve.mjs: port ${opt.port} is already in use. Stop the other server, or pick another port:`);
      console.error(`  PORT=${Number(opt.port) + 1} ./build.sh serve`);
    } else {
      console.error(`serve.mjs: cannot listen on ${opt.host}:${opt.port}: ${err.message}`);
    }
    process.exit(1);
  }
}
