/**
 * Installs the peers into a scratch directory of their own, never into Engram's dependencies:
 * pinned versions, `npm install` from the registry, reused by the next run when already there.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { log } from '../report.js';

/**
 * The versions measured. better-sqlite3 is a peer dependency of mem0ai that its default
 * (`memory`) vector store and history use; mem0ai's other forty-odd peers (cloud vector stores,
 * LLM SDKs) are not needed for that and are left out (`--legacy-peer-deps`).
 */
export const PEER_PACKAGES = {
  mem0ai: '3.3.1',
  '@modelcontextprotocol/server-memory': '2026.8.31',
  'better-sqlite3': '12.11.1',
} as const;

export type PeerPackage = keyof typeof PEER_PACKAGES;

export interface Scratch {
  dir: string;
  /** The installed version of a package. */
  version(name: PeerPackage): Promise<string>;
  /** A file inside an installed package, e.g. the reference server's entry point. */
  file(name: PeerPackage, path: string): string;
  /** `import()` of a package entry point (by file URL: Engram's resolution never sees the scratch dir). */
  load<T>(name: PeerPackage, path: string): Promise<T>;
}

const manifest = (dir: string, name: string) => join(dir, 'node_modules', name, 'package.json');

async function installedVersion(dir: string, name: string): Promise<string | null> {
  if (!existsSync(manifest(dir, name))) return null;
  return (JSON.parse(await readFile(manifest(dir, name), 'utf8')) as { version: string }).version;
}

/** npm as this process was started by (`npm run` sets npm_execpath), else the one on PATH. */
function npm(args: string[], cwd: string): Promise<void> {
  const execPath = process.env.npm_execpath;
  const [command, argv] = execPath?.endsWith('.js') ? [process.execPath, [execPath, ...args]] : ['npm', args];
  return new Promise((resolve, reject) => {
    const child = spawn(command, argv, { cwd, stdio: ['ignore', 'inherit', 'inherit'] });
    child.once('error', reject);
    child.once('exit', (code) =>
      code === 0 ? resolve() : reject(new Error(`npm ${args.join(' ')} exited with ${code}`)),
    );
  });
}

/** The scratch directory, with the pinned versions installed unless `install` is false (no peer to run). */
export async function installPeers(dir: string, install = true): Promise<Scratch> {
  await mkdir(dir, { recursive: true });
  const wanted = Object.entries(PEER_PACKAGES);
  const current = await Promise.all(wanted.map(([name]) => installedVersion(dir, name)));
  if (install && wanted.some(([, version], i) => current[i] !== version)) {
    log(`installing ${wanted.map(([name, version]) => `${name}@${version}`).join(', ')} into ${dir} …`);
    const pkg = { name: 'engram-bench-peers', private: true, dependencies: Object.fromEntries(wanted) };
    await writeFile(join(dir, 'package.json'), `${JSON.stringify(pkg, null, 2)}\n`);
    await npm(['install', '--no-audit', '--no-fund', '--legacy-peer-deps', '--loglevel=error'], dir);
  }
  const scratch: Scratch = {
    dir,
    version: async (name) => (await installedVersion(dir, name)) ?? 'not installed',
    file: (name, path) => join(dir, 'node_modules', name, path),
    load: (name, path) => import(pathToFileURL(scratch.file(name, path)).href),
  };
  return scratch;
}
