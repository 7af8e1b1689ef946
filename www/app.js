// Page shell: load the wasm package and report what this browser offers. The labeling UI comes later.
// No inline scripts anywhere, so the page can run under a strict Content-Security-Policy.

const $ = (id) => document.getElementById(id);

function show(id, text, state) {
  const el = $(id);
  el.textContent = text;
  el.dataset.state = state; // ok | warn | error: styled in style.css
}

async function loadWasm() {
  let wc;
  try {
    wc = await import('./pkg/webclip.js');
  } catch (err) {
    // A missing package is the usual cause: the page was served before ./build.sh ran.
    show('wasm', 'not built', 'error');
    $('build-hint').hidden = false;
    console.error('webclip: could not import ./pkg/webclip.js', err);
    return null;
  }
  try {
    await wc.default(); // fetches and instantiates pkg/webclip_bg.wasm
    show('wasm', `version ${wc.version()}`, 'ok');
    return wc;
  } catch (err) {
    show('wasm', `failed to start: ${err.message ?? err}`, 'error');
    console.error('webclip: wasm init failed', err);
    return null;
  }
}

async function checkWebGpu() {
  if (!('gpu' in navigator)) {
    const why = window.isSecureContext ? 'not available in this browser' : 'needs a secure context (https, localhost)';
    show('gpu', why, 'warn');
    return;
  }
  try {
    const adapter = await navigator.gpu.requestAdapter();
    if (!adapter) {
      show('gpu', 'navigator.gpu is present but no adapter was granted (blocklisted GPU or driver?)', 'warn');
      return;
    }
    // adapter.info is the current API; requestAdapterInfo() is its older, removed spelling.
    const info = adapter.info ?? (await adapter.requestAdapterInfo?.()) ?? {};
    const name = [info.vendor, info.architecture, info.device, info.description].filter(Boolean).join(' · ');
    const fallback = (adapter.isFallbackAdapter ?? info.isFallbackAdapter) ? ' (software fallback adapter)' : '';
    show('gpu', `available: ${name || 'adapter (no name given)'}${fallback}`, fallback ? 'warn' : 'ok');
  } catch (err) {
    show('gpu', `requestAdapter failed: ${err.message ?? err}`, 'error');
  }
}

function checkIsolation() {
  if (window.crossOriginIsolated) show('isolation', 'cross-origin isolated (wasm threads possible)', 'ok');
  else show('isolation', 'not isolated: serve with COOP/COEP headers (./build.sh serve does)', 'warn');
}

checkIsolation();
await Promise.all([loadWasm(), checkWebGpu()]);
