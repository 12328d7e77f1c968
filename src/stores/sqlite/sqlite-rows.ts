/**
 * The `memories` table's rows (memory-columns.ts) as SQLite holds them, shared by the store's
 * connection and its writer thread: JSON as text, booleans as 0/1.
 */
import { asIs, type ColumnCodec, type MemoryRow, memoryRows, selectMemoryColumns } from '../memory-columns.js';

export type { MemoryRow };

const jsonText: ColumnCodec = {
  encode: (value) => JSON.stringify(value),
  decode: (value) => JSON.parse(value as string),
};

export const { toRow, fromRow } = memoryRows({
  text: asIs,
  integer: asIs,
  boolean: { encode: (value) => (value ? 1 : 0), decode: (value) => value === 1 },
  json: jsonText,
  jsonb: jsonText,
});

export const MEMORY_COLUMNS = selectMemoryColumns('m');

export const vectorBytes = (vector: Float32Array): Buffer =>
  Buffer.from(vector.buffer, vector.byteOffset, vector.byteLength);

export function bytesVector(bytes: Buffer): Float32Array {
  const copy = new Uint8Array(bytes.byteLength);
  copy.set(bytes);
  return new Float32Array(copy.buffer);
}
