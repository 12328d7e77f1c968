/**
 * `npm run bench:embed`: the default model (Universal Sentence Encoder lite) on its two runtimes,
 * TF.js/WASM (piscina workers) and native onnxruntime (one worker thread), measured through the
 * public `Embedder` API — init(), embed(texts), close() — so worker messaging and tokenising count.
 * Markdown report on stdout, progress on stderr.
 *
 *   1. texts/s at batch sizes 1, 8, 32, 128 for short (~20 words) and long (150–200 words) texts
 *   2. matmul FLOPs per sentence, from the architecture read out of the model and real token counts
 *   3. achieved GFLOP/s per cell, and its share of 4. a measured peak: one MatMul on onnxruntime
 *
 * TF.js runs in its default configuration (1 worker: its WASM backend is single-threaded under
 * Node) and with one worker per core kept busy by as many concurrent callers; onnxruntime in its
 * default (intra-op threads = cores) with one caller, and with 4 concurrent callers (its worker
 * merges requests that queued up during an inference into one run). The ratios compare the
 * one-caller native figure. Per cell: one warm-up call per caller, then
 * 3 rounds, the runtimes taking turns, of at least BENCH_EMBED_SECONDS / 3 (default 3 s in all) and
 * at least one call each; the best round counts, as the machine may be busy with other work.
 */
import { execFileSync } from 'node:child_process';
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import type { Embedder } from '../src/embed/embedder.js';
import { createUseEmbedder, useConfigSchema } from '../src/embed/use/use-embedder.js';
import { createUseOnnxEmbedder, createUseOnnxPipeline } from '../src/embed/use/use-onnx-embedder.js';
import { type MatmulRate, matmulRate, paddingOverhead, useFlops } from './embed-flops.js';
import { memoryTexts, prng } from './gen.js';
import { log, machineTable, markdownTable } from './report.js';

const SECONDS = Number(process.env.BENCH_EMBED_SECONDS ?? 3);
const ROUNDS = 3;
const BATCHES = [1, 8, 32, 128];
const CORES = availableParallelism();

interface TextSet {
  name: string;
  texts: string[];
  tokens: number[];
  /** Milliseconds to tokenise one text on one thread (each runtime's worker does it before inference). */
  tokenizeMs: number;
  /** Mean useful matmul FLOPs per text. */
  flops: number;
}

interface Runtime {
  key: string;
  /** Column name. */
  short: string;
  label: string;
  create(): Embedder;
  callers: number;
}

const RUNTIMES: Runtime[] = [
  { key: 'tfjs', short: 'TF.js 1w', label: 'TF.js, 1 worker (default)', create: () => createUseEmbedder(), callers: 1 },
  ...(CORES > 1
    ? [
        {
          key: 'tfjsN',
          short: `TF.js ${CORES}w`,
          label: `TF.js, ${CORES} workers × ${CORES} callers`,
          create: () => createUseEmbedder({ threads: CORES }),
          callers: CORES,
        },
      ]
    : []),
  {
    key: 'onnx',
    short: 'native',
    label: `onnxruntime, ${CORES} threads (default)`,
    create: () => createUseOnnxEmbedder(),
    callers: 1,
  },
  // Concurrent callers, as a server has: the worker merges requests that queue up during a run.
  {
    key: 'onnx4',
    short: 'native 4c',
    label: 'onnxruntime, 4 callers',
    create: () => createUseOnnxEmbedder(),
    callers: 4,
  },
];

/** `count` distinct texts of minWords…maxWords words: consecutive memory-like sentences, cut to length. */
function makeTexts(count: number, minWords: number, maxWords: number, seed: number): string[] {
  const rand = prng(seed);
  const words = memoryTexts(Math.ceil((count * (maxWords + 20)) / 6), seed + 1).flatMap((s) => [...s.split(' '), '']);
  let next = 0;
  return Array.from({ length: count }, () => {
    const target = minWords + Math.floor(rand() * (maxWords - minWords + 1));
    const text: string[] = [];
    for (; text.length < target; next++) {
      const word = words[next];
      if (word === undefined) throw new Error('ran out of generated sentences');
      if (word !== '') text.push(word);
    }
    while (words[next] !== '' && next < words.length) next++; // the next text starts on a new sentence
    return text.join(' ');
  });
}

/** Endless texts from a set, each call continuing where the last stopped. */
function cycle(pool: readonly string[]): (count: number) => string[] {
  let cursor = 0;
  return (count) => Array.from({ length: count }, () => pool[cursor++ % pool.length] as string);
}

