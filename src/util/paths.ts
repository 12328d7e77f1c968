/**
 * Where Engram's own files are, and where a user's data goes by default.
 *
 * Run from a git checkout (`npm start`), the data directory defaults to `./data` in the working
 * directory, as it always has. Installed from a package (`npm install -g`, `npx`), it defaults to
 * the per-user data directory of the platform instead: `$XDG_DATA_HOME/engram` (else
 * `~/.local/share/engram`) on Linux, `~/Library/Application Support/engram` on macOS,
 * `%LOCALAPPDATA%\engram\Data` on Windows — so an MCP client that starts `engram mcp` from its
 * own working directory finds the same memories as the server started from a shell.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import envPaths from 'env-paths';

/** The package root: the nearest folder above this module with a package.json (src/ or dist/src/ alike). */
export function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json')) && dirname(dir) !== dir) dir = dirname(dir);
  return dir;
}

let version: string | undefined;

/** Engram's version, from its package.json: the one place it is written. */
export function packageVersion(): string {
  version ??= (JSON.parse(readFileSync(join(packageRoot(), 'package.json'), 'utf8')) as { version: string }).version;
  return version;
}

/** Whether Engram runs from a git checkout (a clone or a worktree) rather than an installed package. */
export function runsFromCheckout(root = packageRoot()): boolean {
  return existsSync(join(root, '.git'));
}

/** The default data directory (see above); `ENGRAM_DATA_DIR` / `--data-dir` replace it. */
export function defaultDataDir(): string {
  return runsFromCheckout() ? './data' : envPaths('engram', { suffix: '' }).data;
}
