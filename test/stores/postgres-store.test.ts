import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PostgresStore } from '../../src/stores/postgres/index.js';
import { LATEST_VERSION, migrate } from '../../src/stores/postgres/postgres-migrations.js';
import { filter, historyEntry, idAt, makeMemory, runConformance, seed } from './conformance.js';
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
    // The keyword postings are the user's too: "secret" is in both memories, each user sees their own.
    const postings = async (userId: string) => {
      await raw.query('BEGIN');
      try {
        await raw.query(`SELECT set_config('engram.user_id', $1, true)`, [userId]);
        return (
          await raw.query<{ user_id: string }>(`SELECT DISTINCT user_id FROM memory_terms WHERE lexeme = 'secret'`)
        ).rows;
      } finally {
        await raw.query('ROLLBACK');
      }
    };
    expect(await postings('alice')).toEqual([{ user_id: 'alice' }]);
    expect(await postings('mallory')).toEqual([]);
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
        message: expect.stringMatching(
          /owns neither memories, memory_terms, memory_terms_df, history, jobs nor the database/,
        ),
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

  /** What `memory_terms` (and `memory_terms_df`) hold, and what they should hold: the postings of every memory's words now. */
  const postingsNowAndDue = async () => {
    await raw.query('BEGIN');
    try {
      await raw.query(`SELECT set_config('engram.scope', 'all', true)`);
      const order = 'ORDER BY user_id, lexeme, memory_id';
      const held = await raw.query(`SELECT user_id, lexeme, memory_id, tf, len FROM memory_terms ${order}`);
      const due = await raw.query(
        `SELECT user_id, lexeme, memory_id, tf, len FROM (
           SELECT m.user_id, p.lexeme, m.id AS memory_id, p.tf, p.len FROM memories m, memory_postings(m.search_text) p
         ) d ${order}`,
      );
      // And how many of each user's memories hold each word, kept beside them (no row for none).
      const counts = await raw.query('SELECT user_id, lexeme, df FROM memory_terms_df ORDER BY user_id, lexeme');
      const countsDue = await raw.query(
        `SELECT m.user_id, p.lexeme, count(*)::bigint AS df FROM memories m, memory_postings(m.search_text) p
         GROUP BY 1, 2 ORDER BY 1, 2`,
      );
      return { held: held.rows, due: due.rows, counts: counts.rows, countsDue: countsDue.rows };
    } finally {
      await raw.query('ROLLBACK');
    }
  };

  /** A user's memories and words as the keyword statistics hold them. */
  const wordTotals = async (userId: string) => {
    await raw.query('BEGIN');
    try {
      await raw.query(`SELECT set_config('engram.user_id', $1, true)`, [userId]);
      const { rows } = await raw.query('SELECT memories, words FROM memory_terms_users WHERE user_id = $1', [userId]);
      return rows[0] ?? null;
    } finally {
      await raw.query('ROLLBACK');
    }
  };

  it('keeps the keyword postings in step with the memories through adds, rewrites, supersessions, deletes and purges', async () => {
    const carol = (n: number, content: string) => makeMemory(n, { userId: 'carol', content });
    const first = carol(30, 'The garden gate squeaks when it rains');
    const second = carol(31, 'Gardening on Sundays, rain or shine, rain again');
    await seed(store, [first, second, carol(32, ''), makeMemory(33, { userId: 'dave', content: 'garden party' })]);
    let { held, due, counts, countsDue } = await postingsNowAndDue();
    expect(held).toEqual(due);
    expect(counts).toEqual(countsDue);
    // "rain" twice in the second memory (stemmed from "rains" in the first); every memory has its length posting.
    expect(held.filter((row) => row.user_id === 'carol' && row.lexeme === 'rain')).toEqual([
      { user_id: 'carol', lexeme: 'rain', memory_id: first.id, tf: 1, len: 7 },
      { user_id: 'carol', lexeme: 'rain', memory_id: second.id, tf: 2, len: 8 },
    ]);
    expect(await wordTotals('carol')).toEqual({ memories: '3', words: String(7 + 8 + 0) });

    const rewritten = { ...first, content: 'The shed door squeaks on Sundays', updatedAt: idAt(40) };
    await store.update(rewritten, null, historyEntry('update', first, rewritten));
    const superseded = { ...second, supersededBy: first.id, validTo: rewritten.updatedAt };
    await store.update(superseded, null, historyEntry('supersede', second, superseded));
    await store.touch('carol', new Map([[first.id, 2]]), rewritten.updatedAt);
    ({ held, due, counts, countsDue } = await postingsNowAndDue());
    expect(held).toEqual(due);
    expect(counts).toEqual(countsDue);
    expect(await wordTotals('carol')).toEqual({ memories: '3', words: String(6 + 8 + 0) });
    expect(held.some((row) => row.memory_id === first.id && row.lexeme === 'garden')).toBe(false);
    expect(held.some((row) => row.memory_id === first.id && row.lexeme === 'shed')).toBe(true);
    // The rewrite moved the counts of the words that left and came (one new, one the other memory
    // has too), and kept the one in both.
    const df = (lexeme: string) => counts.find((row) => row.user_id === 'carol' && row.lexeme === lexeme)?.df;
    expect([df('garden'), df('rain'), df('shed'), df('sunday'), df('squeak'), df('gate')]).toEqual([
      '1',
      '1',
      '1',
      '2',
      '1',
      undefined,
    ]);

    await store.delete('carol', second.id, historyEntry('delete', superseded, null));
    ({ held, due, counts, countsDue } = await postingsNowAndDue());
    expect(held).toEqual(due);
    expect(counts).toEqual(countsDue);
    expect(held.some((row) => row.memory_id === second.id)).toBe(false);
    expect(await wordTotals('carol')).toEqual({ memories: '2', words: '6' });

    await store.purgeUser('carol');
    ({ held, due, counts, countsDue } = await postingsNowAndDue());
    expect(held).toEqual(due);
    expect(counts).toEqual(countsDue);
    expect(held.some((row) => row.user_id === 'carol')).toBe(false);
    expect(held.some((row) => row.user_id === 'dave')).toBe(true);
    expect(await wordTotals('carol')).toBeNull(); // the purged user leaves no row
    expect(await wordTotals('dave')).toEqual({ memories: '1', words: '2' });
    // A memory keeps its user: moving one would leave its postings behind, so the database refuses it.
    await raw.query('BEGIN');
    await raw.query(`SELECT set_config('engram.scope', 'all', true)`);
    await expect(raw.query(`UPDATE memories SET user_id = 'carol' WHERE user_id = 'dave'`)).rejects.toThrow(
      /keeps its id and user_id/,
    );
    await raw.query('ROLLBACK');
  });

  it('upgrades a database from before the postings: its memories are found by keyword, ranked as in a new one', async () => {
    const old = schemaHarness();
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    const contents = ['brown cat on a brown mat', 'a brown dog', 'the zebra runs in the savanna', 'nothing here'];
    const memories = contents.map((content, i) => makeMemory(50 + i, { userId: 'erin', content }));
    try {
      await migrate(client, old.schema, 5);
      // Rows as version 5 held them (the columns every version has), written the way its store wrote them.
      await client.query('BEGIN');
      await client.query(`SELECT set_config('engram.scope', 'all', true)`);
      for (const m of memories) {
        await client.query(
          `INSERT INTO ${old.schema}.memories (id, user_id, content, category, tags, metadata, created_at, updated_at,
             pinned, source, hash, search_text, embedding)
           VALUES ($1, $2, $3, 'general', '[]', '{}', $4, $4, false, 'api', $5, $3, '[1,0,0]')`,
          [m.id, m.userId, m.content, m.createdAt, m.hash],
        );
      }
      await client.query('COMMIT');
    } finally {
      await client.end();
    }
    const upgraded = old.make();
    const fresh = schemaHarness();
    const reference = fresh.make();
    try {
      await upgraded.init();
      await reference.init();
      await seed(reference, memories);
      const hits = await upgraded.keywordSearch('erin', ['brown', 'zebra'], filter(), 10);
      expect(hits.map((hit) => hit.id)).toEqual([memories[2]?.id, memories[0]?.id, memories[1]?.id]);
      expect(hits).toEqual(await reference.keywordSearch('erin', ['brown', 'zebra'], filter(), 10));
    } finally {
      await upgraded.close();
      await reference.close();
      await dropSchema(old.schema);
      await dropSchema(fresh.schema);
    }
  });

  it('keeps vectors in the row (an exact scan reads no TOAST), and still stores one too large for a page', async () => {
    const toastBytes = async () => {
      const { rows } = await raw.query<{ bytes: string }>(
        `SELECT pg_relation_size(reltoastrelid) AS bytes FROM pg_class WHERE oid = 'memories'::regclass`,
      );
      return Number(rows[0]?.bytes);
    };
    // Nothing of the row moves out either (storage MAIN on the vector made the small columns go instead).
    const stored = async (id: string) => {
      await raw.query('BEGIN');
      try {
        await raw.query(`SELECT set_config('engram.user_id', 'frank', true)`);
        const { rows } = await raw.query(
          'SELECT pg_column_size(embedding) AS vector, pg_column_size(m.*) AS row FROM memories m WHERE id = $1',
          [id],
        );
        return rows[0];
      } finally {
        await raw.query('ROLLBACK');
      }
    };
    const unit = (dimension: number) => Float32Array.from({ length: dimension }, (_, i) => Math.sin(i + 1));
    const before = await toastBytes();
    const usual = makeMemory(60, { userId: 'frank', content: 'a 1536-d vector, 6 KB' });
    await store.insert([{ memory: usual, vector: unit(1536) }], []);
    expect(await toastBytes()).toBe(before);
    expect(await stored(usual.id)).toMatchObject({ vector: 4 * 1536 + 8 });
    const huge = makeMemory(61, { userId: 'frank', content: 'a 4096-d vector, 16 KB: more than a page' });
    await store.insert([{ memory: huge, vector: unit(4096) }], []);
    expect(await toastBytes()).toBeGreaterThan(before);
    const vectors = await store.vectorsOf('frank', [usual.id, huge.id]);
    expect(vectors.get(usual.id)).toEqual(unit(1536));
    expect(vectors.get(huge.id)).toEqual(unit(4096));
  });
});
