export type { ModelDir, TextTokenizer, TokenizedText } from './model-dir.js';
export { loadModelDir, loadTokenizer, modelDirName } from './model-dir.js';
export type {
  OnnxDirConfig,
  OnnxDirConfigInput,
  OnnxDirModelInfo,
  OnnxDirPipeline,
  OnnxDirPipelineOptions,
} from './onnx-dir-embedder.js';
export {
  createOnnxDirEmbedder,
  createOnnxDirPipeline,
  OnnxDirEmbedder,
  onnxDirConfigSchema,
  runOnnxDirPipeline,
} from './onnx-dir-embedder.js';
export type { HiddenShape, PoolingConfig, PoolingMode } from './pooling.js';
export { POOLING_MODES, parsePoolingConfig, poolBatch, poolRow } from './pooling.js';
