/**
 * Generated requests for the fuzzer: REST calls (any route, method, path, query, headers and body
 * bytes), MCP tool calls through the official SDK client, and raw POSTs to `/mcp`. Requests are
 * plain data, so fast-check can shrink a failing one and print it.
 */
import fc from 'fast-check';
import { anyJson, deepJson, fragment, hugeString, nastyString, oddNumber, oddNumberText, text } from './values.js';

/** The user most requests act for; the state oracle watches it, OTHER_USER and the default user. */
export const FUZZ_USER = 'fuzz';
export const OTHER_USER = 'fuzz-other';
export const WATCHED_USERS = [FUZZ_USER, OTHER_USER, 'default'] as const;

/** Stands for an id the server issued earlier (a memory or a job): the harness substitutes one at send time. */
export const KNOWN = '@known@';

export interface RestRequest {
  channel: 'rest';
  method: string;
  /** Path and query as sent, not normalised (`../` stays); KNOWN in it becomes a known memory id. */
  path: string;
  headers: Record<string, string>;
  body?: string | Uint8Array;
}

export interface ToolCall {
  channel: 'mcp';
  tool: string;
  /** An `id` of KNOWN becomes a known memory id. */
  args: Record<string, unknown>;
}

export interface RawMcpRequest {
  channel: 'mcp-raw';
  method: string;
  /** Send the harness's own open session id (its SDK client's), or this made-up one, or none. */
  session: 'own' | 'none' | { fake: string };
  headers: Record<string, string>;
  body?: string | Uint8Array;
}

export type FuzzRequest = RestRequest | ToolCall | RawMcpRequest;

// ---------------------------------------------------------------- field values

const isoDate = fc.oneof(
  fc.constantFrom(
    '2026-05-01T09:30:00Z',
    '2026-05-01T09:30:00+02:00',
    '2026-13-45T99:99:99Z',
    '2026-05-01',
    '0000-01-01T00:00:00Z',
    '+275760-09-13T00:00:00.000Z',
    '-271821-04-20T00:00:00Z',
    '9999-12-31T23:59:59.999Z',
    '1970-01-01T00:00:00Z',
    'yesterday',
  ),
  nastyString,
);

const category = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom('work', 'health', 'projects/alpha', 'général', '日本') },
  {
    weight: 3,
    arbitrary: fc.constantFrom('../etc', '..', 'a/../b', '%2e%2e%2f', 'a\u0000b', '/abs', 'a//b', ' lead', 'x/..'),
  },
  { weight: 2, arbitrary: nastyString },
  { weight: 1, arbitrary: hugeString },
  { weight: 1, arbitrary: anyJson },
);

const tags = fc.oneof(
  { weight: 3, arbitrary: fc.array(fc.oneof(fc.constantFrom('home', 'todo', 'x'), nastyString), { maxLength: 5 }) },
  { weight: 1, arbitrary: fc.constant(Array.from({ length: 40 }, (_, i) => `tag${i}`)) },
  { weight: 1, arbitrary: fc.array(hugeString, { maxLength: 2 }) },
  { weight: 1, arbitrary: anyJson },
);

const metadata = fc.oneof(
  { weight: 3, arbitrary: fc.dictionary(nastyString, anyJson, { maxKeys: 4 }) },
  { weight: 1, arbitrary: fc.constant({ __proto__: { polluted: true }, constructor: { prototype: 1 } }) },
  { weight: 1, arbitrary: hugeString.map((value) => ({ big: value })) },
  { weight: 1, arbitrary: anyJson },
);

const content = fc.oneof({ weight: 6, arbitrary: text }, { weight: 1, arbitrary: anyJson });

const embedding = fc.oneof(
  fc.array(fc.double({ noNaN: true, noDefaultInfinity: true }), { maxLength: 4 }),
  fc.constant(Array.from({ length: 512 }, (_, i) => (i === 0 ? 1 : 0))),
  anyJson,
);

const scopeId = fc.oneof(fc.constantFrom('s1', 'agent-1'), nastyString, hugeString);

