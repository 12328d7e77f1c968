import { randomUUID } from 'node:crypto';
import { basename, dirname, join, resolve } from 'node:path';
import { invalid } from '../../core/errors.js';
import { userIdSchema } from '../../core/schemas.js';

/*
 * Layout under <dataDir>/memory/:
 *   store.json                   format version, embedding model
 *   jobs.json                    background jobs of every user (one queue the runners claim from)
 *   user_<userId>/memories.json  one user's memories, vectors (base64 float32 LE) and history
 *   .locks/                      proper-lockfile lock directories (user_<userId>.lock, store.lock, jobs.lock)
 * Files are only ever replaced whole (temp file + fsync + rename + fsync dir), so a reader sees either
 * the old or the new file.
 */

const USER_PREFIX = 'user_';
const MEMORIES_FILE = 'memories.json';

function isUserId(value: string): boolean {
  return userIdSchema.safeParse(value).success;
}

/** Where the json store keeps each of its files; pure path arithmetic, no I/O. */
export class Layout {
  readonly root: string;
  readonly storeFile: string;
  readonly locksDir: string;
  readonly storeLock: string;
  readonly jobsFile: string;
  readonly jobsLock: string;

  constructor(dataDir: string) {
    this.root = resolve(dataDir, 'memory');
    this.storeFile = join(this.root, 'store.json');
    this.locksDir = join(this.root, '.locks');
    this.storeLock = join(this.locksDir, 'store');
    this.jobsFile = join(this.root, 'jobs.json');
    this.jobsLock = join(this.locksDir, 'jobs');
  }

  /** The user's directory; refuses any id that could name something outside `root`. */
  userDir(userId: string): string {
    const name = `${USER_PREFIX}${userId}`;
    const dir = resolve(this.root, name);
    if (typeof userId !== 'string' || !isUserId(userId) || dirname(dir) !== this.root || basename(dir) !== name) {
      throw invalid(`user id ${JSON.stringify(userId)} cannot be stored by the json store`);
    }
    return dir;
  }

  userFile(userId: string): string {
    return join(this.userDir(userId), MEMORIES_FILE);
  }

  userLock(userId: string): string {
    this.userDir(userId);
    return join(this.locksDir, `${USER_PREFIX}${userId}`);
  }

  /** A fresh name for a directory on its way to deletion; `userIdOf` never mistakes it for a user. */
  trashDir(): string {
    return join(this.root, `.trash-${randomUUID()}`);
  }

  /** The user id a directory entry stands for, or null when it is not a user directory. */
  userIdOf(entry: string): string | null {
    if (!entry.startsWith(USER_PREFIX)) return null;
    const userId = entry.slice(USER_PREFIX.length);
    return isUserId(userId) ? userId : null;
  }
}
