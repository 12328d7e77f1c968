import { EngramError } from '../core/errors.js';
import type { Embedder, EmbedOptions, EmbedQueueStats } from './embedder.js';

export interface EmbedQueueOptions {
  /**
   * Most texts admitted at once (being embedded or waiting their turn). A request that does not
   * fit waits for room — back-pressure on whoever is ingesting — in arrival order.
   */
  capacity: number;
  /** How long a request may wait for room before it is refused with `overloaded` (503). */
  maxWaitMs: number;
  /** Texts per call to the inner embedder; a large request is cut into calls this big. */
  chunkSize?: number;
  /** Calls to the inner embedder at once (2: one running, the next ready, so it never idles). */
  concurrency?: number;
  /** Requests of at most this many texts (a search query, a single add) go before larger ones. */
  interactiveMax?: number;
}

interface Waiter {
  units: number;
  admit(): void;
}

interface Task {
  texts: string[];
  run(): void;
}

/** Seconds a refused client is told to wait before retrying. */
export const OVERLOADED_RETRY_AFTER_SECONDS = 5;

/**
 * A bounded queue in front of any Embedder.
 *
 * - **Bounded**: at most `capacity` texts are admitted; further requests wait in arrival order
 *   and are refused with `overloaded` after `maxWaitMs`, so a flood of ingest cannot pile up
 *   unbounded work and memory. (A request larger than `capacity` is admitted alone.)
 * - **Interactive first**: admitted work reaches the inner embedder in chunks of `chunkSize`, at
 *   most `concurrency` calls at once, small requests (queries, single adds) before bulk chunks —
 *   a search during a large import waits for at most the chunks already running, not the import.
 */
export class QueuedEmbedder implements Embedder {
  readonly inner: Embedder;
  readonly #capacity: number;
  readonly #maxWaitMs: number;
  readonly #chunkSize: number;
  readonly #concurrency: number;
  readonly #interactiveMax: number;
  #admitted = 0;
  readonly #waiters: Waiter[] = [];
  #waitingUnits = 0;
  readonly #interactive: Task[] = [];
  readonly #bulk: Task[] = [];
  #runningCalls = 0;
  #runningTexts = 0;
  #rejected = 0;

  constructor(inner: Embedder, options: EmbedQueueOptions) {
    this.inner = inner;
    this.#capacity = positive('capacity', options.capacity);
    this.#maxWaitMs = Math.max(0, options.maxWaitMs);
    this.#chunkSize = positive('chunkSize', options.chunkSize ?? 64);
    this.#concurrency = positive('concurrency', options.concurrency ?? 2);
    this.#interactiveMax = options.interactiveMax ?? 8;
  }

  get model(): string {
    return this.inner.model;
  }

  get dimension(): number {
    return this.inner.dimension;
  }

  get queue(): EmbedQueueStats {
    return {
      capacity: this.#capacity,
      admittedTexts: this.#admitted,
      waitingTexts: this.#waitingUnits,
      runningTexts: this.#runningTexts,
      rejected: this.#rejected,
    };
  }

  init(): Promise<void> {
    return this.inner.init();
  }

  async embed(texts: string[], options?: EmbedOptions): Promise<Float32Array[]> {
    if (texts.length === 0) return [];
    const units = Math.min(texts.length, this.#capacity);
    await this.#admit(units);
    try {
      const interactive = texts.length <= this.#interactiveMax;
      const chunks: string[][] = [];
      for (let i = 0; i < texts.length; i += this.#chunkSize) chunks.push(texts.slice(i, i + this.#chunkSize));
      // Settle every chunk before releasing the room they hold, even when one fails.
      const results = await Promise.allSettled(chunks.map((chunk) => this.#schedule(chunk, interactive, options)));
      const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
      if (failed) throw failed.reason;
      return results.flatMap((r) => (r as PromiseFulfilledResult<Float32Array[]>).value);
    } finally {
      this.#release(units);
    }
  }

  close(): Promise<void> {
    return this.inner.close();
  }

  /** Resolves once `units` fit, first come first served; refuses after `maxWaitMs`. */
  #admit(units: number): Promise<void> {
    if (this.#waiters.length === 0 && this.#admitted + units <= this.#capacity) {
      this.#admitted += units;
      return Promise.resolve();
    }
    return new Promise<void>((resolve, reject) => {
      const waiter: Waiter = {
        units,
        admit: () => {
          clearTimeout(timer);
          resolve();
        },
      };
      const timer = setTimeout(() => {
        const index = this.#waiters.indexOf(waiter);
        if (index < 0) return;
        this.#waiters.splice(index, 1);
        this.#waitingUnits -= units;
        this.#rejected++;
        reject(
          new EngramError(
            'overloaded',
            `the embedder is busy: ${this.#admitted} texts are queued and this request waited ${this.#maxWaitMs} ms for room; retry later`,
            { details: { retryAfterSeconds: OVERLOADED_RETRY_AFTER_SECONDS } },
          ),
        );
        // The head may have been the one blocking smaller requests behind it.
        this.#admitWaiting();
      }, this.#maxWaitMs);
      timer.unref?.();
      this.#waiters.push(waiter);
      this.#waitingUnits += units;
    });
  }

  #release(units: number): void {
    this.#admitted -= units;
    this.#admitWaiting();
  }

  #admitWaiting(): void {
    for (let head = this.#waiters[0]; head; head = this.#waiters[0]) {
      if (this.#admitted + head.units > this.#capacity) return;
      this.#waiters.shift();
      this.#waitingUnits -= head.units;
      this.#admitted += head.units;
      head.admit();
    }
  }

  #schedule(texts: string[], interactive: boolean, options: EmbedOptions | undefined): Promise<Float32Array[]> {
    return new Promise<Float32Array[]>((resolve, reject) => {
      const task: Task = {
        texts,
        run: () => {
          this.#runningCalls++;
          this.#runningTexts += texts.length;
          Promise.resolve()
            .then(() => this.inner.embed(texts, options))
            .then(resolve, reject)
            .finally(() => {
              this.#runningCalls--;
              this.#runningTexts -= texts.length;
              this.#dispatch();
            });
        },
      };
      (interactive ? this.#interactive : this.#bulk).push(task);
      this.#dispatch();
    });
  }

  #dispatch(): void {
    while (this.#runningCalls < this.#concurrency) {
      const task = this.#interactive.shift() ?? this.#bulk.shift();
      if (!task) return;
      task.run();
    }
  }
}

function positive(name: string, value: number): number {
  if (!Number.isInteger(value) || value < 1) throw new RangeError(`${name} must be a positive integer, got ${value}`);
  return value;
}
