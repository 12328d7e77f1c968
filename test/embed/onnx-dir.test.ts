import { readdirSync, readFileSync } from 'node:fs';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GraphBuilder } from '../../src/embed/onnx/graph-builder.js';
import {
  createOnnxDirPipeline,
  loadModelDir,
  loadTokenizer,
  modelDirName,
  OnnxDirEmbedder,
  parsePoolingConfig,
  poolBatch,
  poolRow,
  runOnnxDirPipeline,
} from '../../src/embed/onnx-dir/index.js';
import { createEmbedder, embedders as embedderRegistry } from '../../src/embed/registry.js';
import { watchEventLoop } from '../helpers/event-loop.js';
import { tempDir } from '../helpers/temp-dir.js';

// ---------------------------------------------------------------------------------------------
// A tiny BERT-shaped model, written by the test: WordPiece tokenizer.json, config files, and an
// ONNX graph  last_hidden_state = (E[input_ids] + T[token_type_ids] + P[position]) · W + b.
// Tokens do not interact, so every expected vector can be computed by hand below.

const HIDDEN = 8;
const MAX_POSITIONS = 16;

const VOCAB = [
  '[PAD]',
  '[UNK]',
  '[CLS]',
  '[SEP]',
  '[MASK]',
  'the',
  'a',
  'cat',
  'dog',
  'sat',
  'on',
  'mat',
  'hello',
  'world',
  'play',
  '##ing',
  '##s',
  'run',
  'big',
  'small',
  'red',
  'blue',
  'is',
  'and',
  'i',
  'like',
  '.',
  ',',
  '!',
  'query',
  ':',
] as const;
const id = (token: (typeof VOCAB)[number]): number => VOCAB.indexOf(token);
const [PAD, CLS, SEP] = [id('[PAD]'), id('[CLS]'), id('[SEP]')];

/** Deterministic weights in [-1, 1). */
function weights(count: number, seed: number): Float32Array {
  return Float32Array.from({ length: count }, (_, i) => Math.sin(seed * 12.9898 + i * 78.233) * 0.999);
}

const E = weights(VOCAB.length * HIDDEN, 1);
// Padding rows are huge: any padding position that leaks into pooling shows at once.
E.fill(1000, PAD * HIDDEN, (PAD + 1) * HIDDEN);
const T = weights(2 * HIDDEN, 2);
const P = weights(MAX_POSITIONS * HIDDEN, 3);
const W = weights(HIDDEN * HIDDEN, 4);
const B = weights(HIDDEN, 5);

/** The model's output for one token, computed in plain JS. */
function tokenState(tokenId: number, position: number, typeId = 0): Float64Array {
  const x = Array.from(
    { length: HIDDEN },
    (_, i) =>
      (E[tokenId * HIDDEN + i] as number) + (T[typeId * HIDDEN + i] as number) + (P[position * HIDDEN + i] as number),
  );
  return Float64Array.from({ length: HIDDEN }, (_, j) =>
    x.reduce((sum, xi, i) => sum + xi * (W[i * HIDDEN + j] as number), B[j] as number),
  );
}

function expectedMean(ids: number[]): Float64Array {
  const sum = new Float64Array(HIDDEN);
  ids.forEach((tokenId, t) => {
    tokenState(tokenId, t).forEach((v, i) => {
      sum[i] = (sum[i] as number) + v;
    });
  });
  return sum.map((v) => v / ids.length);
}

function expectedCls(ids: number[]): Float64Array {
  return tokenState(ids[0] as number, 0);
}

function unit(v: Float64Array): Float64Array {
  const norm = Math.hypot(...v);
  return v.map((x) => x / norm);
}

function expectClose(actual: Float32Array | undefined, expected: ArrayLike<number>, tolerance = 1e-4): void {
  expect(actual).toBeDefined();
  expect(actual).toHaveLength(expected.length);
  const diff = Array.from(expected).reduce((max, e, i) => Math.max(max, Math.abs(e - (actual?.[i] as number))), 0);
  expect(diff).toBeLessThan(tolerance);
}

