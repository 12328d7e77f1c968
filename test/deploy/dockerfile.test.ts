import { execFileSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DockerfileParser, type Instruction } from 'dockerfile-ast';
import { validate } from 'dockerfile-utils';
import { describe, expect, it } from 'vitest';
import { tempDirSync } from '../helpers/temp-dir.js';
import { REPO_DIR } from './compose-model.js';

const text = readFileSync(join(REPO_DIR, 'Dockerfile'), 'utf8');
const dockerfile = DockerfileParser.parse(text);
const instructions = dockerfile.getInstructions();
const froms = instructions.flatMap((i, index) => (i.getKeyword() === 'FROM' ? [index] : []));
const build = instructions.slice(froms[0], froms[1]);
const runtime = instructions.slice(froms.at(-1));
const args = (stage: Instruction[], keyword: string) =>
  stage.filter((i) => i.getKeyword() === keyword).map((i) => i.getArgumentsContent() ?? '');
const packageJson = JSON.parse(readFileSync(join(REPO_DIR, 'package.json'), 'utf8')) as {
  allowScripts: Record<string, boolean>;
};

/**
 * Node.js LTS lines and the end of their support (nodejs.org release schedule). A base on a line
 * past its end fails here: bump `NODE_IMAGE` to the current LTS line (docs/operations.md, "Upgrades").
 */
const LTS_END: Record<number, string> = { 22: '2027-04-30', 24: '2028-04-30', 26: '2029-04-30' };

const base = /^ARG NODE_IMAGE=(\S+)$/m.exec(text)?.[1] ?? '';

