import { once } from 'node:events';
import { connect } from 'node:net';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { createApp } from '../../src/server/app.js';
import { spawnServer } from '../helpers/process.js';
import { startTestServer } from '../helpers/server.js';
import { tempDir } from '../helpers/temp-dir.js';
import { startWriteBurst } from '../helpers/write-burst.js';

const GRACE_MS = 5_000;

describe('graceful shutdown', () => {
  it('SIGTERM during a write burst: drains within the grace period and keeps every acknowledged write', async () => {
    const dataDir = await tempDir('engram-sigterm-');
    const server = await spawnServer(['--data-dir', dataDir], { ENGRAM_SHUTDOWN_GRACE_MS: String(GRACE_MS) });
    const burst = startWriteBurst(server.url, 4, (n, lane) => ({
      content: `shutdown burst memory ${n} from lane ${lane}`,
      infer: false,
    }));
    await burst.reached(100);
    server.child.kill('SIGTERM');
    const [code] = (await once(server.child, 'exit')) as [number | null];
    await burst.stop();

    expect(code).toBe(0);
    // Drained, not cut off: the grace period did not run out (its warning is not in the log).
    expect(server.stderr()).toMatch(/"msg":"shutting down"/);
    expect(server.stderr()).not.toMatch(/shutdown grace period over/);

    const db = new Database(join(dataDir, 'engram.db'), { readonly: true });
    try {
      expect(db.pragma('integrity_check', { simple: true })).toBe('ok');
    } finally {
      db.close();
    }
    const restarted = await spawnServer(['--data-dir', dataDir]);
    try {
      for (const [user, ids] of burst.acknowledged) {
        const response = await fetch(`${restarted.url}/v1/memories?limit=1000`, { headers: { 'x-user-id': user } });
        const stored = new Set(((await response.json()) as { items: { id: string }[] }).items.map((m) => m.id));
        expect(ids.length, `${user}: acknowledged writes`).toBeGreaterThan(0);
        expect(
          ids.filter((id) => !stored.has(id)),
          `${user}: acknowledged but lost`,
        ).toEqual([]);
      }
    } finally {
      restarted.child.kill('SIGTERM');
      await once(restarted.child, 'exit');
    }
  });

  it('answers /ready with 503 while draining, and cuts connections still open when the grace period ends', async () => {
    const server = await startTestServer({ config: { shutdownGraceMs: 600 } });
    // A second app over the same deps shares their lifecycle; it answers without a new connection,
    // which a closing server no longer accepts.
    const app = createApp(server.deps);
    expect((await app.request('/ready')).status).toBe(200);

    // A client that sent half a request and went quiet: the server would wait for it forever.
    const { port, hostname } = new URL(server.url);
    const socket = connect(Number(port), hostname);
    await once(socket, 'connect');
    socket.write(
      `POST /v1/memories HTTP/1.1\r\nHost: ${hostname}:${port}\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"con`,
    );
    const socketClosed = once(socket, 'close');
    await new Promise((resolve) => setTimeout(resolve, 100));

    const started = performance.now();
    const closing = server.close();
    const ready = await app.request('/ready');
    expect(ready.status).toBe(503);
    expect(await ready.json()).toMatchObject({ status: 'draining' });
    await closing;
    const tookMs = performance.now() - started;
    await socketClosed;
    // It waited out the grace period for the silent client, then cut it (the socket closed, close() returned).
    expect(tookMs).toBeGreaterThanOrEqual(550);
  });
});
