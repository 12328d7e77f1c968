import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { PostgresStore } from '../../src/stores/postgres/index.js';
import type { PostgresConfig } from '../../src/stores/postgres/postgres-config.js';

/**
 * What the PostgreSQL suites share. They run against a real PostgreSQL 15 + pgvector:
 * `scripts/services.sh start` provisions one on Debian and prints ENGRAM_TEST_POSTGRES_URL
 * (`.ci/run` does this). Without it, the suites are skipped with the reason `HOW`.
 */
export const url = process.env.ENGRAM_TEST_POSTGRES_URL;
export const HOW = 'set ENGRAM_TEST_POSTGRES_URL, e.g. `eval "$(scripts/services.sh start)"` on Debian, to run it';

/** A store over a fresh schema of the test database (drop it with `dropSchema`). */
export function schemaHarness(extra: Partial<PostgresConfig> = {}) {
  const schema = `t_${randomBytes(6).toString('hex')}`;
  const make = (more: Partial<PostgresConfig> = {}) =>
    new PostgresStore({ url: url as string, schema, poolMax: 4, ...extra, ...more });
  return { schema, make };
}

export async function dropSchema(schema: string): Promise<void> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
  } finally {
    await client.end();
  }
}
