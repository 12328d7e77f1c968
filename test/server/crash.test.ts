import { once } from 'node:events';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { spawnServer } from '../helpers/process.js';
import { tempDir } from '../helpers/temp-dir.js';
import { startWriteBurst } from '../helpers/write-burst.js';

function vector(seed: number): number[] {
  return Array.from({ length: 512 }, (_, i) => Math.sin(seed * 7919 + i));
}

describe('crash safety (sqlite store)', () => {
  it('keeps every acknowledged add when the server is killed with SIGKILL mid-stream', async () => {
    const dataDir = await tempDir('engram-crash-');
    const server = await spawnServer(['--data-dir', dataDir]);
    const burst = startWriteBurst(server.url, 4, (n, lane) => ({
      content: `crash test memory ${n} from lane ${lane}`,
      embedding: vector(n),
    }));
    const killAfter = 150 + Math.floor(Math.random() * 150);
    await burst.reached(killAfter);
    server.child.kill('SIGKILL');
    await once(server.child, 'exit');
    await burst.stop();
    const acknowledged = burst.ids();

    const db = new Database(join(dataDir, 'engram.db'));
    try {
      expect(db.pragma('integrity_check', { simple: true })).toBe('ok');
      const stored = new Set((db.prepare('SELECT id FROM memories').all() as { id: string }[]).map((row) => row.id));
      const lost = acknowledged.filter((id) => !stored.has(id));
      expect(acknowledged.length).toBeGreaterThanOrEqual(killAfter);
      expect(lost).toEqual([]);
      // Nothing half-applied: every stored memory has its vector, its full-text row and its history entry.
      const orphans = db
        .prepare(
          `SELECT count(*) AS n FROM memories m WHERE NOT EXISTS (SELECT 1 FROM vectors v WHERE v.rowid = m.rowid)
             OR NOT EXISTS (SELECT 1 FROM history h WHERE h.memory_id = m.id)`,
        )
        .get() as { n: number };
      expect(orphans.n).toBe(0);
    } finally {
      db.close();
    }

    // And the server starts again on the same data.
    const restarted = await spawnServer(['--data-dir', dataDir]);
    try {
      const list = await fetch(`${restarted.url}/v1/memories?limit=1000`, { headers: { 'x-user-id': 'user0' } });
      expect(list.status).toBe(200);
    } finally {
      restarted.child.kill('SIGTERM');
      await once(restarted.child, 'exit');
    }
  });
});
