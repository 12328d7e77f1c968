/**
 * The one conformance suite every MemoryStore runs (json, sqlite, postgres). It only uses the
 * MemoryStore interface, so it pins the behaviour callers rely on, whatever the backend.
 *
 *   runConformance('sqlite', async () => ({ store, reopen, cleanup }), { skip: { scan: 'reason' } });
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { EngramError } from '../../src/core/errors.js';
import { contentHash } from '../../src/core/ids.js';
import type { HistoryEntry, Job, JobLease, Memory, StoreFilter } from '../../src/core/types.js';
import { isDuplicateContent, type MemoryStore } from '../../src/stores/store.js';
import {
  DIMENSION,
  filter,
  historyEntry,
  idAt,
  makeMemory,
  minuteOf,
  NOW,
  seed,
  timeAt,
  vec,
  vectorFor,
} from './conformance-data.js';
import { accessCases, expiryCases, supersedeCases } from './conformance-lifecycle.js';

// The stores' own tests take their data from here too.
export * from './conformance-data.js';

export interface StoreHarness {
  /** A store over empty, private data. Not yet initialised: the suite calls `init()`. */
  store: MemoryStore;
  /** Closes the current store and returns a new, not yet initialised instance over the same data. */
  reopen(): Promise<MemoryStore>;
  /** Closes whatever store is open and deletes its data. */
  cleanup(): Promise<void>;
}

export type ConformanceGroup =
  | 'lifecycle'
  | 'crud'
  | 'isolation'
  | 'list'
  | 'filters'
  | 'changes'
  | 'categories'
  | 'keyword'
  | 'vector'
  | 'neighbours'
  | 'purge'
  | 'scan'
  | 'setVectors'
  | 'stats'
  | 'embedding'
  | 'persistence'
  | 'supersede'
  | 'access'
  | 'expiry'
  | 'jobs';

export interface ConformanceOptions {
  /** Groups a store cannot run, each with the reason (shown in the skipped test's name). */
  skip?: Partial<Record<ConformanceGroup, string>>;
  /** Skips every group, e.g. when the store's server is not available here; the reason says how to run it. */
  skipAll?: string;
}

const ids = (items: { id: string }[]): string[] => items.map((item) => item.id);
const byIdAsc = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);
const newestFirst = (memories: Memory[]): string[] => ids(memories).sort(byIdAsc).reverse();

async function listAll(store: MemoryStore, userId: string, fields: Partial<StoreFilter> = {}): Promise<string[]> {
  return ids((await store.list(userId, { filter: filter(fields), limit: 1_000 })).items);
}

async function collect<T>(iterable: AsyncIterable<T>): Promise<T[]> {
  const items: T[] = [];
  for await (const item of iterable) items.push(item);
  return items;
}

async function similarityOf(store: MemoryStore, userId: string, id: string, query: Float32Array): Promise<number> {
  const hits = await store.vectorSearch(
    userId,
    query,
    filter({ includeExpired: true, includeSuperseded: true }),
    1_000,
  );
  const hit = hits.find((candidate) => candidate.id === id);
  if (!hit) throw new Error(`memory ${id} is not in the vector results`);
  return hit.similarity;
}

// ---------------------------------------------------------------------------------------------
// The suite

export function runConformance(
  name: string,
  makeStore: () => Promise<StoreHarness>,
  options: ConformanceOptions = {},
): void {
  describe(`MemoryStore conformance: ${name}`, () => {
    let harness: StoreHarness;
    let store: MemoryStore;
    const current = (): MemoryStore => store;
    const reopen = async (): Promise<MemoryStore> => {
      store = await harness.reopen();
      await store.init();
      return store;
    };

    beforeEach(async () => {
      harness = await makeStore();
      store = harness.store;
      await store.init();
    });
    afterEach(async () => {
      await harness.cleanup();
    });

    const group = (key: ConformanceGroup, title: string, body: () => void): void => {
      const reason = options.skipAll ?? options.skip?.[key];
      if (reason) describe.skip(`${title} (skipped for ${name}: ${reason})`, body);
      else describe(title, body);
    };

    group('lifecycle', 'lifecycle', () => lifecycleCases(current));
    group('crud', 'insert, get, getMany, findByHash', () => crudCases(current));
    group('isolation', 'user isolation', () => isolationCases(current));
    group('list', 'list pagination', () => listCases(current));
    group('filters', 'filters', () => filterCases(current));
    group('changes', 'update, delete, history', () => changeCases(current));
    group('categories', 'categories', () => categoryCases(current));
    group('keyword', 'keywordSearch', () => keywordCases(current));
    group('vector', 'vectorSearch', () => vectorCases(current));
    group('neighbours', 'neighbours (conversation order)', () => neighbourCases(current));
    group('purge', 'purgeUser', () => purgeCases(current));
    group('scan', 'scan', () => scanCases(current));
    group('setVectors', 'setVectors', () => setVectorCases(current));
    group('stats', 'stats', () => statsCases(current));
    group('embedding', 'embedding info', () => embeddingCases(current));
    group('persistence', 'persistence', () => persistenceCases(current, reopen));
    group('supersede', 'supersession and point-in-time views', () => supersedeCases(current));
    group('access', 'access statistics (touch)', () => accessCases(current));
    group('expiry', 'expired (sweeper)', () => expiryCases(current));
    group('jobs', 'jobs (queue, leases, settle)', () => jobCases(current, reopen));
  });
}

type Current = () => MemoryStore;

function lifecycleCases(store: Current): void {
  it('init is idempotent and keeps stored data', async () => {
    const memory = makeMemory(1);
    await seed(store(), [memory]);
    await store().init();
    expect(await store().get('alice', memory.id)).toEqual(memory);
  });
}

