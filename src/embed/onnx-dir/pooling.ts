/**
 * Sentence-transformers pooling as pure functions: turn a model's per-token hidden states into one
 * vector per text, honouring the attention mask so that padding never changes a text's vector.
 * Mirrors `sentence_transformers.models.Pooling` (same modes, same order when several are on).
 */

/** The pooling modes of `1_Pooling/config.json`, in the order sentence-transformers concatenates them. */
export const POOLING_MODES = ['cls', 'max', 'mean', 'mean_sqrt_len', 'weightedmean', 'lasttoken'] as const;
export type PoolingMode = (typeof POOLING_MODES)[number];

/** The config key that switches each mode on. */
const MODE_KEYS: Record<PoolingMode, string> = {
  cls: 'pooling_mode_cls_token',
  max: 'pooling_mode_max_tokens',
  mean: 'pooling_mode_mean_tokens',
  mean_sqrt_len: 'pooling_mode_mean_sqrt_len_tokens',
  weightedmean: 'pooling_mode_weightedmean_tokens',
  lasttoken: 'pooling_mode_lasttoken',
};

/** What `1_Pooling/config.json` says, reduced to what pooling needs. */
export interface PoolingConfig {
  /** Enabled modes in concatenation order; never empty. */
  modes: PoolingMode[];
  /** `word_embedding_dimension`, when the file gives it. */
  wordEmbeddingDimension: number | undefined;
}

/**
 * Reads a parsed `1_Pooling/config.json`. Also accepts the newer single-string form
 * (`"pooling_mode": "mean"`). Throws a plain Error naming the problem; callers add the file name.
 */
export function parsePoolingConfig(json: unknown): PoolingConfig {
  if (typeof json !== 'object' || json === null || Array.isArray(json)) throw new Error('must be a JSON object');
  const record = json as Record<string, unknown>;
  let modes: PoolingMode[];
  if (typeof record.pooling_mode === 'string') {
    const mode = normaliseModeName(record.pooling_mode);
    if (!mode) throw new Error(`unsupported pooling_mode ${JSON.stringify(record.pooling_mode)}`);
    modes = [mode];
  } else {
    modes = POOLING_MODES.filter((mode) => record[MODE_KEYS[mode]] === true);
  }
  if (modes.length === 0) {
    throw new Error(`enables no pooling mode (expected one of ${Object.values(MODE_KEYS).join(', ')} to be true)`);
  }
  const dim = record.word_embedding_dimension;
  const wordEmbeddingDimension = typeof dim === 'number' && Number.isInteger(dim) && dim > 0 ? dim : undefined;
  return { modes, wordEmbeddingDimension };
}

function normaliseModeName(name: string): PoolingMode | undefined {
  const key = name.toLowerCase().replace(/[-\s]/g, '_');
  const aliases: Record<string, PoolingMode> = {
    cls: 'cls',
    cls_token: 'cls',
    max: 'max',
    max_tokens: 'max',
    mean: 'mean',
    mean_tokens: 'mean',
    mean_sqrt_len: 'mean_sqrt_len',
    mean_sqrt_len_tokens: 'mean_sqrt_len',
    weightedmean: 'weightedmean',
    weightedmean_tokens: 'weightedmean',
    lasttoken: 'lasttoken',
    last_token: 'lasttoken',
  };
  return aliases[key];
}

/** The shape of a `last_hidden_state` tensor: [batch, seqLength, hidden], row-major. */
export interface HiddenShape {
  batch: number;
  seqLength: number;
  hidden: number;
}

/**
 * Pools one text (row `row` of the batch) into `out`, which must hold `hidden × modes.length`
 * values. `mask` is the batch's attention mask ([batch × seqLength], 1 = real token, 0 = padding).
 *
 * - `cls`: the first position (sentence-transformers takes position 0 regardless of the mask).
 * - `max`: element-wise max over real tokens (0 when the text has none).
 * - `mean`: sum over real tokens / their count (0 when none).
 * - `mean_sqrt_len`: sum over real tokens / √count.
 * - `weightedmean`: positions weighted 1, 2, 3, … (later tokens count more), over real tokens.
 * - `lasttoken`: the last real token (works for right or left padding).
 */
export function poolRow(
  hidden: Float32Array,
  shape: HiddenShape,
  mask: ArrayLike<number>,
  row: number,
  modes: readonly PoolingMode[],
  out: Float32Array,
): Float32Array {
  const { batch, seqLength, hidden: h } = shape;
  if (hidden.length !== batch * seqLength * h) {
    throw new Error(`hidden states hold ${hidden.length} values, not [${batch}, ${seqLength}, ${h}]`);
  }
  if (mask.length !== batch * seqLength) throw new Error(`attention mask holds ${mask.length} values`);
  if (row < 0 || row >= batch) throw new Error(`row ${row} is outside the batch of ${batch}`);
  if (out.length !== h * modes.length) throw new Error(`output holds ${out.length} values, not ${h * modes.length}`);
  const base = row * seqLength * h;
  const maskBase = row * seqLength;
  modes.forEach((mode, m) => {
    const target = out.subarray(m * h, (m + 1) * h);
    switch (mode) {
      case 'cls':
        target.set(hidden.subarray(base, base + h));
        return;
      case 'lasttoken': {
        let last = -1;
        for (let t = seqLength - 1; t >= 0; t--) {
          if (mask[maskBase + t]) {
            last = t;
            break;
          }
        }
        // sentence-transformers falls back to the final position when the mask is all zeros.
        const t = last < 0 ? seqLength - 1 : last;
        if (t < 0) target.fill(0);
        else target.set(hidden.subarray(base + t * h, base + (t + 1) * h));
        return;
      }
      case 'max': {
        let any = false;
        target.fill(Number.NEGATIVE_INFINITY);
        for (let t = 0; t < seqLength; t++) {
          if (!mask[maskBase + t]) continue;
          any = true;
          const offset = base + t * h;
          for (let i = 0; i < h; i++) {
            const v = hidden[offset + i] as number;
            if (v > (target[i] as number)) target[i] = v;
          }
        }
        if (!any) target.fill(0);
        return;
      }
      default: {
        target.fill(0);
        let weightSum = 0;
        for (let t = 0; t < seqLength; t++) {
          if (!mask[maskBase + t]) continue;
          const weight = mode === 'weightedmean' ? t + 1 : 1;
          weightSum += weight;
          const offset = base + t * h;
          for (let i = 0; i < h; i++) target[i] = (target[i] as number) + weight * (hidden[offset + i] as number);
        }
        if (weightSum === 0) return;
        const divisor = mode === 'mean_sqrt_len' ? Math.sqrt(weightSum) : weightSum;
        for (let i = 0; i < h; i++) target[i] = (target[i] as number) / divisor;
        return;
      }
    }
  });
  return out;
}

/** Pools every row of a batch; one new vector (`hidden × modes.length` values) per row. */
export function poolBatch(
  hidden: Float32Array,
  shape: HiddenShape,
  mask: ArrayLike<number>,
  modes: readonly PoolingMode[],
): Float32Array[] {
  return Array.from({ length: shape.batch }, (_, row) =>
    poolRow(hidden, shape, mask, row, modes, new Float32Array(shape.hidden * modes.length)),
  );
}
