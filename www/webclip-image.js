// Part of the JavaScript API (webclip.js): whatever a page holds as "an image" → the encoded file bytes the engine
// decodes itself (JPEG, PNG, WebP, GIF, BMP, TIFF), so preprocessing stays the PIL-exact one in Rust. Files, blobs and URLs are
// passed as they are (the same bytes as `webclip classify FILE`); pixels (ImageBitmap, ImageData, canvases, images
// that cannot be re-fetched) are drawn onto an OffscreenCanvas and encoded as PNG (lossless: the engine sees exactly
// those pixels).

import { WebclipError } from './lib/errors.js';

const ACCEPTED = 'a Blob or File, a URL string or URL, an HTMLImageElement, an ImageBitmap, ImageData, a canvas, ' +
  'or encoded bytes (ArrayBuffer / Uint8Array)';

/** {name, bytes: Uint8Array, id} for `image`; `id` is a SHA-256 of the bytes where crypto.subtle exists. */
export async function toImageBytes(image, base = globalThis.document?.baseURI) {
  const { name, bytes } = await encoded(image, base);
  if (!bytes.length) throw new WebclipError('unsupported-image', `${name}: the image is empty (0 bytes)`);
  return { name, bytes, id: await contentId(bytes) };
}

async function encoded(image, base) {
  if (typeof image === 'string' || image instanceof URL) return fetchImage(new URL(image, base).href);
  if (image instanceof Blob) {
    return { name: image.name || `blob (${image.type || 'no type'})`, bytes: new Uint8Array(await image.arrayBuffer()) };
  }
  if (image instanceof ArrayBuffer) return { name: 'bytes', bytes: new Uint8Array(image) };
  if (ArrayBuffer.isView(image)) {
    return { name: 'bytes', bytes: new Uint8Array(image.buffer, image.byteOffset, image.byteLength) };
  }
  if (globalThis.HTMLImageElement && image instanceof HTMLImageElement) return fromImg(image, base);
  if (globalThis.ImageData && image instanceof ImageData) {
    return drawn('ImageData', image.width, image.height, (ctx) => ctx.putImageData(image, 0, 0));
  }
  const drawable = ['ImageBitmap', 'HTMLCanvasElement', 'OffscreenCanvas', 'VideoFrame', 'SVGImageElement']
    .find((k) => globalThis[k] && image instanceof globalThis[k]);
  if (drawable) {
    const w = image.width ?? image.displayWidth;
    const h = image.height ?? image.displayHeight;
    return drawn(drawable, w, h, (ctx) => ctx.drawImage(image, 0, 0));
  }
  const what = image === null ? 'null' : typeof image === 'object' ? image.constructor?.name ?? 'an object' : typeof image;
  throw new WebclipError('unsupported-image', `webclip cannot read an image from ${what}; pass ${ACCEPTED}`);
}

async function fetchImage(url) {
  const name = decodeURIComponent(new URL(url).pathname.split('/').pop() || url);
  let response;
  try {
    response = await fetch(url);
  } catch (e) {
    throw new WebclipError('network', `the image ${url} could not be downloaded (${e.message ?? e}); another site ` +
      'must allow it with Access-Control-Allow-Origin, or pass a Blob instead');
  }
  if (!response.ok) throw new WebclipError('network', `the image ${url} answered HTTP ${response.status}`);
  return { name, bytes: new Uint8Array(await response.arrayBuffer()) };
}

/** An <img>: its file again (from the HTTP cache, exact bytes) when it can be fetched, else its pixels. */
async function fromImg(img, base) {
  try {
    await img.decode();
  } catch {
    throw new WebclipError('unsupported-image', `the <img src="${img.currentSrc || img.src}"> did not load or is ` +
      'not an image the browser can decode');
  }
  const src = img.currentSrc || img.src;
  if (/^(https?|data|blob):/.test(src)) {
    try {
      return await fetchImage(new URL(src, base).href);
    } catch { /* cross-origin without CORS, or gone: fall back to its pixels */ }
  }
  try {
    return await drawn(`<img src="${src}">`, img.naturalWidth, img.naturalHeight, (ctx) => ctx.drawImage(img, 0, 0));
  } catch (e) {
    if (e instanceof WebclipError) throw e;
    throw new WebclipError('unsupported-image', `<img src="${src}"> is from another site that does not allow ` +
      `reading it (${e.name}); add crossorigin="anonymous" and CORS headers there, or pass a Blob`);
  }
}

async function drawn(what, width, height, draw) {
  if (!(width > 0 && height > 0)) {
    throw new WebclipError('unsupported-image', `${what} has no pixels (${width}×${height}); wait until it has loaded`);
  }
  const canvas = new OffscreenCanvas(width, height);
  draw(canvas.getContext('2d'));
  const blob = await canvas.convertToBlob({ type: 'image/png' });
  return { name: `${what} ${width}×${height}.png`, bytes: new Uint8Array(await blob.arrayBuffer()) };
}

let unique = 0;
async function contentId(bytes) {
  if (!globalThis.crypto?.subtle) return `image-${++unique}-${bytes.length}`; // not a secure context: no reuse
  const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', bytes));
  return 'sha256:' + Array.from(digest, (b) => b.toString(16).padStart(2, '0')).join('');
}
