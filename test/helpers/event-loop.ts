import { performance } from 'node:perf_hooks';

/**
 * Runs `work` and reports how much of its run the main thread's event loop spent running code
 * (`utilization`, from `performance.eventLoopUtilization`: 0 = idle in the poll phase the whole
 * time, 1 = never idle). Work done on this thread keeps the loop busy (≈ 1); work handed to a
 * worker leaves it idle, waiting for the answer (≈ 0). A busy machine slows both down but does
 * not turn idle waiting into running code, so the figure does not depend on the machine's speed —
 * unlike the largest gap between timer ticks, which is also reported (for the log only): another
 * process or a GC pause makes it long whatever thread the work runs on.
 */
export async function watchEventLoop<T>(
  work: () => Promise<T>,
): Promise<{ result: T; ms: number; maxGap: number; utilization: number }> {
  let last = performance.now();
  let maxGap = 0;
  // Coarse ticks: enough to see a gap, few enough not to count as work themselves.
  const timer = setInterval(() => {
    const now = performance.now();
    maxGap = Math.max(maxGap, now - last);
    last = now;
  }, 10);
  const start = performance.now();
  const before = performance.eventLoopUtilization();
  try {
    const result = await work();
    const { utilization } = performance.eventLoopUtilization(before);
    return { result, ms: performance.now() - start, maxGap, utilization };
  } finally {
    clearInterval(timer);
  }
}