function crudCases(store: Current): void {
  const full = makeMemory(1, {
    agentId: 'agent-7',
    sessionId: 'session-3',
    content: 'Ünïcode content with "quotes", newlines\nand emoji 🧠',
    category: 'projects/engram',
    tags: ['alpha', 'beta gamma'],
    metadata: { n: 1.5, ok: true, none: null, list: [1, 'two', false], nested: { deep: { x: 'y' } } },
    eventAt: '2025-12-24T18:30:00.000Z',
    expiresAt: '2027-01-01T00:00:00.000Z',
    pinned: true,
    source: 'mcp',
    supersededBy: null,
    validTo: null,
  });

  it('get returns an inserted memory exactly as given', async () => {
    await seed(store(), [full]);
    expect(await store().get('alice', full.id)).toEqual(full);
  });

  it('keeps the key order of metadata, so exports are byte-identical across stores', async () => {
    const ordered = makeMemory(7, { metadata: { zeta: 1, alpha: { y: 2, b: 3 }, mid: [3, 1] } });
    await seed(store(), [ordered]);
    expect(JSON.stringify((await store().get('alice', ordered.id))?.metadata)).toBe(
      '{"zeta":1,"alpha":{"y":2,"b":3},"mid":[3,1]}',
    );
  });

  it('get returns null for an unknown id', async () => {
    await seed(store(), [full]);
    expect(await store().get('alice', idAt(99))).toBeNull();
  });

  it('getMany returns the memories found and ignores unknown ids', async () => {
    const memories = [makeMemory(1), makeMemory(2), makeMemory(3)];
    await seed(store(), memories);
    const found = await store().getMany('alice', [idAt(3), idAt(99), idAt(1)]);
    expect(ids(found).sort(byIdAsc)).toEqual([idAt(1), idAt(3)]);
    expect(found.find((memory) => memory.id === idAt(3))).toEqual(memories[2]);
  });

  it('findByHash finds the memory with that content hash, or null', async () => {
    const memories = [makeMemory(1, { content: 'first' }), makeMemory(2, { content: 'second' })];
    await seed(store(), memories);
    expect(await store().findByHash('alice', contentHash('second'), filter())).toEqual(memories[1]);
    expect(await store().findByHash('alice', contentHash('third'), filter())).toBeNull();
  });

  it('findByHash applies the visibility filter: expired and superseded copies are not found by default', async () => {
    const expired = makeMemory(1, { content: 'expired content', expiresAt: '2026-01-01T00:00:00.000Z' });
    const superseded = makeMemory(2, { content: 'superseded content', supersededBy: idAt(3), validTo: timeAt(3) });
    const live = makeMemory(3, { content: 'live content', category: 'kept' });
    await seed(store(), [expired, superseded, live]);
    expect(await store().findByHash('alice', expired.hash, filter())).toBeNull();
    expect(await store().findByHash('alice', superseded.hash, filter())).toBeNull();
    expect(await store().findByHash('alice', live.hash, filter())).toEqual(live);
    expect(await store().findByHash('alice', expired.hash, filter({ includeExpired: true }))).toEqual(expired);
    expect(await store().findByHash('alice', superseded.hash, filter({ includeSuperseded: true }))).toEqual(superseded);
    expect(await store().findByHash('alice', live.hash, filter({ category: 'other' }))).toBeNull();
  });

  it('findByHashes answers many hashes at once: the oldest visible memory per hash, nothing for the rest', async () => {
    const old = makeMemory(1, { content: 'same words', expiresAt: '2026-01-01T00:00:00.000Z' });
    const current = makeMemory(2, { content: 'same words' });
    const later = makeMemory(3, { content: 'same words' });
    const other = makeMemory(4, { content: 'other words' });
    const bobs = makeMemory(5, { userId: 'bob', content: 'bob words' });
    await seed(store(), [old, current, later, other, bobs]);
    const hashes = [current.hash, other.hash, contentHash('never stored'), bobs.hash, other.hash];
    expect(await store().findByHashes('alice', hashes, filter())).toEqual(
      new Map([
        [current.hash, current],
        [other.hash, other],
      ]),
    );
    expect(
      (await store().findByHashes('alice', [current.hash], filter({ includeExpired: true }))).get(current.hash),
    ).toEqual(old);
    expect(await store().findByHashes('alice', [], filter())).toEqual(new Map());
  });

  it('findByHash returns the visible copy when an expired one has the same content', async () => {
    const old = makeMemory(1, { content: 'same words', expiresAt: '2026-01-01T00:00:00.000Z' });
    const current = makeMemory(2, { content: 'same words' });
    await seed(store(), [old, current]);
    expect(await store().findByHash('alice', current.hash, filter())).toEqual(current);
    expect(await store().findByHash('alice', current.hash, filter({ includeExpired: true }))).toEqual(old);
  });

  it('insert stores the add history entries it is given', async () => {
    await seed(store(), [full]);
    const history = await store().history('alice', full.id);
    expect(history.map((entry) => entry.event)).toEqual(['add']);
    expect(history[0]?.after).toEqual(full);
    expect(history[0]?.before).toBeNull();
  });

  it('insert with uniqueAt refuses, whole, new content a visible memory of the user already holds', async () => {
    await seed(store(), [
      makeMemory(1, { content: 'kept fact' }),
      makeMemory(2, { content: 'expired fact', expiresAt: '2026-01-01T00:00:00.000Z' }),
      makeMemory(3, { content: 'bob fact', userId: 'bob' }),
    ]);
    const copy = makeMemory(10, { content: 'kept fact' });
    const fresh = makeMemory(11, { content: 'a new fact' });
    const refused = await store()
      .insert(
        [
          { memory: fresh, vector: vec(1) },
          { memory: copy, vector: vec(1) },
        ],
        [],
        [],
        { uniqueAt: NOW },
      )
      .then(
        () => null,
        (error: unknown) => error,
      );
    expect(isDuplicateContent(refused)).toBe(true);
    expect((refused as EngramError).details?.duplicateHashes).toEqual([copy.hash]);
    expect(await store().get('alice', fresh.id)).toBeNull();
    // Hidden copies (expired) and other users' memories do not count; without uniqueAt nothing is checked.
    const again = makeMemory(12, { content: 'expired fact' });
    const bobs = makeMemory(13, { content: 'bob fact' });
    await store().insert(
      [
        { memory: again, vector: vec(1) },
        { memory: bobs, vector: vec(1) },
      ],
      [],
      [],
      { uniqueAt: NOW },
    );
    await store().insert([{ memory: copy, vector: vec(1) }], []);
    expect((await store().getMany('alice', [again.id, bobs.id, copy.id])).length).toBe(3);
  });

  it('insert is all or nothing: a batch containing an existing id stores nothing', async () => {
    const existing = makeMemory(1);
    await seed(store(), [existing]);
    const fresh = makeMemory(2);
    const clash = makeMemory(1, { content: 'a different content under a taken id' });
    const batch = [
      { memory: fresh, vector: vectorFor(2) },
      { memory: clash, vector: vectorFor(3) },
    ];
    await expect(
      store().insert(batch, [historyEntry('add', null, fresh), historyEntry('add', null, clash)]),
    ).rejects.toThrow();
    expect(await store().get('alice', fresh.id)).toBeNull();
    expect(await store().get('alice', existing.id)).toEqual(existing);
    expect(await store().history('alice', fresh.id)).toEqual([]);
  });
}

function isolationCases(store: Current): void {
  const a1 = makeMemory(1, { content: 'alice secret zebra plan', category: 'private', tags: ['t'] });
  const a2 = makeMemory(2, { content: 'alice other note', category: 'private' });
  const b1 = makeMemory(3, { userId: 'bob', content: 'bob zebra note', category: 'shared' });
  const vectors = new Map([
    [a1.id, vec(1)],
    [a2.id, vec(0, 1)],
    [b1.id, vec(1, 1)],
  ]);

  beforeEach(async () => {
    await seed(store(), [a1, a2, b1], vectors);
  });

  it('reads by another user never return alice’s rows', async () => {
    const s = store();
    const everything = filter({ includeExpired: true, includeSuperseded: true });
    expect(await s.get('bob', a1.id)).toBeNull();
    expect(ids(await s.getMany('bob', [a1.id, a2.id, b1.id]))).toEqual([b1.id]);
    expect(await s.findByHash('bob', a1.hash, everything)).toBeNull();
    expect(await listAll(s, 'bob', { includeExpired: true, includeSuperseded: true })).toEqual([b1.id]);
    expect(await s.history('bob', a1.id)).toEqual([]);
    expect(await s.categories('bob', everything)).toEqual([{ category: 'shared', count: 1 }]);
    expect(ids(await s.keywordSearch('bob', ['zebra', 'alice', 'secret'], everything, 10))).toEqual([b1.id]);
    expect(ids(await s.vectorSearch('bob', vec(1), everything, 10))).toEqual([b1.id]);
    expect((await collect(s.scan('bob'))).map((record) => record.memory.id)).toEqual([b1.id]);
  });

  it('an unknown user sees nothing at all', async () => {
    const s = store();
    expect(await listAll(s, 'carol')).toEqual([]);
    expect(await s.keywordSearch('carol', ['zebra'], filter(), 10)).toEqual([]);
    expect(await s.vectorSearch('carol', vec(1), filter(), 10)).toEqual([]);
    expect(await s.categories('carol', filter())).toEqual([]);
    expect(await collect(s.scan('carol'))).toEqual([]);
  });

  it('another user cannot update alice’s memory', async () => {
    const hijacked = { ...a1, userId: 'bob', content: 'hijacked by bob', hash: contentHash('hijacked by bob') };
    // Stores may reject the call or ignore it; either way alice's row must not change.
    await store()
      .update(hijacked, vec(0, 0, 1), historyEntry('update', { ...a1, userId: 'bob' }, hijacked))
      .catch(() => undefined);
    expect(await store().get('alice', a1.id)).toEqual(a1);
    expect(await store().get('bob', a1.id)).toBeNull();
    expect(await similarityOf(store(), 'alice', a1.id, vec(1))).toBeCloseTo(1, 5);
    expect((await store().history('alice', a1.id)).map((entry) => entry.event)).toEqual(['add']);
  });

  it('another user cannot delete alice’s memory', async () => {
    const deleted = await store().delete('bob', a1.id, historyEntry('delete', { ...a1, userId: 'bob' }, null));
    expect(deleted).toBe(false);
    expect(await store().get('alice', a1.id)).toEqual(a1);
    expect((await store().history('alice', a1.id)).map((entry) => entry.event)).toEqual(['add']);
  });

  it('another user cannot replace alice’s vectors', async () => {
    await store().setVectors([{ userId: 'bob', id: a1.id, vector: vec(0, 0, 0, 1) }]);
    expect(await similarityOf(store(), 'alice', a1.id, vec(1))).toBeCloseTo(1, 5);
  });
}

function listCases(store: Current): void {
  it('pages run newest first with no duplicates and no gaps', async () => {
    const alice = Array.from({ length: 23 }, (_, i) => makeMemory(i * 2 + 1));
    const bob = Array.from({ length: 10 }, (_, i) => makeMemory(i * 2 + 2, { userId: 'bob' }));
    await seed(store(), [...alice, ...bob]);
    const pages = await pagesOf(store(), 'alice', 5, filter());
    expect(pages.map((page) => page.length)).toEqual([5, 5, 5, 5, 3]);
    expect(pages.flat()).toEqual(newestFirst(alice));
  });

  it('the page holding the last memory has no next cursor', async () => {
    await seed(
      store(),
      Array.from({ length: 10 }, (_, i) => makeMemory(i)),
    );
    const first = await store().list('alice', { filter: filter(), limit: 5 });
    expect(first.nextCursor).not.toBeNull();
    const second = await store().list('alice', { filter: filter(), limit: 5, cursor: first.nextCursor ?? undefined });
    expect(second.items).toHaveLength(5);
    expect(second.nextCursor).toBeNull();
  });

  it('every page applies the filter', async () => {
    const memories = Array.from({ length: 20 }, (_, i) => makeMemory(i, { category: i % 2 === 0 ? 'even' : 'odd' }));
    await seed(store(), memories);
    const pages = await pagesOf(store(), 'alice', 3, filter({ category: 'even' }));
    expect(pages.map((page) => page.length)).toEqual([3, 3, 3, 1]);
    expect(pages.flat()).toEqual(newestFirst(memories.filter((memory) => memory.category === 'even')));
  });

  it('an empty user gets one empty page', async () => {
    expect(await store().list('alice', { filter: filter(), limit: 10 })).toEqual({ items: [], nextCursor: null });
  });
}

