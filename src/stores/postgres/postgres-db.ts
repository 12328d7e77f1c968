/**
 * The PostgreSQL store's connection pool, shared by its role modules: every statement runs in a
 * transaction (`tx`; `read` for reads; a `cursor` for long scans) that tells row-level security whom
 * it acts for.
 */
import { createHash } from 'node:crypto';
import pg from 'pg';
import { EngramError } from '../../core/errors.js';
import type { EmbeddingInfo } from '../../core/types.js';
import type { postgresConfigSchema } from './postgres-config.js';
import { ensureVectorIndex, migrate } from './postgres-migrations.js';

export type ParsedPostgresConfig = ReturnType<typeof postgresConfigSchema.parse>;

/**
 * A statement to run prepared: each connection parses and plans it once under a name derived from
 * its text (so statements that differ only by their filter get their own), and may reuse the plan.
 */
export function prepared(text: string, values: unknown[]): pg.QueryConfig {
  return { name: `engram_${createHash('sha256').update(text).digest('hex').slice(0, 24)}`, text, values };
}

/** Who a transaction acts for: one user (row-level security admits only their rows), or every user. */
export type Scope = { user: string } | 'all';

export class PostgresDb {
  readonly config: ParsedPostgresConfig;
  #pool: pg.Pool | null = null;

  constructor(config: ParsedPostgresConfig) {
    this.config = config;
  }

  /** The pool, or null while the store is not open. */
  get pool(): pg.Pool | null {
    return this.#pool;
  }

  /** Connects, migrates the schema and keeps the vector index to the stored dimension. */
  async open(): Promise<void> {
    if (this.#pool) return;
    const { url, schema, poolMax, statementTimeoutMs } = this.config;
    const pool = new pg.Pool({
      connectionString: url,
      max: poolMax,
      statement_timeout: statementTimeoutMs,
      options: `-c search_path=${schema},public`,
      application_name: 'engram',
    });
    // An idle client that errors (server restart) must not crash the process; the pool drops it.
    pool.on('error', () => undefined);
    try {
      const client = await pool.connect();
      try {
        await migrate(client, schema);
        const info = await client.query<{ value: EmbeddingInfo }>(
          `SELECT value FROM ${schema}.store_meta WHERE key = 'embedding'`,
        );
        const dimension = info.rows[0]?.value.dimension;
        if (dimension !== undefined) await ensureVectorIndex(client, schema, dimension);
      } finally {
        client.release();
      }
    } catch (error) {
      await pool.end().catch(() => undefined);
      throw new EngramError('unavailable', `cannot open the PostgreSQL store: ${(error as Error).message}`, {
        cause: error,
      });
    }
    this.#pool = pool;
  }

  async close(): Promise<void> {
    const pool = this.#pool;
    this.#pool = null;
    await pool?.end();
  }

  /** Runs `work` in one transaction acting for `scope`. */
  async tx<T>(scope: Scope, work: (client: pg.PoolClient) => Promise<T>): Promise<T> {
    if (!this.#pool) throw new EngramError('unavailable', 'the PostgreSQL store is not open');
    const client = await this.#pool.connect();
    try {
      // One round trip: BEGIN and the setting row-level security reads (a simple-protocol query, so
      // the user id goes in as an escaped literal).
      await client.query(`BEGIN; SELECT ${this.#setting(client, scope)}`);
      const result = await work(client);
      await client.query('COMMIT');
      return result;
    } catch (error) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw error;
    } finally {
      client.release();
    }
  }

  /**
   * Runs read-only `work` in one transaction acting for `scope`, with `settings` (transaction-local
   * configuration parameters) set in the same round trip as `BEGIN`. The caller has its answer as
   * soon as `work` does: the `COMMIT` of a transaction that wrote nothing completes on its own,
   * and the connection returns to the pool after it (on an error, the connection is discarded).
   */
  async read<T>(
    scope: Scope,
    work: (client: pg.PoolClient) => Promise<T>,
    settings: Record<string, string> = {},
  ): Promise<T> {
    if (!this.#pool) throw new EngramError('unavailable', 'the PostgreSQL store is not open');
    const client = await this.#pool.connect();
    let result: T;
    try {
      const extra = Object.entries(settings).map(
        ([name, value]) => `, set_config(${client.escapeLiteral(name)}, ${client.escapeLiteral(value)}, true)`,
      );
      await client.query(`BEGIN READ ONLY; SELECT ${this.#setting(client, scope)}${extra.join('')}`);
      result = await work(client);
    } catch (error) {
      await client.query('ROLLBACK').catch(() => undefined);
      client.release();
      throw error;
    }
    client.query('COMMIT').then(
      () => client.release(),
      (error: Error) => client.release(error),
    );
    return result;
  }

  /**
   * A query read in pages through a cursor, in one transaction (one snapshot) acting for `scope`.
   * One sort or index walk for the whole scan — page-by-page keyset queries would each re-plan
   * under row-level security, whose filter the planner cannot see through. Leaving the loop early
   * ends the transaction.
   */
  async *cursor<R extends pg.QueryResultRow>(
    scope: Scope,
    sql: string,
    params: unknown[],
    page: number,
  ): AsyncIterable<R[]> {
    if (!this.#pool) throw new EngramError('unavailable', 'the PostgreSQL store is not open');
    const client = await this.#pool.connect();
    let committed = false;
    try {
      await client.query(`BEGIN; SELECT ${this.#setting(client, scope)}`);
      await client.query(`DECLARE engram_scan NO SCROLL CURSOR FOR ${sql}`, params);
      for (;;) {
        const { rows } = await client.query<R>(`FETCH ${page} FROM engram_scan`);
        if (rows.length > 0) yield rows;
        if (rows.length < page) break;
      }
      await client.query('COMMIT');
      committed = true;
    } finally {
      if (!committed) await client.query('ROLLBACK').catch(() => undefined);
      client.release();
    }
  }

  /** The SELECT list item that sets what row-level security reads (an escaped literal). */
  #setting(client: pg.PoolClient, scope: Scope): string {
    return scope === 'all'
      ? `set_config('engram.scope', 'all', true)`
      : `set_config('engram.user_id', ${client.escapeLiteral(scope.user)}, true)`;
  }

  /** Runs `work` on one pooled connection, outside any transaction of this store's. */
  async withClient<T>(work: (client: pg.PoolClient) => Promise<T>): Promise<T> {
    if (!this.#pool) throw new EngramError('unavailable', 'the PostgreSQL store is not open');
    const client = await this.#pool.connect();
    try {
      return await work(client);
    } finally {
      client.release();
    }
  }
}
