// Telling a software WebGPU adapter (WebGPU emulated on the CPU) from real hardware, for the worker's "auto" choice
// (lib/loader.js) and the page's "Runs on" line (ui/model-panel.js). No import: the page loads it without the engine.

/** Renderer names of WebGPU on the CPU (SwiftShader, Mesa's llvmpipe/lavapipe/softpipe, Windows' WARP). */
export const SOFTWARE_ADAPTER = /swiftshader|llvmpipe|lavapipe|softpipe|microsoft basic render|\bwarp\b/i;

/** What a GPUAdapterInfo says the adapter is: vendor, architecture, device and description, joined. */
export const adapterName = (info = {}) =>
  [info.vendor, info.architecture, info.device, info.description].filter(Boolean).join(' ');
