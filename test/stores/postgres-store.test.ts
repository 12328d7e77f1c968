import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PostgresStore } from '../../src/stores/postgres/index.js';
import { LATEST_VERSION } from '../../src/stores/postgres/postgres-migrations.js';
import { makeMemory, runConformance } from './conformance.js';
import { dropSchema, HOW, schemaHarness, url } from './pg-harness.js';

if (!url) console.warn(`postgres store tests skipped: ${HOW}`);

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

  it('refuses to compact as a role that owns neither the tables nor the database, and keeps every row', async () => {
    // scripts/services.sh provisions engram_guest, which owns nothing; grant it what the store uses.
    const database = new URL(url as string).pathname.slice(1);
    await raw.query(`GRANT CREATE ON DATABASE ${database} TO engram_guest`);
    // CREATE on the schema too: the migration check runs CREATE TABLE IF NOT EXISTS, which Postgres authorises first.
    await raw.query(`GRANT USAGE, CREATE ON SCHEMA ${schema} TO engram_guest`);
    await raw.query(`GRANT ALL ON ALL TABLES IN SCHEMA ${schema} TO engram_guest`);
    await raw.query(`GRANT ALL ON ALL SEQUENCES IN SCHEMA ${schema} TO engram_guest`);
    const guestUrl = new URL(url as string);
    guestUrl.username = 'engram_guest';
    guestUrl.password = 'engram_guest';
    const guest = make({ url: guestUrl.toString() });
    try {
      await guest.init();
      expect((await guest.get('alice', makeMemory(1).id))?.content).toBe('alice secret');
      await expect(guest.compact()).rejects.toMatchObject({
        code: 'forbidden',
        message: expect.stringMatching(/owns neither memories, history, jobs nor the database/),
      });
    } finally {
      await guest.close();
      await raw.query(`REVOKE ALL ON ALL TABLES IN SCHEMA ${schema} FROM engram_guest`);
      await raw.query(`REVOKE ALL ON ALL SEQUENCES IN SCHEMA ${schema} FROM engram_guest`);
      await raw.query(`REVOKE ALL ON SCHEMA ${schema} FROM engram_guest`);
      await raw.query(`REVOKE CREATE ON DATABASE ${database} FROM engram_guest`);
    }
    expect((await store.get('bob', makeMemory(2).id))?.content).toBe('bob secret');
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
