import { describe, expect, it } from 'vitest';
import { isEngramError } from '../../src/core/errors.js';
import { CachedEmbedder } from '../../src/embed/cache.js';
import type { Embedder } from '../../src/embed/embedder.js';
import { FallbackEmbedder } from '../../src/embed/fallback.js';
import { OpenAiEmbedder } from '../../src/embed/openai/index.js';
import { createEmbedder, embedderNames } from '../../src/embed/registry.js';
import { UseEmbedder } from '../../src/embed/use/index.js';

/** An Embedder whose vectors encode the text, recording every batch it is asked for. */
class RecordingEmbedder implements Embedder {
  readonly model = 'recording';
  readonly dimension = 4;
  readonly calls: string[][] = [];
  #gate: Promise<void> = Promise.resolve();
  failNext = false;

  /** Holds every embed() until the returned function is called. */
  hold(): () => void {
    let release = (): void => undefined;
    this.#gate = new Promise((resolve) => {
      release = resolve;
    });
    return release;
  }

  async init(): Promise<void> {}
  async close(): Promise<void> {}

  async embed(texts: string[]): Promise<Float32Array[]> {
    this.calls.push(texts);
    await this.#gate;
    if (this.failNext) {
      this.failNext = false;
      throw new Error('inner failed');
    }
    return texts.map((text) => Float32Array.of(text.length, text.charCodeAt(0) || 0, 1, 0));
  }
}

const expected = (text: string): Float32Array => Float32Array.of(text.length, text.charCodeAt(0) || 0, 1, 0);

describe('CachedEmbedder', () => {
  it('answers repeated texts from the cache without calling the inner embedder', async () => {
    const inner = new RecordingEmbedder();
    const cached = new CachedEmbedder(inner, { maxEntries: 100 });

    expect(await cached.embed(['alpha', 'beta'])).toEqual([expected('alpha'), expected('beta')]);
    expect(await cached.embed(['beta', 'gamma', 'alpha'])).toEqual([
      expected('beta'),
      expected('gamma'),
      expected('alpha'),
    ]);

    expect(inner.calls).toEqual([['alpha', 'beta'], ['gamma']]);
    expect(cached.stats).toMatchObject({ hits: 2, misses: 3, size: 3 });
    expect(cached.model).toBe('recording');
    expect(cached.dimension).toBe(4);
  });

  it('keeps each scope (user) apart: one user’s texts never answer another’s request', async () => {
    const inner = new RecordingEmbedder();
    const cached = new CachedEmbedder(inner, { maxEntries: 100 });
    await cached.embed(['The garage door code is 140'], { scope: 'alice' });
    await cached.embed(['The garage door code is 140'], { scope: 'bob' });
    await cached.embed(['The garage door code is 140']); // unscoped: a scope of its own
    await cached.embed(['The garage door code is 140'], { scope: 'bob' });
    // A scope and text that concatenate the same way are still different keys.
    await cached.embed(['b'], { scope: 'a' });
    await cached.embed(['ab'], { scope: '' });
    expect(inner.calls).toEqual([
      ['The garage door code is 140'],
      ['The garage door code is 140'],
      ['The garage door code is 140'],
      ['b'],
      ['ab'],
    ]);
    expect(cached.stats).toMatchObject({ hits: 1, misses: 5 });
  });

  it('evicts the least recently used vector when full', async () => {
    const inner = new RecordingEmbedder();
    const cached = new CachedEmbedder(inner, { maxEntries: 2 });

    await cached.embed(['a']);
    await cached.embed(['bb']);
    await cached.embed(['a']); // a is now more recent than bb
    await cached.embed(['ccc']); // evicts bb
    inner.calls.length = 0;

    await cached.embed(['a', 'ccc']);
    expect(inner.calls).toEqual([]);
    await cached.embed(['bb']);
    expect(inner.calls).toEqual([['bb']]);
    expect(cached.stats.size).toBe(2);
  });

  it('shares one computation between concurrent requests for the same text', async () => {
    const inner = new RecordingEmbedder();
    const cached = new CachedEmbedder(inner, { maxEntries: 100 });
    const release = inner.hold();

    const first = cached.embed(['same', 'other']);
    const second = cached.embed(['same']);
    const third = cached.embed(['other', 'same', 'new']);
    release();

    expect(await first).toEqual([expected('same'), expected('other')]);
    expect(await second).toEqual([expected('same')]);
    expect(await third).toEqual([expected('other'), expected('same'), expected('new')]);
    expect(inner.calls).toEqual([['same', 'other'], ['new']]);
    expect(cached.stats).toMatchObject({ hits: 0, misses: 3, shared: 3 });
  });

  it('computes a text repeated within one call once', async () => {
    const inner = new RecordingEmbedder();
    const cached = new CachedEmbedder(inner, { maxEntries: 100 });

    const vectors = await cached.embed(['x', 'y', 'x', 'x']);

    expect(vectors).toEqual([expected('x'), expected('y'), expected('x'), expected('x')]);
    expect(inner.calls).toEqual([['x', 'y']]);
  });

  it('hands out copies, so a caller mutating its vector cannot corrupt the cache', async () => {
    const cached = new CachedEmbedder(new RecordingEmbedder(), { maxEntries: 10 });

    const [mine] = (await cached.embed(['keep'])) as [Float32Array];
    mine.fill(0);

    expect(await cached.embed(['keep'])).toEqual([expected('keep')]);
  });

  it('does not cache failures: every waiter sees the error and the next call retries', async () => {
    const inner = new RecordingEmbedder();
    const cached = new CachedEmbedder(inner, { maxEntries: 10 });
    inner.failNext = true;
    const release = inner.hold();

    const a = cached.embed(['flaky']);
    const b = cached.embed(['flaky']);
    release();

    await expect(a).rejects.toThrow('inner failed');
    await expect(b).rejects.toThrow('inner failed');
    expect(await cached.embed(['flaky'])).toEqual([expected('flaky')]);
    expect(inner.calls).toEqual([['flaky'], ['flaky']]);
  });
});

describe('createEmbedder', () => {
  it('lists every embedder for the config enum', () => {
    expect(embedderNames).toEqual(['use', 'openai', 'onnx']);
  });

  it('builds the named embedder and wraps it in the cache only when cacheSize > 0', () => {
    const plain = createEmbedder('use', {});
    expect(plain).toBeInstanceOf(FallbackEmbedder);
    expect(createEmbedder('use', { backend: 'tfjs' })).toBeInstanceOf(UseEmbedder);
    expect(plain.model).toBe('use-lite-512');

    const cached = createEmbedder(
      'openai',
      { baseUrl: 'http://127.0.0.1:1/v1', model: 'm', dimension: 3 },
      { cacheSize: 5 },
    );
    expect(cached).toBeInstanceOf(CachedEmbedder);
    expect((cached as CachedEmbedder).inner).toBeInstanceOf(OpenAiEmbedder);
    expect(cached.model).toBe('openai:m');
    expect(cached.dimension).toBe(3);
  });

  it('rejects a bad config with an invalid_request error that names the field', () => {
    const attempt = (): unknown => createEmbedder('use', { threads: 0 });
    expect(attempt).toThrow(/threads/);
    try {
      attempt();
    } catch (error) {
      expect(isEngramError(error) && error.code).toBe('invalid_request');
    }
  });
});
