/**
 * Reads and validates a local sentence-transformers model directory in the standard layout:
 *
 * ```
 * modules.json                 Transformer → Pooling → (Normalize)
 * config.json                  hidden_size, max_position_embeddings, model_type
 * tokenizer.json               (+ tokenizer_config.json, special_tokens_map.json if present)
 * sentence_bert_config.json    optional: max_seq_length, do_lower_case
 * onnx/model.onnx              or model.onnx
 * 1_Pooling/config.json        pooling_mode_* flags
 * ```
 *
 * Everything here is cheap (small JSON files, `stat`s) except {@link loadTokenizer}, which parses
 * `tokenizer.json` (megabytes for multilingual vocabularies) and so runs in the embedder's worker.
 * Problems with the directory are `invalid_request` errors naming the file.
 */
import { readFile, stat } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import type { Tokenizer } from '@huggingface/tokenizers';
import { EngramError } from '../../core/errors.js';
import { type PoolingConfig, parsePoolingConfig } from './pooling.js';

/** Everything the embedder needs to know about a model directory; plain data (sent to the worker). */
export interface ModelDir {
  /** The directory as configured (for messages). */
  readonly path: string;
  /** Absolute path of the ONNX file. */
  readonly modelFile: string;
  /** Absolute path of `tokenizer.json`. */
  readonly tokenizerFile: string;
  /** `special_tokens_map.json` overlaid with `tokenizer_config.json` (either may be absent). */
  readonly tokenizerConfig: Record<string, unknown>;
  /** Width of the model's token states (config.json `hidden_size`). */
  readonly hiddenSize: number;
  /** Most tokens per text, special tokens included; longer texts are truncated. */
  readonly maxLength: number;
  /** Lower-case texts before tokenising (sentence_bert_config.json `do_lower_case`). */
  readonly lowerCase: boolean;
  /** The Pooling module's config; undefined when modules.json has none. */
  readonly pooling: PoolingConfig | undefined;
  /** Whether modules.json ends in a Normalize module (→ unit-length vectors). */
  readonly normalize: boolean;
  /**
   * Modules after the transformer that this embedder cannot apply itself (Dense, LayerNorm, …),
   * as `type (path)`. Allowed only when the ONNX graph already outputs `sentence_embedding`.
   */
  readonly unsupportedModules: readonly string[];
  /** The sentence vector length the modules imply, when known (hidden × pooling modes, or a Dense's out_features). */
  readonly expectedDimension: number | undefined;
}

const MODULE_TYPES = {
  transformer: /(^|\.)(Transformer|BERT|RoBERTa|DistilBERT|XLMRoBERTa|MPNet|ALBERT|T5|CamemBERT)$/,
  pooling: /(^|\.)Pooling$/,
  normalize: /(^|\.)Normalize$/,
} as const;

/** Model families whose position table holds 2 extra rows (padding_idx offset): usable length is 2 less. */
const POSITION_OFFSET_TYPES = new Set(['roberta', 'xlm-roberta', 'camembert', 'mpnet', 'longformer', 'data2vec-text']);

/** tokenizer_config.json's "no limit" sentinel is 1e30; anything this large means "not set". */
const UNSET_LENGTH = 1_000_000;

/**
 * The name recorded in the model id: the directory's basename, except for a Hugging Face cache
 * snapshot (`models--org--name/snapshots/<commit>`), which is named `org/name`.
 */
export function modelDirName(path: string): string {
  const absolute = resolve(path);
  const base = basename(absolute);
  const snapshots = dirname(absolute);
  if (/^[0-9a-f]{40}$/.test(base) && basename(snapshots) === 'snapshots') {
    const repo = /^models--(.+)$/.exec(basename(dirname(snapshots)));
    if (repo?.[1]) return repo[1].split('--').join('/');
  }
  return base;
}

