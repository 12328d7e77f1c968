/**
 * Access statistics: every memory a search returns, or a caller reads by id, counts as one read.
 * Counting must not put a write on every search, so reads are summed in memory and written in one
 * `touch` per user at most every `flushMs` (and at close). A crash loses at most that window of
 * counts — statistics, not data.
 */
import type { MemoryRecords } from '../stores/store.js';

export class AccessTracker {
  readonly #store: MemoryRecords;
  readonly #flushMs: number;
  readonly #clock: () => string;
  readonly #onError: (error: unknown) => void;
  #pending = new Map<string, Map<string, number>>();
  #timer: NodeJS.Timeout | null = null;
  #flushing: Promise<void> = Promise.resolve();

  constructor(options: {
    store: MemoryRecords;
    flushMs: number;
    clock: () => string;
    onError?: (error: unknown) => void;
  }) {
    this.#store = options.store;
    this.#flushMs = options.flushMs;
    this.#clock = options.clock;
    this.#onError = options.onError ?? (() => undefined);
  }

  record(userId: string, ids: readonly string[]): void {
    if (ids.length === 0) return;
    let counts = this.#pending.get(userId);
    if (!counts) {
      counts = new Map();
      this.#pending.set(userId, counts);
    }
    for (const id of ids) counts.set(id, (counts.get(id) ?? 0) + 1);
    if (!this.#timer) {
      this.#timer = setTimeout(() => {
        this.#timer = null;
        void this.flush();
      }, this.#flushMs);
      this.#timer.unref();
    }
  }

  /** Writes what has been counted so far; resolves when it is stored. */
  flush(): Promise<void> {
    const batch = this.#pending;
    this.#pending = new Map();
    const at = this.#clock();
    this.#flushing = this.#flushing.then(async () => {
      for (const [userId, counts] of batch) {
        try {
          await this.#store.touch(userId, counts, at);
        } catch (error) {
          this.#onError(error);
        }
      }
    });
    return this.#flushing;
  }

  /** Stops the timer and writes the rest. */
  async close(): Promise<void> {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = null;
    await this.flush();
  }
}
