import { mkdir } from 'node:fs/promises';
import { EngramError } from '../../core/errors.js';
import { matchesFilter } from '../../core/filter.js';
import type { HistoryEntry, Job, Memory, StoreFilter } from '../../core/types.js';
import { ascending, type Snapshot, UserFileCache } from './json-cache.js';
import type { JsonStoreConfig } from './json-config.js';
import { readIfExists, replaceFile, subdirectories } from './json-files.js';
import {
  ioError,
  newStoreFile,
  parseJobsFile,
  parseStoreFile,
  type StoreFile,
  serializeJobsFile,
  serializeStoreFile,
  type UserData,
} from './json-format.js';
import { Layout } from './json-layout.js';
import { FileLocks } from './json-lock.js';

/*
 * Every change is a read-modify-write of one whole file under its lock, re-reading the file first,
 * so that several processes can share one data dir without losing writes.
 */

export interface MutationOutcome<T> {
  result: T;
  changed: boolean;
}

export const cloneMemory = (memory: Memory): Memory => structuredClone(memory);
export const cloneEntry = (entry: HistoryEntry): HistoryEntry => structuredClone(entry);
export const cloneJob = (job: Job): Job => structuredClone(job);

type State = 'new' | 'open' | 'closed';

export function visible(snapshot: Snapshot, filter: StoreFilter): Memory[] {
  return ascending(snapshot).filter((memory) => matchesFilter(memory, filter));
}

/** Code-unit order, as the SQL stores' `COLLATE "C"` / binary columns sort. */
export function byString(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * The JSON store's files, shared by its role modules: the per-user files (cached), the store file
 * and the jobs file, each changed under its lock; and the store's state — opened on first use,
 * refusing work after `close`, which waits for the work in flight.
 */
export class JsonData {
  readonly layout: Layout;
  readonly locks: FileLocks;
  readonly files: UserFileCache;
  readonly #inflight = new Set<Promise<unknown>>();
  #state: State = 'new';
  #opening: Promise<void> | null = null;

  constructor(config: JsonStoreConfig) {
    this.layout = new Layout(config.dataDir);
    this.locks = new FileLocks({ locksDir: this.layout.locksDir, ...config });
    this.files = new UserFileCache(this.layout, config.pretty);
  }

  async init(): Promise<void> {
    if (this.#state === 'open') return;
    this.#opening ??= this.#open().finally(() => {
      this.#opening = null;
    });
    return this.#opening;
  }

  /** Waits for in-flight operations, then drops the cache. Calls after close fail until `init()`. */
  async close(): Promise<void> {
    this.#state = 'closed';
    await Promise.allSettled([...this.#inflight]);
    this.files.clear();
  }

  async #open(): Promise<void> {
    try {
      await mkdir(this.layout.locksDir, { recursive: true, mode: 0o700 });
    } catch (error) {
      throw ioError('create', this.layout.locksDir, error);
    }
    await this.locks.run(this.layout.storeLock, async (beforeCommit) => {
      const current = await this.readStoreFile();
      if (current === null) await this.writeStoreFile(newStoreFile(), beforeCommit);
    });
    this.files.clear();
    this.#state = 'open';
  }

  /** Runs one operation: opens the store on first use, refuses after close, and lets close wait for it. */
  async track<T>(work: () => Promise<T>): Promise<T> {
    if (this.#state === 'closed') throw new EngramError('unavailable', 'the json store is closed');
    if (this.#state === 'new') await this.init();
    const running = work();
    this.#inflight.add(running);
    try {
      return await running;
    } finally {
      this.#inflight.delete(running);
    }
  }

  read<T>(userId: string, view: (snapshot: Snapshot) => T): Promise<T> {
    this.layout.userDir(userId);
    return this.track(async () => view(await this.files.read(userId)));
  }

  /** A read-modify-write of one user's file under that user's lock; the change sees the file as it is now. */
  mutate<T>(userId: string, change: (data: UserData) => MutationOutcome<T>): Promise<T> {
    const lock = this.layout.userLock(userId);
    return this.track(() =>
      this.locks.run(lock, async (beforeCommit) => {
        const current = await this.files.read(userId);
        const draft: UserData = {
          memories: new Map(current.data.memories),
          vectors: new Map(current.data.vectors),
          history: current.data.history.slice(),
        };
        const outcome = change(draft);
        if (outcome.changed) await this.files.write(userId, draft, beforeCommit);
        return outcome.result;
      }),
    );
  }

  async readJobs(): Promise<Job[]> {
    const text = await readIfExists(this.layout.jobsFile);
    return text === null ? [] : parseJobsFile(text, this.layout.jobsFile);
  }

  /** A read-modify-write of `jobs.json` under its lock (against this and other processes), written atomically. */
  mutateJobs<T>(change: (jobs: Job[]) => MutationOutcome<T> & { jobs: Job[] }): Promise<T> {
    return this.track(() =>
      this.locks.run(this.layout.jobsLock, async (beforeCommit) => {
        const outcome = change(await this.readJobs());
        if (outcome.changed) await replaceFile(this.layout.jobsFile, serializeJobsFile(outcome.jobs), beforeCommit);
        return outcome.result;
      }),
    );
  }

  async readStoreFile(): Promise<StoreFile | null> {
    const text = await readIfExists(this.layout.storeFile);
    return text === null ? null : parseStoreFile(text, this.layout.storeFile);
  }

  async writeStoreFile(content: StoreFile, beforeCommit: () => void): Promise<void> {
    await replaceFile(this.layout.storeFile, serializeStoreFile(content), beforeCommit);
  }

  async userIds(): Promise<string[]> {
    return (await subdirectories(this.layout.root))
      .map((name) => this.layout.userIdOf(name))
      .filter((userId): userId is string => userId !== null)
      .sort();
  }
}
