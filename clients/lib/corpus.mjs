// A deterministic corpus of texts for comparing Gazette's X count with twitter-text's:
// scripts, emoji, URLs with and without schemes, IP hosts, ports, punctuation, entities,
// combining marks, and random mixtures of all of them.

const pieces = {
  words: [
    'hello', 'Government', 'naïve', 'café', 'Ærøskøbing', 'straße', 'Привет', 'мир', 'Ελλάδα',
    'مرحبا', 'שלום', 'नमस्ते', 'สวัสดี', '日本語', 'ソーシャルメディア', '中文', '한국어', 'ｶﾀｶﾅ',
    'e\u0301', 'A\u030A', '\u1100\u1161', 'ﬁ', 'Ⅻ', '①', 'x²', '…', '—', '–', '“quoted”', '‘single’',
    '«guillemets»', '¿qué?', '¡hola!', 'ǅ', 'İstanbul', 'ß', 'ſ', 'K', 'ẞ', 'ı', 'https://ſtack.org', 'Kexample.com', '\u200b', '\u200d', '\u00ad',
    '\u2028', '\t', '\r\n', '\u3000', 'Ⓜ', '𝐁𝐨𝐥𝐝', '𠀀', '\u{E0041}', '@user', '#hashtag',
    '$CASH', '＠fullwidth', '＃tag', 'C#', 'C++', 'a.b', 'e.g.', 'Mr.Smith', '3.14', 'v1.2.3',
    '&amp;', '&lt;b&gt;', '&#8230;', '&nbsp;', '<br>', 'file.txt', 'notes.md', 'index.html',
    'archive.tar.gz', 'README.rs', 'data.json', 'a@b.co', 'name@example.com',
  ],
  emoji: [
    '👍', '👍🏽', '👨‍👩‍👧‍👦', '👩‍💻', '🏳️‍🌈', '🏴‍☠️', '🇦🇺', '🇬🇧', '🇦🇦', '🇿', '1️⃣', '#️⃣', '*⃣', '©', '©️',
    '®️', '™', '™️', '☺', '☺️', '☺︎', '❤', '❤️', '❤︎', '✌🏿', '🧑‍🤝‍🧑', '🫠', '🥲', '🦩', '⌚', '⌚️',
    '↔', '↔️', '🏴󠁧󠁢󠁳󠁣󠁴󠁿', '👁‍🗨', '🤷‍♀️', '🤷🏻‍♂️', '⛹️‍♀️', '\uFE0F', '\uFE0E', '🀄', '🃏', '🅰', '🅰️',
    '⭐', '⬆️', '〰️', '㊗️', '🔟', '👯‍♀️', '🧜‍♂️', '👋\u200D👋',
  ],
  urls: [
    'https://example.org', 'http://example.com/', 'https://www.gov.uk/government/news',
    'http://127.0.0.1:8080/posts/enterprise-2-0', 'http://127.0.0.1/', 'https://10.0.0.1:8443/x',
    'http://[::1]:8080/posts/a', 'http://localhost:8080/posts/a', 'http://localhost/',
    'https://example.org:8443/a?b=c&d=e', 'https://example.org/path_(with)_parens',
    'https://en.wikipedia.org/wiki/Enterprise_2.0_(business)', 'https://example.org/a?q=1.',
    'https://t.co/abc123', 'https://t.co/abcdefghijklmnopqrstuvwxyz0123456789abcdefghijk',
    'http://t.co/x?y=z', 'example.com', 'www.example.com/page', 'wp.me/p3jRFF-H',
    'sub.domain.example.co.uk/x/y', 'bit.ly/3abc', 'example.community', 'example.comm',
    'example.c', 'example.museum/collections', 'xn--bcher-kva.example', 'https://bücher.de/a',
    'https://例え.テスト/パス', 'https://пример.рф/путь', 'пример.рф', 'https://example.org/ä/ö',
    'https://example.org/#fragment', 'https://example.org/%E2%9C%93', 'HTTPS://EXAMPLE.ORG/UP',
    'ftp://example.org/file', 'mailto:someone@example.org', 'https://user:pass@example.org/',
    'https://example.org/@handle/', 'https://example.org/a–b', 'https://-bad-.example.org',
    'https://a_b.example.org', 'https://a.b_c.org', 'http://', 'https://.org', 'example.org.',
    '192.168.1.1', '192.168.1.1:80/a', 'https://' + 'a'.repeat(70) + '.com',
    'https://example.org/' + 'p'.repeat(300), 'https://example.co.jp/日本', 'example.io:99999',
    'gazette.example/feed.xml', 'https://example.org/feed.xml?format=atom&x=1',
    // Matched only through JavaScript's case-insensitive flag (Ʀ, В and Ι are in the classes).
    'https://example.com/ʀ', 'ʀ.com', 'https://example.org/ᲀ', 'https://example.org/ι',
  ],
  punctuation: [
    ' ', ' ', ' ', '  ', '\n', '. ', ', ', ': ', '; ', '! ', '? ', '(', ')', '[', ']', '"', "'",
    '<', '>', '«', '»', '/', '-', '_', '.', '…', '·', '|', '~', '@', '#', '$', '%', '&', '*',
    '＠', '\u202E', '\u200E', '\uFEFF',
  ],
};

