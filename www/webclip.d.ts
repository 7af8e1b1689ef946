// Types of webclip.js, the JavaScript API (see that file and the README's "Embedding webclip in your page").

/** Anything webclip reads an image from. Files, blobs, URLs and bytes are decoded by the engine as they are
 *  (JPEG, PNG, WebP, GIF, BMP, TIFF); pixel sources are encoded as PNG first. */
export type ImageInput =
  | Blob | File | string | URL | HTMLImageElement | ImageBitmap | ImageData | HTMLCanvasElement | OffscreenCanvas
  | VideoFrame | ArrayBuffer | ArrayBufferView;

export type Backend = 'auto' | 'gpu' | 'cpu';

/** Progress of a request, as the worker reports it (lib/worker.js). */
export type Progress =
  | { stage: 'download'; file: string; loaded: number; total: number | null }
  | { stage: 'convert'; quant: string }
  | { stage: 'compile'; backend: string }
  | { stage: 'warmup' }
  | { stage: 'fallback'; reason: string }
  | { stage: 'text'; done: number; total: number }
  | { stage: 'image' }
  | { stage: 'vocabulary' };

export interface LoadOptions {
  /** "auto" (default): WebGPU when the browser has it, else the CPU (WebAssembly). Ignored when another user of the
   *  page already loaded the same model: it is shared as it is. */
  backend?: Backend;
  onProgress?: (progress: Progress) => void;
}

export interface RequestOptions {
  onProgress?: (progress: Progress) => void;
}

export interface ClassifyOptions extends RequestOptions {
  /** One prompt template with {} for the label; default "a photo of a {}.". */
  template?: string;
  /** Several templates averaged (the CLIP prompt ensemble), or "ensemble" for OpenAI's 80 ImageNet prompts. */
  templates?: string[] | 'ensemble';
  /** How many labels to return, best first (default: all). */
  topK?: number;
}

export interface LabelScore {
  label: string;
  /** softmax(exp(logit_scale) · cos(image, prompt)) over the given labels, as `webclip classify`. */
  score: number;
}

export interface ClassifyResult {
  labels: LabelScore[];
  /** The image's name (file name, URL's last segment, or a description of the pixel source). */
  image: string;
  /** Milliseconds; null for what came from a cache. */
  timings: { image: number | null; text: number | null; textComputed: number };
  backend: string;
  fallback: string | null;
}

export interface CaptionResult {
  caption: string;
  /** Cosine between the caption's and the image's embeddings. */
  score: number;
  alternatives: { caption: string; score: number }[];
  ms: number | null;
  backend: string;
}

export interface ModelInfo {
  name: string;
  url: string;
  /** Embedding length (projection_dim). */
  dim: number;
  /** exp(logit_scale). */
  logitScale: number;
  backend: string;
  /** The engine build the worker runs (lib/wasm-features.js; `?wasm=simd128` or `?threads=1` in the page's URL
   *  forces a single-threaded one). */
  cpuFeatures: 'relaxed-simd-threads' | 'relaxed-simd' | 'simd128';
  /** Threads the CPU backend splits its matmuls across (`?threads=N` sets it; the threads build only). */
  threads: number;
  fallback: string | null;
  towers: string;
  captions: boolean;
  fromCache: boolean;
  warnings: { code: string; message: string }[];
  [more: string]: unknown;
}

/** The page's codes (lib/errors.js ERRORS): each has a fixed `title` and the page's `hint`. */
export type ErrorCode =
  | 'no-model' | 'not-found' | 'network' | 'corrupt-model' | 'model-version' | 'one-tower' | 'unsupported-image'
  | 'out-of-memory' | 'quota' | 'no-webgpu' | 'webgpu-failed' | 'labels' | 'template' | 'camera' | 'no-wasm'
  | 'threads' | 'crashed' | 'internal';

/** The engine's codes: `crate::Error::code` (the table in src/error.rs) and the wasm façade's own
 *  (src/wasm/mod.rs). lib/errors.js ENGINE_CODES maps each to an ErrorCode. */
export type EngineCode =
  | 'io' | 'missing-file' | 'json' | 'config' | 'safetensors' | 'not-a-bundle' | 'bundle-version' | 'bundle-damaged'
  | 'missing-tensor' | 'tensor-shape' | 'tensor-dtype' | 'tensor-non-finite' | 'missing-tower' | 'tokenizer'
  | 'image' | 'input'
  | 'backend-unavailable' | 'gpu-device-lost' | 'gpu-out-of-memory' | 'gpu-limit' | 'gpu-dispatch-limit' | 'gpu'
  | 'backend-name' | 'no-labels' | 'template' | 'threshold' | 'caption-options' | 'embedding-length'
  | 'embedding-values' | 'js-result' | 'threads';

/** What pkg/webclip.js (the wasm module, used directly) throws or rejects with: a plain `Error` whose `message`
 *  says what and where, with own properties `code` (decide on this, never on the message) and `hint` (what to do,
 *  "" when the message says it; written for the CLI, so it may name flags such as --backend cpu). A trap (panic,
 *  out of memory) is a `WebAssembly.RuntimeError` instead, and the module must be loaded again. */
export interface EngineError extends Error {
  readonly code: EngineCode;
  readonly hint: string;
}

/** Every failure of this API: `code`, `message` (what and where), `title` and `hint` (what to do on a page). */
export class WebclipError extends Error {
  readonly code: ErrorCode;
  /** The worker had to be restarted (the wasm instance trapped or the worker died): the next request loads the
   *  model again. */
  readonly fatal: boolean;
  readonly title: string;
  readonly hint: string;
  /** The engine's code when the engine raised it (e.g. 'gpu-device-lost' or 'gpu-limit' for 'webgpu-failed'). */
  readonly engineCode: EngineCode | null;
}

export const DEFAULT_TEMPLATE: string;

/** Loads a model (a .webclip bundle URL, a folder URL ending in / with a Hugging Face CLIPModel, or a Hugging Face
 *  repository URL), shared with every other user of the same URL on the page. */
export function load(modelUrl: string | URL, options?: LoadOptions): Promise<WebclipModel>;

/** Cosine similarity of two embeddings of the same length. */
export function similarity(a: ArrayLike<number>, b: ArrayLike<number>): number;

export class WebclipModel {
  private constructor();
  readonly info: ModelInfo;
  /** True after dispose(); every method then rejects with code "no-model". */
  readonly disposed: boolean;
  classify(image: ImageInput, labels: string[] | string, options?: ClassifyOptions): Promise<ClassifyResult>;
  caption(image: ImageInput, options?: RequestOptions): Promise<CaptionResult>;
  /** Unnormalised image embedding, as `webclip embed --image`. */
  embedImage(image: ImageInput, options?: RequestOptions): Promise<Float32Array>;
  /** Unnormalised text embeddings (no template applied), as `webclip embed --text`. */
  embedText(text: string, options?: RequestOptions): Promise<Float32Array>;
  embedText(texts: string[], options?: RequestOptions): Promise<Float32Array[]>;
  similarity(a: ArrayLike<number>, b: ArrayLike<number>): number;
  /** Releases this handle; the shared worker stops when the page's last handle is disposed. */
  dispose(): void;
}
