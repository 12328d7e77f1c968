import { once } from 'node:events';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli, spawnServer } from '../helpers/process.js';

/**
 * With tracing off, Engram loads no OpenTelemetry package (src/telemetry/tracing.ts imports them
 * when it turns tracing on). A preload in the child process records every `@opentelemetry/*`
 * package imported as ESM (a resolve hook, with the importing file) and every one required (the
 * CommonJS cache), and writes them down when the process exits.
 *
 * prom-client requires `@opentelemetry/api` itself (for exemplars), so that one small package is
 * loaded whatever Engram does; the SDK packages — about 200 modules, ~0.4 s to load — are not.
 */
const PROBE = `
import { appendFileSync, writeFileSync } from 'node:fs';
import { createRequire, register } from 'node:module';
import { isMainThread } from 'node:worker_threads';

const out = process.env.OTEL_PROBE_OUT;
const name = (path) => /[\\\\/]node_modules[\\\\/](@opentelemetry[\\\\/][^\\\\/]+)/.exec(path)?.[1].replace('\\\\', '/');

export async function resolve(specifier, context, next) {
  const resolved = await next(specifier, context);
  const found = name(resolved.url);
  if (found) appendFileSync(out + '.esm', JSON.stringify({ name: found, parent: context.parentURL }) + '\\n');
  return resolved;
}

if (isMainThread) {
  register(import.meta.url);
  const cache = createRequire(import.meta.url).cache;
  process.on('exit', () => {
    const names = Object.keys(cache).map(name).filter(Boolean);
    writeFileSync(out, JSON.stringify(names));
  });
}
`;

const OTEL = [
  '@opentelemetry/api',
  '@opentelemetry/exporter-trace-otlp-http',
  '@opentelemetry/resources',
  '@opentelemetry/sdk-trace-node',
];

let root: string;
let probeUrl: string;
let runs = 0;

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'engram-otel-lazy-'));
  const probe = join(root, 'otel-probe.mjs');
  await writeFile(probe, PROBE);
  probeUrl = pathToFileURL(probe).href;
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

interface Loaded {
  /** Every OpenTelemetry package the process loaded, by whomever. */
  all: string[];
  /** Those Engram's own code imported (from a file outside node_modules). */
  byEngram: string[];
}

/** The environment of a probed child, and a reader of the packages it loaded (once it has exited). */
function probed(tracing: Record<string, string>) {
  const out = join(root, `loaded-${runs++}.json`);
  const env = {
    NODE_OPTIONS: `--import=${probeUrl}`,
    OTEL_PROBE_OUT: out,
    OTEL_EXPORTER_OTLP_ENDPOINT: '',
    OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: '',
    ...tracing,
  };
  const loaded = async (): Promise<Loaded> => {
    const required = JSON.parse(await readFile(out, 'utf8')) as string[];
    const imported = (await readFile(`${out}.esm`, 'utf8').catch(() => ''))
      .split('\n')
      .filter(Boolean)
      .map((line) => JSON.parse(line) as { name: string; parent?: string });
    const distinct = (names: string[]) => [...new Set(names)].sort();
    return {
      all: distinct([...required, ...imported.map((i) => i.name)]),
      byEngram: distinct(imported.filter((i) => !i.parent?.includes('/node_modules/')).map((i) => i.name)),
    };
  };
  return { env, loaded };
}

/** Starts `engram serve`, lists memories (HTTP middleware → service → store), stops it. */
async function serveOnce(tracing: Record<string, string>): Promise<Loaded> {
  const { env, loaded } = probed(tracing);
  const server = await spawnServer(['--data-dir', join(root, `data-${runs}`)], env);
  try {
    expect((await fetch(`${server.url}/health`)).status).toBe(200);
    expect((await fetch(`${server.url}/v1/memories`)).status).toBe(200);
  } finally {
    const exited = once(server.child, 'exit');
    server.child.kill('SIGTERM');
    await exited;
  }
  return loaded();
}

describe('OpenTelemetry is loaded only with tracing on', () => {
  it('a server with tracing off loads none of its packages (but the API prom-client requires)', async () => {
    const loaded = await serveOnce({});
    expect(loaded.byEngram).toEqual([]);
    expect(loaded.all.filter((name) => name !== '@opentelemetry/api')).toEqual([]);
  });

  it('a server with tracing on loads all four (so the probe sees them)', async () => {
    // A collector that takes whatever it is sent.
    const collector = createServer((request, response) => {
      request.resume().on('end', () => response.writeHead(200, { 'content-type': 'application/json' }).end('{}'));
    });
    collector.listen(0, '127.0.0.1');
    await once(collector, 'listening');
    const { port } = collector.address() as AddressInfo;
    const loaded = await serveOnce({ OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${port}` }).finally(() =>
      collector.close(),
    );
    expect(loaded.byEngram).toEqual(OTEL);
  });

  it('the CLI loads none of them either, and reports the version package.json gives', async () => {
    const { env, loaded } = probed({});
    const result = await runCli(['--version'], env);
    expect(result.code).toBe(0);
    const pkg = JSON.parse(await readFile(new URL('../../package.json', import.meta.url), 'utf8')) as {
      version: string;
    };
    expect(result.stdout.trim()).toBe(pkg.version);
    const { all, byEngram } = await loaded();
    expect(byEngram).toEqual([]);
    expect(all.filter((name) => name !== '@opentelemetry/api')).toEqual([]);
  });
});