/** Reads and checks the directory; throws `invalid_request` naming the missing or broken file. */
export async function loadModelDir(path: string): Promise<ModelDir> {
  const root = resolve(path);
  const where = (file: string) => `ONNX model directory ${path}: ${file}`;
  const info = await stat(root).catch(() => undefined);
  if (!info) throw invalid(`ONNX model directory ${path} does not exist`);
  if (!info.isDirectory()) throw invalid(`ONNX model directory ${path} is not a directory`);

  const modules = parseModules(await readJson(root, 'modules.json', where), where('modules.json'));
  const transformer = modules.find((m) => MODULE_TYPES.transformer.test(m.type));
  const base = transformer?.path ? join(root, transformer.path) : root;
  const rel = (file: string) => (transformer?.path ? join(transformer.path, file) : file);

  const config = asRecord(await readJson(base, 'config.json', where, rel), where(rel('config.json')));
  const tokenizerFile = join(base, 'tokenizer.json');
  if (!(await isFile(tokenizerFile))) {
    throw invalid(`${where(rel('tokenizer.json'))} is missing (a fast-tokenizer file is required)`);
  }
  const tokenizerConfig = asRecord(
    (await readJson(base, 'tokenizer_config.json', where, rel, false)) ?? {},
    where(rel('tokenizer_config.json')),
  );
  const specialTokens = asRecord(
    (await readJson(base, 'special_tokens_map.json', where, rel, false)) ?? {},
    where(rel('special_tokens_map.json')),
  );
  const stConfig = asRecord(
    (await readJson(base, 'sentence_bert_config.json', where, rel, false)) ?? {},
    where(rel('sentence_bert_config.json')),
  );

  const candidates = ['onnx/model.onnx', 'model.onnx'].map(rel);
  let modelFile: string | undefined;
  for (const candidate of candidates) {
    if (await isFile(join(root, candidate))) {
      modelFile = join(root, candidate);
      break;
    }
  }
  if (!modelFile) throw invalid(`${where(candidates.join(' or '))} is missing (no ONNX model file)`);

  let pooling: PoolingConfig | undefined;
  let normalize = false;
  let expectedDimension: number | undefined;
  const unsupportedModules: string[] = [];
  const poolingModule = modules.find((m) => MODULE_TYPES.pooling.test(m.type));
  if (poolingModule) {
    const file = join(poolingModule.path, 'config.json');
    try {
      pooling = parsePoolingConfig(await readJson(root, file, where));
    } catch (error) {
      if (error instanceof EngramError) throw error;
      throw invalid(`${where(file)} ${messageOf(error)}`);
    }
  }

  const hiddenSize = firstPositiveInt(config.hidden_size, config.d_model, config.dim, config.n_embd);
  if (hiddenSize === undefined) {
    throw invalid(`${where(rel('config.json'))} gives no hidden_size (nor d_model / dim / n_embd)`);
  }
  if (pooling?.wordEmbeddingDimension !== undefined && pooling.wordEmbeddingDimension !== hiddenSize) {
    throw invalid(
      `${where(join(poolingModule?.path ?? '', 'config.json'))} word_embedding_dimension ${pooling.wordEmbeddingDimension} ` +
        `does not match config.json hidden_size ${hiddenSize}`,
    );
  }
  if (pooling) expectedDimension = hiddenSize * pooling.modes.length;

  const after = modules.slice(transformer ? modules.indexOf(transformer) + 1 : 0);
  for (const [i, module] of after.entries()) {
    if (module === poolingModule) continue;
    // A trailing Normalize means unit vectors out; one anywhere else is just another module.
    if (MODULE_TYPES.normalize.test(module.type) && i === after.length - 1) {
      normalize = true;
      continue;
    }
    unsupportedModules.push(`${module.type} (${module.path || '.'})`);
    if (MODULE_TYPES.normalize.test(module.type)) continue;
    if (/(^|\.)Dense$/.test(module.type)) {
      const dense = asRecord(
        (await readJson(root, join(module.path, 'config.json'), where, undefined, false)) ?? {},
        where(join(module.path, 'config.json')),
      );
      expectedDimension = firstPositiveInt(dense.out_features);
    } else {
      expectedDimension = undefined;
    }
  }

  const maxLength = resolveMaxLength(stConfig, tokenizerConfig, config);
  if (maxLength === undefined) {
    throw invalid(
      `ONNX model directory ${path}: cannot tell the maximum sequence length; set max_seq_length in sentence_bert_config.json, ` +
        'model_max_length in tokenizer_config.json or max_position_embeddings in config.json',
    );
  }

  return {
    path,
    modelFile,
    tokenizerFile,
    tokenizerConfig: { ...flattenTokens(specialTokens), ...flattenTokens(tokenizerConfig) },
    hiddenSize,
    maxLength,
    lowerCase: stConfig.do_lower_case === true,
    pooling,
    normalize,
    unsupportedModules,
    expectedDimension,
  };
}

