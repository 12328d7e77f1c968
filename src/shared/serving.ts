/**
 * Which servers run on a data directory. Each `engram serve` holds a lock file of its own under
 * `<dataDir>/.serving/` (several servers may share a directory) and refreshes it every few
 * seconds; a server that died leaves a lock that goes stale after STALE_MS. Commands that replace
 * or rewrite the store (`restore`, `reindex`, `compact`) refuse to run while any lock is live:
 * under a running server they would lose every write it acknowledges.
 */
import { randomUUID } from 'node:crypto';
import { mkdirSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import lockfile from 'proper-lockfile';
import { EngramError } from '../core/errors.js';

const DIR = '.serving';
const STALE_MS = 10_000;

/** Marks a server as running on `dataDir` until the returned function is called. */
export async function announceServing(
  dataDir: string,
  onLost: (error: Error) => void = () => undefined,
): Promise<() => Promise<void>> {
  const dir = join(dataDir, DIR);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const release = await lockfile.lock(dataDir, {
    lockfilePath: join(dir, `${process.pid}-${randomUUID()}.lock`),
    stale: STALE_MS,
    update: STALE_MS / 4,
    realpath: false,
    onCompromised: onLost,
  });
  return async () => {
    await release().catch(() => undefined);
  };
}

/** The live server locks on `dataDir` (stale ones, of servers that died, are removed). */
export async function runningServers(dataDir: string): Promise<string[]> {
  const dir = join(dataDir, DIR);
  let names: string[];
  try {
    names = readdirSync(dir).filter((name) => name.endsWith('.lock'));
  } catch {
    return [];
  }
  const live: string[] = [];
  for (const name of names) {
    const lockfilePath = join(dir, name);
    if (await lockfile.check(dataDir, { lockfilePath, stale: STALE_MS, realpath: false })) live.push(name);
    else rmSync(lockfilePath, { recursive: true, force: true });
  }
  return live;
}

/** Throws `conflict` when a server runs on `dataDir`, naming the command that must wait. */
export async function refuseWhileServing(dataDir: string, command: string): Promise<void> {
  const live = await runningServers(dataDir);
  if (live.length === 0) return;
  const pids = live.map((name) => name.split('-')[0]).join(', ');
  throw new EngramError(
    'conflict',
    `a server is running on ${dataDir} (process ${pids}): stop it before \`engram ${command}\`, which would ` +
      'lose every write the server acknowledges meanwhile',
  );
}
