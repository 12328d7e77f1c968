import { existsSync } from 'node:fs';
import { configDefaults, defineConfig } from 'vitest/config';

/**
 * Test files only the full tier runs (`npm test`, what CI runs), each with the reason; every other
 * test file is in the fast tier too (`npm run test:fast`: no build, no spawned processes, no
 * browser, the real embedding model only where a search needs it). A new test file is in the
 * fast tier unless it is listed here — list it when the real embedding model is its subject, when it runs the built CLI or server
 * (`dist/`, and each process loads the model), drives a browser, kills processes, or otherwise
 * takes more than a few seconds on a busy machine. docs/testing.md says more.
 */
const fullTierOnly: Record<string, string> = {
  // The real embedding model is the subject, or the search quality it gives.
  'test/embed/use-embedder.test.ts': 'the real embedding model: vectors, batching, the query worker',
  'test/embed/use-onnx.test.ts': 'the real model on onnxruntime, compared with TF.js',
  'test/core/lifecycle.test.ts': 'supersession and near-duplicates decided by the real model’s similarities',
  // Crash trials and process death: built servers killed mid-write, restarted, checked.
  'test/reliability/crash.test.ts': 'crash trials: SIGKILL mid-write on every store, many rounds',
  'test/server/crash.test.ts': 'a built server SIGKILLed during a write burst',
  'test/server/jobs-crash.test.ts': 'built servers SIGKILLed while running background jobs',
  'test/server/shutdown.test.ts': 'SIGTERM to a built server during a write burst',
  'test/reliability/two-servers.test.ts': 'two built servers on one data directory',
  'test/server/replicas.test.ts': 'built server replicas sharing Redis and PostgreSQL',
  // The isolation matrix: every route and tool, each with its own setup.
  'test/reliability/isolation-matrix.test.ts': 'the tenant isolation matrix over every route and tool',
  // Fuzzing: thousands of generated requests.
  'test/extract/fuzz.test.ts': '1,000 generated adds and extractions',
  // The built CLI and its processes (each loads the real model).
  'test/mcp/stdio.test.ts': 'the built `engram mcp` over stdio, with the real model',
  'test/cli/cli.test.ts': 'the built CLI, one process per command',
  'test/cli/first-run.test.ts': 'the built CLI’s first run',
  'test/cli/mcp-config.test.ts': 'the built CLI’s `mcp-config`, and the clients it configures',
  'test/cli/bot-command.test.ts': 'the built `engram bot`',
  'test/cli/migrate-store.test.ts': 'the built CLI’s `migrate-store`',
  'test/backup/backup.test.ts': 'backups of a built server under writes, and the CLI’s restore',
  'test/server/file-modes.test.ts': 'files a built server and the CLI create',
  'test/reliability/secrets.test.ts': 'logs and errors of built servers and CLI commands',
  'test/llm/ollama-recipe.test.ts': 'docs/llm.md’s recipe on a built server',
  'test/telemetry/lazy-load.test.ts': 'which modules built servers and CLI commands load, tracing off and on',
  // Deployment: the package, the image's first run, Compose and Prometheus.
  'test/deploy/package.test.ts': 'packs Engram and installs the package (about five minutes)',
  'test/deploy/first-run.test.ts': 'the image’s documented first run, on the built CLI',
  'test/deploy/compose.test.ts': 'docker compose on every profile',
  'test/deploy/prometheus.test.ts': 'a real Prometheus scraping a built server',
  // A real browser (Chromium) on the web UI.
  'test/ui/accessibility.test.ts': 'browser',
  'test/ui/act-for.test.ts': 'browser',
  'test/ui/add-memory.test.ts': 'browser',
  'test/ui/console.test.ts': 'browser',
  'test/ui/kb-notes.test.ts': 'browser',
  'test/ui/search-limit.test.ts': 'browser',
  'test/ui/ui.test.ts': 'browser',
};

for (const file of Object.keys(fullTierOnly)) {
  if (!existsSync(new URL(file, import.meta.url))) {
    throw new Error(`vitest.config.ts lists ${file} in the full tier, but there is no such file`);
  }
}

export default defineConfig({
  test: {
    pool: 'forks',
    testTimeout: 60_000,
    hookTimeout: 60_000,
    reporters: ['default'],
    // `vitest run` runs both projects (every file once); `vitest run --project fast` the fast tier.
    projects: [
      {
        extends: true,
        test: {
          name: 'fast',
          include: ['test/**/*.test.ts', 'src/**/*.test.ts'],
          exclude: [...configDefaults.exclude, ...Object.keys(fullTierOnly)],
        },
      },
      {
        extends: true,
        test: { name: 'slow', include: Object.keys(fullTierOnly) },
      },
    ],
  },
});