interface TinyModelOptions {
  pooling?: Record<string, unknown>;
  normalize?: boolean;
  /** tokenizer_config.json model_max_length (special tokens included). */
  maxLength?: number;
  tokenTypeIds?: boolean;
  /** Extra 512×512 MatMul layers whose result is multiplied by 0: real work, same output. */
  busyLayers?: number;
  /** The graph pools itself: output `sentence_embedding` = mean over all positions. */
  pooledOutput?: boolean;
  /** Put the model at `model.onnx` instead of `onnx/model.onnx`. */
  rootModel?: boolean;
}

function buildGraph(options: TinyModelOptions): Uint8Array {
  const g = new GraphBuilder('tiny-bert');
  const ids = g.input('input_ids', 'int64', ['batch', 'seq']);
  g.input('attention_mask', 'int64', ['batch', 'seq']);
  const embeddings = g.initializer('word_embeddings', 'float32', [VOCAB.length, HIDDEN], E);
  let x = g.op('Gather', [embeddings, ids], { axis: 0 });
  if (options.tokenTypeIds !== false) {
    const typeIds = g.input('token_type_ids', 'int64', ['batch', 'seq']);
    const types = g.initializer('token_type_embeddings', 'float32', [2, HIDDEN], T);
    x = g.op('Add', [x, g.op('Gather', [types, typeIds], { axis: 0 })]);
  }
  const seqLength = g.op('Gather', [g.op('Shape', [ids]), g.constInt64(1)], { axis: 0 });
  const positions = g.op('Range', [g.constInt64(0), seqLength, g.constInt64(1)]);
  const positionTable = g.initializer('position_embeddings', 'float32', [MAX_POSITIONS, HIDDEN], P);
  x = g.op('Add', [x, g.op('Gather', [positionTable, positions], { axis: 0 })]);
  const w = g.initializer('dense_w', 'float32', [HIDDEN, HIDDEN], W);
  const b = g.initializer('dense_b', 'float32', [HIDDEN], B);
  let y = g.op('Add', [g.op('MatMul', [x, w]), b]);
  if (options.busyLayers) {
    const wide = 512;
    const up = g.initializer('busy_up', 'float32', [HIDDEN, wide], weights(HIDDEN * wide, 6));
    const square = g.initializer(
      'busy_w',
      'float32',
      [wide, wide],
      weights(wide * wide, 7).map((v) => v / 32),
    );
    let h = g.op('MatMul', [x, up]);
    for (let i = 0; i < options.busyLayers; i++) h = g.op('Tanh', [g.op('MatMul', [h, square])]);
    const zero = g.op('Mul', [g.op('ReduceSum', [h], { keepdims: 0 }), g.constFloat(0)]);
    y = g.op('Add', [y, zero]);
  }
  if (options.pooledOutput) {
    g.output(g.op('ReduceMean', [y], { axes: [1], keepdims: 0 }, 'sentence_embedding'), 'float32', ['batch', HIDDEN]);
  } else {
    g.output(g.op('Identity', [y], {}, 'last_hidden_state'), 'float32', ['batch', 'seq', HIDDEN]);
  }
  return g.toBytes();
}

