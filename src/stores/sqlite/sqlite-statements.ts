import type Database from 'better-sqlite3';

/** Most statements kept per connection. */
const STATEMENT_CACHE_SIZE = 256;

/**
 * Prepared statements of one connection, kept for reuse: preparing costs about as much as running
 * a short statement, and the store's SQL texts are a small fixed set (filters vary in shape, not in
 * values). Bounded all the same; the oldest is dropped first. Emptied when the connection closes.
 */
export class Statements {
  readonly #connection: () => Database.Database;
  readonly #cache = new Map<string, Database.Statement>();

  constructor(connection: () => Database.Database) {
    this.#connection = connection;
  }

  get(sql: string): Database.Statement {
    let statement = this.#cache.get(sql);
    if (!statement) {
      statement = this.#connection().prepare(sql);
      if (this.#cache.size >= STATEMENT_CACHE_SIZE) this.#cache.delete(this.#cache.keys().next().value as string);
      this.#cache.set(sql, statement);
    }
    return statement;
  }

  clear(): void {
    this.#cache.clear();
  }
}