describe('Dockerfile', () => {
  it('has no lint problems (dockerfile-utils, the linter of the VS Code Docker extension)', () => {
    const problems = validate(text).map((d) => `line ${d.range.start.line + 1}: ${d.message}`);
    expect(problems).toEqual([]);
  });

  it('builds both stages on one base, pinned to an exact release of a supported Node.js LTS line', () => {
    const stages = instructions.filter((i) => i.getKeyword() === 'FROM').map((i) => i.getArgumentsContent());
    expect(stages).toEqual(['build', 'runtime'].map((stage) => `\${NODE_IMAGE} AS ${stage}`));
    const version = /^node:(\d+)\.\d+\.\d+-(bookworm|trixie)-slim$/.exec(base);
    expect(version, `NODE_IMAGE=${base} is not node:<major.minor.patch>-<debian>-slim`).not.toBeNull();
    const end = LTS_END[Number(version?.[1])];
    expect(end, `Node.js ${version?.[1]} is not an LTS line`).toBeDefined();
    expect(new Date().toISOString().slice(0, 10) < (end ?? ''), `Node.js ${version?.[1]} ended ${end}`).toBe(true);
  });

  it('names the same Node.js image wherever the docs and deploy files name one', () => {
    const docs = readdirSync(join(REPO_DIR, 'docs')).filter((name) => name.endsWith('.md'));
    const files = ['README.md', ...docs.map((name) => `docs/${name}`), 'deploy/compose.yaml', 'deploy/.env.example'];
    for (const file of files) {
      const named = readFileSync(join(REPO_DIR, file), 'utf8').match(/\bnode:\d[\w.-]*/g) ?? [];
      for (const image of named) expect(image, file).toBe(base);
    }
  });

  it('never runs the install scripts that download (onnxruntime-node: CUDA from nuget.org), and needs no .npmrc', () => {
    const env = build.filter((i) => i.getKeyword() === 'ENV').flatMap((i) => i.getArgumentsContent()?.split(/\s+/));
    expect(env).toContain('ONNXRUNTIME_NODE_INSTALL=skip');
    const firstNpm = build.findIndex((i) => i.getKeyword() === 'RUN' && /\bnpm\b/.test(i.getArgumentsContent() ?? ''));
    const skip = build.findIndex(
      (i) => i.getKeyword() === 'ENV' && /ONNXRUNTIME_NODE_INSTALL=skip/.test(i.getArgumentsContent() ?? ''),
    );
    expect(skip).toBeLessThan(firstNpm);

    const npm = args(build, 'RUN').flatMap((run) => run.split(/&&|;/).map((command) => command.trim()));
    for (const install of npm.filter((command) => /^npm (ci|install|i)\b/.test(command))) {
      expect(install).toContain('--ignore-scripts');
    }
    // `npm rebuild` names what it builds, each allowed by package.json's allowScripts; never all.
    const rebuilds = npm.filter((command) => command.startsWith('npm rebuild'));
    expect(rebuilds.length).toBeGreaterThan(0);
    for (const rebuild of rebuilds) {
      const names = rebuild.split(/\s+/).slice(2);
      expect(names.length, rebuild).toBeGreaterThan(0);
      for (const name of names) expect(packageJson.allowScripts[name], name).toBe(true);
    }
    expect(packageJson.allowScripts['onnxruntime-node']).toBe(false);

    const copied = args(build, 'COPY').join(' ');
    expect(copied).toContain('package-lock.json');
    expect(copied).not.toContain('.npmrc');
  });

  describe("keeps only the build platform's onnxruntime binaries (the removal step, run on a stand-in tree)", () => {
    const runs = args(build, 'RUN');
    const prune = runs.findIndex((run) => run.includes('npm prune --omit=dev'));
    const removal = runs.findIndex((run) => run.includes('onnxruntime-node/bin/napi-v6'));
    const root = tempDirSync('engram-ort-');
    const ort = (app: string) => join(app, 'node_modules/onnxruntime-node/bin/napi-v6');
    const runRemoval = (app: string) => execFileSync('sh', ['-ec', runs[removal] ?? 'false'], { cwd: app });

    it('runs after the dev dependencies are pruned', () => {
      expect(prune).toBeGreaterThanOrEqual(0);
      expect(removal).toBeGreaterThan(prune);
    });

    it('removes every other platform and architecture', () => {
      const app = join(root, 'app');
      const platforms = ['darwin/arm64', 'linux/arm64', 'linux/x64', 'win32/arm64', 'win32/x64'];
      const own = `${process.platform}/${process.arch}`;
      for (const platform of new Set([...platforms, own])) {
        mkdirSync(join(ort(app), platform), { recursive: true });
        writeFileSync(join(ort(app), platform, 'onnxruntime_binding.node'), 'binary');
      }
      runRemoval(app);
      expect(readdirSync(ort(app))).toEqual([process.platform]);
      expect(readdirSync(join(ort(app), process.platform))).toEqual([process.arch]);
      expect(readdirSync(join(ort(app), own))).toEqual(['onnxruntime_binding.node']);
    });

    it('succeeds where onnxruntime-node, an optional dependency, is not installed', () => {
      const app = join(root, 'without-ort');
      mkdirSync(join(app, 'node_modules'), { recursive: true });
      expect(() => runRemoval(app)).not.toThrow();
    });
  });

  it('runs as a non-root user, under tini, with a health check and the data on a volume', () => {
    expect(args(runtime, 'USER')).toEqual(['node']);
    expect(args(runtime, 'ENTRYPOINT')[0]).toMatch(/^\["\/usr\/bin\/tini", "--", "node"/);
    expect(args(runtime, 'CMD')).toEqual(['["serve"]']);
    expect(args(runtime, 'HEALTHCHECK')[0]).toContain('/health');
    expect(args(runtime, 'VOLUME')).toEqual(['["/data"]']);
    // Nothing the runtime writes lives outside /data and /tmp (read-only root filesystem).
    expect(args(runtime, 'ENV').join(' ')).toMatch(/ENGRAM_DATA_DIR=\/data/);
    expect(args(runtime, 'ENV').join(' ')).toMatch(/HOME=\/tmp/);
  });

  it('ships only production dependencies, and the build context leaves out data and secrets', () => {
    expect(text).toMatch(/npm prune --omit=dev/);
    const ignored = readFileSync(join(REPO_DIR, '.dockerignore'), 'utf8').split('\n');
    for (const entry of ['.git', 'node_modules', 'data', '.env', 'secrets', 'test']) expect(ignored).toContain(entry);
  });
});