async function pagesOf(store: MemoryStore, userId: string, limit: number, f: StoreFilter): Promise<string[][]> {
  const pages: string[][] = [];
  let cursor: string | undefined;
  for (let guard = 0; guard < 100; guard++) {
    const page = await store.list(userId, { filter: f, limit, cursor });
    pages.push(ids(page.items));
    if (page.nextCursor === null) return pages;
    cursor = page.nextCursor;
  }
  throw new Error('pagination did not end');
}

/** Six memories of alice covering every filter field, and one of bob that matches every filter. */
function filterFixture(): Memory[] {
  return [
    makeMemory(1, {
      category: 'work',
      tags: ['a', 'b'],
      agentId: 'agent-1',
      sessionId: 's1',
      eventAt: '2026-02-01T00:00:00.000Z',
      metadata: { done: true, priority: 1 },
    }),
    makeMemory(2, {
      category: 'work',
      tags: ['b'],
      agentId: 'agent-2',
      sessionId: 's2',
      metadata: { done: false, owner: null },
    }),
    makeMemory(3, {
      category: 'home',
      tags: ['a', 'c'],
      source: 'kb',
      eventAt: '2026-03-15T00:00:00.000Z',
      metadata: { done: 'true', owner: 'bob' },
    }),
    makeMemory(4, { category: 'home', supersededBy: idAt(5), validTo: timeAt(5) }),
    makeMemory(5, { category: 'home', tags: ['c'], expiresAt: '2026-12-31T00:00:00.000Z', metadata: { priority: 2 } }),
    makeMemory(6, {
      category: 'travel',
      tags: ['a', 'b', 'c'],
      expiresAt: '2026-05-01T00:00:00.000Z',
      metadata: { done: true },
    }),
    makeMemory(7, {
      userId: 'bob',
      category: 'work',
      tags: ['a', 'b', 'c'],
      agentId: 'agent-1',
      sessionId: 's1',
      eventAt: '2026-03-01T00:00:00.000Z',
      metadata: { done: true, priority: 1, owner: null },
    }),
  ];
}

const FILTER_CASES: { title: string; filter: Partial<StoreFilter>; expected: number[] }[] = [
  { title: 'no filter hides superseded and expired memories', filter: {}, expected: [5, 3, 2, 1] },
  { title: 'includeSuperseded shows superseded ones', filter: { includeSuperseded: true }, expected: [5, 4, 3, 2, 1] },
  { title: 'includeExpired shows expired ones', filter: { includeExpired: true }, expected: [6, 5, 3, 2, 1] },
  {
    title: 'both includes show everything',
    filter: { includeExpired: true, includeSuperseded: true },
    expected: [6, 5, 4, 3, 2, 1],
  },
  { title: 'category', filter: { category: 'work' }, expected: [2, 1] },
  { title: 'tagsAny with one tag', filter: { tagsAny: ['c'] }, expected: [5, 3] },
  { title: 'tagsAny with several tags', filter: { tagsAny: ['a', 'c'] }, expected: [5, 3, 1] },
  { title: 'tagsAll', filter: { tagsAll: ['a', 'b'] }, expected: [1] },
  { title: 'tagsAll with includeExpired', filter: { tagsAll: ['a', 'b'], includeExpired: true }, expected: [6, 1] },
  { title: 'createdAfter is inclusive', filter: { createdAfter: timeAt(2) }, expected: [5, 3, 2] },
  { title: 'createdBefore is exclusive', filter: { createdBefore: timeAt(3) }, expected: [2, 1] },
  { title: 'created range', filter: { createdAfter: timeAt(2), createdBefore: timeAt(5) }, expected: [3, 2] },
  {
    title: 'eventAfter skips memories without eventAt',
    filter: { eventAfter: '2026-01-01T00:00:00.000Z' },
    expected: [3, 1],
  },
  { title: 'eventAfter', filter: { eventAfter: '2026-03-01T00:00:00.000Z' }, expected: [3] },
  { title: 'eventBefore', filter: { eventBefore: '2026-03-01T00:00:00.000Z' }, expected: [1] },
  { title: 'metadata boolean true (not the string "true")', filter: { metadata: { done: true } }, expected: [1] },
  { title: 'metadata boolean false', filter: { metadata: { done: false } }, expected: [2] },
  { title: 'metadata string', filter: { metadata: { done: 'true' } }, expected: [3] },
  {
    title: 'metadata null matches only a stored null, not a missing key',
    filter: { metadata: { owner: null } },
    expected: [2],
  },
  { title: 'metadata number', filter: { metadata: { priority: 2 } }, expected: [5] },
  { title: 'metadata with several keys', filter: { metadata: { done: true, priority: 1 } }, expected: [1] },
  { title: 'agentId', filter: { agentId: 'agent-1' }, expected: [1] },
  { title: 'sessionId', filter: { sessionId: 's2' }, expected: [2] },
  { title: 'category and tags together', filter: { category: 'home', tagsAny: ['c'] }, expected: [5, 3] },
  { title: 'source', filter: { source: 'kb' }, expected: [3] },
  { title: 'source and category', filter: { source: 'api', category: 'home' }, expected: [5] },
  { title: 'a filter nothing matches', filter: { category: 'nowhere' }, expected: [] },
];

function filterCases(store: Current): void {
  beforeEach(async () => {
    await seed(store(), filterFixture());
  });

  for (const testCase of FILTER_CASES) {
    it(`list: ${testCase.title}`, async () => {
      expect(await listAll(store(), 'alice', testCase.filter)).toEqual(testCase.expected.map(idAt));
    });
  }

  it('a memory expiring exactly at now is hidden; one expiring a millisecond later is shown', async () => {
    const later = new Date(Date.parse(NOW) + 1).toISOString();
    await seed(store(), [
      makeMemory(20, { expiresAt: NOW, userId: 'dave' }),
      makeMemory(21, { expiresAt: later, userId: 'dave' }),
    ]);
    expect(await listAll(store(), 'dave')).toEqual([idAt(21)]);
  });
}

