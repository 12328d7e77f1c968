import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PostgresStore } from '../../src/stores/postgres/index.js';
import { LATEST_VERSION } from '../../src/stores/postgres/postgres-migrations.js';
import { makeMemory, runConformance } from './conformance.js';

/**
 * Runs against a real PostgreSQL 15 + pgvector: `scripts/services.sh start` provisions one on
 * Debian and prints ENGRAM_TEST_POSTGRES_URL (`.ci/run` does this). Without it, every case here
 * is skipped with that reason.
 */
const url = process.env.ENGRAM_TEST_POSTGRES_URL;
const HOW = 'set ENGRAM_TEST_POSTGRES_URL, e.g. `eval "$(scripts/services.sh start)"` on Debian, to run it';
if (!url) console.warn(`postgres store tests skipped: ${HOW}`);

/** A store over a fresh schema of the test database, dropped afterwards. */
function schemaHarness() {
  const schema = `t_${randomBytes(6).toString('hex')}`;
  const make = () => new PostgresStore({ url: url as string, schema, poolMax: 4 });
  return { schema, make };
}

async function dropSchema(schema: string): Promise<void> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
  } finally {
    await client.end();
  }
}

runConformance(
  'postgres',
  async () => {
    const { schema, make } = schemaHarness();
    let store = make();
    return {
      store,
      async reopen() {
        await store.close();
        store = make();
        return store;
      },
      async cleanup() {
        await store.close();
        await dropSchema(schema);
      },
    };
  },
  url ? {} : { skipAll: HOW },
);

(url ? describe : describe.skip)(`postgres store specifics${url ? '' : ` (skipped: ${HOW})`}`, () => {
  const { schema, make } = schemaHarness();
  let store: PostgresStore;
  let raw: pg.Client;

  beforeAll(async () => {
    store = make();
    await store.init();
    raw = new pg.Client({ connectionString: url, options: `-c search_path=${schema},public` });
    await raw.connect();
    const alice = makeMemory(1, { content: 'alice secret' });
    const bob = makeMemory(2, { userId: 'bob', content: 'bob secret' });
    for (const memory of [alice, bob]) {
      await store.insert([{ memory, vector: Float32Array.of(1, 0, 0, 0, 0, 0, 0, 0) }], []);
    }
  });
  afterAll(async () => {
    await raw?.end();
    await store?.close();
    await dropSchema(schema);
  });

  it('enforces isolation in the database: the application role sees only the rows of its user setting', async () => {
    const as = async (userId: string | null) => {
      await raw.query('BEGIN');
      try {
        if (userId !== null) await raw.query(`SELECT set_config('engram.user_id', $1, true)`, [userId]);
        return (await raw.query<{ content: string }>('SELECT content FROM memories ORDER BY content')).rows.map(
          (row) => row.content,
        );
      } finally {
        await raw.query('ROLLBACK');
      }
    };
    expect(await as('alice')).toEqual(['alice secret']);
    expect(await as('bob')).toEqual(['bob secret']);
    expect(await as('mallory')).toEqual([]);
    expect(await as(null)).toEqual([]); // no setting, no rows
    // Writing another user's row under one's own setting is refused by the policy.
    await raw.query('BEGIN');
    await raw.query(`SELECT set_config('engram.user_id', 'alice', true)`);
    await expect(raw.query(`UPDATE memories SET content = 'x' WHERE user_id = 'bob'`)).resolves.toMatchObject({
      rowCount: 0,
    });
    await raw.query('ROLLBACK');
  });

  it('records the schema version and refuses a newer one', async () => {
    const { rows } = await raw.query<{ version: number }>('SELECT max(version) AS version FROM schema_migrations');
    expect(rows[0]?.version).toBe(LATEST_VERSION);
    await raw.query(`INSERT INTO schema_migrations (version, description) VALUES ($1, 'from the future')`, [
      LATEST_VERSION + 1,
    ]);
    try {
      await expect(make().init()).rejects.toThrow(/newer than this Engram understands/);
    } finally {
      await raw.query('DELETE FROM schema_migrations WHERE version = $1', [LATEST_VERSION + 1]);
    }
  });
});
