/**
 * Starts a worker thread from a module URL. Compiled, the module is a `.js` file and starts
 * directly; under vitest/tsx it is a `.ts` file, which a worker cannot start from (tsx's
 * `--import` hooks are not inherited), so the worker first registers tsx's CommonJS hook.
 */
import { createRequire } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';
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

/**
 * A worker module beside `base` (the caller's `import.meta.url`) for Piscina: `name.js` when
 * compiled; `name.ts` under vitest/tsx, with tsx's loader passed to the worker thread.
 */
export function workerModule(base: string, name: string): { filename: string; execArgv?: string[] } {
  const ext = base.endsWith('.ts') ? '.ts' : '.js';
  const filename = fileURLToPath(new URL(`./${name}${ext}`, base));
  if (ext === '.js') return { filename };
  return { filename, execArgv: ['--import', tsxLoader()] };
}

function tsxLoader(): string {
  try {
    return pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;
  } catch {
    return 'tsx';
  }
}
