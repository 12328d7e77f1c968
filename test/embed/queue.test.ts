import { describe, expect, it } from 'vitest';
import { CachedEmbedder } from '../../src/embed/cache.js';
import type { Embedder, EmbedOptions } from '../../src/embed/embedder.js';
import { QueuedEmbedder } from '../../src/embed/queue.js';

/** An Embedder whose calls each wait until the test finishes them, recording what they got. */
class GatedEmbedder implements Embedder {
  readonly model = 'gated';
  readonly dimension = 2;
  readonly calls: { texts: string[]; urgent: boolean; finish(): void; fail(error: Error): void }[] = [];
  closed = false;

  async init(): Promise<void> {}
  async close(): Promise<void> {
    this.closed = true;
  }

  embed(texts: string[], options?: EmbedOptions): Promise<Float32Array[]> {
    return new Promise((resolve, reject) => {
      this.calls.push({
        texts,
        urgent: options?.urgent === true,
        finish: () => resolve(texts.map((text) => Float32Array.of(text.length, Number(text.replace(/\D/g, '')) || 0))),
        fail: reject,
      });
    });
  }

  /** Texts of every call so far, in call order. */
  get seen(): string[][] {
    return this.calls.map((call) => call.texts);
  }
}

const texts = (prefix: string, count: number): string[] => Array.from({ length: count }, (_, i) => `${prefix}${i}`);
/** Lets pending promise callbacks run. */
const settle = () => new Promise<void>((resolve) => setImmediate(resolve));

