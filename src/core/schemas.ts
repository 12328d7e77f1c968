import { z } from 'zod';
import { EngramError } from './errors.js';
import { HISTORY_EVENTS, type JsonValue, MEMORY_SOURCES } from './types.js';

/**
 * Input schemas shared by the service and every front end (REST validates with them and
 * generates its OpenAPI document from them; MCP tools and the CLI reuse them).
 */

export const LIMITS = {
  contentChars: 32_768,
  tags: 32,
  tagChars: 64,
  metadataBytes: 16_384,
  batch: 1_000,
  queryChars: 4_096,
  pageSize: 1_000,
  searchLimit: 100,
  /** Messages in one extraction, and their characters in all. */
  extractMessages: 200,
  extractChars: 65_536,
} as const;

export const userIdSchema = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9_.@:-]{0,127}$/, 'user ids are 1-128 characters of A-Z a-z 0-9 _ . @ : -');

export const categorySchema = z
  .string()
  .regex(/^[\p{L}\p{N}][\p{L}\p{N}_.\-/ ]{0,63}$/u, 'categories are 1-64 letters, digits, spaces or _ . - /')
  .refine((value) => !value.split('/').includes('..'), 'categories may not contain ".." segments');

export const tagSchema = z
  .string()
  .min(1)
  .max(LIMITS.tagChars)
  .regex(/^[^\p{C}]+$/u, 'tags may not contain control characters');

const scopeIdSchema = z.string().min(1).max(128);
const isoDateSchema = z.iso.datetime({ offset: true }).transform((value) => new Date(value).toISOString());

const scalar = z.union([z.string(), z.number(), z.boolean(), z.null()]);

/**
 * Any JSON value. Inputs are parsed JSON already, so nothing else can arrive; `z.json()` would
 * re-check that recursively, but neither the OpenAPI nor the MCP JSON Schema generator can walk a
 * recursive schema, and a transform cannot be represented at all.
 */
const jsonValueSchema = z.unknown() as unknown as z.ZodType<JsonValue>;

export const metadataSchema = z
  .record(z.string().max(128), jsonValueSchema)
  .refine((value) => JSON.stringify(value).length <= LIMITS.metadataBytes, {
    message: `metadata may be at most ${LIMITS.metadataBytes} bytes of JSON`,
  });

export const contentSchema = z
  .string()
  .max(LIMITS.contentChars, `content may be at most ${LIMITS.contentChars} characters`)
  .refine((value) => value.trim().length > 0, 'content must not be empty');

export const addMemorySchema = z.strictObject({
  content: contentSchema,
  category: categorySchema.optional(),
  tags: z.array(tagSchema).max(LIMITS.tags).optional(),
  metadata: metadataSchema.optional(),
  agentId: scopeIdSchema.optional(),
  sessionId: scopeIdSchema.optional(),
  eventAt: isoDateSchema.optional(),
  expiresAt: isoDateSchema.optional(),
  pinned: z.boolean().optional(),
  /** Expire this many seconds after it is stored (instead of an `expiresAt`). */
  ttlSeconds: z
    .number()
    .int()
    .min(1)
    .max(100 * 365 * 86_400)
    .optional(),
  /**
   * Let Engram maintain the memory: fold a near-duplicate into the memory it repeats. `false`
   * stores the content verbatim (exact duplicates are still caught). Default: ENGRAM_INFER_DEFAULT (true).
   */
  infer: z.boolean().optional(),
  /** A precomputed embedding from the same model the store uses (skips embedding). */
  embedding: z.array(z.number()).optional(),
});
export type AddMemoryInput = z.input<typeof addMemorySchema>;

export const updateMemorySchema = z
  .strictObject({
    content: contentSchema.optional(),
    category: categorySchema.optional(),
    tags: z.array(tagSchema).max(LIMITS.tags).optional(),
    metadata: metadataSchema.optional(),
    eventAt: isoDateSchema.nullable().optional(),
    expiresAt: isoDateSchema.nullable().optional(),
    pinned: z.boolean().optional(),
  })
  .refine((value) => Object.keys(value).length > 0, 'give at least one field to change');
