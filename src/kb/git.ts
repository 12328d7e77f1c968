/**
 * The knowledge base's git repository (the real `git` binary, run from a helper process: see
 * git-runner.ts): one commit per change, and an optional push to a remote with retries. Calls are
 * serialised — git takes a lock on the index, and two commits at once would fail.
 */
import { appendFile, mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import lockfile from 'proper-lockfile';
import { EngramError } from '../core/errors.js';
import { withoutCredentials } from '../util/credentials.js';
import { exists } from '../util/files.js';
import { GitCommandError, GitRunner } from './git-runner.js';

/** `git <args>` in the repository; resolves to its standard output. */
type Git = (...args: string[]) => Promise<string>;

/** A push that hangs (a remote that stopped answering) is given up after this long and retried. */
const PUSH_TIMEOUT_MS = 120_000;

export interface GitOptions {
  dir: string;
  /** Remote URL to push to after each commit; none: commits stay local. */
  remote?: string | undefined;
  branch: string;
  authorName: string;
  authorEmail: string;
  /** Push attempts before giving up on one push (the next commit pushes again). */
  pushAttempts: number;
  /** Delay before the second attempt; doubles after each failure. */
  pushBackoffMs: number;
  /** Told when a push failed every attempt (the message has credentials removed). */
  onPushFailed?: (message: string) => void;
}

export interface PushState {
  /** Last push that succeeded, ISO time. */
  lastPushAt: string | null;
  /** Why the last push failed, when it did. */
  lastError: string | null;
}

export class GitRepo {
  readonly #options: GitOptions;
  readonly #runner = new GitRunner();
  #open = false;
  #queue: Promise<unknown> = Promise.resolve();
  #push: PushState = { lastPushAt: null, lastError: null };
  #pushing: Promise<void> | null = null;
  #pushAgain = false;

  constructor(options: GitOptions) {
    this.#options = options;
  }

  get pushState(): PushState {
    return { ...this.#push };
  }

  /** Creates the repository (branch `branch`) if the directory holds none; sets the remote. */
  async init(): Promise<void> {
    const { dir, branch, remote, authorName, authorEmail } = this.#options;
    await mkdir(dir, { recursive: true, mode: 0o700 });
    const git: Git = (...args) => this.#runner.run(args, dir);
    try {
      await git('--version');
    } catch (error) {
      if (!(error instanceof GitCommandError && error.missing)) throw error;
      throw new EngramError('unavailable', 'the knowledge base needs the `git` command, which was not found', {
        cause: error,
      });
    }
    const fresh = !(await exists(join(dir, '.git')));
    if (fresh) await git('init', '--quiet', '--initial-branch', branch);
    // Path reservations of notes being written (knowledge-base.ts) are never part of the repository.
    const exclude = join(dir, '.git', 'info', 'exclude');
    const excluded = await readFile(exclude, 'utf8').catch(() => '');
    if (!excluded.split('\n').includes('*.reserved')) {
      await mkdir(join(dir, '.git', 'info'), { recursive: true });
      await appendFile(exclude, `${excluded === '' || excluded.endsWith('\n') ? '' : '\n'}*.reserved\n`);
    }
    await git('config', '--local', 'user.name', authorName);
    await git('config', '--local', 'user.email', authorEmail);
    if (remote) {
      const remotes = (await git('remote')).split('\n');
      if (!remotes.includes('origin')) await git('remote', 'add', 'origin', remote);
      else if ((await git('remote', 'get-url', '--push', 'origin')).trim() !== remote)
        await git('remote', 'set-url', 'origin', remote);
    }
    this.#open = true;
  }

  /** Waits for pushes under way, then stops the git helper process. */
  async close(): Promise<void> {
    await this.flush();
    this.#open = false;
    await this.#runner.close();
  }

  /** Stages `paths` (added, changed or removed files) and commits them; returns the commit hash, or null if nothing changed. */
  commit(paths: string[], message: string): Promise<string | null> {
    return this.#serial(async (git) => {
      await git('add', '--all', '--', ...paths);
      const staged = await git('diff', '--cached', '--name-only');
      if (staged.trim() === '') return null;
      // Titles and categories come from clients: a NUL would make git's argument list unusable.
      const subject = message.replace(/[^\P{Cc}\n\t]/gu, ' ');
      await git('commit', '--quiet', '--no-verify', '-m', subject);
      if (this.#options.remote) this.#schedulePush();
      return (await git('rev-parse', 'HEAD')).trim();
    });
  }

  /** Takes new files out of the index again (after a commit of them failed), so no later commit carries them. */
  unstageNew(paths: string[]): Promise<void> {
    return this.#serial(async (git) => {
      await git('rm', '--cached', '--quiet', '--ignore-unmatch', '--', ...paths);
    });
  }

  /** Puts the index entries of `paths` back to HEAD's (after a commit of a change to them failed). */
  unstage(paths: string[]): Promise<void> {
    return this.#serial(async (git) => {
      await git('reset', '--quiet', '--', ...paths);
    });
  }

  /** The hash of HEAD, or null in a repository without commits. */
  head(): Promise<string | null> {
    return this.#serial(async (git) => {
      try {
        return (await git('rev-parse', '--verify', '--quiet', 'HEAD')).trim();
      } catch {
        return null;
      }
    });
  }

  /** Resolves when any push under way (and one queued behind it) has finished. */
  async flush(): Promise<void> {
    while (this.#pushing) await this.#pushing;
  }

  /** One push at a time; commits arriving during a push are pushed by one more push after it. */
  #schedulePush(): void {
    if (this.#pushing) {
      this.#pushAgain = true;
      return;
    }
    this.#pushing = (async () => {
      do {
        this.#pushAgain = false;
        await this.#pushWithRetries();
      } while (this.#pushAgain);
    })().finally(() => {
      this.#pushing = null;
    });
  }

  async #pushWithRetries(): Promise<void> {
    const { branch, pushAttempts, pushBackoffMs } = this.#options;
    let delay = pushBackoffMs;
    for (let attempt = 1; attempt <= pushAttempts; attempt++) {
      try {
        await this.#serial(() =>
          this.#runner.run(['push', '--quiet', '--set-upstream', 'origin', branch], this.#options.dir, PUSH_TIMEOUT_MS),
        );
        this.#push = { lastPushAt: new Date().toISOString(), lastError: null };
        return;
      } catch (error) {
        this.#push = {
          ...this.#push,
          lastError: withoutCredentials((error as Error).message.split('\n')[0] ?? 'push failed'),
        };
        if (attempt < pushAttempts) {
          await new Promise((resolve) => setTimeout(resolve, delay));
          delay *= 2;
        } else this.#options.onPushFailed?.(this.#push.lastError ?? 'push failed');
      }
    }
  }

  /**
   * One git command sequence at a time: in this process by a promise chain, and across processes
   * sharing the repository (two servers on one data directory) by a lock file beside git's own
   * index lock — git refuses a second writer instead of waiting for it.
   */
  #serial<T>(work: (git: Git) => Promise<T>): Promise<T> {
    if (!this.#open) return Promise.reject(new EngramError('unavailable', 'the knowledge base is not open'));
    const git: Git = (...args) => this.#runner.run(args, this.#options.dir);
    const run = this.#queue.then(async () => {
      const release = await lockfile.lock(this.#options.dir, {
        lockfilePath: join(this.#options.dir, '.git', 'engram.lock'),
        realpath: false,
        stale: 30_000,
        retries: { retries: 200, minTimeout: 10, maxTimeout: 100 },
      });
      try {
        return await work(git);
      } finally {
        await release().catch(() => undefined);
      }
    });
    this.#queue = run.catch(() => undefined);
    return run;
  }
}
