// What "a model URL" can be, resolved against the page: a webclip bundle, a folder holding a Hugging Face CLIPModel,
// or a Hugging Face hub repository (a folder too, reached through /resolve/<revision>/). Folders are converted to a
// q8 bundle in the worker; `cacheKey` is where that bundle is kept (a URL that is never fetched).

/** The bundle the page loads when no model is named (made with `webclip convert … --out www/models/default.webclip`). */
export const DEFAULT_MODEL = 'models/default.webclip';
/** Files of a Hugging Face CLIPModel folder; the preprocessor config is optional (OpenAI CLIP defaults). */
export const HF_FILES = ['config.json', 'model.safetensors', 'tokenizer.json', 'preprocessor_config.json'];
export const FOLDER_QUANT = 'q8';

/**
 * One-click models for the picker: Hugging Face repositories the page downloads (f32 `model.safetensors`) and
 * converts to a q8 bundle in the tab, then keeps for offline use. Sizes in MB = 10⁶ bytes: `download` as the Hub
 * serves it, `kept` the q8 bundle (ViT-B/32 measured with `webclip convert`; B/16 from its parameter count).
 */
export const PICKS = [
  { url: 'https://huggingface.co/openai/clip-vit-base-patch32', name: 'CLIP ViT-B/32 (OpenAI)', download: 605,
    kept: 162, note: 'the fastest; the usual choice' },
  { url: 'https://huggingface.co/openai/clip-vit-base-patch16', name: 'CLIP ViT-B/16 (OpenAI)', download: 599,
    kept: 160, note: 'finer detail, about 4× the image-tower work of B/32' },
];

const HUB = /^https?:\/\/(?:www\.)?(?:huggingface\.co|hf\.co)\/([\w.-]+\/[\w.-]+)(?:\/(?:tree|resolve|blob)\/([^/?#]+))?/;

/**
 * `input` as typed (empty: the default bundle) → {kind: 'bundle'|'folder', url, name, cacheKey, isDefault}.
 * Throws a plain Error with what is wrong for inputs that are not URLs.
 */
export function resolveSource(input, base) {
  const text = (input ?? '').trim();
  if (!text) {
    const url = new URL(DEFAULT_MODEL, base).href;
    return { kind: 'bundle', url, name: DEFAULT_MODEL, cacheKey: url, isDefault: true };
  }
  const short = /^hf:([\w.-]+\/[\w.-]+)(?:@([\w.-]+))?$/.exec(text);
  const hub = short ?? HUB.exec(text);
  if (hub) {
    const [, repo, revision = 'main'] = hub;
    // a revision from a URL is already URL-encoded (refs%2Fpr%2F1); the hf: form allows no special characters
    const url = `https://huggingface.co/${repo}/resolve/${revision}/`;
    return folder(url, `${repo}${revision === 'main' ? '' : '@' + revision}`);
  }
  let url;
  try {
    url = new URL(text, base);
  } catch {
    throw new Error(`"${text}" is not a URL. Enter a .webclip file URL, a folder URL ending in /, or a Hugging ` +
      'Face repository such as https://huggingface.co/openai/clip-vit-base-patch32');
  }
  if (!/^https?:$/.test(url.protocol)) {
    throw new Error(`${url.protocol} URLs cannot be downloaded by the page; use an http(s) URL`);
  }
  if (url.pathname.endsWith('/')) return folder(url.href, url.pathname.replace(/\/$/, '').split('/').pop() || url.host);
  return { kind: 'bundle', url: url.href, name: decodeURIComponent(url.pathname.split('/').pop()), cacheKey: url.href };
}

function folder(url, name) {
  return { kind: 'folder', url, name, cacheKey: new URL(`webclip-${FOLDER_QUANT}.webclip`, url).href };
}
