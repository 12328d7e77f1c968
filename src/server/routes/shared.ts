import { z } from '@hono/zod-openapi';
import { invalid } from '../../core/errors.js';
import type { FilterInput } from '../../core/schemas.js';

export const errorSchema = z
  .object({
    error: z.object({
      code: z.string().openapi({ example: 'not_found' }),
      message: z.string(),
      details: z.record(z.string(), z.unknown()).optional(),
    }),
  })
  .openapi('Error');

export const errorJson = (description: string) => ({
  content: { 'application/json': { schema: errorSchema } },
  description,
});

export const errorResponses = {
  400: errorJson('invalid request (code `invalid_request`)'),
  401: errorJson('missing or unknown API key (`unauthorized`)'),
  403: errorJson('the key may not act for this user (`forbidden`)'),
  404: errorJson('not found, or not visible to this key (`not_found`)'),
  409: errorJson('conflicting content or embedding model (`conflict`, `embedding_mismatch`)'),
  413: errorJson('body too large (`payload_too_large`)'),
  429: errorJson('rate limited (`rate_limited`, see Retry-After), or a per-user limit reached (`quota_exceeded`)'),
} as const;

const bool = z.enum(['true', 'false']).transform((value) => value === 'true');
const list = z
  .string()
  .max(4_096)
  .transform((value) =>
    value
      .split(',')
      .map((tag) => tag.trim())
      .filter(Boolean),
  );

/** Filters as query-string parameters (tags comma-separated, metadata as a JSON object). */
export const filterQuerySchema = z.object({
  category: z.string().max(64).optional(),
  source: z.string().max(32).optional().openapi({ description: 'api, mcp, cli, telegram, kb or import' }),
  agentId: z.string().max(128).optional(),
  sessionId: z.string().max(128).optional(),
  tags: list.optional().openapi({ description: 'comma-separated; matches memories with any of them' }),
  tagsAll: list.optional().openapi({ description: 'comma-separated; matches memories with all of them' }),
  createdAfter: z.string().optional(),
  createdBefore: z.string().optional(),
  eventAfter: z.string().optional(),
  eventBefore: z.string().optional(),
  metadata: z.string().max(4_096).optional().openapi({ description: 'JSON object of top-level key/value equalities' }),
  includeSuperseded: bool.optional(),
  includeExpired: bool.optional(),
});

export function filterFromQuery(query: z.infer<typeof filterQuerySchema>): FilterInput {
  let metadata: unknown;
  if (query.metadata !== undefined) {
    try {
      metadata = JSON.parse(query.metadata);
    } catch {
      throw invalid('metadata must be a JSON object, e.g. {"project":"alpha"}');
    }
  }
  const filter: Record<string, unknown> = {
    category: query.category,
    source: query.source,
    agentId: query.agentId,
    sessionId: query.sessionId,
    tagsAny: query.tags,
    tagsAll: query.tagsAll,
    createdAfter: query.createdAfter,
    createdBefore: query.createdBefore,
    eventAfter: query.eventAfter,
    eventBefore: query.eventBefore,
    metadata,
    includeSuperseded: query.includeSuperseded,
    includeExpired: query.includeExpired,
  };
  return Object.fromEntries(Object.entries(filter).filter(([, value]) => value !== undefined)) as FilterInput;
}

/** A JSON request or response body of `schema`. */
export const json = <S extends z.ZodType>(schema: S, description: string) => ({
  content: { 'application/json': { schema } },
  description,
});

/** `?async=true`: the write is accepted as a background job (202 + Location). */
export const asyncQuery = z.object({
  async: z
    .enum(['true', 'false'])
    .optional()
    .openapi({ description: '`true`: accept the write as a background job and answer 202 with the job at once' }),
});
