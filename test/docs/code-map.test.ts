import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

/**
 * docs/ARCHITECTURE.md is the map of the code. It stays current: every folder of src/ (and every
 * file directly in it) is in its layout, at its depth, and every `src/…` path it names exists.
 */
const root = fileURLToPath(new URL('../..', import.meta.url));
const doc = readFileSync(join(root, 'docs/ARCHITECTURE.md'), 'utf8');

/** The code block under "## Layout". */
function layout(): string {
  const section = doc.split(/^## Layout$/m)[1] ?? '';
  return /```\n([\s\S]*?)```/.exec(section)?.[1] ?? '';
}

/** Every folder under src/ (relative, e.g. `stores/sqlite`), and the files directly in src/. */
function srcTree(): { folders: string[]; files: string[] } {
  const folders: string[] = [];
  const walk = (dir: string): void => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      if (!entry.isDirectory()) continue;
      const path = join(dir, entry.name);
      folders.push(relative(join(root, 'src'), path));
      walk(path);
    }
  };
  walk(join(root, 'src'));
  const files = readdirSync(join(root, 'src'), { withFileTypes: true })
    .filter((entry) => entry.isFile() && !entry.name.endsWith('.test.ts'))
    .map((entry) => entry.name);
  return { folders: folders.sort(), files: files.sort() };
}

describe('the code map (docs/ARCHITECTURE.md)', () => {
  const block = layout();
  const lines = block.split('\n');
  /** The entries of the layout at one depth under src/ (two spaces of indent per level). */
  const entriesAt = (depth: number): Set<string> =>
    new Set(
      lines
        .map((line) => new RegExp(`^ {${2 * depth}}(\\S+)`).exec(line)?.[1])
        .filter((name): name is string => name !== undefined),
    );

  it('has a layout that starts at src/', () => {
    expect(lines[0]).toBe('src/');
  });

  it('names every folder of src/ at its depth, and every file directly in src/', () => {
    const { folders, files } = srcTree();
    const missing = [
      ...folders.filter((folder) => {
        const parts = folder.split(/[\\/]/);
        return !entriesAt(parts.length).has(`${parts.at(-1)}/`);
      }),
      ...files.filter((file) => !entriesAt(1).has(file)),
    ];
    expect(missing, 'add these to the layout in docs/ARCHITECTURE.md').toEqual([]);
  });

  it('names no src/ folder that does not exist', () => {
    const { folders } = srcTree();
    const names = new Set(folders.map((folder) => `${folder.split(/[\\/]/).at(-1)}/`));
    const stale = [...entriesAt(1), ...entriesAt(2)].filter((entry) => entry.endsWith('/') && !names.has(entry));
    expect(stale).toEqual([]);
  });

  it('names only src/ paths that exist', () => {
    const paths = [...doc.matchAll(/`(src\/[^`\s]*)`/g)].map((match) => match[1] as string);
    expect(paths.length).toBeGreaterThan(10);
    expect(paths.filter((path) => !existsSync(join(root, path)))).toEqual([]);
  });

  it('is linked from the README', () => {
    expect(readFileSync(join(root, 'README.md'), 'utf8')).toContain('(docs/ARCHITECTURE.md)');
  });
});
