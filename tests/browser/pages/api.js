// The JavaScript API as another site would use it: a plain module script, no bundler. Served by widget.test.mjs at
// /api-test/ beside the package's files (/webclip.js …), the test bundle (/models/default.webclip) and the photos
// (/photos/). It writes everything it measured as JSON into #out; the test compares it with the CLI.
import { WebclipError, load, similarity } from '../webclip.js';

const LABELS = ['cat', 'dog', 'car', 'rocket', 'cup of coffee', 'astronaut'];
const PHOTO = '../photos/chelsea.png';
const out = document.getElementById('out');
const scores = (r) => Object.fromEntries(r.labels.map((l) => [l.label, l.score]));

async function main() {
  const stages = new Set();
  // two users of the API on one page: one worker, one download (the test counts both)
  const [a, b] = await Promise.all([
    load('../models/default.webclip', { backend: 'cpu', onProgress: (p) => stages.add(p.stage) }),
    load(new URL('../models/default.webclip', location.href), { backend: 'cpu' }),
  ]);
  const blob = await (await fetch(PHOTO)).blob();
  const bitmap = await createImageBitmap(blob, { colorSpaceConversion: 'none' });
  const canvas = new OffscreenCanvas(bitmap.width, bitmap.height);
  canvas.getContext('2d').drawImage(bitmap, 0, 0);
  const imageData = canvas.getContext('2d').getImageData(0, 0, bitmap.width, bitmap.height);
  const img = document.getElementById('photo');

  const classify = {};
  for (const [kind, image] of Object.entries({ url: PHOTO, blob, img, bitmap, imageData })) {
    classify[kind] = scores(await a.classify(image, LABELS, { template: 'a photo of a {}.' }));
  }
  const top2 = await b.classify(blob, LABELS.join(', '), { topK: 2 });
  const image = await a.embedImage(blob);
  const [cat, dog] = await b.embedText(['a photo of a cat.', 'a photo of a dog.']);
  const single = await a.embedText('a photo of a cat.');
  const caption = await a.caption(blob);

  const errors = {};
  const expectError = async (name, fn) => {
    try {
      await fn();
      errors[name] = null;
    } catch (e) {
      errors[name] = { isWebclipError: e instanceof WebclipError, code: e.code, message: e.message, hint: e.hint };
    }
  };
  await expectError('notAnImage', () => a.classify({ width: 3 }, LABELS));
  await expectError('noLabels', () => a.classify(blob, []));
  await expectError('badTemplate', () => a.classify(blob, LABELS, { template: 'a photo' }));
  await expectError('missingModel', () => load('../models/missing.webclip'));
  a.dispose();
  await expectError('afterDispose', () => a.embedImage(blob));
  const stillWorks = scores(await b.classify(PHOTO, LABELS));
  b.dispose();

  return {
    info: a.info, stages: [...stages], classify, top2: top2.labels, stillWorks,
    embedImage: Array.from(image), embedCat: Array.from(cat), embedDog: Array.from(dog),
    embedSingle: Array.from(single), similarity: { cat: similarity(image, cat), dog: a.similarity(image, dog) },
    caption, errors,
  };
}

main().then(
  (result) => { out.textContent = JSON.stringify(result); out.dataset.done = 'ok'; },
  (e) => { out.textContent = `${e.name}: ${e.code ?? ''} ${e.message}\n${e.stack}`; out.dataset.done = 'error'; },
);