/** `callers` loops calling embed(batch) back to back; texts/s once every loop has run ≥ `seconds`. */
async function round(
  embedder: Embedder,
  next: (count: number) => string[],
  batch: number,
  callers: number,
  seconds: number,
): Promise<number> {
  let done = 0;
  const start = performance.now();
  const loop = async () => {
    do {
      const vectors = await embedder.embed(next(batch));
      if (vectors.length !== batch || vectors[0]?.length !== embedder.dimension) throw new Error('bad embeddings');
      done += batch;
    } while (performance.now() - start < seconds * 1000);
  };
  await Promise.all(Array.from({ length: callers }, loop));
  return done / ((performance.now() - start) / 1000);
}

/**
 * Texts/s per `runtime/set/batch`. All embedders are loaded at once (idle ones use no CPU) and the
 * runtimes take turns, round by round, so a burst of load elsewhere on the machine does not land
 * on one runtime's whole cell; each cell keeps its best round.
 */
async function measure(sets: readonly TextSet[]): Promise<Map<string, number>> {
  const running: { runtime: Runtime; embedder: Embedder }[] = [];
  const rates = new Map<string, number>();
  try {
    for (const runtime of RUNTIMES) {
      log(`starting ${runtime.label} …`);
      const embedder = runtime.create();
      running.push({ runtime, embedder });
      await embedder.init();
    }
    for (const set of sets) {
      const cells = running.map((r) => ({ ...r, next: cycle(set.texts) }));
      for (const batch of BATCHES) {
        for (const { runtime, embedder, next } of cells) {
          const calls = Array.from({ length: runtime.callers }, () => embedder.embed(next(batch)));
          await Promise.all(calls); // warm-up
        }
        for (let r = 1; r <= ROUNDS; r++) {
          for (const { runtime, embedder, next } of cells) {
            const got = await round(embedder, next, batch, runtime.callers, SECONDS / ROUNDS);
            const key = `${runtime.key}/${set.name}/${batch}`;
            rates.set(key, Math.max(rates.get(key) ?? 0, got));
            log(`  ${set.name} batch ${batch} round ${r}: ${runtime.short} ${got.toFixed(1)} texts/s`);
          }
        }
      }
    }
  } finally {
    for (const { embedder } of running) await embedder.close();
  }
  return rates;
}

function commit(): string {
  const cwd = fileURLToPath(new URL('../..', import.meta.url));
  try {
    const head = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd, encoding: 'utf8' }).trim();
    const dirty = execFileSync('git', ['status', '--porcelain'], { cwd, encoding: 'utf8' }).trim() !== '';
    return dirty ? `${head} + uncommitted changes` : head;
  } catch {
    return 'unknown';
  }
}

const mean = (values: readonly number[]) => values.reduce((a, b) => a + b, 0) / values.length;

