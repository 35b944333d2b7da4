// Writes the data Gazette's port of twitter-text counts with, taken from the exact npm
// packages the differential test runs (twitter-text 3.1.0 and its twemoji-parser), so the
// Rust port and the reference cannot drift apart silently:
//   crates/syndication/src/social/twitter_text/gtld.txt, cctld.txt  one TLD per line, in
//       twitter-text's order (the order decides which alternative a match takes)
//   crates/syndication/src/social/twitter_text/twemoji.regex  twemoji-parser's emoji regex
//       with its UTF-16 surrogate pairs rewritten as code points for Rust's regex crate
//   crates/syndication/src/social/twitter_text/latin_case.txt, cyrillic_case.txt  the
//       characters JavaScript's `i` flag adds to twitter-text's Latin-accent and Cyrillic
//       classes (ʀ matches because its capital Ʀ is in the class), for Rust's regex crate,
//       which takes the classes as written
// Run: node clients/twitter-text-data.mjs   (after npm ci in clients/)
import { createRequire } from 'node:module';
import { writeFileSync } from 'node:fs';

const require = createRequire(import.meta.url);
const out = new URL('../crates/syndication/src/social/twitter_text/', import.meta.url);

function tlds(name) {
  const source = require('twitter-text').regexen[name].source;
  const inner = /^\(\?:\(\?:(.*)\)\(\?=\[\^0-9a-zA-Z@\+-\]\|\$\)\)$/.exec(source);
  if (!inner) throw new Error(`unexpected ${name} shape: ${source.slice(0, 80)}`);
  return inner[1].split('|');
}

const hex = (unit) => parseInt(unit, 16);
const codePoint = (high, low) => 0x10000 + ((high - 0xd800) << 10) + (low - 0xdc00);
const rust = (cp) => `\\x{${cp.toString(16).toUpperCase()}}`;

function emojiPattern() {
  const source = require('twemoji-parser/dist/lib/regex').default.source;
  // A high surrogate is always followed by one low surrogate or a class of low surrogates.
  const converted = source.replace(
    /\\u(d[89ab][0-9a-f]{2})(?:\\u(d[c-f][0-9a-f]{2})|\[((?:\\ud[c-f][0-9a-f]{2}|-)+)\])/gi,
    (_, high, low, lowClass) => {
      if (low) return rust(codePoint(hex(high), hex(low)));
      const items = lowClass.replace(/\\u(d[c-f][0-9a-f]{2})/gi, (_m, unit) =>
        rust(codePoint(hex(high), hex(unit))),
      );
      return `[${items}]`;
    },
  );
  if (/\\ud[89a-f]/i.test(converted)) throw new Error('an unpaired surrogate is left in the emoji regex');
  return converted.replace(/\\u([0-9a-f]{4})/gi, (_, unit) => rust(hex(unit)));
}

/** What the `i` flag adds to a class: the code units it matches only case-insensitively. */
function caseFolded(name) {
  const source = require('twitter-text').regexen[name].source;
  const exact = new RegExp(`[${source}]`);
  const folded = new RegExp(`[${source}]`, 'i');
  const added = [];
  for (let unit = 0; unit < 0x10000; unit += 1) {
    const text = String.fromCharCode(unit);
    if (folded.test(text) && !exact.test(text)) added.push(rust(unit));
  }
  return added.join('');
}

writeFileSync(new URL('latin_case.txt', out), caseFolded('latinAccentChars') + '\n');
writeFileSync(new URL('cyrillic_case.txt', out), caseFolded('cyrillicLettersAndMarks') + '\n');
writeFileSync(new URL('gtld.txt', out), tlds('validGTLD').join('\n') + '\n');
writeFileSync(new URL('cctld.txt', out), tlds('validCCTLD').join('\n') + '\n');
writeFileSync(new URL('twemoji.regex', out), emojiPattern() + '\n');
console.log('wrote', out.pathname);
