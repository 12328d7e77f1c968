import { execFileSync } from 'node:child_process';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { GitCommandError, GitRunner } from '../../src/kb/git-runner.js';
import { tempDir } from '../helpers/temp-dir.js';

describe('GitRunner', () => {
  let dir: string;
  let runner: GitRunner;
  beforeEach(async () => {
    dir = await tempDir('engram-git-runner-');
    runner = new GitRunner();
  });
  afterEach(async () => {
    await runner.close();
  });

  it('forks git from its helper process, never from the server', async () => {
    await runner.run(['init', '--quiet'], dir);
    // A shell alias prints the id of git's parent: the process that forked git.
    const parent = Number((await runner.run(['-c', 'alias.parent=!ps -o ppid= -p $PPID', 'parent'], dir)).trim());
    expect(parent).toBeGreaterThan(0);
    expect(parent).not.toBe(process.pid);
    expect(
      execFileSync('ps', ['-o', 'ppid=', '-p', String(parent)])
        .toString()
        .trim(),
    ).toBe(String(process.pid));
  });

  it('answers with git’s output, and fails with git’s own message', async () => {
    await runner.run(['init', '--quiet', '--initial-branch', 'main'], dir);
    expect((await runner.run(['symbolic-ref', '--short', 'HEAD'], dir)).trim()).toBe('main');
    const failed = runner.run(['rev-parse', '--verify', 'no-such-ref'], dir);
    await expect(failed).rejects.toBeInstanceOf(GitCommandError);
    await expect(failed).rejects.toThrow(/git rev-parse: fatal: .*no-such-ref|Needed a single revision/);
  });

  it('fails the commands of a helper that died, and starts a new helper for the next', async () => {
    await runner.run(['init', '--quiet'], dir);
    const helper = Number((await runner.run(['-c', 'alias.parent=!ps -o ppid= -p $PPID', 'parent'], dir)).trim());
    const slow = runner.run(['-c', 'alias.wait=!sleep 30', 'wait'], dir);
    await new Promise((resolve) => setTimeout(resolve, 200));
    process.kill(helper, 'SIGKILL');
    await expect(slow).rejects.toThrow(/helper process exited/);
    const again = Number((await runner.run(['-c', 'alias.parent=!ps -o ppid= -p $PPID', 'parent'], dir)).trim());
    expect(again).not.toBe(helper);
  });

  it('kills a command that outlives its timeout', async () => {
    await runner.run(['init', '--quiet'], dir);
    await expect(runner.run(['-c', 'alias.wait=!sleep 30', 'wait'], dir, 300)).rejects.toThrow(
      /timed out after 300 ms/,
    );
  });
});
