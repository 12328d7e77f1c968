/**
 * The SQLite store's connections, shared by its role modules: the main connection (opened by
 * `open`, with its statement cache), the reader threads that run its scans, and the writer thread
 * that runs its inserts — each started on first use — and the large users' approximate indexes.
 */
import { chmodSync, mkdirSync, statSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import * as sqliteVec from 'sqlite-vec';
import { EngramError } from '../../core/errors.js';
import { SqliteAnn } from './ann/sqlite-ann.js';
import { migrate } from './migrations.js';
import { type sqliteConfigSchema, tuneConnection } from './sqlite-config.js';
import { SqliteReaders } from './sqlite-readers.js';
import { Statements } from './sqlite-statements.js';
import { SqliteWriter } from './sqlite-writer.js';

export type ParsedSqliteConfig = ReturnType<typeof sqliteConfigSchema.parse>;

/**
 * Makes the database and its WAL and shared-memory files readable by their owner only (SQLite
 * gives the WAL and -shm files the database file's mode). A store created before this was 0644.
 */
function privateFiles(path: string): void {
  for (const file of [path, `${path}-wal`, `${path}-shm`]) {
    try {
      if ((statSync(file).mode & 0o077) !== 0) chmodSync(file, 0o600);
    } catch {
      // Not there (yet), or not ours to change: the umask of `engram` covers new files.
    }
  }
}

export class SqliteDb {
  readonly config: ParsedSqliteConfig;
  #db: Database.Database | null = null;
  #readers: SqliteReaders | null = null;
  readonly statements = new Statements(() => this.conn);
  #writer: SqliteWriter | null = null;
  /** Large users' approximate vector indexes (ann/). */
  readonly ann: SqliteAnn = new SqliteAnn(this);

  constructor(config: ParsedSqliteConfig) {
    this.config = config;
  }

  get isOpen(): boolean {
    return this.#db !== null;
  }

  /** Opens the main connection and migrates the schema. */
  open(): void {
    if (this.#db) return;
    mkdirSync(dirname(this.config.path), { recursive: true, mode: 0o700 });
    const db = new Database(this.config.path, {
      timeout: this.config.blockingBusyMs ?? this.config.busyTimeoutMs,
    });
    privateFiles(this.config.path);
    try {
      db.pragma('journal_mode = WAL');
      db.pragma(`synchronous = ${this.config.synchronous.toUpperCase()}`);
      db.pragma('foreign_keys = ON');
      tuneConnection(db, { cacheMb: this.config.cacheMb, mmapMb: 0 });
      sqliteVec.load(db);
      migrate(db, this.config.path);
    } catch (error) {
      db.close();
      throw new EngramError(
        'unavailable',
        `cannot open SQLite store ${this.config.path}: ${(error as Error).message}`,
        {
          cause: error,
        },
      );
    }
    this.#db = db;
    this.ann.open();
  }

  async close(): Promise<void> {
    if (!this.#db) return;
    await this.ann.close().catch(() => undefined);
    await this.#readers?.close().catch(() => undefined);
    this.#readers = null;
    await this.#writer?.close().catch(() => undefined);
    this.#writer = null;
    try {
      this.#db.pragma('optimize');
    } finally {
      this.statements.clear();
      this.#db.close();
      this.#db = null;
    }
  }

  /** The main connection; `unavailable` while the store is not open. */
  get conn(): Database.Database {
    if (!this.#db) throw new EngramError('unavailable', 'the SQLite store is not open');
    return this.#db;
  }

  /** A prepared statement on the main connection, kept for reuse (see `Statements`). */
  prepare(sql: string): Database.Statement {
    return this.statements.get(sql);
  }

  /** A heavy read (a scan): on a reader thread when the store has them, else on this one. */
  async read<T>(sql: string, params: unknown[]): Promise<T[]> {
    const readers = this.readerThreads();
    return readers ? readers.all<T>(sql, params) : (this.prepare(sql).all(...params) as T[]);
  }

  /** The reader threads, started on first use; null when the store runs its scans on this thread. */
  readerThreads(): SqliteReaders | null {
    void this.conn; // `unavailable` once the store is closed, as on the main connection
    if (this.config.readers === 0) return null;
    this.#readers ??= new SqliteReaders(this.config.path, this.config.readers, {
      busyTimeoutMs: this.config.busyTimeoutMs,
      cacheMb: this.config.cacheMb,
      mmapMb: this.config.mmapMb,
    });
    return this.#readers;
  }

  /** The writer thread (inserts), started on first use. */
  writer(): SqliteWriter {
    this.#writer ??= new SqliteWriter({
      path: this.config.path,
      synchronous: this.config.synchronous,
      busyTimeoutMs: this.config.busyTimeoutMs,
      cacheMb: this.config.cacheMb,
      mmapMb: 0,
    });
    return this.#writer;
  }
}
