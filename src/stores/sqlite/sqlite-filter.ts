import type { StoreFilter } from '../../core/types.js';

export interface SqlFragment {
  sql: string;
  params: unknown[];
}

/**
 * Translates a filter into a WHERE clause over the `memories` table aliased `m`, with the same
 * semantics as `matchesFilter` in core (the conformance suite holds both to it).
 */
export function filterSql(userId: string, filter: StoreFilter): SqlFragment {
  const where: string[] = ['m.user_id = ?'];
  const params: unknown[] = [userId];
  const add = (sql: string, ...values: unknown[]) => {
    where.push(sql);
    params.push(...values);
  };
  if (!filter.includeSuperseded) add('m.superseded_by IS NULL');
  if (!filter.includeExpired) add('(m.expires_at IS NULL OR m.expires_at > ?)', filter.now);
  if (filter.validAt !== undefined) {
    add('m.created_at <= ?', filter.validAt);
    add('(m.valid_to IS NULL OR m.valid_to > ?)', filter.validAt);
  }
  if (filter.agentId !== undefined) add('m.agent_id = ?', filter.agentId);
  if (filter.sessionId !== undefined) add('m.session_id = ?', filter.sessionId);
  if (filter.category !== undefined) add('m.category = ?', filter.category);
  if (filter.source !== undefined) add('m.source = ?', filter.source);
  if (filter.tagsAny?.length) {
    add(`EXISTS (SELECT 1 FROM json_each(m.tags) WHERE value IN (${marks(filter.tagsAny.length)}))`, ...filter.tagsAny);
  }
  if (filter.tagsAll?.length) {
    const distinct = [...new Set(filter.tagsAll)];
    add(
      `(SELECT count(DISTINCT value) FROM json_each(m.tags) WHERE value IN (${marks(distinct.length)})) = ?`,
      ...distinct,
      distinct.length,
    );
  }
  if (filter.createdAfter !== undefined) add('m.created_at >= ?', filter.createdAfter);
  if (filter.createdBefore !== undefined) add('m.created_at < ?', filter.createdBefore);
  if (filter.eventAfter !== undefined) add('m.event_at >= ?', filter.eventAfter);
  if (filter.eventBefore !== undefined) add('m.event_at < ?', filter.eventBefore);
  for (const [key, value] of Object.entries(filter.metadata ?? {})) {
    const path = `$.${JSON.stringify(key)}`;
    if (value === null) add(`json_type(m.metadata, ?) = 'null'`, path);
    else if (typeof value === 'boolean') add('json_type(m.metadata, ?) = ?', path, value ? 'true' : 'false');
    else if (typeof value === 'number') {
      add(`(json_type(m.metadata, ?) IN ('integer', 'real') AND json_extract(m.metadata, ?) = ?)`, path, path, value);
    } else add(`(json_type(m.metadata, ?) = 'text' AND json_extract(m.metadata, ?) = ?)`, path, path, value);
  }
  return { sql: where.join(' AND '), params };
}

const marks = (count: number): string => Array.from({ length: count }, () => '?').join(', ');
