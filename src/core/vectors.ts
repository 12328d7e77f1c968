import type { Embedder } from '../embed/embedder.js';
import { invalid } from './errors.js';
import type { ImportItem, ParsedAdd } from './insert.js';

/** A unit-length float32 copy of `values`, or why it cannot be an embedding in a store of `dimension`. */
function unitVectorOrProblem(values: ArrayLike<number>, dimension: number): Float32Array | string {
  if (values.length !== dimension) {
    return `embedding has ${values.length} dimensions; this store uses ${dimension}`;
  }
  const vector = Float32Array.from(values);
  let sum = 0;
  for (const value of vector) sum += value * value;
  if (!Number.isFinite(sum)) return 'embedding values must be finite numbers within float32 range';
  // A zero vector has no direction: cosine similarity is undefined for it, so it could never match.
  if (sum === 0) return 'embedding is all zeros (or too small for float32); it has no direction to compare';
  const norm = Math.sqrt(sum);
  for (let i = 0; i < vector.length; i++) vector[i] = (vector[i] as number) / norm;
  return vector;
}

/** The embeddings added memories came with, normalised; null where one is to be embedded. An unusable one is an error. */
export function suppliedVectors(parsed: ParsedAdd[], dimension: number): (Float32Array | null)[] {
  return parsed.map((item, index) => {
    if (!item.embedding) return null;
    const vector = unitVectorOrProblem(item.embedding, dimension);
    if (typeof vector === 'string') throw invalid(parsed.length > 1 ? `memories[${index}]: ${vector}` : vector);
    return vector;
  });
}

/** The vectors imported items carried, normalised; null where one is to be embedded. */
export function carriedVectors(items: ImportItem[], embedder: Embedder): (Float32Array | null)[] {
  // A carried vector of another model, dimension, or without a direction is embedded afresh.
  return items.map(({ embedding }) => {
    if (!embedding || embedding.model !== embedder.model) return null;
    const vector = unitVectorOrProblem(embedding.vector, embedder.dimension);
    return typeof vector === 'string' ? null : vector;
  });
}
