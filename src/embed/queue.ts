import { EngramError } from '../core/errors.js';
import type { Embedder, EmbedOptions, EmbedQueueStats } from './embedder.js';
import { RoundRobin } from './round-robin.js';

export interface EmbedQueueOptions {
  /**
   * Most texts admitted at once (being embedded or waiting their turn). A request that does not
   * fit waits for room — back-pressure on whoever is ingesting.
   */
  capacity: number;
  /** How long a piece of a request may wait for room before the request is refused with `overloaded` (503). */
  maxWaitMs: number;
  /** Texts per call to the inner embedder; a large request is cut into pieces this big. */
  chunkSize?: number;
  /** Calls to the inner embedder at once (2: one running, the next ready, so it never idles). */
  concurrency?: number;
  /** Requests of at most this many texts (a search query, a single add) go before larger ones. */
  interactiveMax?: number;
}

/** One piece of a request: at most `chunkSize` texts, admitted and run on its own. */
interface Piece {
  readonly texts: string[];
  readonly options: EmbedOptions | undefined;
  resolve(vectors: Float32Array[]): void;
  reject(error: unknown): void;
}

interface Waiting {
  readonly scope: string;
  readonly piece: Piece;
  admit(): void;
}

/** Seconds a refused client is told to wait before retrying. */
export const OVERLOADED_RETRY_AFTER_SECONDS = 5;

/**
 * A bounded, fair queue in front of any Embedder.
 *
 * - **Pieces**: a request is cut into pieces of `chunkSize` texts (never more than `capacity`);
 *   each piece is admitted, run and counted on its own, and a request's next piece joins the line
 *   only once the one before it was admitted. No request holds more than one piece's room while
 *   others wait, and a request larger than the whole queue is served piece by piece.
 * - **Fair between users**: pieces wait, and admitted pieces run, in one line per scope (the
 *   user: `EmbedOptions.scope`), served in turn (round robin), and a scope holds at most
 *   `concurrency + 1` admitted pieces at once — one user's import of 20,000 texts delays another
 *   user's add by about one piece per user with work, not by the import.
 * - **Interactive first**: pieces of small requests (queries, single adds) are admitted and run
 *   before bulk pieces, so a search waits for at most the calls already running.
 * - **Bounded**: at most `capacity` texts are admitted at once; a piece that cannot be admitted
 *   within `maxWaitMs` fails its request with `overloaded` (503 with `Retry-After`).
 */
export class QueuedEmbedder implements Embedder {
  readonly inner: Embedder;
  readonly #capacity: number;
  readonly #maxWaitMs: number;
  readonly #pieceSize: number;
  readonly #concurrency: number;
  readonly #interactiveMax: number;
  #admitted = 0;
  #waitingUnits = 0;
  readonly #waiting = { interactive: new RoundRobin<Waiting>(), bulk: new RoundRobin<Waiting>() };
  readonly #ready = { interactive: new RoundRobin<Piece>(), bulk: new RoundRobin<Piece>() };
  /** Pieces each scope has admitted (running or ready to run); at most `#share` each. */
  readonly #held = new Map<string, number>();
  #runningCalls = 0;
  #runningTexts = 0;
  #rejected = 0;

  constructor(inner: Embedder, options: EmbedQueueOptions) {
    this.inner = inner;
    this.#capacity = positive('capacity', options.capacity);
    this.#maxWaitMs = Math.max(0, options.maxWaitMs);
    this.#pieceSize = Math.min(positive('chunkSize', options.chunkSize ?? 16), this.#capacity);
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
    const scope = options?.scope ?? '';
    const lane = texts.length <= this.#interactiveMax ? 'interactive' : 'bulk';
    // The model's own queue (worker-host.ts) also runs small requests before bulk ones.
    if (lane === 'interactive') options = { ...options, urgent: true };
    const runs: Promise<Float32Array[]>[] = [];
    let refused: unknown = null;
    for (let i = 0; i < texts.length && refused === null; i += this.#pieceSize) {
      const chunk = texts.slice(i, i + this.#pieceSize);
      let piece: Piece | undefined;
      const run = new Promise<Float32Array[]>((resolve, reject) => {
        piece = { texts: chunk, options, resolve, reject };
      });
      // Admitted before the next piece joins the line: no request holds more than its turn.
      try {
        await this.#admit(scope, lane, piece as Piece);
        runs.push(run);
      } catch (error) {
        refused = error;
      }
    }
    // Settle every admitted piece before failing, so none is left running for nobody.
    const results = await Promise.allSettled(runs);
    if (refused !== null) throw refused;
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) throw failed.reason;
    return results.flatMap((r) => (r as PromiseFulfilledResult<Float32Array[]>).value);
  }

