// The labels card: a text box (commas or new lines), presets that fill it, and the prompt: one template or the
// 80-template ensemble. Reports {labels, templates: {id, list}} to onChange, debounced while typing.

import { ENSEMBLE, PRESETS, SINGLE_TEMPLATE, loadList, parseLabels } from '../lib/labels.js';
import { $, show } from './dom.js';

const TYPING_PAUSE_MS = 500;

export function setUpLabels(onChange) {
  const box = $('labels');
  const preset = $('preset');
  const mode = $('template-mode');
  const template = $('template');
  let ensembleList = null;
  let timer = 0;
  const changed = (delay = 0) => {
    clearTimeout(timer);
    timer = setTimeout(() => onChange(), delay);
  };

  preset.addEventListener('change', async () => {
    const p = PRESETS[preset.value];
    if (!p) return;
    preset.disabled = true;
    try {
      box.value = (await loadList(p)).join('\n');
      changed();
    } catch (e) {
      show('labels-status', `${e.message}`, 'error');
    } finally {
      preset.disabled = false;
    }
  });
  box.addEventListener('input', () => {
    preset.value = '';
    changed(TYPING_PAUSE_MS);
  });
  template.addEventListener('input', () => changed(TYPING_PAUSE_MS));
  mode.addEventListener('change', () => {
    template.hidden = mode.value === 'ensemble';
    changed();
  });

  return {
    /** The labels and templates as chosen now (loads the ensemble's list the first time it is needed). */
    async current() {
      const labels = parseLabels(box.value);
      if (mode.value === 'ensemble') {
        ensembleList ??= await loadList(ENSEMBLE);
        return { labels, templates: { id: ENSEMBLE.id, list: ensembleList } };
      }
      const t = template.value.trim() || SINGLE_TEMPLATE;
      return { labels, templates: { id: t, list: [t] } };
    },
    /** Fills the controls (used for ?labels= and ?template= in the address bar). */
    set({ labels, template: t }) {
      if (labels != null) box.value = labels;
      if (t === 'ensemble') {
        mode.value = 'ensemble';
        template.hidden = true;
      } else if (t) {
        template.value = t;
      }
    },
    status(text, state) {
      show('labels-status', text, state);
      if (state !== 'wait') document.getElementById('labels-bar').hidden = true;
    },

    /** The text tower's progress over the prompts (an 80-template ensemble of 1000 labels is 80,000 texts). */
    progress(done, total) {
      const bar = document.getElementById('labels-bar');
      bar.hidden = false;
      bar.value = total ? done / total : 0;
    },
  };
}
