import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../helpers/server.js';

for (const store of ['sqlite', 'json'] as const) {
  describe(`restoring and forgetting memories (${store} store)`, () => {
    let server: TestServer;
    let alice: string;
    let bob: string;
    const call = async (key: string, method: string, path: string, body?: unknown) => {
      const response = await fetch(`${server.url}${path}`, {
        method,
        headers: { authorization: `Bearer ${key}`, ...(body !== undefined && { 'content-type': 'application/json' }) },
        ...(body !== undefined && { body: JSON.stringify(body) }),
      });
      return { status: response.status, body: (await response.json()) as Record<string, unknown> };
    };
    const addMemory = async (content: string) =>
      (
        (await call(alice, 'POST', '/v1/memories', { content, tags: ['boat'], infer: false })).body.memory as {
          id: string;
        }
      ).id;

    beforeAll(async () => {
      server = await startTestServer({ embeddings: 'test', store, auth: 'keys' });
      alice = await server.createKey({ userId: 'alice' });
      bob = await server.createKey({ userId: 'bob' });
    });
    afterAll(() => server.close());

    it('brings a deleted memory back with its id, tags, search and history', async () => {
      const id = await addMemory('The sailing boat is moored in slip 42 at the marina');
      expect((await call(alice, 'DELETE', `/v1/memories/${id}`)).status).toBe(200);
      expect((await call(alice, 'GET', `/v1/memories/${id}`)).status).toBe(404);

      const restored = await call(alice, 'POST', `/v1/memories/${id}/restore`);
      expect(restored.status).toBe(200);
      expect(restored.body).toMatchObject({
        id,
        content: 'The sailing boat is moored in slip 42 at the marina',
        tags: ['boat'],
      });
      expect((await call(alice, 'GET', `/v1/memories/${id}`)).status).toBe(200);
      for (const mode of ['keyword', 'vector']) {
        const found = await call(alice, 'POST', '/v1/search', { query: 'where is the sailing boat moored', mode });
        expect(
          (found.body.results as { memory: { id: string } }[]).map((r) => r.memory.id),
          mode,
        ).toContain(id);
      }
      const history = (await call(alice, 'GET', `/v1/memories/${id}/history`)).body.history as { event: string }[];
      expect(history.map((entry) => entry.event)).toEqual(['add', 'delete', 'restore']);
    });

    it('refuses a memory that exists, an unknown id, and another user’s memory', async () => {
      const id = await addMemory('The kayak paddles hang in the garage');
      const existing = await call(alice, 'POST', `/v1/memories/${id}/restore`);
      expect(existing.status).toBe(409);
      expect((existing.body.error as { message: string }).message).toMatch(/is not deleted/);
      expect((await call(alice, 'POST', '/v1/memories/01a00000-0000-7000-8000-000000000000/restore')).status).toBe(404);
      await call(alice, 'DELETE', `/v1/memories/${id}`);
      expect((await call(bob, 'POST', `/v1/memories/${id}/restore`)).status).toBe(404);
      expect((await call(alice, 'GET', `/v1/memories/${id}`)).status).toBe(404);
    });

    it('lists deleted memories, newest deletion first, in pages, and drops one once it is restored', async () => {
      const carol = await server.createKey({ userId: 'carol' });
      const ids: string[] = [];
      for (const content of [
        'The tent pegs are in the shed',
        'The stove fuel is under the sink',
        'The maps are in the drawer',
      ]) {
        ids.push(
          ((await call(carol, 'POST', '/v1/memories', { content, infer: false })).body.memory as { id: string }).id,
        );
      }
      for (const id of ids) expect((await call(carol, 'DELETE', `/v1/memories/${id}`)).status).toBe(200);
      type Listing = {
        items: { memory: { id: string; content: string }; deletedAt: string }[];
        nextCursor: string | null;
      };
      const listed = async (key: string, query = '') => {
        const response = await call(key, 'GET', `/v1/deleted-memories${query}`);
        expect(response.status).toBe(200);
        return response.body as unknown as Listing;
      };
      const first = await listed(carol, '?limit=2');
      expect(first.items.map((item) => item.memory.id)).toEqual([ids[2], ids[1]]);
      expect(first.items[0]?.memory.content).toBe('The maps are in the drawer');
      expect(Date.parse(first.items[0]?.deletedAt ?? '')).not.toBeNaN();
      const second = await listed(carol, `?limit=2&cursor=${first.nextCursor}`);
      expect(second).toMatchObject({ items: [{ memory: { id: ids[0] } }], nextCursor: null });

      expect((await call(carol, 'POST', `/v1/memories/${ids[1]}/restore`)).status).toBe(200);
      expect((await listed(carol)).items.map((item) => item.memory.id)).toEqual([ids[2], ids[0]]);
      const bobs = (await listed(bob)).items.map((item) => item.memory.id);
      for (const id of ids) expect(bobs).not.toContain(id);
      expect((await call(carol, 'GET', '/v1/deleted-memories?cursor=nonsense')).status).toBe(400);
      expect((await call(carol, 'GET', '/v1/deleted-memories?limit=0')).status).toBe(400);
    });

    it('forgets a memory for good, live or deleted: no search, no history, nothing to restore', async () => {
      const live = await addMemory('The boat insurance number is PX-7731-QQ');
      const deleted = await addMemory('The old mooring code was 4417');
      const kept = await addMemory('The life jackets are under the bench');
      await call(alice, 'PATCH', `/v1/memories/${live}`, { content: 'The boat insurance number is PX-7731-QR' });
      await call(alice, 'DELETE', `/v1/memories/${deleted}`);
      // Bob cannot erase them: 404, as for an id that does not exist, and they stay.
      for (const id of [live, deleted]) expect((await call(bob, 'POST', `/v1/memories/${id}/forget`)).status).toBe(404);
      expect((await call(alice, 'GET', `/v1/memories/${live}`)).status).toBe(200);

      for (const id of [live, deleted]) {
        expect(await call(alice, 'POST', `/v1/memories/${id}/forget`)).toEqual({
          status: 200,
          body: { forgotten: id },
        });
        expect((await call(alice, 'GET', `/v1/memories/${id}`)).status).toBe(404);
        expect((await call(alice, 'GET', `/v1/memories/${id}/history`)).status).toBe(404);
        expect((await call(alice, 'POST', `/v1/memories/${id}/restore`)).status).toBe(404);
        expect((await call(alice, 'POST', `/v1/memories/${id}/forget`)).status).toBe(404);
      }
      for (const mode of ['keyword', 'vector']) {
        const found = await call(alice, 'POST', '/v1/search', { query: 'boat insurance number mooring code', mode });
        const ids = (found.body.results as { memory: { id: string } }[]).map((r) => r.memory.id);
        expect(ids, mode).not.toContain(live);
        expect(ids, mode).not.toContain(deleted);
      }
      const listing = (await call(alice, 'GET', '/v1/deleted-memories?limit=1000')).body.items as {
        memory: { id: string };
      }[];
      expect(listing.map((item) => item.memory.id)).not.toContain(deleted);
      expect((await call(alice, 'GET', `/v1/memories/${kept}`)).status).toBe(200);
      if (store === 'json') {
        // The files hold no trace of either text, old versions included.
        const files = await readdir(join(server.dataDir), { recursive: true, withFileTypes: true });
        for (const file of files.filter((entry) => entry.isFile())) {
          const text = await readFile(join(file.parentPath, file.name), 'utf8');
          expect(text, file.name).not.toMatch(/PX-7731|mooring code/);
        }
      }
    });

    it('refuses to restore content that was stored again meanwhile, naming that memory', async () => {
      const first = await addMemory('The spare sail is in the blue bag');
      await call(alice, 'DELETE', `/v1/memories/${first}`);
      const again = await addMemory('The spare sail is in the blue bag');
      const refused = await call(alice, 'POST', `/v1/memories/${first}/restore`);
      expect(refused.status).toBe(409);
      expect(refused.body.error).toMatchObject({ details: { existingId: again } });
    });
  });
}
