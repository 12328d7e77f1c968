import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import lockfile from 'proper-lockfile';
import { z } from 'zod';
import { EngramError } from '../core/errors.js';
import { newId, nowIso } from '../core/ids.js';
import { userIdSchema } from '../core/schemas.js';
import { writeFileAtomic } from '../util/atomic-write.js';

/** What a key grants: one user's data, or everything (admin). */
export type Principal = { kind: 'admin'; keyId: string } | { kind: 'user'; keyId: string; userId: string };

const keyRecordSchema = z.object({
  id: z.string(),
  name: z.string(),
  /** sha256 of the whole key; the key itself is never stored. */
  hash: z.string().regex(/^[0-9a-f]{64}$/),
  admin: z.boolean(),
  userId: z.string().nullable(),
  createdAt: z.string(),
  revokedAt: z.string().nullable(),
});
export type KeyRecord = z.infer<typeof keyRecordSchema>;
const fileSchema = z.object({ version: z.literal(1), keys: z.array(keyRecordSchema) });

export interface CreatedKey {
  record: KeyRecord;
  /** The secret, shown once. */
  key: string;
}

const KEY_PREFIX = 'engram_';
const hashKey = (key: string): string => createHash('sha256').update(key).digest('hex');

const MARKER_TEXT =
  'This data directory has had API keys: Engram refuses every request while keys.json is missing or\n' +
  'unreadable, instead of falling back to keyless local mode. Restore keys.json, or go back to keyless\n' +
  'local mode on purpose with `engram keys reset`.\n';

/**
 * API keys in `<dataDir>/keys.json`, hashed with SHA-256 (keys are 256-bit random, so a slow
 * password hash adds nothing). Shared by every store; changes by `engram keys` are picked up by a
 * running server on its next request.
 *
 * Authentication never fails open: once a key has existed, `<dataDir>/keys.required` records it,
 * and from then on a missing key file (deleted, an old backup restored, a volume mis-mounted) is an
 * error — every request is refused — not "no keys". Only `engram keys reset` goes back.
 */
export class KeyStore {
  readonly file: string;
  /** Present once keys have existed here. */
  readonly marker: string;
  #cache: { mtimeMs: number; size: number; keys: KeyRecord[] } | null = null;

  constructor(dataDir: string) {
    this.file = join(dataDir, 'keys.json');
    this.marker = join(dataDir, 'keys.required');
  }

  list(): KeyRecord[] {
    let stat: { mtimeMs: number; size: number };
    try {
      stat = statSync(this.file);
    } catch (error) {
      // A missing file means "no keys" only where keys never existed; anything else must not turn auth off.
      if ((error as NodeJS.ErrnoException).code === 'ENOENT' && !existsSync(this.marker)) return [];
      throw new EngramError(
        'unavailable',
        (error as NodeJS.ErrnoException).code === 'ENOENT'
          ? `the API key file ${this.file} is missing, but this data directory has had keys (${this.marker}): ` +
              'refusing every request instead of running without keys. Restore keys.json from a backup, or go ' +
              'back to keyless local mode on purpose with `engram keys reset`'
          : 'the API key file cannot be read',
        { cause: error },
      );
    }
    if (this.#cache && this.#cache.mtimeMs === stat.mtimeMs && this.#cache.size === stat.size) return this.#cache.keys;
    let parsed: ReturnType<typeof fileSchema.safeParse>;
    try {
      parsed = fileSchema.safeParse(JSON.parse(readFileSync(this.file, 'utf8')));
    } catch (error) {
      throw new EngramError('unavailable', 'the API key file is not valid JSON', { cause: error });
    }
    if (!parsed.success) throw new EngramError('unavailable', 'the API key file is not valid');
    // Key files written before the marker existed get it on first read.
    if (parsed.data.keys.length > 0) this.#mark();
    this.#cache = { mtimeMs: stat.mtimeMs, size: stat.size, keys: parsed.data.keys };
    return parsed.data.keys;
  }

  /**
   * Back to keyless local mode, on purpose: sets the key file aside (as `keys.json.reset-<time>`)
   * and removes the marker. Returns where the old file went, or null if there was none.
   */
  reset(): string | null {
    let moved: string | null = null;
    if (existsSync(this.file)) {
      moved = `${this.file}.reset-${new Date().toISOString().replace(/[:.]/g, '-')}`;
      renameSync(this.file, moved);
    }
    rmSync(this.marker, { force: true });
    this.#cache = null;
    return moved;
  }

  #mark(): void {
    if (existsSync(this.marker)) return;
    try {
      writeFileSync(this.marker, MARKER_TEXT, { mode: 0o600 });
    } catch {
      // A read-only data directory: the keys are there now; the marker is written with the next change.
    }
  }