/** Unknown fields, sometimes with names that matter to JavaScript objects. */
const unknownFields = fc.dictionary(
  fc.oneof(nastyString, fc.constantFrom('userId', 'id', 'hash', '__proto__')),
  anyJson,
  {
    maxKeys: 2,
  },
);

const withUnknown = <T extends object>(record: fc.Arbitrary<T>) =>
  fc.tuple(record, fc.option(unknownFields, { freq: 4 })).map(([fields, extra]) => ({ ...(extra ?? {}), ...fields }));

const memoryFields = {
  content,
  category,
  tags,
  metadata,
  agentId: scopeId,
  sessionId: scopeId,
  eventAt: fc.oneof(isoDate, anyJson),
  expiresAt: fc.oneof(isoDate, anyJson),
  pinned: fc.oneof(fc.boolean(), anyJson),
  ttlSeconds: fc.oneof(oddNumber, anyJson),
  infer: fc.oneof(fc.boolean(), anyJson),
  embedding,
};

/** A memory most of whose fields are plausible: these get past validation and change the store. */
const plausibleMemory = fc.record(
  {
    content: fc.oneof(
      fc.constantFrom('The user waters the garden on Mondays.', 'Alpha ships in May.', 'Peanut allergy.'),
      nastyString.filter((value) => value.trim().length > 0),
    ),
    category: fc.constantFrom('work', 'health', 'projects/alpha'),
    tags: fc.array(fc.constantFrom('home', 'todo', 'x'), { maxLength: 3 }),
    metadata: fc.dictionary(fc.constantFrom('project', 'n'), fc.oneof(fc.string({ maxLength: 5 }), fc.integer())),
    infer: fc.boolean(),
  },
  { requiredKeys: ['content'] },
);

const fuzzedMemory = withUnknown(fc.record(memoryFields, { requiredKeys: [] }));

const filterFields = {
  category,
  source: fc.oneof(fc.constantFrom('api', 'mcp', 'kb', 'import'), nastyString),
  agentId: scopeId,
  sessionId: scopeId,
  tagsAny: tags,
  tagsAll: tags,
  createdAfter: isoDate,
  createdBefore: isoDate,
  eventAfter: isoDate,
  eventBefore: isoDate,
  asOf: isoDate,
  metadata: fc.oneof(
    fc.dictionary(nastyString, fc.oneof(nastyString, oddNumber, fc.boolean()), { maxKeys: 3 }),
    anyJson,
  ),
  includeSuperseded: fc.oneof(fc.boolean(), anyJson),
  includeExpired: fc.oneof(fc.boolean(), anyJson),
};

const searchQuery = fc.oneof(
  { weight: 4, arbitrary: text },
  {
    weight: 3,
    arbitrary: fc
      .array(fc.oneof(fragment, fc.constantFrom('garden', 'alpha')), { minLength: 1, maxLength: 5 })
      .map((p) => p.join(' ')),
  },
  { weight: 1, arbitrary: anyJson },
);

const searchBody = withUnknown(
  fc.record(
    {
      query: searchQuery,
      mode: fc.oneof(fc.constantFrom('hybrid', 'vector', 'keyword'), nastyString, anyJson),
      limit: fc.oneof(oddNumber, anyJson),
      filter: fc.oneof(withUnknown(fc.record(filterFields, { requiredKeys: [] })), anyJson),
    },
    { requiredKeys: [] },
  ),
);

// ---------------------------------------------------------------- bodies and headers

/** Bytes that are not UTF-8, inside a JSON string or alone. */
const badUtf8 = fc
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

