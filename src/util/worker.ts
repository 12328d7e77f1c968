/**
 * Worker threads and helper processes started from Engram's own modules.
 *
 * Compiled, a worker's module is a `.js` file and starts directly. From the TypeScript sources
 * (vitest, tsx) a thread cannot run a `.ts` file by itself, and registering tsx's loader in every
 * thread costs about 300 ms a start — most of a SQLite store's open in the tests. Instead, the
 * entry is bundled once per process with esbuild (tsx's own compiler, a dev dependency) into
 * `node_modules/.cache/engram-workers/`, where its packages resolve as usual; only Engram's own
 * sources go into the bundle, and the thread starts in under 100 ms. In the bundle,
 * `import.meta.url` is the entry's source URL in every module: resolving packages and finding the
 * package root work from any of them, a path relative to a module in another folder would not.
 */
import { createHash } from 'node:crypto';
import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { basename, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import { packageRoot } from './paths.js';

/** A worker thread running the module at `entry` (a file URL), with `data` as its `workerData`. */
export function startWorker(entry: string, data: unknown): Worker {
  return new Worker(runnable(fileURLToPath(entry)), { workerData: data });
}

/**
 * The file to run for the worker module `name` beside `base` (the caller's `import.meta.url`):
 * `name.js` when compiled, a bundle of `name.ts` from the sources. For Piscina or `fork`.
 */
export function workerModule(base: string, name: string): string {
  const ext = base.endsWith('.ts') ? '.ts' : '.js';
  return runnable(fileURLToPath(new URL(`./${name}${ext}`, base)));
}

const bundles = new Map<string, string>();

function runnable(file: string): string {
  if (!file.endsWith('.ts')) return file;
  let bundle = bundles.get(file);
  if (!bundle) {
    bundle = bundleOf(file);
    bundles.set(file, bundle);
  }
  return bundle;
}

interface Esbuild {
  buildSync(options: Record<string, unknown>): { outputFiles: { text: string }[] };
}

function bundleOf(file: string): string {
  // Loaded only here: the compiled package never bundles, and does not ship esbuild.
  const esbuild = createRequire(import.meta.url)('esbuild') as Esbuild;
  const { outputFiles } = esbuild.buildSync({
    entryPoints: [file],
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: `node${process.versions.node}`,
    packages: 'external',
    write: false,
    logLevel: 'silent',
    define: { 'import.meta.url': JSON.stringify(pathToFileURL(file).href) },
  });
  const text = outputFiles[0]?.text ?? '';
  // Named by content, written whole then renamed: processes bundling at once never see half a file.
  const dir = join(packageRoot(), 'node_modules', '.cache', 'engram-workers');
  mkdirSync(dir, { recursive: true });
  const hash = createHash('sha256').update(text).digest('hex').slice(0, 16);
  const target = join(dir, `${basename(file, '.ts')}-${hash}.mjs`);
  const partial = `${target}.${process.pid}.${Math.random().toString(36).slice(2)}`;
  writeFileSync(partial, text);
  renameSync(partial, target);
  return target;
}
