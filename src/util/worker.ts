/**
 * Starts a worker thread from a module URL. Compiled, the module is a `.js` file and starts
 * directly; under vitest/tsx it is a `.ts` file, which a worker cannot start from (tsx's
 * `--import` hooks are not inherited), so the worker first registers tsx's CommonJS hook.
 */
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';

export function startWorker(entry: string, data: unknown): Worker {
  if (!entry.endsWith('.ts')) return new Worker(new URL(entry), { workerData: data });
  const require = createRequire(import.meta.url);
  const source =
    "const { workerData } = require('node:worker_threads');\nrequire(workerData.tsx);\nrequire(workerData.entry);";
  return new Worker(source, {
    eval: true,
    workerData: { ...(data as object), tsx: require.resolve('tsx/cjs'), entry: fileURLToPath(entry) },
  });
}
