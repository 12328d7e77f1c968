import { setTimeout as sleep } from 'node:timers/promises';
import Database from 'better-sqlite3';
import { EngramError } from '../../core/errors.js';

/** Seconds a client is told to wait after the store could not serve. */
export const STORE_RETRY_AFTER_SECONDS = 2;

/** SQLite result codes that mean "the store cannot serve now", not "this request is wrong". */
const UNAVAILABLE = /^SQLITE_(BUSY|LOCKED|FULL|IOERR|CORRUPT|READONLY|CANTOPEN|NOTADB|PROTOCOL|NOMEM)/;
const BUSY = /^SQLITE_(BUSY|LOCKED)/;

const isBusy = (error: unknown): boolean => error instanceof Database.SqliteError && BUSY.test(error.code);

/**
 * The store's answer to a driver error: `unavailable` (503 with `Retry-After`) for a locked,
 * full, read-only, failing or damaged database — the same answer the other stores give — and the
 * error unchanged otherwise (a bug is a 500).
 */
export function storeError(error: unknown): unknown {
  if (!(error instanceof Database.SqliteError) || !UNAVAILABLE.test(error.code)) return error;
  const why = BUSY.test(error.code)
    ? 'another process holds the write lock'
    : error.code.startsWith('SQLITE_FULL')
      ? 'the disk is full'
      : error.code.startsWith('SQLITE_CORRUPT')
        ? 'the database or an index is damaged (run `engram check`)'
        : 'the database cannot be read or written';
  return new EngramError('unavailable', `the SQLite store cannot serve: ${why} (${error.code}: ${error.message})`, {
    cause: error,
    details: { retryAfterSeconds: STORE_RETRY_AFTER_SECONDS },
  });
}

/**
 * Wraps a SQLite store so that waiting for another process's write lock never blocks the event
 * loop: the connection's own busy wait is kept short (a few ms, synchronous), and a call that
 * still finds the database locked is retried after an asynchronous pause, with backoff, until
 * `busyTimeoutMs` has passed — then it fails with `unavailable`. Retrying a whole call is safe:
 * every write is one statement or one `BEGIN IMMEDIATE` transaction, which meets the lock before
 * changing anything. Other driver errors are mapped by `storeError`.
 */
export function withSqliteErrors<T extends object>(store: T, busyTimeoutMs: number): T {
  const call = (method: (...args: unknown[]) => unknown, args: unknown[]): Promise<unknown> =>
    whileBusy(() => method.apply(store, args), busyTimeoutMs);
  return new Proxy(store, {
    get(target, property) {
      const value = Reflect.get(target, property, target) as unknown;
      if (typeof value !== 'function') return value;
      const method = value as (...args: unknown[]) => unknown;
      return (...args: unknown[]) => {
        const result = method.apply(target, args);
        // Only promises are retried (async generators such as `scan` are offline bulk reads).
        if (!(result instanceof Promise)) return result;
        return result.catch((error: unknown) => {
          if (isBusy(error)) return call(method, args);
          throw storeError(error);
        });
      };
    },
  });
}

/**
 * Runs `attempt` until it does not find the database locked, pausing asynchronously with backoff
 * between tries, for up to `busyTimeoutMs`; then fails as `storeError` says.
 */
export async function whileBusy<T>(attempt: () => T | Promise<T>, busyTimeoutMs: number): Promise<T> {
  const deadline = Date.now() + busyTimeoutMs;
  for (let pause = 2; ; pause = Math.min(pause * 2, 100)) {
    try {
      return await attempt();
    } catch (error) {
      if (isBusy(error) && Date.now() + pause < deadline) {
        await sleep(pause);
        continue;
      }
      throw storeError(error);
    }
  }
}
