/**
 * Conformance cases for the memory lifecycle: supersession in one write (`insert` with `changed`),
 * point-in-time views (`validAt`), access statistics (`touch`) and expiry (`expired`). Part of the
 * shared suite in conformance.ts; every store runs them.
 */
import { expect, it } from 'vitest';
import type { Memory } from '../../src/core/types.js';
import type { MemoryStore } from '../../src/stores/store.js';
import { historyEntry, idAt, makeMemory, NOW, seed, timeAt, vec } from './conformance-data.js';

type Current = () => MemoryStore;

const filterAt = (now: string, fields: Record<string, unknown> = {}) => ({ now, ...fields });

export function supersedeCases(store: Current): void {
  const paris = makeMemory(1, { content: 'lives in Paris' });

  it('insert with changed supersedes the old memory and adds the new one in one write', async () => {
    await seed(store(), [paris]);
    const berlin = makeMemory(3, { content: 'lives in Berlin' });
    const old: Memory = { ...paris, supersededBy: berlin.id, validTo: berlin.createdAt, updatedAt: berlin.createdAt };
    await store().insert(
      [{ memory: berlin, vector: vec(0, 1) }],
      [historyEntry('supersede', paris, old), historyEntry('add', null, berlin)],
      [old],
    );
    const current = await store().list('alice', { filter: filterAt(NOW), limit: 10 });
    expect(current.items.map((m) => m.content)).toEqual(['lives in Berlin']);
    expect(await store().get('alice', paris.id)).toEqual(old);
    expect((await store().history('alice', paris.id)).map((e) => e.event)).toEqual(['add', 'supersede']);
    // The old memory keeps its vector: it can still be found when superseded memories are asked for.
    const hits = await store().vectorSearch('alice', vec(1), filterAt(NOW, { includeSuperseded: true }), 10);
    expect(hits.map((h) => h.id)).toEqual([paris.id, berlin.id]);
  });

  it('a changed memory that does not exist fails the whole write', async () => {
    const ghost = makeMemory(2, { content: 'never stored' });
    const fresh = makeMemory(3, { content: 'should not appear' });
    await expect(store().insert([{ memory: fresh, vector: vec(1) }], [], [ghost])).rejects.toMatchObject({
      code: 'not_found',
    });
    expect(await store().get('alice', fresh.id)).toBeNull();
  });

  it('validAt shows the memories that were current at an instant', async () => {
    const berlinId = idAt(5);
    await seed(store(), [
      makeMemory(1, { content: 'lives in Paris', supersededBy: berlinId, validTo: timeAt(5) }),
      makeMemory(2, { content: 'likes tea' }),
      makeMemory(5, { content: 'lives in Berlin' }),
      makeMemory(6, { content: 'expired at 7', expiresAt: timeAt(7) }),
    ]);
    const at = async (minute: number) => {
      const instant = timeAt(minute);
      const page = await store().list('alice', {
        filter: filterAt(instant, { validAt: instant, includeSuperseded: true }),
        limit: 10,
      });
      return page.items.map((m) => m.content).sort();
    };
    expect(await at(0)).toEqual([]);
    expect(await at(3)).toEqual(['likes tea', 'lives in Paris']);
    expect(await at(5)).toEqual(['likes tea', 'lives in Berlin']);
    expect(await at(6)).toEqual(['expired at 7', 'likes tea', 'lives in Berlin']);
    expect(await at(8)).toEqual(['likes tea', 'lives in Berlin']);
    // Search sees the same point-in-time set.
    const instant = timeAt(3);
    const hits = await store().keywordSearch(
      'alice',
      ['lives'],
      filterAt(instant, { validAt: instant, includeSuperseded: true }),
      10,
    );
    expect(hits.map((h) => h.id)).toEqual([idAt(1)]);
  });
}

export function accessCases(store: Current): void {
  it('touch counts reads and keeps the latest access time; update leaves the counts alone', async () => {
    const memory = makeMemory(1);
    const bobs = makeMemory(2, { userId: 'bob' });
    await seed(store(), [memory, bobs]);
    await store().touch('alice', new Map([[memory.id, 2]]), timeAt(10));
    await store().touch('alice', new Map([[memory.id, 1]]), timeAt(9)); // late flush: time never goes back
    await store().touch('alice', new Map([[bobs.id, 5]]), timeAt(11)); // another user's id: ignored
    const read = await store().get('alice', memory.id);
    expect(read).toMatchObject({ accessCount: 3, lastAccessedAt: timeAt(10) });
    expect(await store().get('bob', bobs.id)).toMatchObject({ accessCount: 0, lastAccessedAt: null });

    const edited = { ...(read as Memory), content: 'edited', accessCount: 0, lastAccessedAt: null };
    await store().update(edited, null, historyEntry('update', read, edited));
    expect(await store().get('alice', memory.id)).toMatchObject({
      content: 'edited',
      accessCount: 3,
      lastAccessedAt: timeAt(10),
    });
  });

  it('vectorsOf returns the stored vectors of the user’s own memories only', async () => {
    const mine = makeMemory(1);
    const bobs = makeMemory(2, { userId: 'bob' });
    await seed(
      store(),
      [mine, bobs],
      new Map([
        [mine.id, vec(0, 0, 1)],
        [bobs.id, vec(1)],
      ]),
    );
    const found = await store().vectorsOf('alice', [mine.id, bobs.id, idAt(9)]);
    expect([...found.keys()]).toEqual([mine.id]);
    expect(Array.from(found.get(mine.id) as Float32Array)).toEqual(Array.from(vec(0, 0, 1)));
  });

  it('access statistics survive a copy through insert', async () => {
    const memory = makeMemory(1, { accessCount: 7, lastAccessedAt: timeAt(4) });
    await seed(store(), [memory]);
    expect(await store().get('alice', memory.id)).toEqual(memory);
  });
}

export function expiryCases(store: Current): void {
  it('expired lists every user’s expired memories, soonest first, up to the limit', async () => {
    await seed(store(), [
      makeMemory(1, { expiresAt: timeAt(30) }),
      makeMemory(2, { expiresAt: timeAt(10), userId: 'bob' }),
      makeMemory(3, { expiresAt: timeAt(20) }),
      makeMemory(4, { expiresAt: timeAt(90) }),
      makeMemory(5),
    ]);
    expect(await store().expired(timeAt(30), 10)).toEqual([
      { userId: 'bob', id: idAt(2) },
      { userId: 'alice', id: idAt(3) },
      { userId: 'alice', id: idAt(1) },
    ]);
    expect(await store().expired(timeAt(30), 2)).toEqual([
      { userId: 'bob', id: idAt(2) },
      { userId: 'alice', id: idAt(3) },
    ]);
    expect(await store().expired(timeAt(5), 10)).toEqual([]);
  });
}
