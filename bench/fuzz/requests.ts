/**
 * Generated requests for the fuzzer: REST calls (any route, method, path, query, headers and body
 * bytes), MCP tool calls through the official SDK client, and raw POSTs to `/mcp`. Requests are
 * plain data, so fast-check can shrink a failing one and print it. Their parts are in fields.ts
 * (memories, filters, searches) and wire.ts (bodies, headers, paths, queries).
 *
 * Past 400 lines on purpose: it is one list per kind of request (every REST route, every MCP tool
 * with the arguments it takes, every shape of raw JSON-RPC message), read beside the route table
 * and the tool list to see that none is missing; cut by route, that check would span many files.
 */
import fc from 'fast-check';
import {
  category,
  content,
  fuzzedMemory,
  isoDate,
  memoryFields,
  metadata,
  plausibleMemory,
  scopeId,
  searchBody,
  searchQuery,
  tags,
  withUnknown,
} from './fields.js';
import { anyJson, deepJson, hugeString, nastyString, oddNumber, text } from './values.js';
import {
  badUtf8,
  cursor,
  encode,
  headerSafe,
  headers,
  idSegment,
  jsonBody,
  KNOWN,
  malformedJson,
  oversized,
  queryString,
  sendablePath,
} from './wire.js';

export { FUZZ_BODY_LIMIT, FUZZ_USER, KNOWN, OTHER_USER, sendablePath, WATCHED_USERS } from './wire.js';

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