/**
 * sentence_bert_config.json's max_seq_length wins (it is what sentence-transformers uses), else
 * tokenizer_config.json's model_max_length; either is capped by the model's position table.
 */
function resolveMaxLength(
  stConfig: Record<string, unknown>,
  tokenizerConfig: Record<string, unknown>,
  config: Record<string, unknown>,
): number | undefined {
  const set = (n: number | undefined) => (n !== undefined && n < UNSET_LENGTH ? n : undefined);
  const declared =
    set(firstPositiveInt(stConfig.max_seq_length)) ?? set(firstPositiveInt(tokenizerConfig.model_max_length));
  let positions = set(firstPositiveInt(config.max_position_embeddings, config.n_positions));
  if (
    positions !== undefined &&
    typeof config.model_type === 'string' &&
    POSITION_OFFSET_TYPES.has(config.model_type)
  ) {
    positions -= 2;
  }
  if (declared === undefined) return positions;
  return positions === undefined ? declared : Math.min(declared, positions);
}

interface ModuleEntry {
  type: string;
  path: string;
}

function parseModules(json: unknown, where: string): ModuleEntry[] {
  if (!Array.isArray(json) || json.length === 0) throw invalid(`${where} must be a non-empty JSON array of modules`);
  const entries = json.map((entry, i) => {
    const record = typeof entry === 'object' && entry !== null ? (entry as Record<string, unknown>) : {};
    if (typeof record.type !== 'string') throw invalid(`${where} entry ${i} has no "type"`);
    const path = typeof record.path === 'string' ? record.path : '';
    if (path.split(/[\\/]/).includes('..')) throw invalid(`${where} entry ${i} has a path outside the directory`);
    return { type: record.type, path, idx: typeof record.idx === 'number' ? record.idx : i };
  });
  return entries.sort((a, b) => a.idx - b.idx).map(({ type, path }) => ({ type, path }));
}

async function readJson(
  dir: string,
  file: string,
  where: (file: string) => string,
  rel: (file: string) => string = (f) => f,
  required = true,
): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(join(dir, file), 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT' && !required) return undefined;
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') throw invalid(`${where(rel(file))} is missing`);
    throw invalid(`${where(rel(file))} cannot be read: ${messageOf(error)}`);
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (error) {
    throw invalid(`${where(rel(file))} is not valid JSON: ${messageOf(error)}`);
  }
}

async function isFile(path: string): Promise<boolean> {
  return (await stat(path).catch(() => undefined))?.isFile() ?? false;
}

function asRecord(json: unknown, where: string): Record<string, unknown> {
  if (typeof json !== 'object' || json === null || Array.isArray(json)) throw invalid(`${where} must be a JSON object`);
  return json as Record<string, unknown>;
}

function firstPositiveInt(...values: unknown[]): number | undefined {
  for (const value of values) if (typeof value === 'number' && Number.isInteger(value) && value > 0) return value;
  return undefined;
}

/** special_tokens_map.json values may be `{ "content": "[PAD]", … }`; the tokenizer wants strings. */
function flattenTokens(map: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(map)) {
    if (typeof value === 'object' && value !== null && !Array.isArray(value) && 'content' in value) {
      out[key] = (value as { content: unknown }).content;
    } else if (Array.isArray(value)) {
      out[key] = value.map((v) => (typeof v === 'object' && v !== null && 'content' in v ? v.content : v));
    } else {
      out[key] = value;
    }
  }
  return out;
}

