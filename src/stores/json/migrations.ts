import { EngramError } from '../../core/errors.js';

/**
 * Versioning of the json store's files. Every file starts with `"format": <n>`. Reading a file of an
 * older format upgrades it in memory (it is written back in the current format on the next change);
 * reading a file of a newer format fails with a clear error instead of guessing and losing data.
 */
export const CURRENT_FORMAT = 1;

/** `user`: `user_<id>/memories.json`; `store`: `store.json`; `jobs`: `jobs.json`. */
export type FileKind = 'user' | 'store' | 'jobs';

export type JsonDocument = { [key: string]: unknown };

export interface Migration {
  /** The format this step reads; it returns the document in format `from + 1`. */
  from: number;
  description: string;
  up(document: JsonDocument): JsonDocument;
}

/** Upgrade steps per kind of file, oldest first. Empty while format 1 is the only format. */
export const MIGRATIONS: Readonly<Record<FileKind, readonly Migration[]>> = Object.freeze({
  user: [],
  store: [],
  jobs: [],
});

export type MigrationResult =
  | { ok: true; document: JsonDocument; from: number; migrated: boolean }
  | { ok: false; error: EngramError };

/** Brings a parsed file to `target` (the current format unless a test says otherwise); failures are values. */
export function migrateDocument(
  kind: FileKind,
  raw: unknown,
  file: string,
  options: { migrations?: readonly Migration[]; target?: number } = {},
): MigrationResult {
  const migrations = options.migrations ?? MIGRATIONS[kind];
  const target = options.target ?? CURRENT_FORMAT;
  if (!isDocument(raw) || !Number.isInteger(raw.format) || (raw.format as number) < 1) {
    return failure('internal', `${file} is not an Engram json-store file (it has no valid "format" version)`, file);
  }
  const from = raw.format as number;
  if (from > target) {
    return failure(
      'unavailable',
      `${file} has format version ${from}, written by a newer Engram; this version reads format ${target} at most. ` +
        'Upgrade Engram, or restore a backup made by this version.',
      file,
    );
  }
  let document = raw;
  for (let version = from; version < target; version++) {
    const step = migrations.find((migration) => migration.from === version);
    if (!step) return failure('internal', `no migration from format ${version} for ${file}`, file);
    document = { ...step.up(document), format: version + 1 };
  }
  return { ok: true, document, from, migrated: from !== target };
}

function isDocument(value: unknown): value is JsonDocument {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function failure(code: 'internal' | 'unavailable', message: string, file: string): MigrationResult {
  return { ok: false, error: new EngramError(code, message, { details: { file } }) };
}