  close(): Promise<void> {
    return this.inner.close();
  }

  /** Resolves once the piece is admitted (and queued to run) in its scope's turn; refuses after `maxWaitMs`. */
  #admit(scope: string, lane: 'interactive' | 'bulk', piece: Piece): Promise<void> {
    const units = piece.texts.length;
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        if (!this.#waiting[lane].remove(scope, waiting)) return;
        this.#waitingUnits -= units;
        this.#rejected++;
        reject(
          new EngramError(
            'overloaded',
            `the embedder is busy: ${this.#admitted} texts are queued and this request waited ${this.#maxWaitMs} ms for room; retry later`,
            { details: { retryAfterSeconds: OVERLOADED_RETRY_AFTER_SECONDS } },
          ),
        );
        // The refused piece may have been the one blocking others behind it.
        this.#admitWaiting();
      }, this.#maxWaitMs);
      timer.unref?.();
      const waiting: Waiting = {
        scope,
        piece,
        admit: () => {
          clearTimeout(timer);
          this.#ready[lane].push(scope, piece);
          resolve();
        },
      };
      this.#waiting[lane].push(scope, waiting);
      this.#waitingUnits += units;
      this.#admitWaiting();
    });
  }

  /** Admits waiting pieces while they fit: interactive lines first, each side one scope at a time. */
  #admitWaiting(): void {
    for (;;) {
      // In turn; a scope at its share is skipped, and a piece too big for the room left is not
      // overtaken (it fits once room frees, since pieces are never larger than the capacity).
      const choose = (scope: string, { piece }: Waiting) => {
        if (this.#admitted + piece.texts.length > this.#capacity) return 'stop';
        return this.#fits(scope, piece.texts.length) ? 'take' : 'skip';
      };
      const next = this.#waiting.interactive.take(choose) ?? this.#waiting.bulk.take(choose);
      if (!next) break;
      this.#waitingUnits -= next.piece.texts.length;
      this.#hold(next.scope, next.piece.texts.length);
      next.admit();
    }
    this.#dispatch();
  }

  /** Whether a piece of `units` texts of `scope` may be admitted now: room, and the scope under its share. */
  #fits(scope: string, units: number): boolean {
    return this.#admitted + units <= this.#capacity && (this.#held.get(scope) ?? 0) < this.#concurrency + 1;
  }

  #hold(scope: string, units: number): void {
    this.#admitted += units;
    this.#held.set(scope, (this.#held.get(scope) ?? 0) + 1);
  }

  #unhold(scope: string, units: number): void {
    this.#admitted -= units;
    const held = (this.#held.get(scope) ?? 1) - 1;
    if (held > 0) this.#held.set(scope, held);
    else this.#held.delete(scope);
  }

  /** Starts calls while there is room: interactive pieces first, each side one scope at a time. */
  #dispatch(): void {
    while (this.#runningCalls < this.#concurrency) {
      const piece = this.#ready.interactive.shift() ?? this.#ready.bulk.shift();
      if (!piece) return;
      this.#run(piece);
    }
  }

  #run(piece: Piece): void {
    const units = piece.texts.length;
    this.#runningCalls++;
    this.#runningTexts += units;
    Promise.resolve()
      .then(() => this.inner.embed(piece.texts, piece.options))
      .then(piece.resolve, piece.reject)
      .finally(() => {
        this.#runningCalls--;
        this.#runningTexts -= units;
        this.#unhold(piece.options?.scope ?? '', units);
        this.#admitWaiting();
      });
  }
}

function positive(name: string, value: number): number {
  if (!Number.isInteger(value) || value < 1) throw new RangeError(`${name} must be a positive integer, got ${value}`);
  return value;
}