function invalid(message: string): EngramError {
  return new EngramError('invalid_request', message);
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

// ---------------------------------------------------------------------------------------------
// Tokenising

/** One tokenised text: ids with the model's special tokens, and their segment ids. */
export interface TokenizedText {
  ids: number[];
  typeIds: number[];
}

export interface TextTokenizer {
  /** Most ids per text (special tokens included). */
  readonly maxLength: number;
  /** Id for padding positions (masked out, so any valid id works; the model's own when known). */
  readonly padId: number;
  /** Tokenises `text` with special tokens, truncating its content so the whole fits `maxLength`. */
  encode(text: string): TokenizedText;
}

/**
 * Loads `tokenizer.json` with @huggingface/tokenizers. That library does not truncate, so this
 * does, the way Hugging Face's `truncation=True` does for a single text: the content tokens are
 * cut, the template's special tokens ([CLS] … [SEP], <s> … </s>) are kept.
 */
export async function loadTokenizer(dir: ModelDir, maxLength = dir.maxLength): Promise<TextTokenizer> {
  const file = dir.tokenizerFile;
  let json: unknown;
  try {
    json = JSON.parse(await readFile(file, 'utf8'));
  } catch (error) {
    throw invalid(`ONNX model directory ${dir.path}: tokenizer.json cannot be read: ${messageOf(error)}`);
  }
  // Loaded on demand: the main thread only validates the directory; the worker tokenises.
  const { Tokenizer: TokenizerClass } = await import('@huggingface/tokenizers');
  let tokenizer: Tokenizer;
  try {
    tokenizer = new TokenizerClass(json as object, dir.tokenizerConfig);
  } catch (error) {
    throw invalid(`ONNX model directory ${dir.path}: tokenizer.json is not supported: ${messageOf(error)}`);
  }
  return createTextTokenizer(tokenizer, json as Record<string, unknown>, dir, maxLength);
}

function createTextTokenizer(
  tokenizer: Tokenizer,
  json: Record<string, unknown>,
  dir: ModelDir,
  maxLength: number,
): TextTokenizer {
  // Where the template puts the content: encode a probe with and without special tokens.
  const probe = 'hello world';
  const content = tokenizer.encode(probe, { add_special_tokens: false }).ids;
  const full = tokenizer.encode(probe, { add_special_tokens: true }).ids;
  // If the content is not found intact, fall back to keeping the first maxLength ids.
  const at = indexOfRun(full, content);
  const prefix = Math.max(at, 0);
  const suffix = at < 0 ? 0 : full.length - at - content.length;
  const specials = prefix + suffix;
  if (specials >= maxLength) {
    throw invalid(
      `ONNX model directory ${dir.path}: max length ${maxLength} leaves no room beside ${specials} special tokens`,
    );
  }
  const padId = resolvePadId(tokenizer, json, dir.tokenizerConfig);
  const lowerCase = dir.lowerCase;

  return {
    maxLength,
    padId,
    encode(text: string): TokenizedText {
      const input = lowerCase ? text.toLowerCase() : text;
      const encoding = tokenizer.encode(input, { add_special_tokens: true, return_token_type_ids: true });
      const ids = encoding.ids;
      const typeIds = encoding.token_type_ids ?? new Array<number>(ids.length).fill(0);
      if (ids.length <= maxLength) return { ids, typeIds };
      const keep = maxLength - prefix - suffix;
      const cut = <T>(list: T[]): T[] => [...list.slice(0, prefix + keep), ...list.slice(list.length - suffix)];
      return { ids: cut(ids), typeIds: cut(typeIds) };
    },
  };
}

/** Where `needle` starts inside `haystack`, or -1. */
function indexOfRun(haystack: readonly number[], needle: readonly number[]): number {
  outer: for (let start = 0; start + needle.length <= haystack.length; start++) {
    for (let i = 0; i < needle.length; i++) if (haystack[start + i] !== needle[i]) continue outer;
    return start;
  }
  return -1;
}

function resolvePadId(tokenizer: Tokenizer, json: Record<string, unknown>, config: Record<string, unknown>): number {
  const padding = json.padding;
  if (typeof padding === 'object' && padding !== null) {
    const id = (padding as Record<string, unknown>).pad_id;
    if (typeof id === 'number' && Number.isInteger(id) && id >= 0) return id;
  }
  const token = config.pad_token;
  if (typeof token === 'string') {
    const id = tokenizer.token_to_id(token);
    if (id !== undefined) return id;
  }
  return 0;
}
