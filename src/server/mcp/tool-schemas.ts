import { z } from 'zod';
import { type FilterInput, historyEntrySchema, LIMITS, memorySchema, tagSchema } from '../../core/schemas.js';
import type { Metadata } from '../../core/types.js';
import { jobViewSchema } from '../../jobs/index.js';

/** Argument and output schemas of the memory tools (zod, shown to clients as JSON Schema). */

// ---------------------------------------------------------------- argument schemas

export const idArg = z.string().min(1).max(128).describe('The memory id, exactly as a previous tool result showed it.');
export const categoryArg = z
  .string()
  .min(1)
  .max(64)
  .describe('A category such as "general", "work", "health" or "projects/alpha" (letters, digits, spaces, _ . - /).');
export const tagsArg = z.array(tagSchema).max(LIMITS.tags);
/** A plain JSON object for the model (no recursive schema); the service validates it as metadata. */
export const metadataArg = z
  .record(z.string(), z.unknown())
  .describe('Extra JSON fields to keep with the memory (a JSON object).');
export const asMetadata = (value: Record<string, unknown> | undefined) => value as Metadata | undefined;
export const isoDateArg = z
  .string()
  .max(64)
  .describe('An ISO-8601 date-time with a time zone, e.g. 2026-05-01T09:30:00Z.');
export const limitArg = (fallback: number, max: number) =>
  z.number().int().min(1).max(max).default(fallback).describe(`How many to return (1-${max}, default ${fallback}).`);

export const cursorArg = z
  .string()
  .max(512)
  .optional()
  .describe('The cursor from the previous page, to continue listing.');

export const filterArgs = {
  category: categoryArg.optional().describe('Only memories in this category.'),
  tags: tagsArg.optional().describe('Only memories carrying at least one of these tags.'),
};

export const searchFilterArgs = {
  ...filterArgs,
  tagsAll: tagsArg.optional().describe('Only memories carrying every one of these tags.'),
  createdAfter: isoDateArg.optional().describe('Only memories stored at or after this instant (ISO-8601).'),
  createdBefore: isoDateArg.optional().describe('Only memories stored before this instant (ISO-8601).'),
  eventAfter: isoDateArg.optional().describe('Only memories about things that happened at or after this instant.'),
  eventBefore: isoDateArg.optional().describe('Only memories about things that happened before this instant.'),
  metadata: z
    .record(z.string(), z.union([z.string(), z.number(), z.boolean(), z.null()]))
    .optional()
    .describe('Only memories whose metadata has these top-level key/value pairs, e.g. {"project": "alpha"}.'),
  includeExpired: z.boolean().optional().describe('Also return memories whose expiry time has passed.'),
  includeSuperseded: z.boolean().optional().describe('Also return memories that were superseded by newer ones.'),
};

type SearchFilterArgs = { [K in keyof typeof searchFilterArgs]?: z.output<(typeof searchFilterArgs)[K]> };

/** The object without its undefined fields (an omitted argument must not count as "given"). */
export function defined<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, field]) => field !== undefined)) as Partial<T>;
}

/** Tool filter arguments → the service's filter (tags means "any of"). */
export function toFilter({ tags, ...rest }: SearchFilterArgs): FilterInput | undefined {
  const filter: FilterInput = defined({ ...rest, tagsAny: tags });
  return Object.keys(filter).length > 0 ? filter : undefined;
}

// ---------------------------------------------------------------- output schemas

/**
 * Loose, so a field added to memories later does not break clients that validate results; metadata
 * as a plain JSON object, so the schema stays representable as JSON Schema whatever core does there.
 */
export const memoryOutput = memorySchema.extend({ metadata: z.record(z.string(), z.unknown()) }).loose();

const explanationOutput = z.looseObject({
  mode: z.enum(['hybrid', 'vector', 'keyword']),
  keyword: z.looseObject({ rank: z.number(), score: z.number() }).nullable(),
  vector: z.looseObject({ rank: z.number(), similarity: z.number() }).nullable(),
  fusion: z
    .looseObject({ method: z.string(), k: z.number(), keywordWeight: z.number(), vectorWeight: z.number() })
    .nullable(),
  context: z
    .looseObject({ boost: z.number(), from: z.array(z.looseObject({ id: z.string(), offset: z.number() })) })
    .nullable()
    .optional(),
  recency: z.looseObject({ factor: z.number(), ageDays: z.number() }).optional(),
  relevance: z.looseObject({ similarity: z.number().nullable(), minRelevance: z.number() }).optional(),
});
const historyEntryOutput = historyEntrySchema
  .extend({ before: memoryOutput.nullable(), after: memoryOutput.nullable() })
  .loose();

export const outputs = {
  store: {
    success: z.literal(true),
    /** Kept from the gateway this tool replaces. Absent for an `async` store, which returns `job` instead. */
    memory_id: z.string().optional(),
    duplicate: z.boolean().optional(),
    message: z.string(),
    memory: memoryOutput.optional(),
    job: jobViewSchema.loose().optional(),
  },
  job: { job: jobViewSchema.loose() },
  retrieve: {
    success: z.literal(true),
    count: z.number(),
    mode: z.enum(['search', 'recent']),
    memories: z.array(memoryOutput.extend({ score: z.number().optional() })),
  },
  categories: {
    success: z.literal(true),
    categories: z.array(z.object({ name: z.string(), count: z.number() })),
    total: z.number(),
  },
  search: {
    count: z.number(),
    results: z.array(
      z.object({ memory: memoryOutput, score: z.number(), relevant: z.boolean(), explanation: explanationOutput }),
    ),
  },
  update: { memory: memoryOutput, changed: z.array(z.string()) },
  delete: { deleted: memoryOutput },
  restore: { memory: memoryOutput },
  forget: { forgotten: z.string() },
  deleted: {
    count: z.number(),
    items: z.array(z.object({ memory: memoryOutput, deletedAt: z.string(), deletedBy: z.string() })),
    nextCursor: z.string().nullable(),
  },
  list: { count: z.number(), items: z.array(memoryOutput), nextCursor: z.string().nullable() },
  history: { memoryId: z.string(), history: z.array(historyEntryOutput) },
};