function changeCases(store: Current): void {
  const original = makeMemory(1, { content: 'old apple words', category: 'fruit', tags: ['x'], metadata: { v: 1 } });

  beforeEach(async () => {
    await seed(store(), [original], new Map([[original.id, vec(1)]]));
  });

  it('update replaces every field and the vector', async () => {
    const updated: Memory = {
      ...original,
      content: 'new banana words',
      hash: contentHash('new banana words'),
      category: 'snacks',
      tags: ['y', 'z'],
      metadata: { v: 2, extra: 'yes' },
      eventAt: '2026-02-02T00:00:00.000Z',
      pinned: true,
      updatedAt: timeAt(9),
    };
    await store().update(updated, vec(0, 1), historyEntry('update', original, updated));
    expect(await store().get('alice', original.id)).toEqual(updated);
    expect(ids(await store().keywordSearch('alice', ['banana'], filter(), 10))).toEqual([original.id]);
    expect(await store().keywordSearch('alice', ['apple'], filter(), 10)).toEqual([]);
    expect(await similarityOf(store(), 'alice', original.id, vec(0, 1))).toBeCloseTo(1, 5);
    expect(await store().findByHash('alice', updated.hash, filter())).toEqual(updated);
    expect(await store().findByHash('alice', original.hash, filter())).toBeNull();
    expect(await store().categories('alice', filter())).toEqual([{ category: 'snacks', count: 1 }]);
  });

  it('update with a null vector keeps the previous vector', async () => {
    const updated = { ...original, pinned: true, updatedAt: timeAt(9) };
    await store().update(updated, null, historyEntry('update', original, updated));
    expect(await similarityOf(store(), 'alice', original.id, vec(1))).toBeCloseTo(1, 5);
  });

  it('a superseded memory drops out of default results but is still stored', async () => {
    const superseded = { ...original, supersededBy: idAt(2), validTo: timeAt(2), updatedAt: timeAt(2) };
    await store().update(superseded, null, historyEntry('supersede', original, superseded));
    expect(await listAll(store(), 'alice')).toEqual([]);
    expect(await store().keywordSearch('alice', ['apple'], filter(), 10)).toEqual([]);
    expect(await store().vectorSearch('alice', vec(1), filter(), 10)).toEqual([]);
    expect(await listAll(store(), 'alice', { includeSuperseded: true })).toEqual([original.id]);
    expect(await store().get('alice', original.id)).toEqual(superseded);
  });

  it('delete removes the memory and its vector but keeps its history', async () => {
    const entry = historyEntry('delete', original, null);
    expect(await store().delete('alice', original.id, entry)).toBe(true);
    expect(await store().get('alice', original.id)).toBeNull();
    expect(await listAll(store(), 'alice', { includeExpired: true, includeSuperseded: true })).toEqual([]);
    expect(await store().keywordSearch('alice', ['apple'], filter(), 10)).toEqual([]);
    expect(await store().vectorSearch('alice', vec(1), filter(), 10)).toEqual([]);
    expect(await collect(store().scan('alice'))).toEqual([]);
    const history = await store().history('alice', original.id);
    expect(history.map((item) => item.event)).toEqual(['add', 'delete']);
    expect(history[1]).toEqual(entry);
  });

  it('deleting a missing memory returns false and records nothing', async () => {
    await store().delete('alice', original.id, historyEntry('delete', original, null));
    expect(await store().delete('alice', original.id, historyEntry('delete', original, null))).toBe(false);
    expect((await store().history('alice', original.id)).map((item) => item.event)).toEqual(['add', 'delete']);
  });

  it('forget erases a memory, its vector and its whole history; a deleted one too; no one else’s', async () => {
    const deleted = makeMemory(2);
    const kept = makeMemory(3);
    const bobs = makeMemory(4, { userId: 'bob' });
    await seed(store(), [deleted, kept, bobs]);
    const v2 = { ...original, content: 'apple pie', hash: contentHash('apple pie'), updatedAt: timeAt(5) };
    await store().update(v2, vec(0, 1), historyEntry('update', original, v2));
    await store().delete('alice', deleted.id, historyEntry('delete', deleted, null));

    expect(await store().forget('bob', original.id)).toBe(false); // alice's: not bob's to erase
    expect(await store().forget('alice', bobs.id)).toBe(false);
    expect(await store().forget('alice', original.id)).toBe(true);
    expect(await store().forget('alice', deleted.id)).toBe(true);
    expect(await store().forget('alice', deleted.id)).toBe(false);
    expect(await store().forget('alice', idAt(77))).toBe(false);

    for (const id of [original.id, deleted.id]) {
      expect(await store().get('alice', id)).toBeNull();
      expect(await store().history('alice', id)).toEqual([]);
    }
    expect(await store().deleted('alice', { limit: 10 })).toEqual({ items: [], nextCursor: null });
    expect(await store().keywordSearch('alice', ['apple'], filter(), 10)).toEqual([]);
    expect(ids(await store().vectorSearch('alice', vec(0, 1), filter(), 10))).toEqual([kept.id]);
    expect((await collect(store().scan('alice'))).map((record) => record.memory.id)).toEqual([kept.id]);
    const everything = await collect(store().scanHistory());
    expect(JSON.stringify(everything)).not.toMatch(/apple/);
    expect((await store().history('alice', kept.id)).map((entry) => entry.event)).toEqual(['add']);
    expect(await store().get('bob', bobs.id)).toEqual(bobs);
    expect(await store().stats()).toMatchObject({ memories: 2, users: 2 });
  });

  it('compact keeps every memory, vector, history entry and job, and search still finds them', async () => {
    const other = makeMemory(2, { content: 'pears in the basket' });
    await seed(store(), [other]);
    await store().delete('alice', original.id, historyEntry('delete', original, null));
    await store().enqueueJob(makeJob(9));
    const before = {
      memories: await collect(store().scan()),
      history: await collect(store().scanHistory()),
      job: await store().getJob('alice', idAt(9)),
    };
    await store().compact();
    expect(await collect(store().scan())).toEqual(before.memories);
    expect(await collect(store().scanHistory())).toEqual(before.history);
    expect(await store().getJob('alice', idAt(9))).toEqual(before.job);
    expect(ids(await store().keywordSearch('alice', ['pears'], filter(), 10))).toEqual([other.id]);
    expect(await store().keywordSearch('alice', ['apple'], filter(), 10)).toEqual([]);
    expect(ids(await store().vectorSearch('alice', vectorFor(2), filter(), 1))).toEqual([other.id]);
    expect((await store().deleted('alice', { limit: 10 })).items.map((entry) => entry.memoryId)).toEqual([original.id]);
  });

  it('history lists every change of one memory, oldest first', async () => {
    const other = makeMemory(2);
    await seed(store(), [other]);
    const v2 = { ...original, content: 'second version', hash: contentHash('second version'), updatedAt: timeAt(3) };
    const v3 = { ...v2, supersededBy: idAt(2), validTo: timeAt(4), updatedAt: timeAt(4) };
    await store().update(v2, vec(0, 1), historyEntry('update', original, v2));
    await store().update(v3, null, historyEntry('supersede', v2, v3));
    await store().delete('alice', original.id, historyEntry('delete', v3, null));
    const history = await store().history('alice', original.id);
    expect(history.map((entry) => entry.event)).toEqual(['add', 'update', 'supersede', 'delete']);
    expect(history.map((entry) => entry.after?.content ?? null)).toEqual([
      original.content,
      'second version',
      'second version',
      null,
    ]);
    expect((await store().history('alice', other.id)).map((entry) => entry.event)).toEqual(['add']);
  });

  it('deleted lists each restorable memory by its last deletion, newest first, in pages, for its user only', async () => {
    const second = makeMemory(2);
    const third = makeMemory(3);
    const bobs = makeMemory(4, { userId: 'bob' });
    await seed(store(), [second, third, bobs]);
    expect(await store().deleted('alice', { limit: 10 })).toEqual({ items: [], nextCursor: null });
    // Deleted, restored and deleted again: listed once, by the last deletion.
    await store().delete('alice', original.id, historyEntry('delete', original, null));
    await store().insert([{ memory: original, vector: vec(1) }], [historyEntry('restore', null, original)]);
    const again = historyEntry('delete', original, null);
    await store().delete('alice', original.id, again);
    const ofSecond = historyEntry('delete', second, null);
    await store().delete('alice', second.id, ofSecond);
    // Deleted and restored: live again, so not listed.
    await store().delete('alice', third.id, historyEntry('delete', third, null));
    await store().insert([{ memory: third, vector: vec(0, 1) }], [historyEntry('restore', null, third)]);
    const ofBobs = historyEntry('delete', bobs, null);
    await store().delete('bob', bobs.id, ofBobs);

    const first = await store().deleted('alice', { limit: 1 });
    expect(first.items).toEqual([ofSecond]);
    expect(first.nextCursor).toEqual(expect.any(String));
    const rest = await store().deleted('alice', { limit: 1, cursor: first.nextCursor as string });
    expect(rest).toEqual({ items: [again], nextCursor: null });
    expect(await store().deleted('alice', { limit: 10 })).toEqual({ items: [ofSecond, again], nextCursor: null });
    expect((await store().deleted('bob', { limit: 10 })).items).toEqual([ofBobs]);
    await store().purgeUser('bob');
    expect((await store().deleted('bob', { limit: 10 })).items).toEqual([]);
  });

  it('history of an unknown memory is empty', async () => {
    expect(await store().history('alice', idAt(77))).toEqual([]);
  });

  it('historyMany answers for many memories at once, exactly as history does, and only for the user’s own', async () => {
    const other = makeMemory(2);
    const bobs = makeMemory(3, { userId: 'bob' });
    await seed(store(), [other, bobs]);
    const v2 = { ...original, content: 'second version', hash: contentHash('second version'), updatedAt: timeAt(3) };
    await store().update(v2, null, historyEntry('update', original, v2));
    await store().delete('alice', other.id, historyEntry('delete', other, null));

    const many = await store().historyMany('alice', [original.id, other.id, bobs.id, idAt(77)]);
    expect([...many.keys()].sort()).toEqual([original.id, other.id].sort());
    expect(many.get(original.id)).toEqual(await store().history('alice', original.id));
    expect(many.get(other.id)?.map((entry) => entry.event)).toEqual(['add', 'delete']);
    expect(await store().historyMany('alice', [])).toEqual(new Map());
  });
}

