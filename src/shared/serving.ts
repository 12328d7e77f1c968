/**
 * Which servers run on a data directory. Each `engram serve` keeps a marker file of its own under
 * `<dataDir>/.serving/` (several servers may share a directory) and touches it every few seconds;
 * a server that died leaves a marker that goes stale after STALE_MS. Commands that replace or
 * rewrite the store (`restore`, `reindex`, `compact`) refuse to run while any marker is fresh:
 * under a running server they would lose every write it acknowledges.
 *
 * (A marker file with a heartbeat, not proper-lockfile's `update`: releasing that lock while its
 * refresh is in flight throws an uncaught error — moxystudio/node-proper-lockfile#113.)
 */
import { randomUUID } from 'node:crypto';
import { mkdirSync, readdirSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { EngramError } from '../core/errors.js';

const DIR = '.serving';
const BEAT_MS = 2_500;
const STALE_MS = 10_000;

/** Marks a server as running on `dataDir` until the returned function is called. */
export function announceServing(dataDir: string, onLost: (error: Error) => void = () => undefined): () => void {
  const dir = join(dataDir, DIR);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const file = join(dir, `${process.pid}-${randomUUID()}.json`);
  const write = () =>
    writeFileSync(
      file,
      `${JSON.stringify({ pid: process.pid, host: hostname(), startedAt: new Date().toISOString() })}\n`,
      {
        mode: 0o600,
      },
    );
  write();
  const beat = setInterval(() => {
    try {
      const now = new Date();
      utimesSync(file, now, now);
    } catch (error) {
      // Removed from under us (a cleanup, a restore of the directory): put it back.
      try {
        write();
      } catch {
        onLost(error as Error);
      }
    }
  }, BEAT_MS);
  beat.unref();
  return () => {
    clearInterval(beat);
    rmSync(file, { force: true });
  };
}

/** The fresh markers on `dataDir` (stale ones, of servers that died, are removed). */
export function runningServers(dataDir: string): string[] {
  const dir = join(dataDir, DIR);
  let names: string[];
  try {
    names = readdirSync(dir).filter((name) => name.endsWith('.json'));
  } catch {
    return [];
  }
  return names.filter((name) => {
    const file = join(dir, name);
    try {
      if (Date.now() - statSync(file).mtimeMs < STALE_MS) return true;
      rmSync(file, { force: true });
    } catch {
      // gone meanwhile
    }
    return false;
  });
}

/** Throws `conflict` when a server runs on `dataDir`, naming the command that must wait. */
export async function refuseWhileServing(dataDir: string, command: string): Promise<void> {
  const live = runningServers(dataDir);
  if (live.length === 0) return;
  const pids = live.map((name) => name.split('-')[0]).join(', ');
  throw new EngramError(
    'conflict',
    `a server is running on ${dataDir} (process ${pids}): stop it before \`engram ${command}\`, which would ` +
      'lose every write the server acknowledges meanwhile',
  );
}
