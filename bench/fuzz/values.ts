/**
 * Hostile values for the fuzzer (`npm run fuzz`, test/reliability/fuzz.test.ts): strings with
 * unicode edge cases and query, path and SQL syntax, huge strings, deep JSON, wrong types, and
 * numbers that limits and cursors must refuse.
 */
import fc from 'fast-check';

/** Pieces that have broken parsers, tokenizers and path handling elsewhere. */
export const FRAGMENTS = [
  // unicode: lone surrogates, RTL and bidi controls, zero-width, combining marks, emoji sequences
  '\uD800',
  '\uDFFF',
  'a\uDC00b',
  '\u202E',
  '\u200F',
  '\u2066',
  '\u200B',
  '\u200D',
  '\uFEFF',
  'e\u0301',
  '\u0300'.repeat(40),
  'שלום',
  'مرحبا',
  '👩‍👩‍👧‍👦',
  '🏳️‍🌈',
  '\u{1F600}',
  '\u{10FFFF}',
  '\uFFFD',
  'İ',
  'ß',
  '\u0000',
  '\u0007',
  '\u001B[31m',
  '\r\n',
  '\t',
  ' ',
  // FTS5 / SQL syntax
  '"',
  '""',
  "'",
  '*',
  'NEAR(',
  'NEAR(a b, 2)',
  'NEAR/3',
  "'; DROP TABLE memories; --",
  'MATCH',
  'AND',
  'OR',
  'NOT',
  '^',
  'content:',
  'memories_fts:x',
  '(',
  ')',
  '{a b}',
  '-',
  '+',
  '%',
  '_',
  '\\',
  '1=1',
  '; SELECT * FROM sqlite_master',
  // paths
  '../',
  '..\\',
  '../../etc/passwd',
  '%2e%2e%2f',
  '%2E%2E/',
  '..%00',
  '%00',
  '/',
  '//',
  '.',
  '..',
  '~',
  'C:\\Windows',
  // objects and templates
  '__proto__',
  'constructor',
  'prototype',
  '{"$ne":null}',
  // biome-ignore lint/suspicious/noTemplateCurlyInString: template syntax is the point here
  '${process.exit()}',
  '<script>alert(1)</script>',
  // number-ish
  'NaN',
  'Infinity',
  '-0',
  '1e309',
  '0x10',
] as const;

export const fragment = fc.constantFrom(...FRAGMENTS);

/** A string built from hostile fragments and arbitrary text, usually short. */
export const nastyString: fc.Arbitrary<string> = fc.oneof(
  {
    weight: 4,
    arbitrary: fc
      .array(fc.oneof(fragment, fc.string({ maxLength: 8 })), { maxLength: 6 })
      .map((parts) => parts.join('')),
  },
  { weight: 2, arbitrary: fc.string({ unit: 'grapheme', maxLength: 40 }) },
  { weight: 2, arbitrary: fc.string({ unit: 'binary', maxLength: 40 }) },
  { weight: 1, arbitrary: fc.constantFrom('', ' ', '\n', '\u0000') },
);

/** Lengths around the server's limits (64-character categories, 128-character ids, 4,096-character queries, 32,768-character content). */
const HUGE_LENGTHS = [63, 64, 65, 127, 128, 129, 512, 513, 4_096, 4_097, 32_768, 32_769, 200_000] as const;

export const hugeString: fc.Arbitrary<string> = fc
  .tuple(fc.constantFrom(...HUGE_LENGTHS), fc.constantFrom('x', 'é', '😀', '"', '\u0301', ' ', 'ab '))
  .map(([length, unit]) => unit.repeat(Math.ceil(length / unit.length)).slice(0, length));

/** A string a user could plausibly send: words, sometimes with hostile pieces. */
export const text: fc.Arbitrary<string> = fc.oneof(
  {
    weight: 3,
    arbitrary: fc.constantFrom('garden', 'water the plants', 'meeting on Monday', 'peanut allergy', 'alpha'),
  },
  { weight: 3, arbitrary: nastyString },
  { weight: 1, arbitrary: hugeString },
);

/** JSON nested `depth` levels deep (as text: some depths are too deep to build as objects cheaply). */
export const deepJson: fc.Arbitrary<string> = fc
  .tuple(fc.constantFrom(2, 64, 1_000, 10_000, 100_000), fc.constantFrom('array', 'object'), fc.boolean())
  .map(([depth, kind, closed]) => {
    const [open, close] = kind === 'array' ? ['[', ']'] : ['{"a":', '}'];
    return `${open.repeat(depth)}1${closed ? close.repeat(depth) : ''}`;
  });

/** A number that a limit or count must refuse, or accept only when in range. */
export const oddNumber: fc.Arbitrary<number> = fc.oneof(
  fc.constantFrom(
    -1,
    0,
    1,
    2,
    1.5,
    -0.5,
    99,
    100,
    101,
    1_000,
    1_001,
    2 ** 31,
    2 ** 53,
    -(2 ** 53),
    1e308,
    Number.EPSILON,
  ),
  fc.integer({ min: -1_000, max: 2_000 }),
  fc.double({ noNaN: true, noDefaultInfinity: true }),
);

/** Query-string spellings of numbers (and things that are not numbers). */
export const oddNumberText: fc.Arbitrary<string> = fc.oneof(
  oddNumber.map(String),
  fc.constantFrom(
    '',
    ' 5',
    '5abc',
    '0x10',
    '1e3',
    '1e999',
    'NaN',
    'Infinity',
    '-Infinity',
    '[]',
    'null',
    'true',
    '٣',
    '５',
  ),
);

/** Any JSON value, shallow: wrong types for every field. */
export const anyJson: fc.Arbitrary<unknown> = fc.oneof(
  fc.constantFrom(null, true, false, 0, -1, 1.5, '', [], {}),
  nastyString,
  oddNumber,
  fc.array(nastyString, { maxLength: 4 }),
  fc.dictionary(nastyString, nastyString, { maxKeys: 4 }),
);
