/** The fuzzer's field values: memories, filters and searches, plausible and hostile. */
import fc from 'fast-check';
import { anyJson, fragment, hugeString, nastyString, oddNumber, text } from './values.js';

// ---------------------------------------------------------------- field values

export const isoDate = fc.oneof(
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

export const category = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom('work', 'health', 'projects/alpha', 'général', '日本') },
  {
    weight: 3,
    arbitrary: fc.constantFrom('../etc', '..', 'a/../b', '%2e%2e%2f', 'a\u0000b', '/abs', 'a//b', ' lead', 'x/..'),
  },
  { weight: 2, arbitrary: nastyString },
  { weight: 1, arbitrary: hugeString },
  { weight: 1, arbitrary: anyJson },
);

export const tags = fc.oneof(
  { weight: 3, arbitrary: fc.array(fc.oneof(fc.constantFrom('home', 'todo', 'x'), nastyString), { maxLength: 5 }) },
  { weight: 1, arbitrary: fc.constant(Array.from({ length: 40 }, (_, i) => `tag${i}`)) },
  { weight: 1, arbitrary: fc.array(hugeString, { maxLength: 2 }) },
  { weight: 1, arbitrary: anyJson },
);

export const metadata = fc.oneof(
  { weight: 3, arbitrary: fc.dictionary(nastyString, anyJson, { maxKeys: 4 }) },
  { weight: 1, arbitrary: fc.constant({ __proto__: { polluted: true }, constructor: { prototype: 1 } }) },
  { weight: 1, arbitrary: hugeString.map((value) => ({ big: value })) },
  { weight: 1, arbitrary: anyJson },
);

export const content = fc.oneof({ weight: 6, arbitrary: text }, { weight: 1, arbitrary: anyJson });

export const embedding = fc.oneof(
  fc.array(fc.double({ noNaN: true, noDefaultInfinity: true }), { maxLength: 4 }),
  fc.constant(Array.from({ length: 512 }, (_, i) => (i === 0 ? 1 : 0))),
  anyJson,
);

export const scopeId = fc.oneof(fc.constantFrom('s1', 'agent-1'), nastyString, hugeString);

/** Unknown fields, sometimes with names that matter to JavaScript objects. */
export const unknownFields = fc.dictionary(
  fc.oneof(nastyString, fc.constantFrom('userId', 'id', 'hash', '__proto__')),
  anyJson,
  {
    maxKeys: 2,
  },
);

export const withUnknown = <T extends object>(record: fc.Arbitrary<T>) =>
  fc.tuple(record, fc.option(unknownFields, { freq: 4 })).map(([fields, extra]) => ({ ...(extra ?? {}), ...fields }));

export const memoryFields = {
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
export const plausibleMemory = fc.record(
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

export const fuzzedMemory = withUnknown(fc.record(memoryFields, { requiredKeys: [] }));

export const filterFields = {
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

export const searchQuery = fc.oneof(
  { weight: 4, arbitrary: text },
  {
    weight: 3,
    arbitrary: fc
      .array(fc.oneof(fragment, fc.constantFrom('garden', 'alpha')), { minLength: 1, maxLength: 5 })
      .map((p) => p.join(' ')),
  },
  { weight: 1, arbitrary: anyJson },
);

export const searchBody = withUnknown(
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