const malformedJson = fc.constantFrom(
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
const oversized = fc.constant(`{"content":"${'x'.repeat(2 * FUZZ_BODY_LIMIT)}"}`);

const jsonBody = (valid: fc.Arbitrary<unknown>): fc.Arbitrary<string | Uint8Array> =>
  fc.oneof(
    { weight: 8, arbitrary: valid.map((value) => JSON.stringify(value) ?? 'null') },
    { weight: 2, arbitrary: anyJson.map((value) => JSON.stringify(value) ?? 'null') },
    { weight: 1, arbitrary: deepJson },
    { weight: 2, arbitrary: malformedJson },
    { weight: 1, arbitrary: badUtf8 },
    { weight: 1, arbitrary: fc.uint8Array({ maxLength: 64 }) },
    { weight: 1, arbitrary: nastyString },
  );

const contentType = fc.oneof(
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
const headerSafe = (value: string): string => value.replace(/[^\t\x20-\x7e\x80-\xff]/g, '?');

const userHeader = fc.oneof(
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

const extraHeaders = fc.oneof(
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

const headers = (withBody: boolean): fc.Arbitrary<Record<string, string>> =>
  fc
    .tuple(userHeader, withBody ? fc.option(contentType, { freq: 12 }) : fc.constant(null), extraHeaders)
    .map(([user, type, extra]) => ({
      ...(user !== undefined && { 'x-user-id': user }),
      ...(type !== null && { 'content-type': type }),
      ...extra,
    }));

// ---------------------------------------------------------------- paths

/** The string with lone surrogates replaced (they cannot be percent-encoded as UTF-8). */
const wellFormed = (value: string): string =>
  value.replace(/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g, '\uFFFD');
const encode = (value: string): string => encodeURIComponent(wellFormed(value));

/** Percent-encodes whatever Node's HTTP client refuses in a path (spaces, controls, non-ASCII); `%` stays as given. */
export const sendablePath = (path: string): string =>
  wellFormed(path).replace(/[^\x21-\x7e]/gu, (char) => encodeURIComponent(char));

const idSegment = fc.oneof(
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

const QUERY_NAMES = [
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

const cursor = fc.oneof(
  fc.constantFrom('', 'not-a-cursor', 'eyJiZWZvcmUiOjF9', 'eyJiZWZvcmUiOiIuLi8uLiJ9', 'bnVsbA', '====', 'eyJ'),
  nastyString.map((value) => Buffer.from(JSON.stringify({ before: value })).toString('base64url')),
  hugeString,
);

const queryValue = fc.oneof(
  oddNumberText,
  nastyString,
  cursor,
  fc.constantFrom('true', 'false', 'TRUE', '1', '{"project":"alpha"}', '{"a":{"b":1}}', '[1]', '{', 'a,b,,c'),
);

const queryString = fc
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

// ---------------------------------------------------------------- REST requests

const rest = (method: string, path: fc.Arbitrary<string>, body?: fc.Arbitrary<string | Uint8Array>) =>
  fc.record({
    channel: fc.constant('rest' as const),
    method: fc.constant(method),
    path: path.map(sendablePath),
    headers: headers(body !== undefined),
    ...(body && { body }),
  }) as fc.Arbitrary<RestRequest>;

const withQuery = (base: string) => queryString.map((query) => `${base}${query}`);
const withId = (template: (id: string) => string) => idSegment.map(template);

const addBody = jsonBody(
  fc.oneof(
    { weight: 3, arbitrary: plausibleMemory },
    { weight: 5, arbitrary: fuzzedMemory },
    {
      weight: 1,
      arbitrary: fc.array(fc.oneof(plausibleMemory, fuzzedMemory), { maxLength: 3 }).map((memories) => ({ memories })),
    },
    { weight: 1, arbitrary: fc.constantFrom({ memories: [] }, { memories: 'x' }, { memories: [{}] }) },
  ),
).chain((body) => fc.oneof({ weight: 30, arbitrary: fc.constant(body) }, { weight: 1, arbitrary: oversized }));

const importBody = fc
  .array(
    fc.oneof(
      fc.record({ type: fc.constant('memory'), memory: fuzzedMemory }).map((line) => JSON.stringify(line)),
      fc
        .record({ type: fc.oneof(fc.constant('history'), nastyString), entry: anyJson })
        .map((line) => JSON.stringify(line)),
      malformedJson,
      nastyString,
      deepJson,
    ),
    { maxLength: 4 },
  )
  .map((lines) => lines.join('\n'));

const noteBody = withUnknown(
  fc.record(
    {
      body: fc.oneof(text, anyJson),
      title: fc.oneof(nastyString, hugeString, anyJson),
      category,
      tags,
      sourceId: fc.oneof(nastyString, anyJson),
      source: fc.oneof(fc.constantFrom('api', 'mcp', 'telegram'), nastyString),
    },
    { requiredKeys: [] },
  ),
);

const kbPath = fc.oneof(
  fc.constantFrom(
    '../../etc/passwd',
    '../kb/.git/config',
    '/etc/passwd',
    'topics/../../x.md',
    '.git/HEAD',
    'a\u0000.md',
    'topics/x.md',
    '..',
  ),
  nastyString,
  hugeString,
);

export const restRequest: fc.Arbitrary<RestRequest> = fc.oneof(
  { weight: 10, arbitrary: rest('POST', withQuery('/v1/memories'), addBody) },
  { weight: 5, arbitrary: rest('GET', withQuery('/v1/memories')) },
  {
    weight: 4,
    arbitrary: rest(
      'GET',
      withId((id) => `/v1/memories/${id}`),
    ),
  },
  {
    weight: 5,
    arbitrary: rest(
      'PATCH',
      withId((id) => `/v1/memories/${id}`),
      jsonBody(withUnknown(fc.record(memoryFields, { requiredKeys: [] }))),
    ),
  },
  {
    weight: 2,
    arbitrary: rest(
      'DELETE',
      withId((id) => `/v1/memories/${id}`),
    ),
  },
  {
    weight: 2,
    arbitrary: rest(
      'GET',
      withId((id) => `/v1/memories/${id}/history`),
    ),
  },
  {
    weight: 2,
    arbitrary: rest(
      'POST',
      withId((id) => `/v1/memories/${id}/restore`),
    ),
  },
  { weight: 2, arbitrary: rest('GET', withQuery('/v1/deleted-memories')) },
  { weight: 8, arbitrary: rest('POST', fc.constant('/v1/search'), jsonBody(searchBody)) },
  { weight: 2, arbitrary: rest('GET', withQuery('/v1/categories')) },
  { weight: 1, arbitrary: rest('GET', withQuery('/v1/stats')) },
  { weight: 1, arbitrary: rest('GET', fc.constant('/v1/export')) },
  { weight: 2, arbitrary: rest('POST', fc.constant('/v1/import'), fc.oneof(importBody, badUtf8, deepJson)) },
  {
    weight: 2,
    arbitrary: rest(
      'DELETE',
      withId((id) => `/v1/users/${id}`),
    ),
  },
  {
    weight: 2,
    arbitrary: rest(
      'GET',
      withId((id) => `/v1/jobs/${id}`),
    ),
  },
  { weight: 1, arbitrary: rest('GET', withQuery('/v1/kb/notes')) },
  { weight: 1, arbitrary: rest('POST', fc.constant('/v1/kb/notes'), jsonBody(noteBody)) },
  {
    weight: 2,
    arbitrary: rest(
      'GET',
      kbPath.map((path) => `/v1/kb/note?path=${encode(path)}`),
    ),
  },
  {
    weight: 1,
    arbitrary: rest(
      'DELETE',
      kbPath.map((path) => `/v1/kb/note?path=${encode(path)}`),
    ),
  },
  {
    weight: 1,
    arbitrary: rest(
      'POST',
      fc.constant('/v1/kb/search'),
      jsonBody(
        withUnknown(fc.record({ query: searchQuery, limit: fc.oneof(oddNumber, anyJson) }, { requiredKeys: [] })),
      ),
    ),
  },
  {
    weight: 1,
    arbitrary: rest(
      'POST',
      fc.constant('/v1/admin/keys'),
      jsonBody(
        withUnknown(
          fc.record(
            { name: fc.oneof(nastyString, anyJson), admin: anyJson, userId: fc.oneof(nastyString, anyJson) },
            { requiredKeys: [] },
          ),
        ),
      ),
    ),
  },
  {
    weight: 1,
    arbitrary: rest(
      'DELETE',
      withId((id) => `/v1/admin/keys/${id}`),
    ),
  },
  {
    weight: 1,
    arbitrary: rest('GET', fc.constantFrom('/health', '/ready', '/metrics', '/openapi.json', '/v1/admin/keys')),
  },
  {
    weight: 2,
    arbitrary: fc
      .tuple(
        fc.constantFrom('GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'),
        fc.oneof(
          fc.constantFrom(
            '/v1',
            '/v1/',
            '/v1/memories/',
            '/v1//memories',
            '/v1/memories/../admin/keys',
            '/v1/%2e%2e/health',
            '/../../etc/passwd',
            '/v1/nope',
            '//',
            '/v1/memories/a/b/c',
          ),
          nastyString.map((value) => `/v1/${value}`),
        ),
      )
      .chain(([method, path]) => rest(method, fc.constant(path), method === 'GET' ? undefined : jsonBody(anyJson))),
  },
);

// ---------------------------------------------------------------- MCP

const toolArgs = {
  content,
  category,
  tags,
  metadata,
  sessionId: scopeId,
  async: fc.oneof(fc.boolean(), anyJson),
  query: searchQuery,
  limit: fc.oneof(oddNumber, anyJson),
  cursor: fc.oneof(cursor, anyJson),
  mode: fc.oneof(fc.constantFrom('hybrid', 'vector', 'keyword'), nastyString),
  id: fc.oneof(
    { weight: 3, arbitrary: fc.constant(KNOWN) },
    { weight: 2, arbitrary: nastyString },
    { weight: 1, arbitrary: hugeString },
    { weight: 1, arbitrary: anyJson },
  ),
  tagsAll: tags,
  createdAfter: isoDate,
  createdBefore: isoDate,
  eventAfter: isoDate,
  eventBefore: isoDate,
  eventAt: fc.oneof(isoDate, fc.constant(null)),
  expiresAt: fc.oneof(isoDate, fc.constant(null)),
  includeExpired: fc.oneof(fc.boolean(), anyJson),
  includeSuperseded: fc.oneof(fc.boolean(), anyJson),
  pinned: fc.oneof(fc.boolean(), anyJson),
  path: kbPath,
  body: content,
  title: fc.oneof(nastyString, anyJson),
} as const;
type ArgName = keyof typeof toolArgs;

const TOOL_ARGS: Record<string, ArgName[]> = {
  store_memory: ['content', 'category', 'tags', 'metadata', 'sessionId', 'async'],
  retrieve_memory: ['query', 'category', 'tags', 'limit'],
  list_categories: [],
  search_memory: [
    'query',
    'mode',
    'limit',
    'category',
    'tags',
    'tagsAll',
    'createdAfter',
    'createdBefore',
    'eventAfter',
    'eventBefore',
    'metadata',
    'includeExpired',
    'includeSuperseded',
  ],
  update_memory: ['id', 'content', 'category', 'tags', 'metadata', 'eventAt', 'expiresAt', 'pinned'],
  delete_memory: ['id'],
  restore_memory: ['id'],
  list_memories: ['limit', 'cursor', 'category', 'tags'],
  memory_history: ['id'],
  get_job: ['id'],
  kb_search: ['query', 'limit'],
  kb_read: ['path'],
  kb_list: ['category', 'limit'],
  kb_add_note: ['body', 'title', 'category', 'tags'],
};

const pick = (names: readonly ArgName[]) =>
  fc.record(Object.fromEntries(names.map((name) => [name, toolArgs[name]])) as Record<ArgName, fc.Arbitrary<unknown>>, {
    requiredKeys: [],
  });

const knownTool = fc
  .constantFrom(...Object.keys(TOOL_ARGS))
  .chain((tool) => withUnknown(pick(TOOL_ARGS[tool] ?? [])).map((args): ToolCall => ({ channel: 'mcp', tool, args })));

const plausibleStore = plausibleMemory.map(
  ({ content: stored, category: where, tags: labels }): ToolCall => ({
    channel: 'mcp',
    tool: 'store_memory',
    args: { content: stored, ...(where && { category: where }), ...(labels && { tags: labels }) },
  }),
);

const unknownTool = fc
  .tuple(
    fc.oneof(fc.constantFrom('nope', '', '../store_memory', 'store_memory ', 'STORE_MEMORY'), nastyString),
    fc.dictionary(nastyString, anyJson, { maxKeys: 2 }),
  )
  .map(([tool, args]): ToolCall => ({ channel: 'mcp', tool, args }));

export const toolCall: fc.Arbitrary<ToolCall> = fc.oneof(
  { weight: 8, arbitrary: knownTool },
  { weight: 2, arbitrary: plausibleStore },
  { weight: 1, arbitrary: unknownTool },
);

const rpcMessage = fc.record(
  {
    jsonrpc: fc.oneof(fc.constant('2.0'), anyJson),
    id: fc.oneof(fc.integer(), nastyString, fc.constant(null), anyJson),
    method: fc.oneof(
      fc.constantFrom(
        'tools/call',
        'tools/list',
        'ping',
        'initialize',
        'resources/list',
        'nope',
        'notifications/initialized',
      ),
      nastyString,
    ),
    params: fc.oneof(
      fc.record({
        name: fc.oneof(fc.constantFrom('store_memory', 'search_memory', 'nope'), nastyString),
        arguments: anyJson,
      }),
      fc.constant({ protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'fuzz', version: '0' } }),
      anyJson,
    ),
  },
  { requiredKeys: ['jsonrpc', 'method'] },
);

const rawMcpBody = fc.oneof(
  { weight: 4, arbitrary: rpcMessage.map((message) => JSON.stringify(message)) },
  { weight: 1, arbitrary: fc.array(rpcMessage, { maxLength: 3 }).map((batch) => JSON.stringify(batch)) },
  { weight: 1, arbitrary: malformedJson },
  { weight: 1, arbitrary: deepJson },
  { weight: 1, arbitrary: badUtf8 },
  { weight: 1, arbitrary: anyJson.map((value) => JSON.stringify(value) ?? 'null') },
);

export const rawMcpRequest: fc.Arbitrary<RawMcpRequest> = fc.oneof(
  {
    weight: 6,
    arbitrary: fc.record({
      channel: fc.constant('mcp-raw' as const),
      method: fc.constant('POST'),
      session: fc.oneof(
        fc.constant('own' as const),
        fc.constant('none' as const),
        nastyString.map((fake) => ({ fake: headerSafe(fake) || 'x' })),
      ),
      headers: fc
        .tuple(
          headers(true),
          fc.option(
            fc.constantFrom(
              'application/json, text/event-stream',
              'application/json',
              'text/event-stream',
              'text/html',
              '*/*',
            ),
            { freq: 8 },
          ),
        )
        .map(([base, accept]) => ({ ...base, ...(accept !== null && { accept }) })),
      body: rawMcpBody,
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      channel: fc.constant('mcp-raw' as const),
      // GET with the own session would open a stream and DELETE would end it: only made-up sessions here.
      method: fc.constantFrom('GET', 'DELETE', 'PUT', 'PATCH'),
      session: fc.oneof(
        fc.constant('none' as const),
        nastyString.map((fake) => ({ fake: headerSafe(fake) || 'x' })),
      ),
      headers: headers(false),
    }),
  },
);

/** Any request: mostly REST, a third over MCP. */
export const fuzzRequest: fc.Arbitrary<FuzzRequest> = fc.oneof(
  { weight: 6, arbitrary: restRequest },
  { weight: 3, arbitrary: toolCall },
  { weight: 1, arbitrary: rawMcpRequest },
);

/** A short label for a request, for reports: method and route, or the tool name. */
export function describeRequest(request: FuzzRequest): string {
  if (request.channel === 'mcp') return `mcp ${request.tool.slice(0, 40)}`;
  if (request.channel === 'mcp-raw') return `${request.method} /mcp`;
  return `${request.method} ${request.path.split('?')[0]?.slice(0, 60)}`;
}
