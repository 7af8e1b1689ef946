// The page's label rule (www/lib/labels.js parseLabels) against the one in Rust (src/tasks/labels.rs, which
// `webclip classify --labels` uses), exported by the wasm package as parseLabels: the same labels for every input.
// Node only, no browser: `node --test tests/browser/labels.test.mjs` after `./build.sh wasm`.
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { parseLabels } from '../../www/lib/labels.js';
import { wasmUrl } from '../../www/lib/wasm-features.js';

const PKG = fileURLToPath(new URL('../../www/pkg/', import.meta.url));
const havePkg = existsSync(`${PKG}webclip_bg.wasm`);

/** The wasm package's exports, instantiated once. */
async function wasm() {
  const wc = await import(`${PKG}webclip.js`);
  await wc.default({ module_or_path: readFileSync(wasmUrl(new URL('../../www/pkg/', import.meta.url))) });
  assert.equal(typeof wc.parseLabels, 'function', 'www/pkg has no parseLabels: rebuild it with ./build.sh wasm');
  return wc;
}

/** Deterministic pseudo-random numbers (mulberry32), so a failure names a reproducible case. */
function rng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

// separators, every kind of whitespace JS and Rust might disagree on (U+0085 is Rust's but not JS's; U+FEFF is
// JS's but not Unicode's), words that repeat, '#', non-ASCII letters and an astral-plane emoji
const PIECES = [',', ',', '\n', '\r\n', '\r', ' ', ' ', '  ', '\t', '\u000b', '\u000c', '\u00a0', '\u0085', '\u1680',
  '\u2000', '\u2009', '\u200a', '\u200b', '\u2028', '\u2029', '\u202f', '\u205f', '\u3000', '\ufeff', '#', ';',
  'cat', 'cat', 'dog', 'Cat', 'golden retriever', 'hot dog', 'é', 'e\u0301', '猫', '🐱', 'a', 'b', '{}', '"'];

test('parseLabels: the page and the wasm package agree', { skip: !havePkg && 'no www/pkg: ./build.sh wasm' },
  async () => {
    const wc = await wasm();
    const cases = [
      '', ' ', ',', '\n', ' , \n ', 'cat', 'cat,dog', ' cat,dog\n\n  golden   retriever ,cat,, \nhot dog\r\n',
      'a\u00a0b,\ufeffc\u3000,a b,\u0085d', 'Cat,cat', 'a,,b,,,a', '\r\n\r\n', 'x\u2028y', '# not a comment, cat',
    ];
    const random = rng(12);
    for (let i = 0; i < 2000; i++) {
      const n = Math.floor(random() * 12);
      cases.push(Array.from({ length: n }, () => PIECES[Math.floor(random() * PIECES.length)]).join(''));
    }
    for (const text of cases) {
      assert.deepEqual(wc.parseLabels(text), parseLabels(text), `labels of ${JSON.stringify(text)}`);
    }
    // and the rule itself, once, through the wasm function
    assert.deepEqual(wc.parseLabels(' cat,dog\n\n  golden   retriever ,cat,, \nhot dog\r\n'),
      ['cat', 'dog', 'golden retriever', 'hot dog']);
  });