function categoryCases(store: Current): void {
  beforeEach(async () => {
    await seed(store(), [
      makeMemory(1, { category: 'beta', tags: ['t'] }),
      makeMemory(2, { category: 'alpha' }),
      makeMemory(3, { category: 'beta' }),
      makeMemory(4, { category: 'gamma', supersededBy: idAt(3), validTo: timeAt(3) }),
      makeMemory(5, { category: 'delta', expiresAt: '2026-01-01T00:00:00.000Z' }),
      makeMemory(6, { category: 'zeta', userId: 'bob' }),
    ]);
  });

  it('counts visible memories per category, sorted by name', async () => {
    expect(await store().categories('alice', filter())).toEqual([
      { category: 'alpha', count: 1 },
      { category: 'beta', count: 2 },
    ]);
  });

  it('counts hidden memories when asked to include them', async () => {
    expect(await store().categories('alice', filter({ includeExpired: true, includeSuperseded: true }))).toEqual([
      { category: 'alpha', count: 1 },
      { category: 'beta', count: 2 },
      { category: 'delta', count: 1 },
      { category: 'gamma', count: 1 },
    ]);
  });

  it('applies the filter', async () => {
    expect(await store().categories('alice', filter({ tagsAny: ['t'] }))).toEqual([{ category: 'beta', count: 1 }]);
  });

  it('counts visible memories per UTC day of their creation, oldest first, with the filter', async () => {
    await seed(store(), [
      makeMemory(10, { createdAt: '2026-03-01T23:59:59.999Z' }),
      makeMemory(11, { createdAt: '2026-03-01T00:00:00.000Z', tags: ['t'] }),
      makeMemory(12, { createdAt: '2026-03-03T12:00:00.000Z' }),
      makeMemory(13, { createdAt: '2026-03-03T13:00:00.000Z', userId: 'bob' }),
    ]);
    // The fixture's memories were all added on 2026-01-10; one is superseded and one expired.
    expect(await store().addedPerDay('alice', filter())).toEqual([
      { day: '2026-01-10', count: 3 },
      { day: '2026-03-01', count: 2 },
      { day: '2026-03-03', count: 1 },
    ]);
    expect(await store().addedPerDay('alice', filter({ createdAfter: '2026-03-02T00:00:00.000Z' }))).toEqual([
      { day: '2026-03-03', count: 1 },
    ]);
    expect(await store().addedPerDay('alice', filter({ tagsAny: ['t'] }))).toEqual([
      { day: '2026-01-10', count: 1 },
      { day: '2026-03-01', count: 1 },
    ]);
    expect((await store().addedPerDay('alice', filter({ includeExpired: true, includeSuperseded: true })))[0]).toEqual({
      day: '2026-01-10',
      count: 5,
    });
    expect(await store().addedPerDay('carol', filter())).toEqual([]);
  });
}

function keywordCases(store: Current): void {
  const docs = [
    makeMemory(1, { content: 'brown cat on a brown mat' }),
    makeMemory(2, { content: 'a brown dog', category: 'dogs' }),
    makeMemory(3, { content: 'The Zebra runs in the savanna' }),
    makeMemory(4, { content: 'brown leaves in autumn' }),
    makeMemory(5, { content: 'nothing relevant here' }),
  ];

  beforeEach(async () => {
    await seed(store(), docs);
  });

  it('a memory with the rarer query term ranks first, and non-matching memories are absent', async () => {
    const hits = await store().keywordSearch('alice', ['brown', 'zebra'], filter(), 10);
    expect(hits[0]?.id).toBe(idAt(3));
    expect(ids(hits).sort(byIdAsc)).toEqual([idAt(1), idAt(2), idAt(3), idAt(4)]);
    for (const hit of hits) expect(hit.score).toBeGreaterThan(0);
    const scores = hits.map((hit) => hit.score);
    expect(scores).toEqual([...scores].sort((a, b) => b - a));
  });

  it('a memory matching more query terms ranks above one matching fewer', async () => {
    await seed(store(), [
      makeMemory(10, { content: 'apple banana cherry', userId: 'erin' }),
      makeMemory(11, { content: 'apple pie recipe', userId: 'erin' }),
      makeMemory(12, { content: 'banana bread recipe', userId: 'erin' }),
      makeMemory(13, { content: 'unrelated text entirely', userId: 'erin' }),
    ]);
    const hits = await store().keywordSearch('erin', ['apple', 'banana'], filter(), 10);
    expect(hits[0]?.id).toBe(idAt(10));
    expect(hits).toHaveLength(3);
  });

  it('ranks with the user’s own memories only: another user’s memories change neither scores nor order', async () => {
    await seed(store(), [
      makeMemory(20, { content: 'my garage is full of old bikes', userId: 'bob' }),
      makeMemory(21, { content: 'the tulips in the garden need water', userId: 'bob' }),
    ]);
    const before = await store().keywordSearch('bob', ['garage', 'garden'], filter(), 10);
    expect(ids(before).sort(byIdAsc)).toEqual([idAt(20), idAt(21)]);
    // Alice writes "garage" again and again: on a table-wide BM25 that made Bob's garden memory
    // rank above his garage memory, telling him someone else writes about garages.
    await seed(
      store(),
      Array.from({ length: 30 }, (_, i) =>
        makeMemory(100 + i, { content: `the garage door code is ${i}`, userId: 'alice' }),
      ),
    );
    expect(await store().keywordSearch('bob', ['garage', 'garden'], filter(), 10)).toEqual(before);
    expect(await store().keywordSearch('bob', ['garden', 'garage'], filter(), 10)).toEqual(before);
  });

  it('a memory with every query word is found however many newer memories have each word alone', async () => {
    // Stores may score a large user's matches from a bounded pool, newest first; the three old
    // memories with both words must be in it, ahead of the 4,200 newer ones with one word each.
    const both = [0, 1, 2].map((i) =>
      makeMemory(1_000 + i, { content: `the zebra and the quokka met at the lake, day ${i}`, userId: 'frank' }),
    );
    const one = Array.from({ length: 4_200 }, (_, i) =>
      makeMemory(2_000 + i, { content: `a ${i % 2 ? 'zebra' : 'quokka'} seen near the fence, ${i}`, userId: 'frank' }),
    );
    await seed(store(), [...both, ...one]);
    const hits = await store().keywordSearch('frank', ['zebra', 'quokka'], filter(), 5);
    expect(ids(hits).slice(0, 3).sort(byIdAsc)).toEqual(ids(both));
    expect(hits.every((hit) => minuteOf(hit.id) >= 1_000)).toBe(true);
    // Frank now holds nearly all of the store: the other users' searches still see only their own.
    expect(ids(await store().keywordSearch('alice', ['zebra'], filter(), 10))).toEqual([idAt(3)]);
  });

  it('matches regardless of case and accents', async () => {
    await seed(store(), [makeMemory(10, { content: 'Lunch at Café Zürich', userId: 'erin' })]);
    expect(ids(await store().keywordSearch('erin', ['cafe'], filter(), 10))).toEqual([idAt(10)]);
    expect(ids(await store().keywordSearch('erin', ['zurich'], filter(), 10))).toEqual([idAt(10)]);
  });

  it('returns nothing when no memory contains a term', async () => {
    expect(await store().keywordSearch('alice', ['platypus'], filter(), 10)).toEqual([]);
  });

  it('respects filters and the limit', async () => {
    expect(ids(await store().keywordSearch('alice', ['brown'], filter({ category: 'dogs' }), 10))).toEqual([idAt(2)]);
    expect(await store().keywordSearch('alice', ['brown', 'zebra'], filter(), 2)).toHaveLength(2);
    const gone = { ...(docs[2] as Memory), supersededBy: idAt(1), validTo: timeAt(6) };
    await store().update(gone, null, historyEntry('supersede', docs[2] as Memory, gone));
    expect(await store().keywordSearch('alice', ['zebra'], filter(), 10)).toEqual([]);
    expect(ids(await store().keywordSearch('alice', ['zebra'], filter({ includeSuperseded: true }), 10))).toEqual([
      idAt(3),
    ]);
  });
}

function vectorCases(store: Current): void {
  const memories = [1, 2, 3, 4].map((n) => makeMemory(n, { category: n % 2 === 0 ? 'even' : 'odd' }));
  const vectors = new Map([
    [idAt(1), vec(0, 1)], // similarity 0
    [idAt(2), vec(3)], // 1 (not unit length: cosine, not dot product)
    [idAt(3), vec(-1)], // -1
    [idAt(4), vec(1, 1)], // 0.7071
  ]);

  beforeEach(async () => {
    await seed(store(), memories, vectors);
  });

  it('orders by cosine similarity, best first, and reports it', async () => {
    const hits = await store().vectorSearch('alice', vec(1), filter(), 10);
    expect(ids(hits)).toEqual([idAt(2), idAt(4), idAt(1), idAt(3)]);
    const expected = [1, Math.SQRT1_2, 0, -1];
    for (const [i, hit] of hits.entries()) expect(hit.similarity).toBeCloseTo(expected[i] as number, 4);
  });

  it('a zero vector never matches: it is left out instead of outranking real matches', async () => {
    await seed(
      store(),
      [10, 11, 12].map((n) => makeMemory(n, { userId: 'zed' })),
      new Map([
        [idAt(10), vec()], // zero vector: no direction, so no cosine similarity
        [idAt(11), vec(0, 1)], // 0
        [idAt(12), vec(-1)], // -1
      ]),
    );
    const hits = await store().vectorSearch('zed', vec(1), filter(), 10);
    expect(ids(hits)).toEqual([idAt(11), idAt(12)]);
    expect(hits[0]?.similarity).toBeCloseTo(0, 5);
    expect(hits[1]?.similarity).toBeCloseTo(-1, 5);
    expect(await store().vectorSearch('zed', vec(), filter(), 10)).toEqual([]);
  });

  it('respects filters and the limit', async () => {
    expect(ids(await store().vectorSearch('alice', vec(1), filter({ category: 'odd' }), 10))).toEqual([
      idAt(1),
      idAt(3),
    ]);
    expect(ids(await store().vectorSearch('alice', vec(1), filter(), 2))).toEqual([idAt(2), idAt(4)]);
    const expired = { ...(memories[1] as Memory), expiresAt: '2026-02-01T00:00:00.000Z' };
    await store().update(expired, null, historyEntry('update', memories[1] as Memory, expired));
    expect((await store().vectorSearch('alice', vec(1), filter(), 10))[0]?.id).toBe(idAt(4));
  });
}