function tokenizerJson(): Record<string, unknown> {
  const special = (content: string, tokenId: number) => ({
    id: tokenId,
    content,
    single_word: false,
    lstrip: false,
    rstrip: false,
    normalized: false,
    special: true,
  });
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: ['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]'].map((t, i) => special(t, i)),
    normalizer: {
      type: 'BertNormalizer',
      clean_text: true,
      handle_chinese_chars: true,
      strip_accents: null,
      lowercase: true,
    },
    pre_tokenizer: { type: 'BertPreTokenizer' },
    post_processor: {
      type: 'TemplateProcessing',
      single: [
        { SpecialToken: { id: '[CLS]', type_id: 0 } },
        { Sequence: { id: 'A', type_id: 0 } },
        { SpecialToken: { id: '[SEP]', type_id: 0 } },
      ],
      pair: [
        { SpecialToken: { id: '[CLS]', type_id: 0 } },
        { Sequence: { id: 'A', type_id: 0 } },
        { SpecialToken: { id: '[SEP]', type_id: 0 } },
        { Sequence: { id: 'B', type_id: 1 } },
        { SpecialToken: { id: '[SEP]', type_id: 1 } },
      ],
      special_tokens: {
        '[CLS]': { id: '[CLS]', ids: [CLS], tokens: ['[CLS]'] },
        '[SEP]': { id: '[SEP]', ids: [SEP], tokens: ['[SEP]'] },
      },
    },
    decoder: { type: 'WordPiece', prefix: '##', cleanup: true },
    model: {
      type: 'WordPiece',
      unk_token: '[UNK]',
      continuing_subword_prefix: '##',
      max_input_chars_per_word: 100,
      vocab: Object.fromEntries(VOCAB.map((token, i) => [token, i])),
    },
  };
}

let root: string;
let counter = 0;

/** Writes a complete model directory and returns its path. */
async function writeTinyModel(options: TinyModelOptions = {}, name = `tiny-${counter++}`): Promise<string> {
  const dir = join(root, name);
  await mkdir(join(dir, 'onnx'), { recursive: true });
  await mkdir(join(dir, '1_Pooling'), { recursive: true });
  const json = (file: string, value: unknown) => writeFile(join(dir, file), JSON.stringify(value, null, 2));
  await json('config.json', {
    architectures: ['BertModel'],
    model_type: 'bert',
    hidden_size: HIDDEN,
    max_position_embeddings: MAX_POSITIONS,
    vocab_size: VOCAB.length,
    pad_token_id: PAD,
  });
  await json('tokenizer.json', tokenizerJson());
  await json('tokenizer_config.json', {
    do_lower_case: true,
    model_max_length: options.maxLength ?? 12,
    pad_token: '[PAD]',
    unk_token: '[UNK]',
    cls_token: '[CLS]',
    sep_token: '[SEP]',
    tokenizer_class: 'BertTokenizer',
  });
  await json('special_tokens_map.json', {
    pad_token: '[PAD]',
    unk_token: '[UNK]',
    cls_token: '[CLS]',
    sep_token: '[SEP]',
    mask_token: '[MASK]',
  });
  const modules = [
    { idx: 0, name: '0', path: '', type: 'sentence_transformers.models.Transformer' },
    { idx: 1, name: '1', path: '1_Pooling', type: 'sentence_transformers.models.Pooling' },
  ];
  if (options.normalize)
    modules.push({ idx: 2, name: '2', path: '2_Normalize', type: 'sentence_transformers.models.Normalize' });
  await json('modules.json', modules);
  await json(
    '1_Pooling/config.json',
    options.pooling ?? {
      word_embedding_dimension: HIDDEN,
      pooling_mode_cls_token: false,
      pooling_mode_mean_tokens: true,
      pooling_mode_max_tokens: false,
      pooling_mode_mean_sqrt_len_tokens: false,
    },
  );
  await writeFile(join(dir, options.rootModel ? 'model.onnx' : 'onnx/model.onnx'), buildGraph(options));
  return dir;
}

const CLS_POOLING = { word_embedding_dimension: HIDDEN, pooling_mode_cls_token: true, pooling_mode_mean_tokens: false };

beforeAll(async () => {
  root = await tempDir('engram-onnx-dir-');
});

