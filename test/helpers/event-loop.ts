/**
 * Runs `work` while a 2 ms interval timer watches the event loop; returns the work's result, how
 * long it took, and the largest gap between ticks (how long the loop was blocked at most).
 */
export async function watchEventLoop<T>(
  work: () => Promise<T>,
): Promise<{ result: T; ms: number; maxGap: number; blockedMs: number }> {
  let last = performance.now();
  let maxGap = 0;
  // Time inside gaps over 50 ms: a loop blocked by work shows most of the run here, while one
  // stall of a busy machine (another process, a GC pause) shows as a single gap.
  let blockedMs = 0;
  const timer = setInterval(() => {
    const now = performance.now();
    maxGap = Math.max(maxGap, now - last);
    if (now - last > 50) blockedMs += now - last;
    last = now;
  }, 2);
  const start = performance.now();
  try {
    const result = await work();
    return { result, ms: performance.now() - start, maxGap, blockedMs };
  } finally {
    clearInterval(timer);
  }
}