function neighbourCases(store: Current): void {
  // Session s1 in conversation order: 1, 2, 3 (same createdAt as 2: the id breaks the tie), 4
  // (expired), 5, 6. Session s2 (7, 8) interleaves in time; 9 has no session; bob has an s1 too.
  const s1 = [1, 2, 3, 4, 5, 6].map((n) =>
    makeMemory(n, {
      sessionId: 's1',
      ...(n === 3 && { createdAt: timeAt(2) }),
      ...(n === 4 && { expiresAt: '2026-02-01T00:00:00.000Z' }),
    }),
  );
  const others = [
    makeMemory(7, { sessionId: 's2', createdAt: timeAt(2) }),
    makeMemory(8, { sessionId: 's2' }),
    makeMemory(9),
    makeMemory(10, { userId: 'bob', sessionId: 's1', createdAt: timeAt(3) }),
  ];

  beforeEach(async () => {
    // Inserted out of order: order comes from createdAt and id, not from insertion.
    await seed(store(), [...others, ...s1].reverse());
  });

  it('finds the nearest visible memories before and after in the same session, nearest first', async () => {
    const found = await store().neighbours('alice', [idAt(3)], 2, filter());
    expect(found.get(idAt(3))).toEqual({ before: [idAt(2), idAt(1)], after: [idAt(5), idAt(6)] });
  });

  it('stops at the ends of the session and respects the window', async () => {
    const found = await store().neighbours('alice', [idAt(1), idAt(6), idAt(7)], 1, filter());
    expect(found.get(idAt(1))).toEqual({ before: [], after: [idAt(2)] });
    expect(found.get(idAt(6))).toEqual({ before: [idAt(5)], after: [] });
    expect(found.get(idAt(7))).toEqual({ before: [], after: [idAt(8)] });
  });

  it('leaves out memories without a session, hidden or unknown ids, and other users', async () => {
    const found = await store().neighbours('alice', [idAt(9), idAt(4), idAt(99), idAt(10)], 2, filter());
    expect(found.size).toBe(0);
    expect(await store().neighbours('bob', [idAt(10)], 2, filter())).toEqual(
      new Map([[idAt(10), { before: [], after: [] }]]),
    );
  });

  it('applies the filter to the neighbours too', async () => {
    const all = await store().neighbours('alice', [idAt(5)], 1, filter({ includeExpired: true }));
    expect(all.get(idAt(5))).toEqual({ before: [idAt(4)], after: [idAt(6)] });
    expect(await store().neighbours('alice', [idAt(5)], 0, filter())).toEqual(new Map());
  });
}

function purgeCases(store: Current): void {
  const alice = [
    makeMemory(1, { content: 'alice one' }),
    makeMemory(2, { content: 'alice two', supersededBy: idAt(1), validTo: timeAt(2) }),
    makeMemory(3, { content: 'alice three', expiresAt: '2026-01-01T00:00:00.000Z' }),
  ];
  const bob = [
    makeMemory(4, { userId: 'bob', content: 'bob one' }),
    makeMemory(5, { userId: 'bob', content: 'bob two' }),
  ];

  beforeEach(async () => {
    await seed(store(), [...alice, ...bob]);
  });

  it('removes every memory, vector and history entry of one user and returns how many memories went', async () => {
    const s = store();
    expect(await s.purgeUser('alice')).toBe(3);
    const everything = filter({ includeExpired: true, includeSuperseded: true });
    expect(await listAll(s, 'alice', { includeExpired: true, includeSuperseded: true })).toEqual([]);
    expect(await s.get('alice', idAt(1))).toBeNull();
    expect(await s.history('alice', idAt(1))).toEqual([]);
    expect(await s.keywordSearch('alice', ['alice'], everything, 10)).toEqual([]);
    expect(await s.vectorSearch('alice', vectorFor(1), everything, 10)).toEqual([]);
    expect(await s.categories('alice', everything)).toEqual([]);
    expect(await s.findByHash('alice', contentHash('alice one'), everything)).toBeNull();
    expect(await collect(s.scan('alice'))).toEqual([]);
  });

  it('leaves other users untouched', async () => {
    const s = store();
    await s.purgeUser('alice');
    expect(await listAll(s, 'bob')).toEqual(newestFirst(bob));
    expect((await s.history('bob', idAt(4))).map((entry) => entry.event)).toEqual(['add']);
    expect(ids(await s.keywordSearch('bob', ['bob'], filter(), 10)).sort(byIdAsc)).toEqual([idAt(4), idAt(5)]);
    expect((await collect(s.scan())).map((record) => record.memory.id)).toEqual([idAt(4), idAt(5)]);
    expect(await s.stats()).toMatchObject({ memories: 2, users: 1 });
  });

  it('returns 0 for a user with no memories', async () => {
    expect(await store().purgeUser('nobody')).toBe(0);
    expect(await listAll(store(), 'alice')).toEqual([idAt(1)]);
  });

  it('a purged user can store memories again', async () => {
    await store().purgeUser('alice');
    const again = makeMemory(9, { content: 'alice one' });
    await seed(store(), [again]);
    expect(await store().findByHash('alice', contentHash('alice one'), filter())).toEqual(again);
    expect((await store().history('alice', idAt(1))).length).toBe(0);
  });
}

function scanCases(store: Current): void {
  // Inserted out of id order, across users, with hidden memories: scan returns all, in id order.
  const memories = [
    makeMemory(5, { userId: 'bob' }),
    makeMemory(2),
    makeMemory(4, { supersededBy: idAt(2), validTo: timeAt(4) }),
    makeMemory(1, { userId: 'bob', expiresAt: '2026-01-01T00:00:00.000Z' }),
    makeMemory(3, { userId: 'carol' }),
  ];

  beforeEach(async () => {
    for (const memory of memories) await seed(store(), [memory]);
  });

  it('yields every record of every user in id order, with its vector', async () => {
    const records = await collect(store().scan());
    expect(records.map((record) => record.memory.id)).toEqual([1, 2, 3, 4, 5].map(idAt));
    for (const record of records) {
      const n = minuteOf(record.memory.id);
      expect(record.memory).toEqual(memories.find((memory) => memory.id === record.memory.id));
      expect(Array.from(record.vector)).toEqual(Array.from(vectorFor(n)));
    }
  });

  it('yields only one user’s records when given a user', async () => {
    expect((await collect(store().scan('bob'))).map((record) => record.memory.id)).toEqual([idAt(1), idAt(5)]);
  });

  it('scanHistory yields every history entry, of deleted memories too, by user and memory, oldest first', async () => {
    const [m2, m4] = [memories[1], memories[2]] as [Memory, Memory];
    const edited = { ...m4, content: 'edited', updatedAt: timeAt(50) };
    const update = historyEntry('update', m4, edited);
    await store().update(edited, null, update);
    const removal = historyEntry('delete', m2, null);
    await store().delete('alice', m2.id, removal);

    const entries = await collect(store().scanHistory());
    const key = (entry: HistoryEntry) => `${entry.userId} ${minuteOf(entry.memoryId)} ${entry.event}`;
    expect(entries.map(key)).toEqual([
      'alice 2 add',
      'alice 2 delete',
      'alice 4 add',
      'alice 4 update',
      'bob 1 add',
      'bob 5 add',
      'carol 3 add',
    ]);
    expect(entries.find((entry) => entry.id === removal.id)).toEqual(removal);
    expect(entries.find((entry) => entry.id === update.id)).toEqual(update);
  });
}

function setVectorCases(store: Current): void {
  it('replaces the given vectors and leaves the others', async () => {
    await seed(
      store(),
      [makeMemory(1), makeMemory(2), makeMemory(3, { userId: 'bob' })],
      new Map([
        [idAt(1), vec(1)],
        [idAt(2), vec(0, 1)],
        [idAt(3), vec(1)],
      ]),
    );
    await store().setVectors([
      { userId: 'alice', id: idAt(1), vector: vec(0, 0, 1) },
      { userId: 'bob', id: idAt(3), vector: vec(0, 0, 0, 1) },
    ]);
    expect(ids(await store().vectorSearch('alice', vec(0, 0, 1), filter(), 1))).toEqual([idAt(1)]);
    expect(await similarityOf(store(), 'alice', idAt(1), vec(0, 0, 1))).toBeCloseTo(1, 5);
    expect(await similarityOf(store(), 'alice', idAt(2), vec(0, 1))).toBeCloseTo(1, 5);
    expect(await similarityOf(store(), 'bob', idAt(3), vec(0, 0, 0, 1))).toBeCloseTo(1, 5);
    const scanned = await collect(store().scan('alice'));
    expect(Array.from(scanned[0]?.vector ?? [])).toEqual(Array.from(vec(0, 0, 1)));
  });
}

