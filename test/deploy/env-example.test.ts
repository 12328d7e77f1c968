import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ENV_VARS, loadConfig, SECRET_VARS } from '../../src/config.js';
import { DEPLOY_DIR, REPO_DIR } from './compose-model.js';

const example = readFileSync(join(DEPLOY_DIR, '.env.example'), 'utf8');
/** Names the file documents, commented out (`# NAME=`) or set (`NAME=`). */
const documented = new Set([...example.matchAll(/^(?:# )?([A-Z][A-Z0-9_]*)=/gm)].map((m) => m[1] as string));

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((entry) => entry.isFile() && /\.(ts|js)$/.test(entry.name))
    .map((entry) => join(entry.parentPath, entry.name));
}

/** Every environment variable name the application's code mentions (config.ts's table and anything read directly). */
function namesInCode(): Set<string> {
  const names = new Set<string>();
  for (const file of [...sourceFiles(join(REPO_DIR, 'src')), ...sourceFiles(join(REPO_DIR, 'bin'))]) {
    const text = readFileSync(file, 'utf8');
    for (const match of text.matchAll(/\b((?:ENGRAM|OTEL)_[A-Z0-9_]*[A-Z0-9])\b/g)) names.add(match[1] as string);
    for (const match of text.matchAll(/process\.env\.([A-Z][A-Z0-9_]+)/g)) names.add(match[1] as string);
  }
  // A name built at run time (`${name}_FILE`, prices by kind) shows up only as its stem.
  for (const name of names) if (!/[A-Z0-9]$/.test(name)) names.delete(name);
  return names;
}

describe('deploy/.env.example', () => {
  it('documents every variable in the configuration table, and the _FILE variant of each secret', () => {
    const expected = [...Object.keys(ENV_VARS), ...[...SECRET_VARS].map((name) => `${name}_FILE`), 'ENGRAM_CONFIG'];
    expect(expected.filter((name) => !documented.has(name))).toEqual([]);
  });

  it('documents every variable the code mentions', () => {
    // The platform's, read to find other programs' config files (`engram mcp-config --write`).
    const ignored = new Set(['NODE_ENV', 'APPDATA', 'XDG_CONFIG_HOME']);
    const missing = [...namesInCode()].filter((name) => !documented.has(name) && !ignored.has(name));
    expect(missing).toEqual([]);
  });

  it('documents every variable compose.yaml interpolates', () => {
    const compose = readFileSync(join(DEPLOY_DIR, 'compose.yaml'), 'utf8');
    const used = new Set([...compose.matchAll(/\$\{([A-Z][A-Z0-9_]*)/g)].map((m) => m[1] as string));
    expect(used.size).toBeGreaterThan(5);
    expect([...used].filter((name) => !documented.has(name))).toEqual([]);
  });

  it('sets no secret (secrets go to deploy/secrets/ files)', () => {
    const set = [...example.matchAll(/^([A-Z][A-Z0-9_]*)=(.+)$/gm)].map((m) => m[1] as string);
    expect(set.filter((name) => SECRET_VARS.has(name) || /KEY|TOKEN|PASSWORD|SECRET/.test(name))).toEqual([]);
  });

  it('names no variable the code does not read (no stale entries)', () => {
    const known = new Set([
      ...Object.keys(ENV_VARS),
      ...[...SECRET_VARS].map((name) => `${name}_FILE`),
      ...namesInCode(),
    ]);
    const compose = readFileSync(join(DEPLOY_DIR, 'compose.yaml'), 'utf8');
    // Compose itself reads COMPOSE_PROJECT_NAME; vLLM reads HF_TOKEN (named in compose.yaml).
    known.add('COMPOSE_PROJECT_NAME');
    const stale = [...documented].filter((name) => !known.has(name) && !compose.includes(name));
    expect(stale).toEqual([]);
  });
});

describe('deploy/.env.example’s values', () => {
  /** `# NAME=value` lines of configuration settings with a value shown. */
  const shown = [...example.matchAll(/^# (ENGRAM_[A-Z0-9_]+)=(.+)$/gm)]
    .map((m) => ({ name: m[1] as string, value: m[2] as string }))
    .filter(({ name }) => name in ENV_VARS);

  it('are each the default: uncommenting one changes nothing', () => {
    expect(shown.length).toBeGreaterThan(50);
    const defaults = loadConfig({ env: {} });
    const at = (config: unknown, path: string) =>
      path.split('.').reduce<unknown>((node, key) => (node as Record<string, unknown>)?.[key], config);
    const differing = shown.filter(({ name, value }) => {
      const path = ENV_VARS[name as keyof typeof ENV_VARS];
      try {
        return JSON.stringify(at(loadConfig({ env: { [name]: value } }), path)) !== JSON.stringify(at(defaults, path));
      } catch {
        return true; // refused: not a value Engram takes at all
      }
    });
    expect(differing).toEqual([]);
  });
});