async function main(): Promise<void> {
  const began = performance.now();
  log(`bench:embed: ${CORES} cores, ≥ ${SECONDS} s per cell; building the model to count tokens …`);
  const pipeline = await createUseOnnxPipeline({ intraOpNumThreads: 1 });
  await pipeline.session.release();
  const { architecture: arch, tokenizer, maxBatchSize: onnxMaxBatch } = pipeline;
  const flops = (tokens: number) => useFlops(arch, tokens).total;
  const sets: TextSet[] = [
    ['short', makeTexts(4096, 18, 22, 1)] as const,
    ['long', makeTexts(512, 150, 200, 2)] as const,
  ].map(([name, texts]) => {
    const start = performance.now();
    const tokens = texts.map((t) => tokenizer.encode(t).length);
    const tokenizeMs = (performance.now() - start) / texts.length;
    return { name, texts, tokens, tokenizeMs, flops: mean(tokens.map(flops)) };
  });

  log('matmul peak on onnxruntime …');
  const shapes: [number, number, number, number][] = [
    [32, 512, 1536, CORES],
    [256, 512, 1536, CORES],
    [256, 1536, 512, CORES],
    [1024, 1024, 1024, CORES],
    [1024, 1024, 1024, 1],
  ];
  const matmuls: MatmulRate[] = [];
  for (const [m, k, n, threads] of shapes) matmuls.push(await matmulRate(m, k, n, threads));
  const peak = Math.max(...matmuls.filter((r) => r.threads === CORES).map((r) => r.gflops));

  const rates = await measure(sets);

  const rate = (key: string, set: string, batch: number) => rates.get(`${key}/${set}/${batch}`) ?? Number.NaN;
  const cells = sets.flatMap((s) => BATCHES.map((batch) => [s.name, batch, s.flops] as const));
  const ratio = (key: string, set: string, batch: number) => rate('onnx', set, batch) / rate(key, set, batch);
  const tfjs = RUNTIMES.filter((r) => r.key.startsWith('tfjs'));
  const worst = (key: string, batches: number[]) => Math.min(...batches.map((b) => ratio(key, 'short', b)));
  const verdict = (value: number, target: number) =>
    `${value.toFixed(1)}× ${value >= target ? '✓' : '✗'} (≥ ${target}×)`;
  const minutes = (performance.now() - began) / 60_000;

  const out = [
    '# USE lite embedding throughput: TF.js vs native onnxruntime',
    '',
    machineTable(),
    '',
    markdownTable(
      ['settings', ''],
      [
        ['commit', commit()],
        ['model', `USE lite: ${arch.layers.length} layers, ≤ ${arch.maxLength} tokens per text (longer are clipped)`],
        ['onnxruntime', `intra-op threads ${CORES}, ≤ ${onnxMaxBatch} texts per inference (sorted by length)`],
        ['TF.js', `WASM, ≤ ${useConfigSchema.parse({}).maxBatchSize} texts per inference per worker`],
        [
          'timing',
          `per cell: a warm-up call per caller, then ${ROUNDS} rounds of ≥ ${SECONDS / ROUNDS} s taking turns with the ` +
            'other runtimes; the best round counts. Texts cycle through each set',
        ],
        ['total time', `${minutes.toFixed(1)} min`],
      ],
    ),
    '',
    '## FLOPs per sentence',
    '',
    markdownTable(
      ['texts', 'count', 'words', 'tokens', 'at limit', 'tokenise ms', 'MFLOP', 'attention', 'ONNX padding b8/32/128'],
      sets.map((s) => [
        s.name,
        s.texts.length,
        mean(s.texts.map((t) => t.split(' ').length)),
        mean(s.tokens),
        `${((100 * s.tokens.filter((t) => t >= arch.maxLength).length) / s.tokens.length).toFixed(0)}%`,
        s.tokenizeMs.toFixed(2),
        s.flops / 1e6,
        `${((100 * mean(s.tokens.map((t) => useFlops(arch, t).attention))) / s.flops).toFixed(1)}%`,
        [8, 32, 128]
          .map((b) => `+${(100 * paddingOverhead(s.tokens, b, onnxMaxBatch, flops)).toFixed(0)}%`)
          .join(' / '),
      ]),
    ),
    '',
    '_Means per text. MFLOP: matmuls only (q/k/v, q·kᵀ, weights·v, output, residual projection, FFN, pooling ' +
      'head), 2 FLOPs per multiply-add; elementwise ops (embedding gather, layer norm, softmax, biases, ReLU, ' +
      'pooling, tanh, L2) are ignored. Tokens as the tokenizer returns them (no special tokens), clipped to the ' +
      `model's ${arch.maxLength}; "at limit": texts clipped (or exactly at it). Tokenising is timed here on one ` +
      'thread; both runtimes do it in their worker before inference. FLOPs are useful (unpadded) ones; the last ' +
      'column is the extra work the ONNX pipeline pads on top for a call of that many texts (it sorts each ' +
      `call's texts by length, then runs ≤ ${onnxMaxBatch} at a time)._`,
    '',
    '## Matmul peak (onnxruntime, fp32, one MatMul node, constant right operand, best of 5 windows of ≥ 0.3 s)',
    '',
    markdownTable(
      ['shape', 'threads', 'ms/run', 'GFLOP/s'],
      matmuls.map((r) => [r.shape, r.threads, r.msPerRun.toFixed(2), r.gflops]),
    ),
    '',
    `Measured peak (best with ${CORES} threads): **${peak.toFixed(1)} GFLOP/s**.`,
    '',
    '## Sentences per second (through `Embedder.embed`)',
    '',
    markdownTable(
      ['texts', 'batch', ...RUNTIMES.map((r) => r.label), ...tfjs.map((r) => `native ÷ ${r.short}`)],
      cells.map(([set, b]) => [
        set,
        b,
        ...RUNTIMES.map((r) => rate(r.key, set, b)),
        ...tfjs.map((r) => `${ratio(r.key, set, b).toFixed(1)}×`),
      ]),
    ),
    '',
    '## Achieved GFLOP/s (sentences/s × useful FLOPs per sentence) and share of the measured peak',
    '',
    markdownTable(
      ['texts', 'batch', ...RUNTIMES.flatMap((r) => [`${r.short} GFLOP/s`, `${r.short} % peak`])],
      cells.map(([set, b, perText]) => [
        set,
        b,
        ...RUNTIMES.flatMap((r) => {
          const gflops = (rate(r.key, set, b) * perText) / 1e9;
          return [gflops, `${((100 * gflops) / peak).toFixed(1)}%`];
        }),
      ]),
    ),
    '',
    '## Target: native ≥ 5× TF.js batched (8–128), ≥ 3× at batch 1, short texts',
    '',
    markdownTable(
      ['against', 'batched (worst of 8, 32, 128)', 'batch 1'],
      tfjs.map((r) => [r.label, verdict(worst(r.key, [8, 32, 128]), 5), verdict(worst(r.key, [1]), 3)]),
    ),
    '',
  ];
  process.stdout.write(`${out.join('\n')}\n`);
}

main().catch((error: unknown) => {
  log(`bench:embed failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
  process.exitCode = 1;
});
