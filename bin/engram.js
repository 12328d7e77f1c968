#!/usr/bin/env node
// The `engram` command. The TypeScript sources are compiled to dist/ by `npm ci` (prepare) or `npm run build`.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const entry = new URL('../dist/src/cli/main.js', import.meta.url);
if (!existsSync(fileURLToPath(entry))) {
  process.stderr.write('engram: dist/ is missing; run `npm run build` first.\n');
  process.exit(1);
}
await import(entry.href);
