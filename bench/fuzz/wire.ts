/**
 * The fuzzer's wire-level parts of a request: bodies (bad UTF-8, malformed or oversized JSON),
 * headers, paths and query strings, and the users and ids requests act on.
 */
import fc from 'fast-check';
import { anyJson, deepJson, hugeString, nastyString, oddNumberText } from './values.js';

/** The user most requests act for; the state oracle watches it, OTHER_USER and the default user. */
export const FUZZ_USER = 'fuzz';
export const OTHER_USER = 'fuzz-other';
export const WATCHED_USERS = [FUZZ_USER, OTHER_USER, 'default'] as const;

/** Stands for an id the server issued earlier (a memory or a job): the harness substitutes one at send time. */
export const KNOWN = '@known@';

// ---------------------------------------------------------------- bodies and headers

/** Bytes that are not UTF-8, inside a JSON string or alone. */
export const badUtf8 = fc
  .tuple(
    fc.array(
      fc.constantFrom(
        [0xff],
        [0xfe, 0xff],
        [0xc3, 0x28],
        [0xc0, 0xaf],
        [0xed, 0xa0, 0x80],
        [0xf8, 0x88, 0x80, 0x80, 0x80],
        [0x80],
      ),
      {
        minLength: 1,
        maxLength: 4,
      },
    ),
    fc.boolean(),
  )
  .map(([pieces, inJson]) => {
    const bytes = pieces.flat();
    const prefix = inJson ? new TextEncoder().encode('{"content":"') : new Uint8Array();
    const suffix = inJson ? new TextEncoder().encode('"}') : new Uint8Array();
    return Uint8Array.from([...prefix, ...bytes, ...suffix]);
  });

export const malformedJson = fc.constantFrom(
  '',
  '{',
  '{"content":',
  '{"content":"x",}',
  "{'content':'x'}",
  '{"content":"x"}garbage',
  '{"content":"x"}{"content":"y"}',
  '[1,2',
  'NaN',
  'undefined',
  '\uFEFF{"content":"bom"}',
  '{"content":"\\ud800"}',
  '{"content":"\\u0000"}',
  '{"content":"x","content":"dup"}',
  '{"__proto__":{"content":"proto"}}',
  '1e999',
  '"just a string"',
  'null',
);

/** 2 MiB: over the fuzz server's 1 MiB body limit. */
export const FUZZ_BODY_LIMIT = 1024 * 1024;
export const oversized = fc.constant(`{"content":"${'x'.repeat(2 * FUZZ_BODY_LIMIT)}"}`);

export const jsonBody = (valid: fc.Arbitrary<unknown>): fc.Arbitrary<string | Uint8Array> =>
  fc.oneof(
    { weight: 8, arbitrary: valid.map((value) => JSON.stringify(value) ?? 'null') },
    { weight: 2, arbitrary: anyJson.map((value) => JSON.stringify(value) ?? 'null') },
    { weight: 1, arbitrary: deepJson },
    { weight: 2, arbitrary: malformedJson },
    { weight: 1, arbitrary: badUtf8 },
    { weight: 1, arbitrary: fc.uint8Array({ maxLength: 64 }) },
    { weight: 1, arbitrary: nastyString },
  );

export const contentType = fc.oneof(
  { weight: 8, arbitrary: fc.constant('application/json') },
  {
    weight: 2,
    arbitrary: fc.constantFrom(
      'application/json; charset=utf-8',
      'text/plain',
      'application/x-www-form-urlencoded',
      'multipart/form-data; boundary=x',
      'application/x-ndjson',
      'application/json; charset=utf-16',
      'application/jsonx',
      '*/*',
      '',
    ),
  },
);

/** Header values Node's HTTP client can send (printable ASCII and Latin-1). */
export const headerSafe = (value: string): string => value.replace(/[^\t\x20-\x7e\x80-\xff]/g, '?');