  /** True while the key with this id exists and has not been revoked (open sessions check it). */
  isActive(id: string): boolean {
    return this.list().some((key) => key.id === id && key.revokedAt === null);
  }

  /** True when at least one key that has not been revoked exists. */
  hasActiveKeys(): boolean {
    return this.list().some((key) => key.revokedAt === null);
  }

  /**
   * True once any key was ever created, revoked or not: revoking the last key must lock the
   * server, not return it to keyless local mode.
   */
  hasKeys(): boolean {
    return this.list().length > 0;
  }

  /** The principal a presented key grants, or null if it is unknown or revoked. */
  authenticate(key: string): Principal | null {
    if (!key.startsWith(KEY_PREFIX)) return null;
    const hash = Buffer.from(hashKey(key), 'hex');
    const record = this.list().find(
      (candidate) => candidate.revokedAt === null && timingSafeEqual(Buffer.from(candidate.hash, 'hex'), hash),
    );
    if (!record) return null;
    return record.admin
      ? { kind: 'admin', keyId: record.id }
      : { kind: 'user', keyId: record.id, userId: record.userId as string };
  }

  async create(options: { name?: string; admin?: boolean; userId?: string }): Promise<CreatedKey> {
    if (!options.admin && options.userId === undefined) {
      throw new EngramError('invalid_request', 'a key is either --admin or bound to a --user');
    }
    if (options.userId !== undefined && !userIdSchema.safeParse(options.userId).success) {
      throw new EngramError('invalid_request', `user id ${JSON.stringify(options.userId)} is not valid`);
    }
    const key = `${KEY_PREFIX}${randomBytes(32).toString('base64url')}`;
    const record: KeyRecord = {
      id: newId(),
      name: options.name ?? (options.admin ? 'admin' : `user ${options.userId}`),
      hash: hashKey(key),
      admin: options.admin ?? false,
      userId: options.admin ? null : (options.userId ?? null),
      createdAt: nowIso(),
      revokedAt: null,
    };
    await this.#modify((keys) => [...keys, record]);
    return { record, key };
  }

  async revoke(id: string): Promise<KeyRecord> {
    let revoked: KeyRecord | undefined;
    await this.#modify((keys) =>
      keys.map((key) => {
        if (key.id !== id || key.revokedAt !== null) return key;
        revoked = { ...key, revokedAt: nowIso() };
        return revoked;
      }),
    );
    if (!revoked) throw new EngramError('not_found', `no active key with id ${JSON.stringify(id)}`);
    return revoked;
  }

  async #modify(change: (keys: KeyRecord[]) => KeyRecord[]): Promise<void> {
    mkdirSync(dirname(this.file), { recursive: true, mode: 0o700 });
    const release = await lockfile.lock(dirname(this.file), {
      lockfilePath: `${this.file}.lock`,
      retries: { retries: 20, minTimeout: 20, maxTimeout: 200 },
    });
    try {
      this.#cache = null;
      const keys = change(this.list());
      // The marker first: a crash between the two must not leave keys without it.
      if (keys.length > 0 && !existsSync(this.marker)) await writeFileAtomic(this.marker, MARKER_TEXT, 0o600);
      await writeFileAtomic(this.file, `${JSON.stringify({ version: 1, keys }, null, 2)}\n`, 0o600);
      this.#cache = null;
    } finally {
      await release();
    }
  }
}