describe('QueuedEmbedder', () => {
  it('cuts a large request into chunks, runs two at a time, and returns every vector in order', async () => {
    const inner = new GatedEmbedder();
    const queue = new QueuedEmbedder(inner, { capacity: 100, maxWaitMs: 1_000, chunkSize: 4 });
    const request = queue.embed(texts('t', 10));
    await settle();
    expect(inner.seen).toEqual([texts('t', 4), ['t4', 't5', 't6', 't7']]);
    expect(queue.queue).toMatchObject({ admittedTexts: 10, runningTexts: 8, waitingTexts: 0 });

    inner.calls[0]?.finish();
    await settle();
    expect(inner.seen[2]).toEqual(['t8', 't9']);
    inner.calls[1]?.finish();
    inner.calls[2]?.finish();
    const vectors = await request;
    expect(vectors.map((v) => v[1])).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(queue.queue).toMatchObject({ admittedTexts: 0, runningTexts: 0 });
  });

  it('makes a request wait for room (back-pressure) and admits waiters in arrival order', async () => {
    const inner = new GatedEmbedder();
    const queue = new QueuedEmbedder(inner, { capacity: 6, maxWaitMs: 5_000, chunkSize: 100, concurrency: 4 });
    const first = queue.embed(texts('a', 4));
    const second = queue.embed(texts('b', 4)); // does not fit: 4 + 4 > 6
    const third = queue.embed(texts('c', 1)); // would fit, but must not overtake the second
    await settle();
    expect(inner.seen).toEqual([texts('a', 4)]);
    expect(queue.queue).toMatchObject({ admittedTexts: 4, waitingTexts: 5 });

    inner.calls[0]?.finish();
    await first;
    await settle();
    expect(inner.seen.slice(1)).toEqual([texts('b', 4), ['c0']]);
    inner.calls[1]?.finish();
    inner.calls[2]?.finish();
    expect((await second).length).toBe(4);
    expect((await third).length).toBe(1);
  });

  it('refuses a request with overloaded after waiting maxWaitMs, and runs nothing of it', async () => {
    const inner = new GatedEmbedder();
    const queue = new QueuedEmbedder(inner, { capacity: 4, maxWaitMs: 30, chunkSize: 100 });
    const first = queue.embed(texts('a', 4));
    const started = performance.now();
    await expect(queue.embed(texts('b', 2))).rejects.toMatchObject({
      code: 'overloaded',
      status: 503,
      details: { retryAfterSeconds: 5 },
    });
    expect(performance.now() - started).toBeGreaterThanOrEqual(25);
    expect(queue.queue).toMatchObject({ rejected: 1, waitingTexts: 0, admittedTexts: 4 });

    inner.calls[0]?.finish();
    await first;
    // Room again: the next request is served, and the refused one never reached the model.
    const next = queue.embed(['c0']);
    await settle();
    inner.calls[1]?.finish();
    expect((await next).length).toBe(1);
    expect(inner.seen).toEqual([texts('a', 4), ['c0']]);
  });

  it('serves a request larger than the capacity piece by piece, each admitted on its own', async () => {
    const inner = new GatedEmbedder();
    const queue = new QueuedEmbedder(inner, { capacity: 3, maxWaitMs: 5_000, chunkSize: 100 });
    const small = queue.embed(['x0']);
    const big = queue.embed(texts('y', 7));
    await settle();
    // Pieces never exceed the capacity: the first fits beside the small request only once it is done.
    expect(inner.seen).toEqual([['x0']]);
    inner.calls[0]?.finish();
    await small;
    await settle();
    expect(inner.seen.slice(1)).toEqual([['y0', 'y1', 'y2']]);
    expect(queue.queue.admittedTexts).toBe(3);
    for (let i = 1; i <= 3; i++) {
      inner.calls[i]?.finish();
      await settle();
      await settle();
    }
    expect(inner.seen.slice(1)).toEqual([['y0', 'y1', 'y2'], ['y3', 'y4', 'y5'], ['y6']]);
    expect((await big).map((v) => v[1])).toEqual([0, 1, 2, 3, 4, 5, 6]);
  });

  it('takes turns between users: a flood of one user’s bulk delays another’s by one piece, not the flood', async () => {
    const inner = new GatedEmbedder();
    const queue = new QueuedEmbedder(inner, { capacity: 100, maxWaitMs: 5_000, chunkSize: 10, concurrency: 1 });
    const flood = queue.embed(texts('a', 100), { scope: 'alice' });
    await settle();
    const other = queue.embed(texts('b', 20), { scope: 'bob' });
    await settle();
    // Alice holds two pieces (one running, one ready), not the whole queue; then the two take turns.
    expect(queue.queue).toMatchObject({ admittedTexts: 40, runningTexts: 10 });
    const order: string[] = [];
    for (let i = 0; i < 6; i++) {
      await settle();
      await settle();
      const call = inner.calls[i];
      order.push(call?.texts[0]?.slice(0, 1) ?? '-');
      call?.finish();
    }
    expect(order).toEqual(['a', 'a', 'b', 'a', 'b', 'a']);
    expect((await other).length).toBe(20);
    for (let i = 6; i < 12; i++) {
      await settle();
      await settle();
      inner.calls[i]?.finish();
    }
    expect((await flood).length).toBe(100);
  });

  it('refuses a request waiting longer than maxWaitMs for one of its pieces, after its admitted pieces finish', async () => {
    const inner = new GatedEmbedder();
    const queue = new QueuedEmbedder(inner, { capacity: 4, maxWaitMs: 30, chunkSize: 4, concurrency: 1 });
    const big = queue.embed(texts('a', 8));
    let outcome: unknown = null;
    big.catch((error: unknown) => {
      outcome = error;
    });
    await new Promise((resolve) => setTimeout(resolve, 60));
    expect(outcome).toBeNull(); // the admitted first piece is still running
    inner.calls[0]?.finish();
    await expect(big).rejects.toMatchObject({ code: 'overloaded' });
    expect(inner.seen).toEqual([texts('a', 4)]);
    expect(queue.queue).toMatchObject({ admittedTexts: 0, waitingTexts: 0, rejected: 1 });
  });

  it('sends small requests (queries) to the model before chunks of a bulk request already waiting', async () => {
    const inner = new GatedEmbedder();
    const queue = new QueuedEmbedder(inner, { capacity: 1_000, maxWaitMs: 5_000, chunkSize: 10, concurrency: 1 });
    const bulk = queue.embed(texts('bulk', 50));
    await settle();
    expect(inner.calls).toHaveLength(1);
    const query = queue.embed(['what did I say about the garden?']);
    await settle();

    inner.calls[0]?.finish();
    await settle();
    // The query runs next, ahead of the four bulk chunks queued before it.
    expect(inner.seen[1]).toEqual(['what did I say about the garden?']);
    inner.calls[1]?.finish();
    expect((await query).length).toBe(1);
    for (let i = 2; i <= 5; i++) {
      await settle();
      inner.calls[i]?.finish();
    }
    expect((await bulk).length).toBe(50);
  });

  it('gives queries calls of their own: a query reaches the model while bulk pieces fill every call', async () => {
    const inner = new GatedEmbedder();
    const queue = new QueuedEmbedder(inner, { capacity: 1_000, maxWaitMs: 5_000, chunkSize: 10, concurrency: 2 });
    const bulk = queue.embed(texts('bulk', 50), { scope: 'alice' });
    // Alice's single adds are small but not queries: they wait for a call like her bulk pieces.
    const adds = [queue.embed(['add0'], { scope: 'alice' }), queue.embed(['add1'], { scope: 'alice' })];
    await settle();
    // Both calls are taken: the first bulk piece, and the first add (ahead of the next bulk piece).
    expect(inner.seen).toEqual([texts('bulk', 10), ['add0']]);
    const query = queue.embed(['what did I say about the garden?'], { scope: 'bob', urgent: true });
    await settle();
    // The query runs at once, beside the two bulk calls, and is marked urgent for the model.
    expect(inner.seen[2]).toEqual(['what did I say about the garden?']);
    expect(inner.calls.map((call) => call.urgent)).toEqual([false, false, true]);
    inner.calls[2]?.finish();
    expect(await query).toHaveLength(1);
    // The other add goes before the rest of the bulk request, without the urgent mark.
    inner.calls[0]?.finish();
    await settle();
    await settle();
    expect(inner.calls[3]).toMatchObject({ texts: ['add1'], urgent: false });
    for (let i = 1; i < 10 && inner.calls[i]; i++) {
      inner.calls[i]?.finish();
      await settle();
      await settle();
    }
    expect(await Promise.all(adds)).toHaveLength(2);
    expect(await bulk).toHaveLength(50);
  });

  it('treats a large request marked urgent as bulk: only a few texts can jump the line', async () => {
    const inner = new GatedEmbedder();
    const queue = new QueuedEmbedder(inner, { capacity: 1_000, maxWaitMs: 5_000, chunkSize: 10, concurrency: 1 });
    const first = queue.embed(texts('a', 10), { urgent: true });
    const second = queue.embed(texts('b', 10), { urgent: true });
    await settle();
    // One call at a time for both: they share the bulk track, and neither reaches the model as urgent.
    expect(inner.calls.map((call) => [call.texts[0], call.urgent])).toEqual([['a0', false]]);
    inner.calls[0]?.finish();
    await settle();
    await settle();
    inner.calls[1]?.finish();
    expect((await first).length + (await second).length).toBe(20);
  });

  it('fails a request whose chunk failed only after its other chunks finished, then frees its room', async () => {
    const inner = new GatedEmbedder();
    const queue = new QueuedEmbedder(inner, { capacity: 10, maxWaitMs: 5_000, chunkSize: 5 });
    const request = queue.embed(texts('t', 10));
    let outcome: unknown;
    request.catch((error: unknown) => {
      outcome = error;
    });
    await settle();
    inner.calls[0]?.fail(new Error('model crashed'));
    await settle();
    expect(outcome).toBeUndefined(); // the second piece is still running
    expect(queue.queue.admittedTexts).toBe(5); // the failed piece's room is free at once
    inner.calls[1]?.finish();
    await expect(request).rejects.toThrow('model crashed');
    expect(queue.queue.admittedTexts).toBe(0);
  });

  it('shows its load through a cache in front of it, and closes the inner embedder', async () => {
    const inner = new GatedEmbedder();
    const cached = new CachedEmbedder(new QueuedEmbedder(inner, { capacity: 16, maxWaitMs: 0 }), { maxEntries: 10 });
    expect(cached.queue).toMatchObject({ capacity: 16, admittedTexts: 0, rejected: 0 });
    const request = cached.embed(['one', 'two']);
    await settle();
    expect(cached.queue?.runningTexts).toBe(2);
    inner.calls[0]?.finish();
    await request;
    await cached.close();
    expect(inner.closed).toBe(true);
  });

  it('rejects nonsense sizes', () => {
    expect(() => new QueuedEmbedder(new GatedEmbedder(), { capacity: 0, maxWaitMs: 0 })).toThrow(RangeError);
    expect(() => new QueuedEmbedder(new GatedEmbedder(), { capacity: 4, maxWaitMs: 0, chunkSize: 1.5 })).toThrow(
      RangeError,
    );
  });
});