export const userHeader = fc.oneof(
  { weight: 12, arbitrary: fc.constant(FUZZ_USER) },
  { weight: 2, arbitrary: fc.constant(OTHER_USER) },
  { weight: 2, arbitrary: fc.constant(undefined) },
  {
    weight: 2,
    arbitrary: fc
      .oneof(
        fc.constantFrom('../etc', '..', 'a b', '%2e%2e%2f', 'é', '', ' ', 'x'.repeat(200), 'user/../fuzz'),
        nastyString,
      )
      .map(headerSafe),
  },
);

export const extraHeaders = fc.oneof(
  { weight: 12, arbitrary: fc.constant({}) },
  {
    weight: 1,
    arbitrary: fc.constantFrom<Record<string, string>>(
      { authorization: 'Bearer not-a-key' },
      { authorization: 'Basic YTpi' },
      { authorization: 'Bearer ' },
      { origin: 'http://evil.example' },
      { origin: 'null' },
      { host: 'evil.example' },
      { 'content-encoding': 'gzip' },
      { 'transfer-encoding': 'chunked' },
      { accept: 'text/html' },
    ),
  },
);

export const headers = (withBody: boolean): fc.Arbitrary<Record<string, string>> =>
  fc
    .tuple(userHeader, withBody ? fc.option(contentType, { freq: 12 }) : fc.constant(null), extraHeaders)
    .map(([user, type, extra]) => ({
      ...(user !== undefined && { 'x-user-id': user }),
      ...(type !== null && { 'content-type': type }),
      ...extra,
    }));

// ---------------------------------------------------------------- paths

/** The string with lone surrogates replaced (they cannot be percent-encoded as UTF-8). */
export const wellFormed = (value: string): string =>
  value.replace(/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g, '\uFFFD');
export const encode = (value: string): string => encodeURIComponent(wellFormed(value));

/** Percent-encodes whatever Node's HTTP client refuses in a path (spaces, controls, non-ASCII); `%` stays as given. */
export const sendablePath = (path: string): string =>
  wellFormed(path).replace(/[^\x21-\x7e]/gu, (char) => encodeURIComponent(char));

export const idSegment = fc.oneof(
  { weight: 4, arbitrary: fc.constant(KNOWN) },
  { weight: 3, arbitrary: nastyString.map((value) => encode(value)) },
  {
    weight: 3,
    arbitrary: fc.constantFrom(
      '..',
      '../..',
      '%2e%2e',
      '%2e%2e%2f%2e%2e%2fetc%2fpasswd',
      '..%2f..%2f',
      '%00',
      'x%00y',
      '%',
      '%zz',
      '%C0%AF',
      '%ED%A0%80',
      '%FF',
      '0196b6c0-0000-7000-8000-000000000000',
      'not-a-real-id',
    ),
  },
  { weight: 1, arbitrary: hugeString.map((value) => encode(value.slice(0, 300))) },
);

export const QUERY_NAMES = [
  'limit',
  'cursor',
  'category',
  'source',
  'agentId',
  'sessionId',
  'tags',
  'tagsAll',
  'createdAfter',
  'createdBefore',
  'eventAfter',
  'eventBefore',
  'metadata',
  'includeSuperseded',
  'includeExpired',
  'async',
  'path',
  'sessionId',
] as const;

export const cursor = fc.oneof(
  fc.constantFrom('', 'not-a-cursor', 'eyJiZWZvcmUiOjF9', 'eyJiZWZvcmUiOiIuLi8uLiJ9', 'bnVsbA', '====', 'eyJ'),
  nastyString.map((value) => Buffer.from(JSON.stringify({ before: value })).toString('base64url')),
  hugeString,
);

export const queryValue = fc.oneof(
  oddNumberText,
  nastyString,
  cursor,
  fc.constantFrom('true', 'false', 'TRUE', '1', '{"project":"alpha"}', '{"a":{"b":1}}', '[1]', '{', 'a,b,,c'),
);

export const queryString = fc
  .array(
    fc.tuple(
      fc.oneof({ weight: 5, arbitrary: fc.constantFrom(...QUERY_NAMES) }, { weight: 1, arbitrary: nastyString }),
      queryValue,
    ),
    {
      maxLength: 4,
    },
  )
  .map((pairs) =>
    pairs.length === 0 ? '' : `?${pairs.map(([name, value]) => `${encode(name)}=${encode(value)}`).join('&')}`,
  );
