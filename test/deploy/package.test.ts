import { execFile, spawn } from 'node:child_process';
import { mkdir, readdir } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { beforeAll, describe, expect, it } from 'vitest';
import { tempDir } from '../helpers/temp-dir.js';

/**
 * The package as a user gets it: `npm pack`, installed globally into an empty prefix as the
 * README says, then `engram serve`, the web UI and `engram mcp` run from another directory, with
 * the data in the per-user data directory instead of ./data.
 */
const exec = promisify(execFile);
const repo = fileURLToPath(new URL('../..', import.meta.url));
let root: string;
let tarball: string;
let prefix: string;
let home: string;
let elsewhere: string;

const installedEnv = () => ({
  PATH: `${join(prefix, 'bin')}:${dirname(process.execPath)}:/usr/bin:/bin`,
  HOME: home,
  ENGRAM_LOG_LEVEL: 'warn',
});

beforeAll(async () => {
  root = await tempDir('engram-package-');
  prefix = join(root, 'prefix');
  home = join(root, 'home');
  elsewhere = join(root, 'elsewhere');
  await Promise.all([mkdir(home), mkdir(elsewhere)]);
  // dist/ is built by `npm test` before the suite runs; packing again would only rebuild it.
  await exec('npm', ['pack', '--ignore-scripts', '--silent', '--pack-destination', root], { cwd: repo });
  const [name] = (await readdir(root)).filter((file) => file.endsWith('.tgz'));
  tarball = join(root, name as string);
}, 120_000);

describe('the packed package', () => {
  it('holds the program, the web UI, the docs and the licence — not the benchmarks, images or sources', async () => {
    const { stdout } = await exec('tar', ['-tzf', tarball]);
    const files = stdout.split('\n').map((line) => line.replace(/^package\//, ''));
    for (const wanted of [
      'LICENSE',
      'README.md',
      'bin/engram.js',
      'dist/src/cli/main.js',
      'dist/ui/index.html',
      'docs/mcp.md',
    ]) {
      expect(files).toContain(wanted);
    }
    for (const unwanted of ['dist/bench/', 'docs/images/', 'src/', 'test/', 'eval/']) {
      expect(files.filter((file) => file.startsWith(unwanted))).toEqual([]);
    }
  });

  it('installs into an empty prefix and serves, with the web UI and MCP over stdio, from anywhere', async () => {
    // As the README says: onnxruntime-node's CUDA download skipped.
    await exec('npm', ['install', '-g', '--no-audit', '--no-fund', '--prefix', prefix, tarball], {
      cwd: elsewhere,
      env: { ...process.env, ONNXRUNTIME_NODE_INSTALL: 'skip' },
      maxBuffer: 64 * 1024 * 1024,
    });
    const dataDir = join(home, '.local', 'share', 'engram');

    const server = spawn('engram', ['serve', '--port', '0'], { cwd: elsewhere, env: installedEnv() });
    let stderr = '';
    server.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    try {
      await expect.poll(() => stderr, { timeout: 120_000, interval: 200 }).toMatch(/Engram is ready/);
      expect(stderr).toContain(`data in ${dataDir}`);
      expect(stderr).not.toContain('using the TF.js runtime');
      const url = (/REST (http:\/\/[^ ]+)\/v1/.exec(stderr) as RegExpExecArray)[1];
      const page = await fetch(`${url}/`);
      expect(page.status).toBe(200);
      expect(await page.text()).toContain('<div id="app"');
      const added = await fetch(`${url}/v1/memories`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ content: 'The installed server keeps the spare key under the flowerpot.' }),
      });
      expect(added.status, await added.clone().text()).toBe(201);
    } finally {
      server.kill('SIGTERM');
      await new Promise((resolve) => server.once('exit', resolve));
    }

    // `engram mcp` from yet another directory finds the same memories.
    const transport = new StdioClientTransport({ command: 'engram', args: ['mcp'], cwd: root, env: installedEnv() });
    const client = new Client({ name: 'package-test', version: '0.0.0' });
    await client.connect(transport);
    try {
      const found = await client.callTool({ name: 'retrieve_memory', arguments: { query: 'where is the spare key?' } });
      expect(JSON.stringify(found.content)).toContain('flowerpot');
    } finally {
      await client.close();
    }
  }, 900_000);
});
