// A site that installed the npm package and serves node_modules/webclip/ as it is (no bundler): the API module and
// the element, both from the package. widget.test.mjs serves this at /consumer/ beside /node_modules/webclip/.
import { load } from '../node_modules/webclip/webclip.js';
import '../node_modules/webclip/webclip-labeler.js';

const out = document.getElementById('out');
try {
  const model = await load('../models/default.webclip');
  const r = await model.classify('../photos/chelsea.png', ['cat', 'dog', 'car']);
  const defined = customElements.get('webclip-labeler') !== undefined;
  model.dispose();
  out.textContent = JSON.stringify({ backend: model.info.backend, labels: r.labels, defined });
  out.dataset.done = 'ok';
} catch (e) {
  out.textContent = `${e.name}: ${e.code ?? ''} ${e.message}`;
  out.dataset.done = 'error';
}
