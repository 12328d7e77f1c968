/**
 * Housekeeping on a timer: each tick runs every task in turn — deleting expired memories
 * (`MemoryService.sweepExpired`), pruning finished jobs past their retention (`JobQueue.prune`).
 * Expired memories are hidden from every view the moment they expire; the sweeper only reclaims
 * them. One tick at a time; a failing task is reported and tried again at the next tick, and does
 * not stop the others.
 */

export interface SweepTask {
  /** What the task reclaims, for the report (`expired memories`, `finished jobs`). */
  name: string;
  /** Reclaims what is due; returns how many went. */
  run(): Promise<number>;
}

export interface SweepReport {
  swept(task: string, count: number): void;
  failed(task: string, error: unknown): void;
}

export class Sweeper {
  readonly #timer: NodeJS.Timeout;
  #running: Promise<void> | null = null;

  constructor(tasks: readonly SweepTask[], intervalMs: number, report: SweepReport) {
    const tick = async () => {
      for (const task of tasks) {
        await task.run().then(
          (count) => report.swept(task.name, count),
          (error: unknown) => report.failed(task.name, error),
        );
      }
    };
    this.#timer = setInterval(() => {
      if (this.#running) return;
      this.#running = tick().finally(() => {
        this.#running = null;
      });
    }, intervalMs);
    this.#timer.unref();
  }

  /** Stops the timer and waits for a tick in progress. */
  async close(): Promise<void> {
    clearInterval(this.#timer);
    await this.#running;
  }
}