/** A small seeded generator (mulberry32), so every run checks the same texts. */
function random(seed) {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function corpus(size = 4000, seed = 2026) {
  const next = random(seed);
  const pick = (list) => list[Math.floor(next() * list.length)];
  const texts = [];
  // Every piece alone, and each URL and emoji in the positions that change how X reads them.
  for (const list of Object.values(pieces)) texts.push(...list);
  for (const url of pieces.urls) {
    texts.push(`see ${url}`, `(${url})`, `${url}.`, `«${url}»`, `x${url}`, `-${url}`, `@${url}`,
      `#${url}`, `${url}, and more`, `日本${url}`, `${url}👍`);
  }
  for (const emoji of pieces.emoji) texts.push(`a${emoji}b`, `${emoji}${emoji}`, `${emoji} ${emoji}`);
  // Random mixtures.
  while (texts.length < size) {
    const parts = [];
    const count = 1 + Math.floor(next() * 12);
    for (let i = 0; i < count; i += 1) {
      const roll = next();
      const list = roll < 0.4 ? pieces.words : roll < 0.6 ? pieces.emoji : roll < 0.75 ? pieces.urls : pieces.punctuation;
      parts.push(pick(list));
      if (next() < 0.7) parts.push(' ');
    }
    texts.push(parts.join(''));
  }
  return texts;
}

// Hosts and what may surround them where X's URL pattern decides by looking ahead: after a
// listed TLD only a character outside [0-9a-zA-Z@+-] (or the end) may follow, a punycode
// TLD takes anything, and a port, path or query may start there. Gazette's port checks
// that look-ahead without a backtracking engine (crates/syndication/src/social/twitter_text.rs),
// so every combination is measured both ways.
const boundaryHosts = ['a.com', 'a.com.xn--zzzz', 'x.xn--p1ai', 'b.co.uk', 'example.comm', 'example.community',
  'ex.c', 'a.b.xn--abc', 'xn--bcher-kva.de', 'sub.x.museum', 'ẞ.de', 'пример.рф', 't.co/abc', 'a_b.com', 'a-.com'];
const boundaryAfter = ['', 'x', '@', '+', '-', ':', ':80', ':80x', ':x', '/', '/p', '/p(q)', '?', '?a=1', '?a=1.', '.',
  '..', ',', ')', '#', '$', '＠', 'é', '日', '\u202E', ' ', '\n', ':80/p?q=1', '/@h/', '-x', '.com', '.xn--q'];
const boundaryBefore = ['', ' ', '@', '#', '$', '-', '_', '.', '/', 'a', '(', 'https://', 'http://', ' https://',
  '\u202E', '日'];

export function boundaryCorpus() {
  const texts = [];
  for (const before of boundaryBefore) {
    for (const host of boundaryHosts) {
      for (const after of boundaryAfter) texts.push(before + host + after, `${before}${host}${after} ${host}${after}`);
    }
  }
  return texts;
}
