/**
 * Deletes expired memories on a timer (`MemoryService.sweepExpired`). Expired memories are hidden
 * from every view the moment they expire; the sweeper only reclaims them. One sweep at a time;
 * a failing sweep is reported and the next one tries again.
 */
import type { MemoryService } from './memory-service.js';

export class Sweeper {
  readonly #timer: NodeJS.Timeout;
  #running: Promise<void> | null = null;

  constructor(
    service: MemoryService,
    intervalMs: number,
    report: { swept(count: number): void; failed(error: unknown): void },
  ) {
    const sweep = () => {
      if (this.#running) return;
      this.#running = service
        .sweepExpired()
        .then((count) => report.swept(count), report.failed)
        .finally(() => {
          this.#running = null;
        });
    };
    this.#timer = setInterval(sweep, intervalMs);
    this.#timer.unref();
  }

  /** Stops the timer and waits for a sweep in progress. */
  async close(): Promise<void> {
    clearInterval(this.#timer);
    await this.#running;
  }
}