// Texts and the ids the tokenizer must give them ([CLS] … [SEP], lower-cased, WordPiece).
const SHORT = 'Hello world';
const SHORT_IDS = [CLS, id('hello'), id('world'), SEP];
const LONG = 'The big red dog is playing on the mat!';
// 11 content tokens + [CLS] + [SEP] = 13 > 12: truncation keeps [CLS], the first 10, [SEP] (drops "!").
const LONG_IDS = [
  CLS,
  ...(['the', 'big', 'red', 'dog', 'is', 'play', '##ing', 'on', 'the', 'mat'] as const).map(id),
  SEP,
];

// ---------------------------------------------------------------------------------------------

describe('pooling (pure functions)', () => {
  // Two rows, three positions, hidden 2. Row 1 has one padding position full of garbage.
  const hidden = Float32Array.of(1, 2, 3, 4, 5, 0, /* row 1 */ 10, -1, 20, -3, 999, 999);
  const shape = { batch: 2, seqLength: 3, hidden: 2 };
  const mask = Uint8Array.of(1, 1, 1, 1, 1, 0);

  it('pools each mode over real tokens only', () => {
    const pool = (row: number, mode: Parameters<typeof poolRow>[4][number]) =>
      Array.from(poolRow(hidden, shape, mask, row, [mode], new Float32Array(2)));
    expect(pool(0, 'cls')).toEqual([1, 2]);
    expect(pool(1, 'cls')).toEqual([10, -1]);
    expect(pool(0, 'mean')).toEqual([3, 2]);
    expect(pool(1, 'mean')).toEqual([15, -2]);
    expect(pool(0, 'max')).toEqual([5, 4]);
    expect(pool(1, 'max')).toEqual([20, -1]);
    expect(pool(1, 'lasttoken')).toEqual([20, -3]);
    expect(pool(0, 'lasttoken')).toEqual([5, 0]);
    const sqrt = pool(1, 'mean_sqrt_len');
    expect(sqrt[0]).toBeCloseTo(30 / Math.SQRT2, 5);
    expect(sqrt[1]).toBeCloseTo(-4 / Math.SQRT2, 5);
    // Weights 1, 2 for positions 0, 1: (10·1 + 20·2) / 3, (-1·1 + -3·2) / 3.
    const weighted = pool(1, 'weightedmean');
    expect(weighted[0]).toBeCloseTo(50 / 3, 5);
    expect(weighted[1]).toBeCloseTo(-7 / 3, 5);
  });

  it('concatenates several modes in sentence-transformers order and handles an all-padding row', () => {
    const config = parsePoolingConfig({ pooling_mode_mean_tokens: true, pooling_mode_cls_token: true });
    expect(config.modes).toEqual(['cls', 'mean']);
    const [first, second] = poolBatch(hidden, shape, mask, config.modes);
    expect(Array.from(first as Float32Array)).toEqual([1, 2, 3, 2]);
    expect(Array.from(second as Float32Array)).toEqual([10, -1, 15, -2]);
    const empty = poolBatch(hidden, shape, Uint8Array.of(1, 1, 1, 0, 0, 0), ['mean', 'max']);
    expect(Array.from(empty[1] as Float32Array)).toEqual([0, 0, 0, 0]);
  });

  it('reads 1_Pooling/config.json flags and the single-string form, and refuses no mode', () => {
    expect(
      parsePoolingConfig({
        word_embedding_dimension: 384,
        pooling_mode_cls_token: false,
        pooling_mode_mean_tokens: true,
        pooling_mode_max_tokens: false,
        pooling_mode_mean_sqrt_len_tokens: false,
        pooling_mode_weightedmean_tokens: false,
        pooling_mode_lasttoken: false,
        include_prompt: true,
      }),
    ).toEqual({ modes: ['mean'], wordEmbeddingDimension: 384 });
    expect(parsePoolingConfig({ pooling_mode: 'lasttoken' }).modes).toEqual(['lasttoken']);
    expect(() => parsePoolingConfig({ pooling_mode_mean_tokens: false })).toThrow(/no pooling mode/);
    expect(() => parsePoolingConfig({ pooling_mode: 'median' })).toThrow(/unsupported/);
    expect(() => poolRow(hidden, shape, mask, 0, ['mean'], new Float32Array(3))).toThrow(/output holds/);
  });
});

