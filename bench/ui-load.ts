/**
 * The web UI's production build size and first load (`npm run bench:ui`, needs Chromium:
 * ENGRAM_TEST_CHROMIUM or /usr/bin/chromium). Sizes of dist/ui/ raw and gzipped; then 20 cold loads
 * (a fresh browser context each: empty cache) of `/` from a local server: DOMContentLoaded, load,
 * and the time until the sign-in form is on screen (the app has rendered).
 */
import { readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { chromium } from 'playwright-core';
import { testConfig } from '../src/config.js';
import { createLogger } from '../src/logger.js';
import { openService } from '../src/runtime.js';
import { UI_DIR } from '../src/server/routes/ui.js';
import { startServer } from '../src/server/server.js';
import { markdownTable } from './report.js';
import { percentile } from './stats.js';

const LOADS = 20;
const sizes = readdirSync(UI_DIR).map((name) => {
  const bytes = readFileSync(join(UI_DIR, name));
  return { name, raw: bytes.length, gzip: gzipSync(bytes).length };
});
const total = { name: 'total', raw: 0, gzip: 0 };
for (const size of sizes) {
  total.raw += size.raw;
  total.gzip += size.gzip;
}
const sizeRows = [...sizes, total].map((size) => [size.name, size.raw, size.gzip]);
process.stdout.write(`\n${markdownTable(['file', 'bytes', 'gzip bytes'], sizeRows, 0)}\n`);

const dataDir = await mkdtemp(join(tmpdir(), 'engram-bench-ui-'));
const config = testConfig({ port: 0, dataDir, logLevel: 'silent', limits: { rateLimitPerMinute: 0 } });
const server = await startServer(config, await openService(config), createLogger('silent'));
const browser = await chromium.launch({
  executablePath: process.env.ENGRAM_TEST_CHROMIUM ?? '/usr/bin/chromium',
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
});
const dcl: number[] = [];
const load: number[] = [];
const form: number[] = [];
try {
  for (let i = 0; i < LOADS; i++) {
    const context = await browser.newContext();
    const page = await context.newPage();
    const started = performance.now();
    await page.goto(server.url);
    await page.getByLabel('API key').waitFor();
    form.push(performance.now() - started);
    // Runs in the page (a browser, not Node): the navigation entry's timings, in ms from the start.
    const timing = await page.evaluate(
      'JSON.stringify((({ domContentLoadedEventEnd: dcl, loadEventEnd: load }) => ({ dcl, load }))(performance.getEntriesByType("navigation")[0]))',
    );
    const { dcl: ready, load: loaded } = JSON.parse(timing as string) as { dcl: number; load: number };
    dcl.push(ready);
    load.push(loaded);
    await context.close();
  }
} finally {
  await browser.close();
  await server.close();
  await rm(dataDir, { recursive: true, force: true });
}
const row = (name: string, values: number[]) => [name, percentile(values, 50), percentile(values, 95)];
process.stdout.write(
  `\n${markdownTable(
    ['cold load of / (localhost)', 'p50 ms', 'p95 ms'],
    [row('DOMContentLoaded', dcl), row('load', load), row('sign-in form on screen (from goto)', form)],
    1,
  )}\n`,
);
