/**
 * The git helper process (see git-runner.ts): runs each `git` command it is sent and answers with
 * its output. It holds no state; it exists so that forking `git` copies this small process, not
 * the server.
 */
import { execFile } from 'node:child_process';
import type { GitAnswer, GitCommand } from './git-runner.js';

const send = (answer: GitAnswer) => process.send?.(answer);

process.on('message', ({ id, args, cwd, timeoutMs }: GitCommand) => {
  execFile(
    'git',
    args,
    {
      cwd,
      timeout: timeoutMs,
      maxBuffer: 64 * 1024 * 1024,
      // A server has no one to answer a credential prompt: fail instead of waiting forever.
      env: { ...process.env, GIT_TERMINAL_PROMPT: '0' },
      windowsHide: true,
    },
    (error, stdout, stderr) => {
      if (!error) return send({ id, stdout });
      const missing = (error as NodeJS.ErrnoException).code === 'ENOENT';
      const detail = stderr.trim() || (error.killed ? `timed out after ${timeoutMs} ms` : error.message);
      send({ id, error: `git ${args[0] ?? ''}: ${detail}`, missing });
    },
  );
});
// The server went away: nothing more will come.
process.on('disconnect', () => process.exit(0));
