import { once } from 'node:events';
import { copyFileSync, existsSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { BackupScheduler, checkSqliteFile } from '../../src/backup/index.js';
import { runCli, spawnServer } from '../helpers/process.js';
import { tempDir } from '../helpers/temp-dir.js';
import { startWriteBurst } from '../helpers/write-burst.js';

const storedIds = (file: string): Set<string> => {
  const db = new Database(file, { readonly: true });
  try {
    return new Set((db.prepare('SELECT id FROM memories').all() as { id: string }[]).map((row) => row.id));
  } finally {
    db.close();
  }
};

/** A data dir whose store holds `n` memories, written by `engram add`. */
async function storeWith(n: number): Promise<string> {
  const dataDir = await tempDir('engram-store-');
  for (let i = 0; i < n; i++) {
    const added = await runCli(['add', `memory number ${i} about backups`, '--data-dir', dataDir]);
    expect(added.code, added.stderr).toBe(0);
  }
  return dataDir;
}

describe('engram backup and restore (sqlite)', () => {
  it('a backup taken during concurrent writes restores to a sound store with every write acknowledged before it', async () => {
    const dataDir = await tempDir('engram-backup-live-');
    const server = await spawnServer(['--data-dir', dataDir]);
    const burst = startWriteBurst(server.url, 4, (n, lane) => ({
      content: `backup burst memory ${n} from lane ${lane}`,
      infer: false,
    }));
    try {
      await burst.reached(150);
      const before = burst.ids();
      const file = join(await tempDir('engram-backup-out-'), 'snapshot.db');
      const backup = await runCli(['backup', '--out', file, '--data-dir', dataDir]);
      await burst.reached(burst.ids().length + 50);
      await burst.stop();
      expect(backup.code, backup.stderr).toBe(0);
      expect(backup.stdout).toMatch(/^backed up \d+ memories of 4 users to .*snapshot\.db .*integrity check passed/);

      const restoredDir = await tempDir('engram-restored-');
      const restore = await runCli(['restore-backup', file, '--data-dir', restoredDir]);
      expect(restore.code, restore.stderr).toBe(0);
      const check = await runCli(['check', '--data-dir', restoredDir]);
      expect(check.code, check.stderr).toBe(0);
      expect(check.stdout).toMatch(/: ok \(schema \d+, \d+ memories of 4 users\)/);

      const restored = storedIds(join(restoredDir, 'engram.db'));
      expect(before.filter((id) => !restored.has(id))).toEqual([]);
      // A snapshot, not the live store: writes after it are not in it.
      expect(restored.size).toBeLessThan(burst.ids().length);

      // And a server starts on the restored store and serves the memories.
      const again = await spawnServer(['--data-dir', restoredDir]);
      try {
        const list = await fetch(`${again.url}/v1/memories?limit=1000`, { headers: { 'x-user-id': 'user0' } });
        const items = ((await list.json()) as { items: { id: string }[] }).items;
        expect(items.length).toBeGreaterThan(0);
      } finally {
        again.child.kill('SIGTERM');
        await once(again.child, 'exit');
      }
    } finally {
      await burst.stop();
      server.child.kill('SIGTERM');
      await once(server.child, 'exit');
    }
  });

  it('restore keeps the store it replaces, and only with --force', async () => {
    const source = await storeWith(3);
    const backup = await runCli(['backup', '--data-dir', source]);
    expect(backup.code, backup.stderr).toBe(0);
    const [name] = readdirSync(join(source, 'backups'));
    expect(name).toMatch(/^engram-\d{8}T\d{9}Z\.db$/);
    const file = join(source, 'backups', name as string);

    const target = await storeWith(1);
    const refused = await runCli(['restore-backup', file, '--data-dir', target]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain('exists: stop the server, then run engram restore-backup again with --force');
    expect(storedIds(join(target, 'engram.db')).size).toBe(1);

    const forced = await runCli(['restore-backup', file, '--force', '--data-dir', target]);
    expect(forced.code, forced.stderr).toBe(0);
    expect(storedIds(join(target, 'engram.db')).size).toBe(3);
    const previous = /the store it replaced is at (\S+)/.exec(forced.stdout)?.[1] as string;
    expect(storedIds(previous).size).toBe(1);
  });

  it('restore, reindex and compact refuse while a server runs on the data directory, and run once it stopped', async () => {
    const dataDir = await storeWith(2);
    const backup = await runCli(['backup', '--data-dir', dataDir]);
    expect(backup.code, backup.stderr).toBe(0);
    const file = join(dataDir, 'backups', readdirSync(join(dataDir, 'backups'))[0] as string);
    const server = await spawnServer(['--data-dir', dataDir]);
    let written: string;
    try {
      const added = await fetch(`${server.url}/v1/memories`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ content: 'acknowledged while the server runs' }),
      });
      expect(added.status).toBe(201);
      written = ((await added.json()) as { memory: { id: string } }).memory.id;
      for (const args of [['restore-backup', file, '--force'], ['reindex'], ['compact']]) {
        const refused = await runCli([...args, '--data-dir', dataDir]);
        expect(refused.code, `${args[0]} ran under a live server`).toBe(1);
        expect(refused.stderr).toMatch(/a server is running on .* stop it before `engram [\w-]+`/);
      }
      // The acknowledged write is still there.
      expect(storedIds(join(dataDir, 'engram.db')).has(written)).toBe(true);
    } finally {
      server.child.kill('SIGTERM');
      await once(server.child, 'exit');
    }
    const restored = await runCli(['restore-backup', file, '--force', '--data-dir', dataDir]);
    expect(restored.code, restored.stderr).toBe(0);
  }, 60_000);

  it('a server killed with SIGKILL does not block restore for longer than its lock takes to go stale', async () => {
    const dataDir = await storeWith(1);
    const backup = await runCli(['backup', '--data-dir', dataDir]);
    const file = join(dataDir, 'backups', readdirSync(join(dataDir, 'backups'))[0] as string);
    expect(backup.code, backup.stderr).toBe(0);
    const server = await spawnServer(['--data-dir', dataDir]);
    server.child.kill('SIGKILL');
    await once(server.child, 'exit');
    expect((await runCli(['restore-backup', file, '--force', '--data-dir', dataDir])).code).toBe(1);
    await new Promise((resolve) => setTimeout(resolve, 11_000));
    const restored = await runCli(['restore-backup', file, '--force', '--data-dir', dataDir]);
    expect(restored.code, restored.stderr).toBe(0);
  }, 60_000);

  it('refuses a damaged backup and leaves the store as it was', async () => {
    const target = await storeWith(2);
    const junk = join(await tempDir('engram-junk-'), 'junk.db');
    writeFileSync(junk, 'this is not a database'.repeat(100));
    const result = await runCli(['restore-backup', junk, '--force', '--data-dir', target]);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/engram: .*junk\.db/);
    expect(storedIds(join(target, 'engram.db')).size).toBe(2);
  });

  it('check finds a memory without its vector', async () => {
    const dataDir = await storeWith(2);
    const copy = join(dataDir, 'damaged.db');
    const db = new Database(join(dataDir, 'engram.db'));
    db.pragma('wal_checkpoint(TRUNCATE)');
    db.close();
    copyFileSync(join(dataDir, 'engram.db'), copy);
    const damaged = new Database(copy);
    damaged.prepare('DELETE FROM vectors WHERE rowid = (SELECT min(rowid) FROM vectors)').run();
    damaged.close();
    const result = await runCli(['check', copy, '--data-dir', dataDir]);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/1 memories without a vector/);
    expect(checkSqliteFile(join(dataDir, 'engram.db')).ok).toBe(true);
  });

  it('backup of a postgres or json store says what to use instead', async () => {
    const result = await runCli(['backup', '--store', 'json', '--data-dir', await tempDir('engram-json-')]);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/works on the sqlite store; this one is json: .*migrate-store/);
  });

  it('scheduled backups keep the newest ones and report each', async () => {
    const dataDir = await storeWith(1);
    const dir = join(dataDir, 'scheduled');
    const written: string[] = [];
    const scheduler = new BackupScheduler(
      { source: join(dataDir, 'engram.db'), dir, intervalMs: 30, keep: 2 },
      { succeeded: (report) => written.push(report.path), failed: (error) => written.push(`failed: ${error}`) },
    );
    while (written.length < 4) await new Promise((resolve) => setTimeout(resolve, 10));
    await scheduler.close();
    expect(written.filter((entry) => entry.startsWith('failed'))).toEqual([]);
    const kept = readdirSync(dir).sort();
    expect(kept).toHaveLength(2);
    expect(kept.map((name) => join(dir, name))).toEqual(written.slice(-2).sort());
    for (const name of kept) expect(checkSqliteFile(join(dir, name)).memories).toBe(1);
    expect(existsSync(join(dir, `.${kept[0]}.partial`))).toBe(false);
  });
});

