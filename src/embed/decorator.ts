import type { Embedder, EmbedOptions, EmbedQueueStats, SharedCacheStats } from './embedder.js';

/**
 * Base of the wrappers around an Embedder (caches): everything but `embed` goes to the wrapped
 * embedder unless a wrapper says otherwise.
 */
export abstract class EmbedderDecorator implements Embedder {
  readonly inner: Embedder;

  constructor(inner: Embedder) {
    this.inner = inner;
  }

  get model(): string {
    return this.inner.model;
  }

  get dimension(): number {
    return this.inner.dimension;
  }

  get queue(): EmbedQueueStats | undefined {
    return this.inner.queue;
  }

  get sharedCache(): SharedCacheStats | undefined {
    return this.inner.sharedCache;
  }

  init(): Promise<void> {
    return this.inner.init();
  }

  close(): Promise<void> {
    return this.inner.close();
  }

  abstract embed(texts: string[], options?: EmbedOptions): Promise<Float32Array[]>;
}
