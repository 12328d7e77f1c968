/**
 * Arithmetic for `npm run bench:embed`: the Universal Sentence Encoder lite's FLOPs per sentence,
 * counted from the architecture `buildUseOnnxModel` reads, and this machine's fp32 matmul rate on
 * onnxruntime itself (one MatMul node), the "measured peak" the embedders are compared with.
 */

import { GraphBuilder } from '../src/embed/onnx/graph-builder.js';
import { createSession } from '../src/embed/onnx/session.js';
import type { UseArchitecture } from '../src/embed/use/use-onnx-graph.js';
import { prng } from './gen.js';

/** FLOPs for one text, by part; each multiply-add counts 2. */
export interface UseFlops {
  /** Dense layers, linear in tokens: q/k/v, attention output, residual projection, FFN. */
  projections: number;
  /** q·kᵀ and weights·v per head, quadratic in tokens. */
  attention: number;
  /** The per-text tanh dense after pooling. */
  head: number;
  total: number;
}

/**
 * Matmul FLOPs of one text of `tokens` tokens (as `tokenizer.encode` returns them, already clipped
 * to `maxLength`), unpadded. Only the graph's MatMuls count (the 1×1 Conv2D kernels are MatMuls
 * there); elementwise work — embedding gather, timing signal, layer norms, biases, softmax, ReLU,
 * masked mean, tanh, L2 norm — is left out.
 */
export function useFlops(architecture: Pick<UseArchitecture, 'layers' | 'outputDim'>, tokens: number): UseFlops {
  let projections = 0;
  let attention = 0;
  for (const l of architecture.layers) {
    const attnDim = l.heads * l.headDim;
    projections += tokens * l.inputDim * 3 * attnDim; // x · W_qkv
    projections += tokens * attnDim * l.modelDim; // context · W_o
    if (l.adjustResidual) projections += tokens * l.inputDim * l.modelDim; // x · W_residual
    projections += tokens * 2 * l.modelDim * l.ffnDim; // FFN up and down
    attention += 2 * l.heads * tokens * tokens * l.headDim; // q·kᵀ [L×d]·[d×L], then weights·v [L×L]·[L×d]
  }
  const last = architecture.layers.at(-1);
  const head = last ? last.modelDim * architecture.outputDim : 0;
  const flops = { projections: 2 * projections, attention: 2 * attention, head: 2 * head };
  return { ...flops, total: flops.projections + flops.attention + flops.head };
}

/**
 * The work padding adds (padded ÷ useful FLOPs − 1) over calls of `batch` consecutive texts when,
 * like the ONNX pipeline, each call's texts are sorted by length and run ≤ `maxBatch` at a time,
 * each padded to the longest in its run.
 */
export function paddingOverhead(
  tokens: readonly number[],
  batch: number,
  maxBatch: number,
  flops: (tokens: number) => number,
): number {
  let useful = 0;
  let padded = 0;
  for (let start = 0; start + batch <= tokens.length; start += batch) {
    const call = tokens.slice(start, start + batch).sort((a, b) => a - b);
    for (let i = 0; i < call.length; i += maxBatch) {
      const rows = call.slice(i, i + maxBatch);
      padded += rows.length * flops(Math.max(...rows));
      for (const t of rows) useful += flops(t);
    }
  }
  return padded / useful - 1;
}

export interface MatmulRate {
  /** [m×k]·[k×n] */
  shape: string;
  threads: number;
  msPerRun: number;
  gflops: number;
}

/**
 * fp32 GFLOP/s of one [m×k]·[k×n] MatMul on onnxruntime with `threads` intra-op threads, the right
 * operand a constant initializer like a model weight, spinning off as in the embedder. A few runs
 * warm up, then `windows` windows of ≥ `windowMs` are timed and the fastest counts: a peak, so
 * windows slowed by other processes on the machine are dropped.
 */
export async function matmulRate(
  m: number,
  k: number,
  n: number,
  threads: number,
  { windows = 5, windowMs = 300 } = {},
): Promise<MatmulRate> {
  const rand = prng(m * 31 + k * 7 + n);
  const random = (size: number) => Float32Array.from({ length: size }, () => rand() - 0.5);
  const g = new GraphBuilder('matmul');
  const a = g.input('a', 'float32', [m, k]);
  const b = g.initializer('b', 'float32', [k, n], random(k * n));
  g.output(g.op('MatMul', [a, b], {}, 'y'), 'float32', [m, n]);
  const session = await createSession(g.toBytes({ producerName: 'engram bench:embed' }), {
    intraOpNumThreads: threads,
    allowSpinning: false,
  });
  try {
    const feeds = { a: { type: 'float32' as const, data: random(m * k), dims: [m, k] } };
    for (let i = 0; i < 3; i++) await session.run(feeds);
    let best = Number.POSITIVE_INFINITY;
    for (let window = 0; window < windows; window++) {
      let runs = 0;
      const start = performance.now();
      let elapsed = 0;
      do {
        await session.run(feeds);
        runs++;
        elapsed = performance.now() - start;
      } while (elapsed < windowMs || runs < 3);
      best = Math.min(best, elapsed / runs);
    }
    return { shape: `[${m}×${k}]·[${k}×${n}]`, threads, msPerRun: best, gflops: (2 * m * k * n) / (best * 1e6) };
  } finally {
    await session.release();
  }
}