describe('model directory', () => {
  it('reads the layout: lengths, pooling, normalisation, model file', async () => {
    const path = await writeTinyModel({ normalize: true, rootModel: true });
    const dir = await loadModelDir(path);
    expect(dir).toMatchObject({
      path,
      modelFile: join(path, 'model.onnx'),
      hiddenSize: HIDDEN,
      maxLength: 12,
      normalize: true,
      pooling: { modes: ['mean'], wordEmbeddingDimension: HIDDEN },
      unsupportedModules: [],
      expectedDimension: HIDDEN,
      lowerCase: false,
    });
    expect(dir.tokenizerConfig.pad_token).toBe('[PAD]');
  });

  it('names the model after the directory, or org/name for a Hugging Face cache snapshot', () => {
    expect(modelDirName('/models/bge-small-en-v1.5/')).toBe('bge-small-en-v1.5');
    expect(modelDirName(`/hf/hub/models--BAAI--bge-small-en-v1.5/snapshots/${'a1'.repeat(20)}`)).toBe(
      'BAAI/bge-small-en-v1.5',
    );
    expect(new OnnxDirEmbedder({ path: '/models/e5-small-v2' }).model).toBe('onnx:e5-small-v2');
  });

  it('tokenises with [CLS] … [SEP] and truncates the content, keeping [SEP]', async () => {
    const tokenizer = await loadTokenizer(await loadModelDir(await writeTinyModel()));
    expect(tokenizer.maxLength).toBe(12);
    expect(tokenizer.padId).toBe(PAD);
    expect(tokenizer.encode(SHORT).ids).toEqual(SHORT_IDS);
    expect(tokenizer.encode(SHORT).typeIds).toEqual([0, 0, 0, 0]);
    expect(tokenizer.encode(LONG).ids).toEqual(LONG_IDS);
    expect(tokenizer.encode('').ids).toEqual([CLS, SEP]);
    expect(tokenizer.encode('zebra').ids).toEqual([CLS, id('[UNK]'), SEP]);
    expect(tokenizer.encode('cat '.repeat(1000)).ids).toEqual([CLS, ...new Array(10).fill(id('cat')), SEP]);
  });

  it('caps the length by sentence_bert_config.json max_seq_length and the position table', async () => {
    const path = await writeTinyModel({ maxLength: 512 });
    expect((await loadModelDir(path)).maxLength).toBe(MAX_POSITIONS);
    await writeFile(
      join(path, 'sentence_bert_config.json'),
      JSON.stringify({ max_seq_length: 6, do_lower_case: true }),
    );
    const dir = await loadModelDir(path);
    expect(dir).toMatchObject({ maxLength: 6, lowerCase: true });
    expect((await loadTokenizer(dir)).encode(LONG).ids).toEqual([...LONG_IDS.slice(0, 5), SEP]);
  });

  it('rejects missing or broken files with invalid_request naming the file', async () => {
    const reject = async (path: string, pattern: RegExp) => {
      await expect(loadModelDir(path)).rejects.toMatchObject({
        code: 'invalid_request',
        message: expect.stringMatching(pattern),
      });
    };
    await reject(join(root, 'nowhere'), /does not exist/);
    let path = await writeTinyModel();
    await rm(join(path, 'tokenizer.json'));
    await reject(path, /tokenizer\.json is missing/);
    path = await writeTinyModel();
    await rm(join(path, 'onnx/model.onnx'));
    await reject(path, /onnx\/model\.onnx or model\.onnx is missing/);
    path = await writeTinyModel();
    await rm(join(path, 'config.json'));
    await reject(path, /config\.json is missing/);
    path = await writeTinyModel();
    await rm(join(path, 'modules.json'));
    await reject(path, /modules\.json is missing/);
    path = await writeTinyModel();
    await rm(join(path, '1_Pooling/config.json'));
    await reject(path, /1_Pooling\/config\.json is missing/);
    path = await writeTinyModel();
    await writeFile(join(path, '1_Pooling/config.json'), '{"pooling_mode_mean_tokens": false}');
    await reject(path, /1_Pooling\/config\.json enables no pooling mode/);
    path = await writeTinyModel();
    await writeFile(join(path, 'config.json'), '{ not json');
    await reject(path, /config\.json is not valid JSON/);
  });
});

