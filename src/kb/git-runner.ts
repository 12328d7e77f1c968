/**
 * Runs `git` commands from a small helper process instead of the server's own.
 *
 * Starting a process forks the parent first, and the fork copies the parent's page tables while
 * holding its memory map locked: from a server holding a model and a store (hundreds of MB to GB),
 * each `git` spawn stopped the event loop — every user's request — for 20–60 ms, three times per
 * note written (measured; a worker thread does not help, since the whole process is forked). The
 * helper (git-runner-child.ts, ~40 MB) is forked once, when the process is still small, and forks
 * each `git` from itself; the server only exchanges messages with it.
 *
 * The helper starts on the first command and again after it died (the commands it was running
 * fail); it does not keep the server alive while idle.
 */
import { type ChildProcess, fork } from 'node:child_process';
import { workerModule } from '../util/worker.js';

/** A command sent to the helper. */
export interface GitCommand {
  id: number;
  args: string[];
  cwd: string;
  /** Kill git after this long (0: never). */
  timeoutMs: number;
}

/** The helper's answer: git's standard output, or why it failed (`missing`: no `git` binary). */
export type GitAnswer = { id: number; stdout: string } | { id: number; error: string; missing: boolean };

/** A git command that failed: its message is git's own (standard error). */
export class GitCommandError extends Error {
  /** The `git` binary is not installed. */
  readonly missing: boolean;

  constructor(message: string, missing = false) {
    super(message);
    this.name = 'GitCommandError';
    this.missing = missing;
  }
}

interface Pending {
  resolve(stdout: string): void;
  reject(error: Error): void;
}

export class GitRunner {
  #child: ChildProcess | undefined;
  readonly #pending = new Map<number, Pending>();
  #nextId = 0;
  #closed = false;

  /** Git's standard output for `git <args>` run in `cwd`; rejects with `GitCommandError`. */
  run(args: string[], cwd: string, timeoutMs = 0): Promise<string> {
    if (this.#closed) return Promise.reject(new GitCommandError('the git helper is closed'));
    const child = this.#ensure();
    return new Promise<string>((resolve, reject) => {
      const id = this.#nextId++;
      this.#pending.set(id, { resolve, reject });
      if (this.#pending.size === 1) setRef(child, true);
      child.send({ id, args, cwd, timeoutMs } satisfies GitCommand);
    });
  }

  /** Stops the helper; commands still running fail. */
  async close(): Promise<void> {
    this.#closed = true;
    const child = this.#child;
    this.#child = undefined;
    if (!child || child.exitCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    // Held until it has exited: an idle helper is unreferenced, and a process whose loop holds
    // nothing else would end while its shutdown awaits this.
    setRef(child, true);
    child.kill();
    await exited;
  }

  #ensure(): ChildProcess {
    if (this.#child) return this.#child;
    const filename = workerModule(import.meta.url, 'git-runner-child');
    // No stdout: under stdio MCP the server's stdout carries the protocol.
    const child = fork(filename, [], { stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
    const failAll = (reason: string) => {
      if (this.#child === child) this.#child = undefined;
      for (const pending of this.#pending.values()) pending.reject(new GitCommandError(reason));
      this.#pending.clear();
    };
    child.on('message', (answer: GitAnswer) => {
      const pending = this.#pending.get(answer.id);
      if (!pending) return;
      this.#pending.delete(answer.id);
      if (this.#pending.size === 0) setRef(child, false);
      if ('stdout' in answer) pending.resolve(answer.stdout);
      else pending.reject(new GitCommandError(answer.error, answer.missing));
    });
    child.on('error', (error) => failAll(`the git helper process failed: ${error.message}`));
    child.on('exit', (code, signal) => failAll(`the git helper process exited (${signal ?? code})`));
    setRef(child, false);
    this.#child = child;
    return child;
  }
}

/** Whether the helper (and its message channel) keeps the server's event loop alive. */
function setRef(child: ChildProcess, ref: boolean): void {
  if (ref) {
    child.ref();
    child.channel?.ref();
  } else {
    child.unref();
    child.channel?.unref();
  }
}
