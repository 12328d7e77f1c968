#!/usr/bin/env node
// Builds the web UI (ui/) into dist/ui/: one minified ES module bundle, its CSS, index.html and the icon.
// `npm run build` runs it after tsc; the server serves dist/ui/ at / (src/server/routes/ui.ts).
import { copyFileSync, mkdirSync, readdirSync, renameSync, rmSync, statSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = fileURLToPath(new URL('..', import.meta.url));
const out = `${root}dist/ui`;
rmSync(out, { recursive: true, force: true });
mkdirSync(out, { recursive: true });
await build({
  entryPoints: { app: `${root}ui/src/main.tsx`, app_css: `${root}ui/src/styles.css` },
  entryNames: '[name]',
  outdir: out,
  bundle: true,
  splitting: true,
  chunkNames: 'chunk-[hash]',
  format: 'esm',
  target: 'es2022',
  minify: true,
  sourcemap: false,
  jsx: 'automatic',
  jsxImportSource: 'preact',
  legalComments: 'none',
  logLevel: 'warning',
});
renameSync(`${out}/app_css.css`, `${out}/app.css`);
copyFileSync(`${root}ui/index.html`, `${out}/index.html`);
copyFileSync(`${root}ui/favicon.svg`, `${out}/favicon.svg`);
if (process.argv.includes('--report')) {
  for (const name of readdirSync(out).sort()) {
    process.stdout.write(`${name}\t${statSync(`${out}/${name}`).size} bytes\n`);
  }
}