describe('onnx embedder on a tiny model built by the test', () => {
  const embedders: OnnxDirEmbedder[] = [];
  const open = async (
    options: TinyModelOptions,
    config: { prefix?: string; maxBatchSize?: number; queryWorker?: boolean } = {},
  ) => {
    const embedder = new OnnxDirEmbedder({ path: await writeTinyModel(options), threads: 1, ...config });
    embedders.push(embedder);
    await embedder.init();
    return embedder;
  };
  afterAll(async () => {
    await Promise.all(embedders.map((e) => e.close()));
  });

  it('mean pooling equals the hand-computed vector, alone or batched with a longer text', async () => {
    const embedder = await open({});
    expect(embedder.dimension).toBe(HIDDEN);
    expect(embedder.info).toMatchObject({
      dimension: HIDDEN,
      maxLength: 12,
      inputs: ['input_ids', 'attention_mask', 'token_type_ids'],
      output: 'last_hidden_state',
      pooled: false,
      pooling: ['mean'],
      normalize: false,
    });
    const [short, long] = await embedder.embed([SHORT, LONG]);
    const [alone] = await embedder.embed([SHORT]);
    expectClose(short, expectedMean(SHORT_IDS));
    expectClose(alone, expectedMean(SHORT_IDS));
    expectClose(long, expectedMean(LONG_IDS));
    // Not unit length: this model has no Normalize module.
    expect(Math.hypot(...(short as Float32Array))).not.toBeCloseTo(1, 2);
  });

  it('CLS pooling takes the first position, whatever else is in the batch', async () => {
    const embedder = await open({ pooling: CLS_POOLING });
    const vectors = await embedder.embed([LONG, SHORT, '', 'a cat']);
    const clsVector = expectedCls(SHORT_IDS);
    for (const vector of vectors) expectClose(vector, clsVector);
  });

  it('normalises to unit length when modules.json ends in Normalize', async () => {
    const embedder = await open({ normalize: true }, { maxBatchSize: 2 });
    expect(embedder.info?.normalize).toBe(true);
    const texts = [LONG, SHORT, 'the cat sat on the mat', 'a small blue dog', SHORT];
    const vectors = await embedder.embed(texts);
    expect(vectors).toHaveLength(5);
    expectClose(vectors[1], unit(expectedMean(SHORT_IDS)));
    expectClose(vectors[0], unit(expectedMean(LONG_IDS)));
    expectClose(vectors[4], unit(expectedMean(SHORT_IDS)));
    for (const vector of vectors) {
      expect(Math.hypot(...vector)).toBeCloseTo(1, 5);
      expect(vector.buffer.byteLength).toBe(HIDDEN * 4);
    }
    expect(await embedder.embed([])).toEqual([]);
  });

  it('truncates at the max length: words beyond it do not change the vector', async () => {
    const embedder = await open({});
    const [long, longer] = await embedder.embed([LONG, `${LONG} the cat sat on the mat again and again`]);
    expectClose(long, expectedMean(LONG_IDS));
    expectClose(longer, expectedMean(LONG_IDS));
  });

  it('applies the prefix, feeds no token_type_ids when the model has none, and runs a self-pooling model', async () => {
    const prefixed = await open({ tokenTypeIds: false }, { prefix: 'query: ' });
    expect(prefixed.info?.inputs).toEqual(['input_ids', 'attention_mask']);
    const [vector] = await prefixed.embed(['hello']);
    const ids = [CLS, id('query'), id(':'), id('hello'), SEP];
    // Without token_type_ids the model adds no T[0] row.
    const expected = expectedMean(ids).map(
      (v, j) => v - T.slice(0, HIDDEN).reduce((s, t, i) => s + t * (W[i * HIDDEN + j] as number), 0),
    );
    expectClose(vector, expected);

    const selfPooling = await open({ pooledOutput: true, normalize: true });
    expect(selfPooling.info).toMatchObject({
      output: 'sentence_embedding',
      pooled: true,
      pooling: [],
      dimension: HIDDEN,
    });
    const [pooled] = await selfPooling.embed([SHORT]);
    expectClose(pooled, unit(expectedMean(SHORT_IDS)));
  });

  it('is registered as `onnx` with the path, threads, maxBatchSize, prefix and queryWorker options', async () => {
    expect(embedderRegistry.onnx.schema.parse({ path: '/m' })).toEqual({
      path: '/m',
      maxBatchSize: 32,
      prefix: '',
      queryWorker: true,
    });
    expect(() => createEmbedder('onnx', { path: '' })).toThrow(/invalid onnx embedder config/);
    const embedder = createEmbedder('onnx', { path: await writeTinyModel({}, 'registered'), threads: 1 });
    try {
      expect(embedder.model).toBe('onnx:registered');
      const [vector] = await embedder.embed([SHORT]);
      expectClose(vector, expectedMean(SHORT_IDS));
    } finally {
      await embedder.close();
    }
  });

  it('fails init with invalid_request naming the missing file, and refuses work after close()', async () => {
    const noTokenizer = await writeTinyModel();
    await rm(join(noTokenizer, 'tokenizer.json'));
    const broken = new OnnxDirEmbedder({ path: noTokenizer });
    await expect(broken.init()).rejects.toMatchObject({
      code: 'invalid_request',
      message: expect.stringContaining('tokenizer.json is missing'),
    });
    await expect(broken.embed(['x'])).rejects.toMatchObject({ code: 'invalid_request' });
    await broken.close();

    const noModel = await writeTinyModel();
    await rm(join(noModel, 'onnx/model.onnx'));
    await expect(new OnnxDirEmbedder({ path: noModel }).init()).rejects.toMatchObject({
      code: 'invalid_request',
      message: expect.stringContaining('model.onnx is missing'),
    });

    // A corrupt graph is found by the worker; the error keeps its code.
    const corrupt = await writeTinyModel();
    await writeFile(join(corrupt, 'onnx/model.onnx'), 'not a model');
    const bad = new OnnxDirEmbedder({ path: corrupt, threads: 1 });
    await expect(bad.init()).rejects.toMatchObject({
      code: 'invalid_request',
      message: expect.stringContaining('cannot be loaded'),
    });
    await bad.close();

    const closed = new OnnxDirEmbedder({ path: noTokenizer });
    await closed.close();
    await expect(closed.embed(['late'])).rejects.toMatchObject({ code: 'unavailable' });
  });

  it('with one worker, runs an urgent request (a query) before bulk requests waiting in it', async () => {
    const embedder = await open({ busyLayers: 8 }, { maxBatchSize: 64, queryWorker: false });
    const big = (tag: string) => Array.from({ length: 200 }, (_, i) => `the ${tag} dog ${i} sat`);
    const order: string[] = [];
    // Three bulk requests too big to merge (200 + 200 > 256), then one urgent text.
    const bulk = ['b0', 'b1', 'b2'].map((tag) => embedder.embed(big(tag)).then(() => order.push(tag)));
    const urgent = embedder.embed(['the quick question'], { urgent: true }).then(() => order.push('urgent'));
    await Promise.all([...bulk, urgent]);
    // At most the bulk request already running goes first; without the hint it would come last.
    expect(order.indexOf('urgent')).toBeLessThan(order.indexOf('b1'));
    expect(order.filter((tag) => tag !== 'urgent')).toEqual(['b0', 'b1', 'b2']);
  }, 60_000);

  it('gives queries a worker of their own: a query does not wait for the bulk batch running, which runs at lower priority', async () => {
    const niced = () => threadNices().filter((nice) => nice >= 10).length;
    const before = niced();
    const embedder = await open({ busyLayers: 8 }, { maxBatchSize: 256 });
    // The bulk worker (and any model threads it started) lowered its priority; queries did not.
    if (process.platform === 'linux') expect(niced()).toBeGreaterThan(before);
    const order: string[] = [];
    const bulk = embedder.embed(Array.from({ length: 256 }, (_, i) => `the bulk dog ${i} sat`)).then(() => {
      order.push('bulk');
    });
    await new Promise((resolve) => setTimeout(resolve, 20)); // the bulk batch is running
    const query = await embedder.embed(['the quick question'], { urgent: true });
    order.push('query');
    await bulk;
    // With one worker the query would wait for the whole batch of 256 (the test above).
    expect(order).toEqual(['query', 'bulk']);
    expect(query[0]).toHaveLength(HIDDEN);
  }, 60_000);

  it('embeds off the main thread (the model runs in a worker): the event loop stays idle', async () => {
    // Heavy enough that one in-thread batch of 64 blocks the loop for ~100 ms on a 2-core runner.
    const options: TinyModelOptions = { busyLayers: 48 };
    const texts = Array.from({ length: 512 }, (_, i) => `the big red dog ${i % 2 ? 'is playing' : 'sat'} on a mat`);
    const measure = watchEventLoop;

    // Control: the same pipeline on this thread blocks the loop for a whole batch at a time.
    const dir = await loadModelDir(await writeTinyModel(options));
    const pipeline = await createOnnxDirPipeline(dir, { intraOpNumThreads: 1, maxBatchSize: 64 });
    const inThread = await measure(() => runOnnxDirPipeline(pipeline, texts));
    await pipeline.session.release();

    const embedder = await open(options, { maxBatchSize: 64 });
    let vectors: Float32Array[] = [];
    const inWorker = await measure(async () => {
      vectors = await embedder.embed(texts);
    });
    console.info(
      `512 texts: in-thread ${inThread.ms.toFixed(0)} ms (loop utilisation ${inThread.utilization.toFixed(2)}, largest gap ${inThread.maxGap.toFixed(0)} ms), ` +
        `worker ${inWorker.ms.toFixed(0)} ms (utilisation ${inWorker.utilization.toFixed(2)}, largest gap ${inWorker.maxGap.toFixed(0)} ms)`,
    );
    expect(vectors).toHaveLength(512);
    expectClose(
      vectors[1],
      expectedMean([
        CLS,
        id('the'),
        id('big'),
        id('red'),
        id('dog'),
        id('is'),
        id('play'),
        id('##ing'),
        id('on'),
        id('a'),
        id('mat'),
        SEP,
      ]),
    );
    // The control keeps the loop busy running the model; with the worker the loop waits instead.
    expect(inThread.utilization).toBeGreaterThan(0.8);
    expect(inWorker.utilization).toBeLessThan(0.5);
  }, 60_000);
});

/** The nice value of each of this process's threads (Linux; elsewhere none). */
function threadNices(): number[] {
  if (process.platform !== 'linux') return [];
  return readdirSync('/proc/self/task').flatMap((tid) => {
    try {
      const stat = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8');
      // Fields after the command name: state is field 3, nice field 19.
      return [Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[16])];
    } catch {
      return []; // the thread ended meanwhile
    }
  });
}