function statsCases(store: Current): void {
  it('counts memories and users', async () => {
    expect(await store().stats()).toMatchObject({ memories: 0, users: 0 });
    await seed(store(), [makeMemory(1), makeMemory(2), makeMemory(3, { userId: 'bob' })]);
    const stats = await store().stats();
    expect(stats).toMatchObject({ memories: 3, users: 2 });
    if (stats.bytes !== undefined) expect(stats.bytes).toBeGreaterThan(0);
  });

  it('probeWrite writes nothing any user can see', async () => {
    await seed(store(), [makeMemory(1)]);
    const before = await store().stats();
    await store().probeWrite();
    await store().probeWrite();
    expect(await store().stats()).toMatchObject({ memories: before.memories, users: before.users });
    expect(await store().users()).toEqual([{ userId: 'alice', memories: 1, lastAddedAt: timeAt(1) }]);
  });

  it('reports one user’s usage: current memories and the UTF-8 bytes of their content', async () => {
    expect(await store().usage('alice')).toEqual({ memories: 0, bytes: 0 });
    await seed(store(), [
      makeMemory(1, { content: 'héllo' }),
      makeMemory(2, { content: 'abc' }),
      makeMemory(3, { userId: 'bob', content: 'other user' }),
    ]);
    expect(await store().usage('alice')).toEqual({ memories: 2, bytes: 9 });
    const deleted = (await store().get('alice', idAt(2))) as Memory;
    await store().delete('alice', idAt(2), historyEntry('delete', deleted, null));
    expect(await store().usage('alice')).toEqual({ memories: 1, bytes: 6 });
    expect(await store().usage('bob')).toEqual({ memories: 1, bytes: 10 });
    // Every other write path keeps the figures: content rewritten, erased for good, a user purged.
    const kept = (await store().get('alice', idAt(1))) as Memory;
    const longer = { ...kept, content: 'héllo there', hash: contentHash('héllo there'), updatedAt: timeAt(9) };
    await store().update(longer, null, historyEntry('update', kept, longer));
    expect(await store().usage('alice')).toEqual({ memories: 1, bytes: 12 });
    await store().forget('alice', idAt(1));
    expect(await store().usage('alice')).toEqual({ memories: 0, bytes: 0 });
    await store().purgeUser('bob');
    expect(await store().usage('bob')).toEqual({ memories: 0, bytes: 0 });
    await seed(store(), [makeMemory(4, { userId: 'bob', content: 'back again' })]);
    expect(await store().usage('bob')).toEqual({ memories: 1, bytes: 10 });
  });

  it('lists every user with a memory, by id, with their count and newest add', async () => {
    expect(await store().users()).toEqual([]);
    await seed(store(), [
      makeMemory(1, { userId: 'carol' }),
      makeMemory(2),
      makeMemory(3),
      makeMemory(4, { userId: 'bob' }),
    ]);
    expect(await store().users()).toEqual([
      { userId: 'alice', memories: 2, lastAddedAt: timeAt(3) },
      { userId: 'bob', memories: 1, lastAddedAt: timeAt(4) },
      { userId: 'carol', memories: 1, lastAddedAt: timeAt(1) },
    ]);
    // A purged user is gone from the list.
    await store().purgeUser('carol');
    expect((await store().users()).map((user) => user.userId)).toEqual(['alice', 'bob']);
  });
}

function embeddingCases(store: Current): void {
  it('is null on a new store and round-trips once set', async () => {
    expect(await store().getEmbeddingInfo()).toBeNull();
    await store().setEmbeddingInfo({ model: 'use-lite-512', dimension: 512 });
    expect(await store().getEmbeddingInfo()).toEqual({ model: 'use-lite-512', dimension: 512 });
    await store().setEmbeddingInfo({ model: 'text-embedding-3-small', dimension: 1536 });
    expect(await store().getEmbeddingInfo()).toEqual({ model: 'text-embedding-3-small', dimension: 1536 });
  });
}

function persistenceCases(store: Current, reopen: () => Promise<MemoryStore>): void {
  it('memories, vectors, history and embedding info survive close and reopen', async () => {
    const kept = makeMemory(1, { content: 'persistent zebra', metadata: { flag: true, none: null } });
    const changed = makeMemory(2, { content: 'will change' });
    const removed = makeMemory(3, { content: 'will go' });
    const bobs = makeMemory(4, { userId: 'bob', content: 'bob persists' });
    await seed(store(), [kept, changed, removed, bobs], new Map([[kept.id, vec(1, 2, 3)]]));
    const after = {
      ...changed,
      content: 'changed content',
      hash: contentHash('changed content'),
      updatedAt: timeAt(9),
    };
    await store().update(after, vec(0, 0, 1), historyEntry('update', changed, after));
    await store().delete('alice', removed.id, historyEntry('delete', removed, null));
    await store().setEmbeddingInfo({ model: 'test-8d', dimension: DIMENSION });

    const s = await reopen();
    expect(await s.getEmbeddingInfo()).toEqual({ model: 'test-8d', dimension: DIMENSION });
    expect(await s.get('alice', kept.id)).toEqual(kept);
    expect(await s.get('alice', changed.id)).toEqual(after);
    expect(await s.get('alice', removed.id)).toBeNull();
    expect(await listAll(s, 'alice')).toEqual([changed.id, kept.id]);
    expect((await s.history('alice', removed.id)).map((entry) => entry.event)).toEqual(['add', 'delete']);
    expect((await s.history('alice', changed.id)).map((entry) => entry.event)).toEqual(['add', 'update']);
    expect(ids(await s.keywordSearch('alice', ['zebra'], filter(), 10))).toEqual([kept.id]);
    expect(await similarityOf(s, 'alice', changed.id, vec(0, 0, 1))).toBeCloseTo(1, 5);
    const records = await collect(s.scan());
    expect(records.map((record) => record.memory.id)).toEqual([kept.id, changed.id, bobs.id]);
    expect(Array.from(records[0]?.vector ?? [])).toEqual([1, 2, 3, 0, 0, 0, 0, 0]);
    expect(await s.stats()).toMatchObject({ memories: 3, users: 2 });
  });
}

/** A queued job of alice made at minute n (ids are time-ordered like memories'). */
export function makeJob(n: number, fields: Partial<Job> = {}): Job {
  return {
    id: idAt(n),
    userId: 'alice',
    kind: 'add',
    status: 'queued',
    payload: { memories: [{ content: `job ${n}`, metadata: { zeta: 1, alpha: [true, null, 'x'] } }], single: false },
    result: null,
    error: null,
    attempts: 0,
    createdAt: timeAt(n),
    updatedAt: timeAt(n),
    runAfter: timeAt(n),
    lease: null,
    leaseUntil: null,
    ...fields,
  };
}

const leaseOf = (job: Job): JobLease => ({ userId: job.userId, id: job.id, lease: job.lease as string });