describe('scheduled backups in the server', () => {
  it('writes checked backups off the event loop, prunes them, and counts them in /metrics', async () => {
    const { startTestServer } = await import('../helpers/server.js');
    const server = await startTestServer({ config: { backup: { intervalMinutes: 0.005, keep: 2 } } });
    try {
      const added = await fetch(`${server.url}/v1/memories`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ content: 'scheduled backups run every few minutes', infer: false }),
      });
      expect(added.status).toBe(201);
      const counted = async () => {
        const text = await (await fetch(`${server.url}/metrics`)).text();
        return Number(/engram_backups_total\{outcome="succeeded"\} (\d+)/.exec(text)?.[1] ?? 0);
      };
      while ((await counted()) < 3) await new Promise((resolve) => setTimeout(resolve, 100));
      const metrics = await (await fetch(`${server.url}/metrics`)).text();
      expect(metrics).toMatch(/engram_backups_total\{outcome="failed"\} 0/);
      expect(Number(/^engram_backup_last_success_timestamp_seconds (\S+)$/m.exec(metrics)?.[1])).toBeGreaterThan(
        Date.now() / 1000 - 60,
      );
      const dir = join(server.dataDir, 'backups');
      const kept = readdirSync(dir).filter((name) => name.endsWith('.db'));
      // keep 2, plus at most one just renamed into place and not yet pruned
      expect(kept.length).toBeGreaterThanOrEqual(2);
      expect(kept.length).toBeLessThanOrEqual(3);
      expect(checkSqliteFile(join(dir, kept.sort()[0] as string)).memories).toBe(1);
    } finally {
      await server.close();
    }
  });
});
