import { describe, expect, it } from 'vitest';
import type { Embedder } from '../../src/embed/embedder.js';
import { FallbackEmbedder } from '../../src/embed/fallback.js';

function fake(name: string, fails: boolean, log: string[]): Embedder {
  return {
    model: 'm',
    dimension: 2,
    async init() {
      log.push(`${name}.init`);
      if (fails) throw new Error(`${name} cannot load its native library`);
    },
    async embed(texts) {
      return texts.map(() => Float32Array.from(name === 'native' ? [1, 0] : [0, 1]));
    },
    async close() {
      log.push(`${name}.close`);
    },
  };
}

describe('FallbackEmbedder', () => {
  it('serves with the primary runtime when it starts', async () => {
    const log: string[] = [];
    const embedder = new FallbackEmbedder(fake('native', false, log), fake('wasm', false, log), () =>
      log.push('warned'),
    );
    expect(Array.from((await embedder.embed(['x']))[0] as Float32Array)).toEqual([1, 0]);
    expect(log).toEqual(['native.init']);
  });

  it('warns and serves with the secondary runtime when the primary cannot start', async () => {
    const log: string[] = [];
    const embedder = new FallbackEmbedder(fake('native', true, log), fake('wasm', false, log), () =>
      log.push('warned'),
    );
    expect(Array.from((await embedder.embed(['x']))[0] as Float32Array)).toEqual([0, 1]);
    expect(log).toEqual(['native.init', 'warned', 'native.close', 'wasm.init']);
    await embedder.close();
  });
});