function jobCases(store: Current, reopen: () => Promise<MemoryStore>): void {
  const claimAt = (n: number, lease: string, leaseMinutes = 5) =>
    store().claimJob({ now: timeAt(n), lease, leaseUntil: timeAt(n + leaseMinutes) });

  it('stores a job and returns it only to its user, payload key order kept', async () => {
    const job = makeJob(1);
    await store().enqueueJob(job);
    const found = await store().getJob('alice', job.id);
    expect(found).toEqual(job);
    expect(JSON.stringify(found?.payload)).toBe(JSON.stringify(job.payload));
    expect(await store().getJob('bob', job.id)).toBeNull();
    expect(await store().getJob('alice', idAt(99))).toBeNull();
  });

  it('claims the oldest runnable job of any user, once, and none that waits for its runAfter', async () => {
    await store().enqueueJob(makeJob(3, { userId: 'bob' }));
    await store().enqueueJob(makeJob(1));
    await store().enqueueJob(makeJob(2, { runAfter: timeAt(50) }));
    const first = await claimAt(10, 'lease-a', 100);
    expect(first).toMatchObject({
      id: idAt(1),
      status: 'running',
      attempts: 1,
      lease: 'lease-a',
      leaseUntil: timeAt(110),
      updatedAt: timeAt(10),
    });
    expect(await claimAt(10, 'lease-b', 100)).toMatchObject({ id: idAt(3), userId: 'bob', status: 'running' });
    expect(await claimAt(10, 'lease-c')).toBeNull();
    expect(await claimAt(50, 'lease-d')).toMatchObject({ id: idAt(2), attempts: 1 });
    expect(await store().getJob('alice', idAt(1))).toMatchObject({ status: 'running', lease: 'lease-a' });
  });

  it('never hands one job to two concurrent claims', async () => {
    for (let n = 1; n <= 4; n++) await store().enqueueJob(makeJob(n));
    const claims = await Promise.all(Array.from({ length: 8 }, (_, i) => claimAt(10, `lease-${i}`)));
    const taken = claims.filter((job): job is Job => job !== null).map((job) => job.id);
    expect(taken.sort()).toEqual([idAt(1), idAt(2), idAt(3), idAt(4)]);
  });

  it('takes back a running job whose lease expired (its runner died); the old lease is then void', async () => {
    await store().enqueueJob(makeJob(1));
    const first = (await claimAt(10, 'dead-runner', 5)) as Job;
    expect(await claimAt(14, 'too-early')).toBeNull();
    const again = await claimAt(15, 'second-runner');
    expect(again).toMatchObject({ id: first.id, status: 'running', attempts: 2, lease: 'second-runner' });
    expect(await store().renewJobLease(leaseOf(first), timeAt(60))).toBe(false);
    expect(await store().settleJob(leaseOf(first), { status: 'succeeded', at: timeAt(16), result: 1 })).toBe(false);
    expect(await store().getJob('alice', first.id)).toMatchObject({ status: 'running', lease: 'second-runner' });
  });

  it('renews a held lease, so the job is not taken back while its runner lives', async () => {
    await store().enqueueJob(makeJob(1));
    const job = (await claimAt(10, 'alive', 5)) as Job;
    expect(await store().renewJobLease(leaseOf(job), timeAt(30))).toBe(true);
    expect(await claimAt(20, 'other')).toBeNull();
    expect(await store().getJob('alice', job.id)).toMatchObject({ leaseUntil: timeAt(30) });
    expect(await store().renewJobLease({ ...leaseOf(job), userId: 'bob' }, timeAt(90))).toBe(false);
  });

  it('settles: succeeded with a result, failed with an error, or queued again for a retry', async () => {
    for (let n = 1; n <= 3; n++) await store().enqueueJob(makeJob(n));
    const [a, b, c] = [
      (await claimAt(10, 'a')) as Job,
      (await claimAt(10, 'b')) as Job,
      (await claimAt(10, 'c')) as Job,
    ];
    const result = { results: [{ id: 'x', duplicate: false, metadata: { zeta: 1, alpha: 2 } }] };
    expect(await store().settleJob(leaseOf(a), { status: 'succeeded', at: timeAt(11), result })).toBe(true);
    const error = { code: 'unavailable', message: 'the store is down' };
    expect(await store().settleJob(leaseOf(b), { status: 'failed', at: timeAt(12), error })).toBe(true);
    expect(await store().settleJob(leaseOf(c), { status: 'queued', at: timeAt(13), error, runAfter: timeAt(40) })).toBe(
      true,
    );

    const done = await store().getJob('alice', a.id);
    // A finished job keeps no input (it could be a whole conversation); a retry keeps it to run again.
    expect(done).toMatchObject({
      status: 'succeeded',
      result,
      error: null,
      lease: null,
      leaseUntil: null,
      payload: null,
    });
    expect(JSON.stringify(done?.result)).toBe(JSON.stringify(result));
    expect(await store().getJob('alice', b.id)).toMatchObject({
      status: 'failed',
      error,
      result: null,
      attempts: 1,
      payload: null,
    });
    expect(await store().getJob('alice', c.id)).toMatchObject({
      status: 'queued',
      payload: makeJob(3).payload,
      error,
      runAfter: timeAt(40),
      updatedAt: timeAt(13),
      lease: null,
    });
    // Settled leases are gone; the retry waits for its runAfter, then runs as attempt 2.
    expect(await store().settleJob(leaseOf(a), { status: 'failed', at: timeAt(14), error })).toBe(false);
    expect(await claimAt(39, 'early')).toBeNull();
    expect(await claimAt(40, 'retry')).toMatchObject({ id: c.id, attempts: 2, status: 'running' });
  });

  it('counts queued and running jobs', async () => {
    expect(await store().jobCounts()).toEqual({ queued: 0, running: 0 });
    for (let n = 1; n <= 3; n++) await store().enqueueJob(makeJob(n, { userId: n === 3 ? 'bob' : 'alice' }));
    const job = (await claimAt(10, 'a')) as Job;
    expect(await store().jobCounts()).toEqual({ queued: 2, running: 1 });
    await store().settleJob(leaseOf(job), { status: 'succeeded', at: timeAt(11), result: null });
    expect(await store().jobCounts()).toEqual({ queued: 2, running: 0 });
  });

  it('prunes finished jobs of every user that finished before a time, oldest first, never unfinished ones', async () => {
    // Jobs 1–4 finish at minutes 21–24 (4 is bob's, 2 failed); 5 runs, 6 waits.
    for (let n = 1; n <= 6; n++) await store().enqueueJob(makeJob(n, { userId: n === 4 ? 'bob' : 'alice' }));
    const claimed: Job[] = [];
    for (let n = 1; n <= 4; n++) claimed.push((await claimAt(10, `r${n}`)) as Job);
    const error = { code: 'internal', message: 'boom' };
    for (const [i, job] of claimed.entries()) {
      const at = timeAt(21 + i);
      const outcome =
        i === 1 ? { status: 'failed' as const, at, error } : { status: 'succeeded' as const, at, result: i };
      expect(await store().settleJob(leaseOf(job), outcome)).toBe(true);
    }
    // Both unfinished jobs last changed before every cut-off below (5 at minute 10, 6 at minute 6).
    await claimAt(10, 'r5', 1);
    const states = async () =>
      Promise.all(
        [1, 2, 3, 4, 5, 6].map(
          async (n) => (await store().getJob(n === 4 ? 'bob' : 'alice', idAt(n)))?.status ?? 'gone',
        ),
      );
    expect(await states()).toEqual(['succeeded', 'failed', 'succeeded', 'succeeded', 'running', 'queued']);

    expect(await store().pruneJobs(timeAt(21), 10)).toBe(0); // strictly before: job 1 finished at 21
    expect(await store().pruneJobs(timeAt(24), 2)).toBe(2); // the limit; the oldest two go
    expect(await states()).toEqual(['gone', 'gone', 'succeeded', 'succeeded', 'running', 'queued']);
    expect(await store().pruneJobs(timeAt(90), 10)).toBe(2); // bob's too
    expect(await states()).toEqual(['gone', 'gone', 'gone', 'gone', 'running', 'queued']);
    expect(await store().jobCounts()).toEqual({ queued: 1, running: 1 });
    expect(await store().pruneJobs(timeAt(90), 10)).toBe(0);
  });

  it("purgeUser removes the user's jobs and no one else's", async () => {
    await store().enqueueJob(makeJob(1));
    await store().enqueueJob(makeJob(2, { userId: 'bob' }));
    await store().purgeUser('alice');
    expect(await store().getJob('alice', idAt(1))).toBeNull();
    expect(await store().getJob('bob', idAt(2))).not.toBeNull();
  });

  it('forget also removes the finished jobs whose result names the memory, and no other job', async () => {
    const forgotten = makeMemory(60, { content: 'the door code is 4711' });
    const other = makeMemory(61);
    await seed(store(), [forgotten, other]);
    for (let n = 1; n <= 5; n++) await store().enqueueJob(makeJob(n, n === 4 ? { userId: 'bob' } : {}));
    const claimed = [];
    for (let n = 1; n <= 4; n++) claimed.push((await claimAt(10, `l${n}`)) as Job);
    const receipt = (memory: Memory) => ({ results: [{ memory: { id: memory.id, content: memory.content } }] });
    const [names, namesOther, failed, bobs] = claimed as [Job, Job, Job, Job];
    await store().settleJob(leaseOf(names), { status: 'succeeded', at: timeAt(11), result: receipt(forgotten) });
    await store().settleJob(leaseOf(namesOther), { status: 'succeeded', at: timeAt(11), result: receipt(other) });
    const error = { code: 'not_found', message: `memory ${forgotten.id} was not found` };
    await store().settleJob(leaseOf(failed), { status: 'failed', at: timeAt(11), error });
    // Not a real receipt (bob cannot add alice's memory), but forgetting is alice's, never bob's.
    await store().settleJob(leaseOf(bobs), { status: 'succeeded', at: timeAt(11), result: receipt(forgotten) });

    expect(await store().forget('alice', forgotten.id)).toBe(true);
    expect(await store().getJob('alice', names.id)).toBeNull();
    expect(await store().getJob('alice', namesOther.id)).toMatchObject({ result: receipt(other) });
    expect(await store().getJob('alice', failed.id)).toMatchObject({ status: 'failed', error });
    expect(await store().getJob('bob', bobs.id)).toMatchObject({ status: 'succeeded' });
    expect(await store().getJob('alice', idAt(5))).toMatchObject({ status: 'queued' });
    expect(await store().jobCounts()).toEqual({ queued: 1, running: 0 });
  });

  it('jobs and their leases survive close and reopen', async () => {
    await store().enqueueJob(makeJob(1));
    await store().enqueueJob(makeJob(2));
    const running = (await claimAt(10, 'before-restart')) as Job;
    const s = await reopen();
    expect(await s.getJob('alice', running.id)).toEqual(running);
    expect(await s.jobCounts()).toEqual({ queued: 1, running: 1 });
    expect(await s.claimJob({ now: timeAt(15), lease: 'after', leaseUntil: timeAt(20) })).toMatchObject({
      id: idAt(1),
      attempts: 2,
    });
  });
}
