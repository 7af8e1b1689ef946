// Loading a model for the worker: the bundle from Cache Storage or the network (a Hugging Face folder downloaded
// and converted to q8 here), built on WebGPU or the CPU with the fallback reason, then warmed up so the first
// photo does not pay for pipeline creation.

import { engine } from './engine.js';
import { SOFTWARE_ADAPTER, adapterName } from './adapter.js';
import { WebclipError, toWebclipError } from './errors.js';
import { cachedModel, download, revalidate } from './model-store.js';
import { FOLDER_QUANT, HF_FILES } from './source.js';

/** A 16×16 PNG: one image pass at load time builds the image tower's pipelines before the first real photo. */
export const WARMUP_PNG = Uint8Array.from(atob(
  'iVBORw0KGgoAAAANSUhEUgAAABAAAAAQCAIAAACQkWg2AAABlklEQVR42hXRURVEIQhFUSMYgQhGMAIRiGCEE8EIRiACEYhABCLMG7/ZrMt1jMEcyGAN9k' +
  'AHNjgDBnfwBj6IQQ5q0IMxJnMikzXZE53Y5EyY3Mmb+CQmOalJzw8IUxBhCVtQwYQjIFzhCS6EkEIJLR9YzIUs1mIvdGGLs2BxF2/hi1jkoha9PrCZG9ms' +
  'zd7oxjZnw+Zu3sY3sclNbXp/QJmKKEvZiiqmHAXlKk9xJZRUSmn9gDENMZaxDTXMOAbGNZ7hRhhplNH2gcM8yGEd9kEPdjgHDvfwDn6IQx7q0OcD/wK/' +
  'Sr4jv9hfkG/1N/x/Fx44BCQU9Pc94zIvclmXfdGLXc79j9/Lu/glLnmpS98PPOZDHuuxH/qwx3n/5ffxHv6IRz7q0e8DznTEWc521DHn+D/KdZ7jTjjp' +
  'lNP+gWAGEqxgBxpYcOIf/AYv8CCCDCro+EAyE0lWshNNLDn5P/MmL/Ekkkwq6fxAMQspVrELLaw49S/lFq/wIoosquj6QDMbaVazG22sOf2v8Dav8Saa' +
  'bKrp5geIAnAQC3NfwAAAAABJRU5ErkJggg=='), (c) => c.charCodeAt(0));

/** {bytes, fromCache, etag?, lastModified?} of `source` (lib/source.js), reporting progress. */
export async function fetchBundle(source, progress) {
  const stored = await cachedModel(source.cacheKey).catch(() => null);
  if (stored) {
    // a converted folder is kept until "Clear cache"; a bundle is checked against the server (one HEAD) when online
    const freshness = source.kind === 'bundle' ? await revalidate(source.url, stored) : 'unknown';
    if (freshness !== 'changed') return { bytes: stored.bytes, fromCache: true };
  }
  if (source.kind === 'bundle') {
    try {
      const got = await download(source.url, (loaded, total) =>
        progress({ stage: 'download', file: source.name, loaded, total }));
      return { ...got, fromCache: false };
    } catch (e) {
      if (stored) return { bytes: stored.bytes, fromCache: true }; // the new version did not arrive: keep the old
      if (e.code === 'not-found' && source.isDefault) {
        throw new WebclipError('no-model', `there is no model at ${source.name} (${source.url}) yet`);
      }
      throw e;
    }
  }
  // A Hugging Face CLIPModel folder: download its files, then convert to a q8 bundle here.
  const files = {};
  for (const file of HF_FILES) {
    const url = new URL(file, source.url).href;
    const got = await download(url, (loaded, total) => progress({ stage: 'download', file, loaded, total }),
      { optional: file === 'preprocessor_config.json' }).catch((e) => {
      if (e.code === 'not-found' && file === 'model.safetensors') {
        throw new WebclipError('not-found', `${source.url} has no model.safetensors. The page converts single-file ` +
          'safetensors checkpoints; for pytorch_model.bin or sharded weights, download the repository and run ' +
          `webclip convert --model DIR --quant ${FOLDER_QUANT} --out www/models/default.webclip`);
      }
      throw e;
    });
    files[file] = got?.bytes;
  }
  progress({ stage: 'convert', quant: FOLDER_QUANT });
  try {
    const bytes = engine().convertCheckpoint(files['config.json'], files['model.safetensors'], files['tokenizer.json'],
      files['preprocessor_config.json'], FOLDER_QUANT, 'both');
    return { bytes, fromCache: false };
  } catch (e) {
    throw toWebclipError(e, 'model');
  }
}

/**
 * Why "auto" should not take WebGPU on this device, or null. A software adapter (SwiftShader, llvmpipe: Chromium's
 * fallback where it has no usable GPU) runs the same WGSL on the CPU through an emulator: measured on a 2-core
 * machine with a ViT-B/32 q8 bundle, 144 s to ready and 63–99 s a photo, against 10 s to the first label with
 * `?backend=cpu` (issue 15). The adapter says so itself (`isFallbackAdapter`, or its info names the renderer).
 */
export async function softwareAdapter(gpu = globalThis.navigator?.gpu) {
  const adapter = await gpu?.requestAdapter().catch(() => null);
  if (!adapter) return null; // no adapter at all: Model.fromBundle says why, and "auto" falls back as before
  const info = adapter.info ?? {};
  const named = adapterName(info);
  if (adapter.isFallbackAdapter || info.isFallbackAdapter || SOFTWARE_ADAPTER.test(named)) {
    return `the WebGPU adapter (${named || 'the browser\'s fallback adapter'}) is a software renderer: WebGPU ` +
      'emulated on the CPU, many times slower than WebAssembly here';
  }
  return null;
}

/**
 * A Model on `backend` → {model, fallback, choice}. "auto": WebGPU on a hardware adapter; the CPU when the adapter
 * is a software one (`choice` says why: a decision, not a failure) or when WebGPU is missing or fails (`fallback`).
 */
export async function build(bytes, name, backend, progress) {
  if (backend !== 'cpu') {
    const why = !globalThis.navigator?.gpu ? 'this browser offers no WebGPU here (navigator.gpu is missing)' : null;
    if (why && backend === 'gpu') throw new WebclipError('no-webgpu', why);
    const choice = !why && backend === 'auto' ? await softwareAdapter() : null;
    if (choice) return { model: await buildCpu(bytes, name, progress), fallback: null, choice };
    if (!why) {
      progress({ stage: 'compile', backend: 'gpu' });
      try {
        return { model: await engine().Model.fromBundle(bytes, name, 'gpu'), fallback: null, choice: null };
      } catch (e) {
        if (backend === 'gpu') throw toWebclipError(e, 'model');
        const reason = String(e.message ?? e);
        progress({ stage: 'fallback', reason });
        const cpu = await buildCpu(bytes, name, progress); // a damaged file fails here too, with its own message
        return { model: cpu, fallback: reason, choice: null };
      }
    }
    progress({ stage: 'fallback', reason: why });
    return { model: await buildCpu(bytes, name, progress), fallback: why, choice: null };
  }
  return { model: await buildCpu(bytes, name, progress), fallback: null, choice: null };
}

export async function buildCpu(bytes, name, progress) {
  progress({ stage: 'compile', backend: 'cpu' });
  try {
    return await engine().Model.fromBundle(bytes, name, 'cpu');
  } catch (e) {
    throw toWebclipError(e, 'model');
  }
}

export async function warmUp(model) {
  if (model.towers !== 'vision') await model.embedTexts(['a photo of a cat.']);
  if (model.towers !== 'text') await model.embedImage(WARMUP_PNG, 'warm-up.png');
}
