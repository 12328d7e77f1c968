/**
 * The image's documented first run, without a Docker engine: the `docker run` lines of the
 * Dockerfile's header (the same as docs/deploy.md's) are run as the image runs them — its
 * ENTRYPOINT (`node bin/engram.js`), its CMD when the line gives none, its ENV — with a scratch
 * directory standing for the `/data` volume. Needs the compiled CLI (`npm run build`).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { DockerfileParser } from 'dockerfile-ast';
import { describe, expect, it } from 'vitest';
import { runCli, spawnServer } from '../helpers/process.js';
import { tempDirSync } from '../helpers/temp-dir.js';
import { REPO_DIR } from './compose-model.js';

const text = readFileSync(join(REPO_DIR, 'Dockerfile'), 'utf8');
const dockerfile = DockerfileParser.parse(text);
const instructions = dockerfile.getInstructions();
const runtime = instructions.slice(instructions.findLastIndex((i) => i.getKeyword() === 'FROM'));
const imageEnv = Object.fromEntries(
  runtime
    .filter((i) => i.getKeyword() === 'ENV')
    .flatMap((i) => i.getArgumentsContent()?.split(/\s+/) ?? [])
    .map((pair) => pair.split('=') as [string, string]),
);
const cmd = JSON.parse(runtime.find((i) => i.getKeyword() === 'CMD')?.getArgumentsContent() ?? '[]') as string[];

/** The header's `docker run` lines, in order. */
const documented = dockerfile
  .getComments()
  .map((comment) =>
    comment
      .getContent()
      .replace(/\s+#.*$/, '')
      .trim(),
  )
  .filter((line) => line.startsWith('docker run '));

/** A `docker run` line split into its volume mounts and the arguments the container's entrypoint gets. */
function parseRun(line: string): { volumes: Map<string, string>; args: string[] } {
  const tokens = line.split(/\s+/).slice(2);
  const volumes = new Map<string, string>();
  const withValue = new Set(['-p', '-v', '-e', '--tmpfs', '--name', '--publish', '--volume']);
  while (tokens[0]?.startsWith('-')) {
    const flag = tokens.shift() as string;
    if (!withValue.has(flag)) continue;
    const value = tokens.shift() ?? '';
    if (flag === '-v' || flag === '--volume') {
      const [source = '', target = ''] = value.split(':');
      volumes.set(target, source);
    }
  }
  tokens.shift(); // the image
  return { volumes, args: tokens.length > 0 ? tokens : cmd };
}

describe("the image's documented first run (Dockerfile header, docs/deploy.md)", () => {
  const volume = tempDirSync('engram-first-run-');
  // The image's environment, with the scratch directory as /data and port 0 (any free port).
  const env = { ...imageEnv, ENGRAM_DATA_DIR: volume, HOME: volume, ENGRAM_PORT: '0', ENGRAM_LOG_LEVEL: 'silent' };
  const [createKey = '', serve = ''] = documented;

  it('is two commands, given the same in docs/deploy.md, on the one data volume', () => {
    expect(documented).toHaveLength(2);
    const guide = readFileSync(join(REPO_DIR, 'docs/deploy.md'), 'utf8');
    for (const line of documented) expect(guide).toContain(line);
    expect(imageEnv.ENGRAM_HOST).toBe('0.0.0.0');
    expect(parseRun(createKey).volumes.get('/data')).toBeDefined();
    expect(parseRun(serve).volumes.get('/data')).toBe(parseRun(createKey).volumes.get('/data'));
  });

  it('without the first step, the server refuses to start and prints that step exactly', async () => {
    const refused = await runCli(parseRun(serve).args, env);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain('without API keys');
    expect(refused.stderr).toContain(createKey);
  });

  it('after it, the server starts, and requires the key it printed', async () => {
    const created = await runCli(parseRun(createKey).args, env);
    expect(created.code).toBe(0);
    const key = created.stdout.trim();
    expect(key).toMatch(/^engram_\S+$/);

    const { args } = parseRun(serve);
    expect(args).toEqual(['serve']);
    const server = await spawnServer([], { ...env, ENGRAM_LOG_LEVEL: 'info' });
    try {
      const url = server.url.replace('0.0.0.0', '127.0.0.1');
      expect((await fetch(`${url}/health`)).status).toBe(200);
      expect((await fetch(`${url}/v1/me`)).status).toBe(401);
      const me = await fetch(`${url}/v1/me`, { headers: { authorization: `Bearer ${key}` } });
      expect(me.status).toBe(200);
      expect(await me.json()).toMatchObject({ admin: true });
    } finally {
      server.child.kill('SIGTERM');
      await new Promise((resolve) => server.child.once('exit', resolve));
    }
  });
});
