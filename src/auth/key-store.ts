import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { mkdirSync, readFileSync, statSync } from 'node:fs';
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

/**
 * API keys in `<dataDir>/keys.json`, hashed with SHA-256 (keys are 256-bit random, so a slow
 * password hash adds nothing). Shared by every store; changes by `engram keys` are picked up by a
 * running server on its next request.
 */
export class KeyStore {
  readonly file: string;
  #cache: { mtimeMs: number; size: number; keys: KeyRecord[] } | null = null;

  constructor(dataDir: string) {
    this.file = join(dataDir, 'keys.json');
  }

  list(): KeyRecord[] {
    let stat: { mtimeMs: number; size: number };
    try {
      stat = statSync(this.file);
    } catch (error) {
      // Only a missing file means "no keys"; anything else must not silently turn auth off.
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw new EngramError('unavailable', 'the API key file cannot be read', { cause: error });
    }
    if (this.#cache && this.#cache.mtimeMs === stat.mtimeMs && this.#cache.size === stat.size) return this.#cache.keys;
    let parsed: ReturnType<typeof fileSchema.safeParse>;
    try {
      parsed = fileSchema.safeParse(JSON.parse(readFileSync(this.file, 'utf8')));
    } catch (error) {
      throw new EngramError('unavailable', 'the API key file is not valid JSON', { cause: error });
    }
    if (!parsed.success) throw new EngramError('unavailable', 'the API key file is not valid');
    this.#cache = { mtimeMs: stat.mtimeMs, size: stat.size, keys: parsed.data.keys };
    return parsed.data.keys;
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
    mkdirSync(dirname(this.file), { recursive: true });
    const release = await lockfile.lock(dirname(this.file), {
      lockfilePath: `${this.file}.lock`,
      retries: { retries: 20, minTimeout: 20, maxTimeout: 200 },
    });
    try {
      this.#cache = null;
      const keys = change(this.list());
      await writeFileAtomic(this.file, `${JSON.stringify({ version: 1, keys }, null, 2)}\n`, 0o600);
      this.#cache = null;
    } finally {
      await release();
    }
  }
}
