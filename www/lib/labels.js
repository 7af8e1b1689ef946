// Labels and prompt templates: parsing what the visitor types, the presets, and the template choice.
// Presets are JSON files served beside the page; the ImageNet ones come from src/assets/prompts (copied into
// pkg/assets/prompts by ./build.sh wasm, one copy in git), the small ones live in presets/ with their provenance.

import { WebclipError } from './errors.js';

export const SINGLE_TEMPLATE = 'a photo of a {}.';
/** The 80 prompts of OpenAI's ImageNet notebook, used for the ensemble. */
export const ENSEMBLE = { id: 'openai-imagenet-80', url: 'pkg/assets/prompts/imagenet_templates.json',
  pick: (json) => json.openai_imagenet_templates };

// OpenAI's cleaned ImageNet names give two classes each the same name (657 and 744 "missile", 836 and 837
// "sunglasses"), so one label each would be dropped as a duplicate (998 labels): the second takes its next WordNet
// lemma ("projectile, missile"; "sunglasses, dark glasses, shades").
export const IMAGENET_SECOND_NAMES = { 744: 'projectile', 837: 'dark glasses' };

export const PRESETS = {
  imagenet: { name: 'ImageNet-1k (1000 classes)', url: 'pkg/assets/prompts/imagenet_classnames.json',
    pick: (json) => json.classnames.map((name, i) => IMAGENET_SECOND_NAMES[i] ?? name) },
  cifar100: { name: 'CIFAR-100 (100 classes)', url: 'presets/cifar100.json', pick: (json) => json.classnames },
  objects: { name: 'Common objects (COCO, 80)', url: 'presets/common-objects.json', pick: (json) => json.classnames },
  scenes: { name: 'Scenes (48)', url: 'presets/scenes.json', pick: (json) => json.classnames },
};

/**
 * Labels from free text: split on commas and new lines, trimmed, inner whitespace collapsed, empty ones dropped,
 * duplicates kept once. The same rule as `webclip classify --labels` (src/tasks/labels.rs, exported by the wasm
 * package as parseLabels); kept here for synchronous use before the engine loads, and checked against the wasm
 * function by tests/browser/labels.test.mjs.
 */
export function parseLabels(text) {
  const seen = new Set();
  const labels = [];
  for (const raw of text.split(/[,\n]/)) {
    const label = raw.trim().replace(/\s+/g, ' ');
    if (label && !seen.has(label)) {
      seen.add(label);
      labels.push(label);
    }
  }
  return labels;
}

/** The prompt for one label: every `{}` replaced, as the CLI's `template.replace("{}", label)`. */
export function fillTemplate(template, label) {
  return template.split('{}').join(label);
}

// A template holds exactly one {}, as src/tasks/labels.rs check_template requires (none: every label would get
// the same prompt; two: the label said twice).
export function checkTemplates(templates) {
  for (const t of templates) {
    const slots = t.split('{}').length - 1;
    if (slots === 0) throw new WebclipError('template', `"${t}" has no {} where the label should go`);
    if (slots > 1) throw new WebclipError('template', `"${t}" has ${slots} {}; a template holds exactly one`);
  }
}

/** Fetches a preset or template list (relative to the page) and returns its array of strings. */
export async function loadList({ url, pick }, base = document.baseURI) {
  const full = new URL(url, base).href;
  let json;
  try {
    const r = await fetch(full);
    if (!r.ok) throw new Error(`HTTP ${r.status}`);
    json = await r.json();
  } catch (e) {
    throw new WebclipError('network', `could not load the list ${full}: ${e.message ?? e}`);
  }
  const list = pick(json);
  if (!Array.isArray(list) || !list.every((s) => typeof s === 'string')) {
    throw new WebclipError('internal', `${full} does not hold a list of strings where expected`);
  }
  return list;
}
