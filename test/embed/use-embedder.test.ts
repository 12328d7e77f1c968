import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cosine } from '../../src/embed/embedder.js';
import { UseEmbedder } from '../../src/embed/use/index.js';
import { MicroBatcher } from '../../src/embed/use/use-embedder.js';
import { watchEventLoop } from '../helpers/event-loop.js';

function norm(vector: Float32Array): number {
  return Math.sqrt(vector.reduce((sum, x) => sum + x * x, 0));
}

function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  return a.reduce((max, x, i) => Math.max(max, Math.abs(x - (b[i] as number))), 0);
}

const sentences = (n: number): string[] =>
  Array.from({ length: n }, (_, i) => `Memory ${i}: the user mentioned item number ${i * 7} during chat ${i % 5}.`);

describe('UseEmbedder (real model, worker pool)', () => {
  const embedder = new UseEmbedder({ threads: 1 });

  beforeAll(() => embedder.init(), 120_000);
  afterAll(() => embedder.close());

  it('identifies its model and dimension', () => {
    expect(embedder.model).toBe('use-lite-512');
    expect(embedder.dimension).toBe(512);
  });

  it('puts semantically close sentences closer than unrelated ones', async () => {
    const [puppy, dog, stocks] = (await embedder.embed([
      'I adopted a puppy',
      'We got a new dog',
      'The stock market fell',
    ])) as [Float32Array, Float32Array, Float32Array];

    expect(cosine(puppy, dog)).toBeGreaterThan(cosine(puppy, stocks) + 0.2);
  });

  it('returns 512-d unit vectors, each with its own buffer, also for empty input', async () => {
    const vectors = await embedder.embed(['hello world', '', '   ']);

    expect(vectors).toHaveLength(3);
    for (const vector of vectors) {
      expect(vector).toBeInstanceOf(Float32Array);
      expect(vector).toHaveLength(512);
      expect(norm(vector)).toBeCloseTo(1, 5);
      expect(vector.buffer.byteLength).toBe(512 * 4);
    }
    expect(await embedder.embed([])).toEqual([]);
  });

  it('gives concurrent callers the same vectors as one batched call, in order', async () => {
    const texts = sentences(40);
    const batched = await embedder.embed(texts);

    const groups = [texts.slice(0, 1), texts.slice(1, 9), texts.slice(9, 10), texts.slice(10, 40)];
    const singles = await Promise.all(texts.map((text) => embedder.embed([text])));
    const grouped = (await Promise.all(groups.map((group) => embedder.embed(group)))).flat();

    texts.forEach((_, i) => {
      expect(maxAbsDiff(singles[i]?.[0] as Float32Array, batched[i] as Float32Array)).toBeLessThan(1e-4);
      expect(maxAbsDiff(grouped[i] as Float32Array, batched[i] as Float32Array)).toBeLessThan(1e-4);
    });
  });

  it('embeds off the main thread: the event loop stays idle while 256 texts are embedded', async () => {
    const texts = sentences(256);
    const { result: vectors, ms, maxGap, utilization } = await watchEventLoop(() => embedder.embed(texts));
    console.info(
      `256 texts in ${ms.toFixed(0)} ms; loop utilisation ${utilization.toFixed(2)}, largest gap ${maxGap.toFixed(0)} ms`,
    );

    expect(vectors).toHaveLength(256);
    // On the main thread the loop would run the model for the whole call (utilisation ≈ 1); in the
    // worker it waits. Latency figures are in `npm run bench` (event loop during an import).
    expect(utilization).toBeLessThan(0.5);
  }, 60_000);

  it('refuses work after close()', async () => {
    const other = new UseEmbedder();
    await other.close();
    await expect(other.embed(['late'])).rejects.toMatchObject({ code: 'unavailable' });
  });
});

describe('MicroBatcher', () => {
  /** A fake inference that records batches and answers after `delayMs`. */
  function recorder(delayMs = 5) {
    const batches: string[][] = [];
    let running = 0;
    let maxRunning = 0;
    const run = async (texts: string[]): Promise<Float32Array[]> => {
      batches.push(texts);
      maxRunning = Math.max(maxRunning, ++running);
      await new Promise((resolve) => setTimeout(resolve, delayMs));
      running--;
      if (texts.includes('boom')) throw new Error('batch failed');
      return texts.map((text) => Float32Array.of(text.length));
    };
    return { run, batches, maxRunning: () => maxRunning };
  }

  it('merges requests that arrive within the window into one batch', async () => {
    const fake = recorder();
    const batcher = new MicroBatcher(fake.run, { maxBatchSize: 64, windowMs: 2, maxInFlight: 1 });

    const results = await Promise.all([batcher.submit(['a']), batcher.submit(['bb', 'ccc']), batcher.submit(['dddd'])]);

    expect(fake.batches).toEqual([['a', 'bb', 'ccc', 'dddd']]);
    expect(results).toEqual([[Float32Array.of(1)], [Float32Array.of(2), Float32Array.of(3)], [Float32Array.of(4)]]);
  });

  it('caps batch size, keeps at most maxInFlight batches running, and grows batches under load', async () => {
    const fake = recorder(10);
    const batcher = new MicroBatcher(fake.run, { maxBatchSize: 4, windowMs: 1, maxInFlight: 1 });

    const big = batcher.submit(Array.from({ length: 10 }, (_, i) => 'x'.repeat(i + 1)));
    await new Promise((resolve) => setTimeout(resolve, 3));
    const late = Promise.all([batcher.submit(['late1']), batcher.submit(['late2'])]);

    const vectors = await big;
    await late;
    expect(vectors.map((v) => v[0])).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    expect(fake.batches.map((b) => b.length)).toEqual([4, 4, 4]);
    expect(fake.batches[2]).toEqual(['xxxxxxxxx', 'xxxxxxxxxx', 'late1', 'late2']);
    expect(fake.maxRunning()).toBe(1);
  });

  it('fails only the requests in a failed batch', async () => {
    const fake = recorder();
    const batcher = new MicroBatcher(fake.run, { maxBatchSize: 2, windowMs: 1, maxInFlight: 2 });

    const ok = batcher.submit(['fine', 'good']);
    const bad = batcher.submit(['boom']);

    await expect(ok).resolves.toHaveLength(2);
    await expect(bad).rejects.toThrow('batch failed');
    await batcher.drain();
  });
});
