import { mkdir } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import lockfile from 'proper-lockfile';
import { EngramError } from '../../core/errors.js';
import { KeyedLock } from '../../core/keyed-lock.js';
import { ioError, isErrno } from './json-format.js';

export interface FileLockOptions {
  locksDir: string;
  lockTimeoutMs: number;
  lockStaleMs: number;
}

/** Locks held against this process (KeyedLock) and other processes (proper-lockfile) at once. */
export class FileLocks {
  readonly #options: FileLockOptions;
  readonly #local = new KeyedLock();

  constructor(options: FileLockOptions) {
    this.#options = options;
  }

  /**
   * Runs `work` holding the lock `target`. `work` gets a check to call right before committing:
   * it throws if the lock was lost, e.g. because this process stalled for longer than `lockStaleMs`.
   */
  run<T>(target: string, work: (beforeCommit: () => void) => Promise<T>): Promise<T> {
    return this.#local.run(target, async () => {
      let lost: Error | null = null;
      const release = await this.#acquire(target, (error) => {
        lost = error;
      });
      const beforeCommit = (): void => {
        if (lost) {
          throw new EngramError('store_locked', `lost the lock on ${target} while writing; nothing was changed`, {
            cause: lost,
          });
        }
      };
      try {
        return await work(beforeCommit);
      } finally {
        await release().catch(() => undefined);
      }
    });
  }

  async #acquire(target: string, onCompromised: (error: Error) => void): Promise<() => Promise<void>> {
    const { locksDir, lockTimeoutMs, lockStaleMs } = this.#options;
    const deadline = Date.now() + lockTimeoutMs;
    const options = { realpath: false, stale: lockStaleMs, retries: 0, onCompromised };
    for (let attempt = 0; ; attempt++) {
      try {
        return await lockfile.lock(target, options);
      } catch (error) {
        if (isErrno(error, 'ENOENT') && attempt === 0) {
          await mkdir(locksDir, { recursive: true, mode: 0o700 });
          continue;
        }
        if (!isErrno(error, 'ELOCKED')) throw ioError('lock', target, error);
        if (Date.now() >= deadline) {
          throw new EngramError(
            'store_locked',
            `another writer has held ${target}.lock for over ${lockTimeoutMs} ms; try again later`,
            { details: { lock: `${target}.lock` } },
          );
        }
        await sleep(Math.min(50, 2 * 1.5 ** attempt) * (0.5 + Math.random()));
      }
    }
  }
}