export type UpdateMemoryInput = z.input<typeof updateMemorySchema>;

export const filterSchema = z.strictObject({
  agentId: scopeIdSchema.optional(),
  sessionId: scopeIdSchema.optional(),
  category: categorySchema.optional(),
  source: z.enum(MEMORY_SOURCES).optional(),
  tagsAny: z.array(tagSchema).max(LIMITS.tags).optional(),
  tagsAll: z.array(tagSchema).max(LIMITS.tags).optional(),
  createdAfter: isoDateSchema.optional(),
  createdBefore: isoDateSchema.optional(),
  eventAfter: isoDateSchema.optional(),
  eventBefore: isoDateSchema.optional(),
  metadata: z
    .record(z.string().regex(/^[A-Za-z0-9_-]{1,128}$/, 'metadata filter keys are 1-128 of A-Z a-z 0-9 _ -'), scalar)
    .optional(),
  includeSuperseded: z.boolean().optional(),
  includeExpired: z.boolean().optional(),
  /**
   * Point in time: the memories that were current then — created by that instant, not yet
   * superseded, not yet expired (deleted memories are gone from every view).
   */
  asOf: isoDateSchema.optional(),
});
export type FilterInput = z.input<typeof filterSchema>;

export const searchSchema = z.strictObject({
  query: z.string().max(LIMITS.queryChars, `query may be at most ${LIMITS.queryChars} characters`),
  mode: z.enum(['hybrid', 'vector', 'keyword']).default('hybrid'),
  limit: z.number().int().min(1).max(LIMITS.searchLimit).default(10),
  filter: filterSchema.optional(),
  /**
   * The cosine similarity to the query a result needs to count as relevant (default:
   * ENGRAM_SEARCH_MIN_RELEVANCE); each result says whether it is.
   */
  minRelevance: z.number().min(-1).max(1).optional(),
  /** Leave results that are not relevant out (so a search may answer nothing). */
  relevantOnly: z.boolean().default(false),
});
export type SearchInput = z.input<typeof searchSchema>;

export const listSchema = z.strictObject({
  limit: z.number().int().min(1).max(LIMITS.pageSize).default(50),
  cursor: z.string().max(512).optional(),
  filter: filterSchema.optional(),
});
export type ListInput = z.input<typeof listSchema>;

/** How many days `GET /v1/stats` counts adds for (today included). */
export const statsDaysSchema = z.number().int().min(1).max(366);

/** A page of deleted memories (`GET /v1/deleted-memories`): no filters, the memories are gone. */
export const deletedListSchema = listSchema.pick({ limit: true, cursor: true });
export type DeletedListInput = z.input<typeof deletedListSchema>;

export const memorySourceSchema = z.enum(MEMORY_SOURCES);

/** The shape of a memory as front ends return it. */
export const memorySchema = z.object({
  id: z.string(),
  userId: z.string(),
  agentId: z.string().nullable(),
  sessionId: z.string().nullable(),
  content: z.string(),
  category: z.string(),
  tags: z.array(z.string()),
  metadata: z.record(z.string(), jsonValueSchema),
  createdAt: z.string(),
  updatedAt: z.string(),
  eventAt: z.string().nullable(),
  expiresAt: z.string().nullable(),
  pinned: z.boolean(),
  source: memorySourceSchema,
  hash: z.string(),
  supersededBy: z.string().nullable(),
  validTo: z.string().nullable(),
  // Older files and exports have no access statistics.
  accessCount: z.number().int().min(0).default(0),
  lastAccessedAt: z.string().nullable().default(null),
});

