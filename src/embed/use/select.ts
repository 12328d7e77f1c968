import { z } from 'zod';
import type { Embedder } from '../embedder.js';
import { FallbackEmbedder } from '../fallback.js';
import { createUseEmbedder } from './use-embedder.js';
import { createUseOnnxEmbedder } from './use-onnx-embedder.js';

/**
 * The default model, on one of two runtimes with equivalent output (cosine ≥ 0.999, tested):
 * `onnx` (native onnxruntime, several times faster) or `tfjs` (TF.js/WASM). `onnx` falls back to
 * `tfjs` when the native runtime cannot start on this machine.
 */
export const useSelectConfigSchema = z.object({
  backend: z.enum(['onnx', 'tfjs']).default('onnx'),
  /** Threads: onnxruntime intra-op threads (default all cores) or TF.js worker threads (default 1). */
  threads: z.number().int().min(1).max(64).optional(),
  /** `onnx` only: a second model worker for queries (see use-onnx-embedder.ts). */
  queryWorker: z.boolean().default(true),
});

export function createUse(config: z.output<typeof useSelectConfigSchema>): Embedder {
  const threads = config.threads;
  const tfjs = () => createUseEmbedder(threads === undefined ? {} : { threads });
  if (config.backend === 'tfjs') return tfjs();
  const onnx = createUseOnnxEmbedder({ queryWorker: config.queryWorker, ...(threads !== undefined && { threads }) });
  return new FallbackEmbedder(onnx, tfjs(), (error) => {
    const message = (error as Error).message;
    // onnxruntime-node is an optional dependency: npm drops it when its install script fails.
    const hint = message.includes("'onnxruntime-node'")
      ? ' (onnxruntime-node is not installed: reinstall Engram with ONNXRUNTIME_NODE_INSTALL=skip, see the README)'
      : '';
    process.emitWarning(`onnxruntime could not start (${message}); using the TF.js runtime${hint}`);
  });
}
