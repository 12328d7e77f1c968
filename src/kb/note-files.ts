/**
 * The knowledge base's files on disk: where notes live (`topics/`), finding them, watching them
 * for edits by other programs, and reserving a free path for a note being written.
 */
import { mkdir, open, readdir, rm } from 'node:fs/promises';
import { dirname, join, relative, sep } from 'node:path';
import { type FSWatcher, watch } from 'chokidar';
import { exists } from '../util/files.js';
import { type NoteMeta, notePath } from './note.js';

/** The folder of the repository that holds the notes. */
export const TOPICS = 'topics';

/** Every `.md` file under `topics/` of the repository, as sorted repository paths. */
export async function noteFiles(root: string): Promise<string[]> {
  const entries = await readdir(join(root), { recursive: true, withFileTypes: true }).catch(() => []);
  return entries
    .filter((entry) => entry.isFile() && entry.name.endsWith('.md'))
    .map((entry) => relative(root, join(entry.parentPath, entry.name)).split(sep).join('/'))
    .filter((path) => !path.startsWith('.git/') && path.startsWith(`${TOPICS}/`))
    .sort();
}

/** Calls `onChange` with the repository path of each note added, changed or removed on disk; resolves once watching. */
export async function watchNotes(root: string, onChange: (path: string) => void): Promise<FSWatcher> {
  const watcher = watch(join(root, TOPICS), {
    ignoreInitial: true,
    ignored: (path, stats) => Boolean(stats?.isFile() && !path.endsWith('.md')) || path.includes(`${sep}.`),
    awaitWriteFinish: { stabilityThreshold: 200, pollInterval: 50 },
  });
  const changed = (file: string) => onChange(relative(root, file).split(sep).join('/'));
  watcher.on('add', changed).on('change', changed).on('unlink', changed);
  await new Promise<void>((resolve) => watcher.once('ready', () => resolve()));
  return watcher;
}

/**
 * Paths handed to notes being written: two users' notes with the same title, written at the same
 * moment, must not both get the free path (the second file would replace the first).
 */
export class PathReservations {
  readonly #root: string;
  readonly #reserved = new Set<string>();

  constructor(root: string) {
    this.#root = root;
  }

  /**
   * A path no note has (`taken`), on disk or being written — by this process or another one on the
   * same directory. It is reserved on disk with an exclusive create of `<path>.reserved` (atomic
   * across processes; not a `.md` file, so neither the watcher nor git looks at it), kept until
   * `release`, after the note is written.
   */
  async reserve(meta: NoteMeta, taken: (path: string) => boolean): Promise<string> {
    for (let n = 1; ; n++) {
      const path = notePath(meta, n);
      if (taken(path) || this.#reserved.has(path)) continue;
      const file = join(this.#root, path);
      await mkdir(dirname(file), { recursive: true, mode: 0o700 });
      try {
        await (await open(`${file}.reserved`, 'wx', 0o600)).close();
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'EEXIST') continue; // another process is writing it
        throw error;
      }
      // Checked after reserving: a note written and released by another process just before is on disk now.
      if (await exists(file)) {
        await rm(`${file}.reserved`, { force: true });
        continue;
      }
      this.#reserved.add(path);
      return path;
    }
  }

  async release(path: string): Promise<void> {
    this.#reserved.delete(path);
    await rm(join(this.#root, `${path}.reserved`), { force: true });
  }
}
