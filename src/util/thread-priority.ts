/**
 * Lowers the calling thread's CPU priority (raises its nice value), so that under contention the
 * scheduler serves the process's other threads first; on an idle machine it changes nothing.
 *
 * Linux keeps a nice value per thread, and threads inherit it from the thread that starts them, so
 * a worker that lowers its own priority before building a model also lowers the model's thread
 * pool. Node has no API for the current thread's id; `/proc/thread-self` names it. Elsewhere (and
 * if /proc is not mounted) this is a no-op that returns false. Raising a nice value needs no
 * privilege; it is never lowered here.
 */
import { readFileSync } from 'node:fs';
import { getPriority, setPriority } from 'node:os';

export function lowerThreadPriority(nice: number): boolean {
  if (process.platform !== 'linux') return false;
  try {
    const tid = threadId();
    if (getPriority(tid) < nice) setPriority(tid, nice);
    return true;
  } catch {
    return false;
  }
}

/** The kernel's id of the calling thread (Linux), read from `/proc/thread-self/stat`. */
export function threadId(): number {
  const tid = Number.parseInt(readFileSync('/proc/thread-self/stat', 'utf8'), 10);
  if (!Number.isSafeInteger(tid) || tid <= 0) throw new Error('cannot read this thread’s id');
  return tid;
}
