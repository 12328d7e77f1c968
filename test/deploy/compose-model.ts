/** Resolves deploy/compose.yaml with Debian's docker-compose (`config`), from a scratch copy of deploy/. */
import { execFile } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { parse } from 'yaml';

export const DEPLOY_DIR = fileURLToPath(new URL('../../deploy/', import.meta.url));
export const REPO_DIR = fileURLToPath(new URL('../../', import.meta.url));
export const DEPLOY_TOOLS = process.env.ENGRAM_TEST_DEPLOY_TOOLS === '1';
export const DEPLOY_HOW =
  'needs docker-compose, promtool and prometheus: run `scripts/services.sh start` (CI does) and set ENGRAM_TEST_DEPLOY_TOOLS=1';

const run = promisify(execFile);

export interface ComposeService {
  image?: string;
  command?: string[];
  profiles?: string[];
  environment?: Record<string, string | null>;
  depends_on?: Record<string, { condition: string }>;
  healthcheck?: { test?: string[] | string; start_period?: string; disable?: boolean };
  restart?: string;
  read_only?: boolean;
  networks?: Record<string, unknown>;
  ports?: string[];
  secrets?: { source: string }[];
  volumes?: (string | { type: string; source?: string; target: string })[];
  deploy?: {
    replicas?: number;
    resources?: { limits?: { cpus?: number; memory?: string }; reservations?: { devices?: unknown[] } };
  };
}

export interface ComposeModel {
  services: Record<string, ComposeService>;
  networks: Record<string, { internal?: boolean } | null>;
  volumes: Record<string, unknown>;
  secrets: Record<string, { file: string }>;
}

/** A scratch copy of deploy/ with `.env` made from `.env.example` plus `env` lines. */
export function scratchDeploy(env: Record<string, string> = {}): { dir: string; remove: () => void } {
  const root = mkdtempSync(join(tmpdir(), 'engram-deploy-'));
  const dir = join(root, 'deploy');
  cpSync(DEPLOY_DIR, dir, { recursive: true });
  const extra = Object.entries(env).map(([name, value]) => `${name}=${value}\n`);
  writeFileSync(join(dir, '.env'), readFileSync(join(dir, '.env.example'), 'utf8') + extra.join(''));
  return { dir, remove: () => rmSync(root, { recursive: true, force: true }) };
}

/** The resolved Compose model for `profiles` (docker-compose fails on an invalid file). */
export async function resolveCompose(dir: string, profiles: string[], file = 'compose.yaml'): Promise<ComposeModel> {
  const args = ['-f', file, ...profiles.flatMap((p) => ['--profile', p]), 'config'];
  const { stdout } = await run('docker-compose', args, { cwd: dir });
  return parse(stdout) as ComposeModel;
}

/** Services a `docker compose --profile …` start would run: those without profiles, and the profiles' own. */
export function activeServices(model: ComposeModel, profiles: string[]): string[] {
  return Object.entries(model.services)
    .filter(([, service]) => !service.profiles || service.profiles.some((p) => profiles.includes(p)))
    .map(([name]) => name)
    .sort();
}
