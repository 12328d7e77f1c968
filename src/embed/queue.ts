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
  /**
   * Calls to the inner embedder at once (2: one running, the next ready, so it never idles), for
   * queries and for everything else apart.
   */
  concurrency?: number;
  /**
   * Requests of at most this many texts (a search query, a single add) go before larger ones; only
   * such a request can be a query (`EmbedOptions.urgent`).
   */
  interactiveMax?: number;
}

/** One piece of a request: at most `chunkSize` texts, admitted and run on its own. */
interface Piece {
  readonly texts: string[];
  readonly options: EmbedOptions | undefined;
  resolve(vectors: Float32Array[]): void;
  reject(error: unknown): void;
}

/**
 * Where a piece waits and runs: `query` (a search someone is waiting on), `interactive` (a few
 * texts, e.g. a single add), `bulk` (pieces of larger requests).
 */
type Line = 'query' | 'interactive' | 'bulk';
/** Queries run beside other work (their own calls, their own share); the other two lines share. */
type Track = 'query' | 'other';
const trackOf = (line: Line): Track => (line === 'query' ? 'query' : 'other');

interface Waiting {
  readonly scope: string;
  readonly track: Track;
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
 * - **Queries never wait for other work**: a small request marked `urgent` (a search's query) has
 *   calls of its own beside the others' (the model's worker host gives it a worker of its own), so
 *   a search does not wait for pieces of an import that are already running; users take turns here
 *   too. Other small requests (single adds) are admitted and run before bulk pieces.
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
  readonly #waiting = lines<Waiting>();
  readonly #ready = lines<Piece>();
  /** Pieces each scope has admitted (running or ready to run), per track; at most `concurrency + 1` each. */
  readonly #held = { query: new Map<string, number>(), other: new Map<string, number>() };
  readonly #runningCalls = { query: 0, other: 0 };
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
    const small = texts.length <= this.#interactiveMax;
    const line: Line = !small ? 'bulk' : options?.urgent === true ? 'query' : 'interactive';
    // Only a query is urgent for the model too (its own worker, worker-host.ts); a large request
    // marked urgent is bulk like any other.
    options = { ...options, urgent: line === 'query' };
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
        await this.#admit(scope, line, piece as Piece);
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
  #admit(scope: string, line: Line, piece: Piece): Promise<void> {
    const units = piece.texts.length;
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        if (!this.#waiting[line].remove(scope, waiting)) return;
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
        track: trackOf(line),
        piece,
        admit: () => {
          clearTimeout(timer);
          this.#ready[line].push(scope, piece);
          resolve();
        },
      };
      this.#waiting[line].push(scope, waiting);
      this.#waitingUnits += units;
      this.#admitWaiting();
    });
  }

  /** Admits waiting pieces while they fit: queries, then other small requests, then bulk; each one scope at a time. */
  #admitWaiting(): void {
    for (;;) {
      // In turn; a scope at its share is skipped, and a piece too big for the room left is not
      // overtaken (it fits once room frees, since pieces are never larger than the capacity).
      const choose = (scope: string, { piece, track }: Waiting) => {
        if (this.#admitted + piece.texts.length > this.#capacity) return 'stop';
        return (this.#held[track].get(scope) ?? 0) < this.#concurrency + 1 ? 'take' : 'skip';
      };
      const next =
        this.#waiting.query.take(choose) ?? this.#waiting.interactive.take(choose) ?? this.#waiting.bulk.take(choose);
      if (!next) break;
      this.#waitingUnits -= next.piece.texts.length;
      this.#hold(next.scope, next.track, next.piece.texts.length);
      next.admit();
    }
    this.#dispatch();
  }

  #hold(scope: string, track: Track, units: number): void {
    this.#admitted += units;
    this.#held[track].set(scope, (this.#held[track].get(scope) ?? 0) + 1);
  }

  #unhold(scope: string, track: Track, units: number): void {
    this.#admitted -= units;
    const held = (this.#held[track].get(scope) ?? 1) - 1;
    if (held > 0) this.#held[track].set(scope, held);
    else this.#held[track].delete(scope);
  }

  /** Starts calls while there is room: queries on their own calls; then small pieces before bulk, one scope at a time. */
  #dispatch(): void {
    while (this.#runningCalls.query < this.#concurrency) {
      const piece = this.#ready.query.shift();
      if (!piece) break;
      this.#run(piece, 'query');
    }
    while (this.#runningCalls.other < this.#concurrency) {
      const piece = this.#ready.interactive.shift() ?? this.#ready.bulk.shift();
      if (!piece) break;
      this.#run(piece, 'other');
    }
  }

  #run(piece: Piece, track: Track): void {
    const units = piece.texts.length;
    this.#runningCalls[track]++;
    this.#runningTexts += units;
    Promise.resolve()
      .then(() => this.inner.embed(piece.texts, piece.options))
      .then(piece.resolve, piece.reject)
      .finally(() => {
        this.#runningCalls[track]--;
        this.#runningTexts -= units;
        this.#unhold(piece.options?.scope ?? '', track, units);
        this.#admitWaiting();
      });
  }
}

function lines<T>(): Record<Line, RoundRobin<T>> {
  return { query: new RoundRobin<T>(), interactive: new RoundRobin<T>(), bulk: new RoundRobin<T>() };
}

function positive(name: string, value: number): number {
  if (!Number.isInteger(value) || value < 1) throw new RangeError(`${name} must be a positive integer, got ${value}`);
  return value;
}
