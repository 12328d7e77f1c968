import { randomUUID } from 'node:crypto';
import { type FileHandle, open } from 'node:fs/promises';
import { dirname } from 'node:path';
import { EngramError } from '../../core/errors.js';
import type { Memory } from '../../core/types.js';
import { ensureDir, fingerprintOf, replaceFile } from './json-files.js';
import { byId, ioError, isErrno, parseUserFile, serializeUser, type UserData } from './json-format.js';
import type { Layout } from './json-layout.js';

const REVISION_HEAD_BYTES = 512;

/** One parsed version of a user's file. Never mutated once built; writers build a new one. */
export interface Snapshot {
  /** Random token written with each version of the file; null when the user has no file. */
  revision: string | null;
  /** `ino:size:mtimeMs` of the file this snapshot was read from or written to. */
  fingerprint: string | null;
  data: UserData;
  ascending?: Memory[];
}

const emptySnapshot = (): Snapshot => ({
  revision: null,
  fingerprint: null,
  data: { memories: new Map(), vectors: new Map(), history: [] },
});

/** The snapshot's memories in ascending id order, sorted once per snapshot. */
export function ascending(snapshot: Snapshot): Memory[] {
  snapshot.ascending ??= [...snapshot.data.memories.values()].sort(byId);
  return snapshot.ascending;
}

/**
 * The last parsed version of each user's file. Another process may replace a file at any time, so
 * a cached version is only used while both the file's fingerprint and its revision token match it.
 */
export class UserFileCache {
  readonly #layout: Layout;
  readonly #pretty: boolean;
  readonly #snapshots = new Map<string, Snapshot>();

  constructor(layout: Layout, pretty: boolean) {
    this.#layout = layout;
    this.#pretty = pretty;
  }

  /** The user's current file, from the cache when its fingerprint and revision token still match. */
  async read(userId: string): Promise<Snapshot> {
    const file = this.#layout.userFile(userId);
    let handle: FileHandle;
    try {
      handle = await open(file, 'r');
    } catch (error) {
      if (!isErrno(error, 'ENOENT')) throw ioError('read', file, error);
      this.#snapshots.delete(userId);
      return emptySnapshot();
    }
    try {
      const fingerprint = fingerprintOf(await handle.stat());
      const cached = this.#snapshots.get(userId);
      if (cached?.fingerprint === fingerprint && cached.revision === (await readRevision(handle))) return cached;
      const snapshot: Snapshot = { ...parseUserFile(await handle.readFile('utf8'), file, userId), fingerprint };
      this.#snapshots.set(userId, snapshot);
      return snapshot;
    } catch (error) {
      if (error instanceof EngramError) throw error;
      throw ioError('read', file, error);
    } finally {
      await handle.close();
    }
  }

  /** Replaces the user's file with `data` (the caller holds the user's lock) and caches it. */
  async write(userId: string, data: UserData, beforeRename: () => void): Promise<void> {
    const file = this.#layout.userFile(userId);
    await ensureDir(dirname(file), this.#layout.root);
    const revision = randomUUID();
    const fingerprint = await replaceFile(file, serializeUser(userId, revision, data, this.#pretty), beforeRename);
    this.#snapshots.set(userId, { revision, fingerprint, data });
  }

  forget(userId: string): void {
    this.#snapshots.delete(userId);
  }

  clear(): void {
    this.#snapshots.clear();
  }
}

/** The revision token near the start of a user file, read without parsing the whole file. */
async function readRevision(handle: FileHandle): Promise<string | null> {
  const buffer = Buffer.alloc(REVISION_HEAD_BYTES);
  const { bytesRead } = await handle.read(buffer, 0, buffer.length, 0);
  const match = /"revision"\s*:\s*"([^"]{1,64})"/.exec(buffer.toString('utf8', 0, bytesRead));
  return match?.[1] ?? null;
}
