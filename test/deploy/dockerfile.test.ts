import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { DockerfileParser } from 'dockerfile-ast';
import { validate } from 'dockerfile-utils';
import { describe, expect, it } from 'vitest';
import { REPO_DIR } from './compose-model.js';

const text = readFileSync(join(REPO_DIR, 'Dockerfile'), 'utf8');
const dockerfile = DockerfileParser.parse(text);
const instructions = dockerfile.getInstructions();
const lastFrom = instructions.findLastIndex((i) => i.getKeyword() === 'FROM');
const runtime = instructions.slice(lastFrom);
const args = (keyword: string) =>
  runtime.filter((i) => i.getKeyword() === keyword).map((i) => i.getArgumentsContent() ?? '');

describe('Dockerfile', () => {
  it('has no lint problems (dockerfile-utils, the linter of the VS Code Docker extension)', () => {
    const problems = validate(text).map((d) => `line ${d.range.start.line + 1}: ${d.message}`);
    expect(problems).toEqual([]);
  });

  it('is multi-stage on one pinned Node 20 base', () => {
    const stages = instructions.filter((i) => i.getKeyword() === 'FROM').map((i) => i.getArgumentsContent());
    expect(stages).toEqual([
      expect.stringMatching(/^\$\{NODE_IMAGE\} AS build$/),
      expect.stringMatching(/ AS runtime$/),
    ]);
    expect(stages[1]).toBe(stages[0]?.replace('build', 'runtime'));
    const base = /^ARG NODE_IMAGE=(\S+)$/m.exec(text)?.[1];
    expect(base).toMatch(/^node:20\.\d+\.\d+-[a-z]+-slim$/);
  });

  it('runs as a non-root user, under tini, with a health check and the data on a volume', () => {
    expect(args('USER')).toEqual(['node']);
    expect(args('ENTRYPOINT')[0]).toMatch(/^\["\/usr\/bin\/tini", "--", "node"/);
    expect(args('CMD')).toEqual(['["serve"]']);
    expect(args('HEALTHCHECK')[0]).toContain('/health');
    expect(args('VOLUME')).toEqual(['["/data"]']);
    // Nothing the runtime writes lives outside /data and /tmp (read-only root filesystem).
    expect(args('ENV').join(' ')).toMatch(/ENGRAM_DATA_DIR=\/data/);
    expect(args('ENV').join(' ')).toMatch(/HOME=\/tmp/);
  });

  it('ships only production dependencies, and the build context leaves out data and secrets', () => {
    expect(text).toMatch(/npm prune --omit=dev/);
    const ignored = readFileSync(join(REPO_DIR, '.dockerignore'), 'utf8').split('\n');
    for (const entry of ['.git', 'node_modules', 'data', '.env', 'secrets', 'test']) expect(ignored).toContain(entry);
  });
});
