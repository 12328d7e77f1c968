import type { StoreFilter } from '../../core/types.js';

/** A WHERE fragment with `$n` placeholders numbered from `first`. */
export interface PgFragment {
  sql: string;
  params: unknown[];
}

/**
 * Translates a filter into a WHERE clause over `memories` aliased `m` (or `alias`), with the same semantics as
 * `matchesFilter` in core (the conformance suite holds every store to it). `params` continue a
 * statement's own parameters: pass how many come before.
 */
export function filterPg(userId: string, filter: StoreFilter, before = 0, alias = 'm'): PgFragment {
  const a = alias;
  const where: string[] = [];
  const params: unknown[] = [];
  const p = (value: unknown): string => {
    params.push(value);
    return `$${before + params.length}`;
  };
  where.push(`${a}.user_id = ${p(userId)}`);
  if (!filter.includeSuperseded) where.push(`${a}.superseded_by IS NULL`);
  if (!filter.includeExpired) where.push(`(${a}.expires_at IS NULL OR ${a}.expires_at > ${p(filter.now)})`);
  if (filter.validAt !== undefined) {
    where.push(`${a}.created_at <= ${p(filter.validAt)}`);
    where.push(`(${a}.valid_to IS NULL OR ${a}.valid_to > $${before + params.length})`);
  }
  if (filter.agentId !== undefined) where.push(`${a}.agent_id = ${p(filter.agentId)}`);
  if (filter.sessionId !== undefined) where.push(`${a}.session_id = ${p(filter.sessionId)}`);
  if (filter.category !== undefined) where.push(`${a}.category = ${p(filter.category)}`);
  if (filter.source !== undefined) where.push(`${a}.source = ${p(filter.source)}`);
  if (filter.tagsAny?.length) where.push(`${a}.tags ?| ${p(filter.tagsAny)}::text[]`);
  if (filter.tagsAll?.length) where.push(`${a}.tags ?& ${p([...new Set(filter.tagsAll)])}::text[]`);
  if (filter.createdAfter !== undefined) where.push(`${a}.created_at >= ${p(filter.createdAfter)}`);
  if (filter.createdBefore !== undefined) where.push(`${a}.created_at < ${p(filter.createdBefore)}`);
  if (filter.eventAfter !== undefined) where.push(`${a}.event_at >= ${p(filter.eventAfter)}`);
  if (filter.eventBefore !== undefined) where.push(`${a}.event_at < ${p(filter.eventBefore)}`);
  for (const [key, value] of Object.entries(filter.metadata ?? {})) {
    // jsonb equality: strings exactly, numbers by value (1 = 1.0, as in JavaScript), booleans, null.
    where.push(
      `(${a}.metadata::jsonb ? ${p(key)} AND ${a}.metadata::jsonb -> $${before + params.length} = ${p(JSON.stringify(value))}::jsonb)`,
    );
  }
  return { sql: where.join(' AND '), params };
}