/** One entry of a memory's change log, as front ends return it and exports carry it. */
export const historyEntrySchema = z.object({
  id: z.string(),
  memoryId: z.string(),
  userId: z.string(),
  event: z.enum(HISTORY_EVENTS),
  before: memorySchema.nullable(),
  after: memorySchema.nullable(),
  actor: z.string(),
  at: z.string(),
  reason: z.string().nullable(),
});

/** A deleted memory as `GET /v1/deleted-memories` lists it: as it was, and when and by whom it was deleted. */
export const deletedMemorySchema = z.object({
  memory: memorySchema,
  deletedAt: z.string(),
  deletedBy: z.string(),
});
export type DeletedMemory = z.infer<typeof deletedMemorySchema>;

/** A conversation to extract memories from, and the fields every extracted memory takes. */
export const extractSchema = z
  .strictObject({
    messages: z
      .array(
        z.strictObject({
          role: z.enum(['user', 'assistant', 'system']).default('user'),
          content: contentSchema,
          /** Who spoke, when several people share the conversation. */
          name: z.string().min(1).max(64).optional(),
          /** When the message was sent: relative dates in it ("yesterday") are resolved against this. */
          at: isoDateSchema.optional(),
        }),
      )
      .min(1)
      .max(LIMITS.extractMessages),
    category: categorySchema.optional(),
    tags: z.array(tagSchema).max(LIMITS.tags).optional(),
    metadata: metadataSchema.optional(),
    agentId: scopeIdSchema.optional(),
    sessionId: scopeIdSchema.optional(),
    expiresAt: isoDateSchema.optional(),
    ttlSeconds: addMemorySchema.shape.ttlSeconds,
    pinned: z.boolean().optional(),
  })
  .refine((value) => !(value.expiresAt !== undefined && value.ttlSeconds !== undefined), {
    message: 'give expiresAt or ttlSeconds, not both',
    path: ['ttlSeconds'],
  })
  .refine((value) => value.messages.reduce((sum, m) => sum + m.content.length, 0) <= LIMITS.extractChars, {
    message: `the messages may hold at most ${LIMITS.extractChars} characters in all`,
    path: ['messages'],
  });
export type ExtractInput = z.input<typeof extractSchema>;

/** What happened to one fact of an extraction (or an add with an LLM), as front ends return it. */
export const decisionSchema = z.object({
  action: z.enum(['add', 'update', 'noop']),
  fact: z.string(),
  memory: memorySchema,
  superseded: memorySchema.nullable(),
  reason: z.string().nullable(),
  by: z.enum(['model', 'rule', 'fallback']),
});

/** Parses with a schema and turns failures into an `invalid_request` error naming the fields. */
export function parseInput<S extends z.ZodType>(schema: S, value: unknown): z.output<S> {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  throw InputError.of(result.error.issues);
}

/** A zod issue as InputError reads it (zod's own, or one picked out of a union). */
export interface IssueLike {
  path: PropertyKey[];
  message: string;
  code?: string;
  origin?: string;
}

/**
 * Input that failed validation: `invalid_request` (400), or `payload_too_large` (413) when a text
 * or a list is over its size limit (content, query, batch, tags) — the same answer as a body
 * over the byte limit, so clients handle "too big" one way.
 */
export class InputError extends EngramError {
  constructor(message: string, issues: { path: string; message: string }[], tooLarge = false) {
    super(tooLarge ? 'payload_too_large' : 'invalid_request', message, { details: { issues } });
  }

  static of(raw: readonly IssueLike[], fallback = 'invalid input'): InputError {
    const tooLarge = raw.some(
      (issue) => issue.code === 'too_big' && (issue.origin === 'string' || issue.origin === 'array'),
    );
    const issues = raw.map((issue) => ({ path: issue.path.map(String).join('.') || '(root)', message: issue.message }));
    const first = issues[0];
    return new InputError(first ? `${first.path}: ${first.message}` : fallback, issues, tooLarge);
  }
}
