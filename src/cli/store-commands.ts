/** `engram reindex` and `engram migrate-store`: work on a whole store. */
import type { Command } from 'commander';
import { parseStoreSpec } from '../backends.js';
import type { Config } from '../config.js';
import { reindex } from '../core/reindex.js';
import { buildParts } from '../runtime.js';
import { refuseWhileServing } from '../shared/serving.js';
import { copyStore } from '../stores/copy.js';
import { createStore } from '../stores/registry.js';
import type { MemoryStore } from '../stores/store.js';
import { configFrom, print } from './common.js';
import { progressBar } from './format.js';

/** A `--from`/`--to` store spec → a store (not yet initialised), through the same registry as the config's. */
function storeFromSpec(spec: string, config: Config): MemoryStore {
  const { name, options } = parseStoreSpec(spec, config);
  return createStore(name, options);
}

export function registerStoreCommands(program: Command): void {
  program
    .command('reindex')
    .description('re-embed every memory with the configured embedder (after changing ENGRAM_EMBEDDER)')
    .action(async (_options: unknown, command: Command) => {
      const config = configFrom(command);
      await refuseWhileServing(config.dataDir, 'reindex');
      const { store, embedder } = buildParts(config);
      await store.init();
      await embedder.init();
      try {
        const bar = progressBar('reindex', 'memories');
        bar.start((await store.stats()).memories, 0);
        const done = await reindex(store, embedder, (count) => bar.update(count));
        bar.stop();
        print(`re-embedded ${done} memories with ${embedder.model} (${embedder.dimension}-d)`);
      } finally {
        await embedder.close();
        await store.close();
      }
    });

  program
    .command('migrate-store')
    .description('copy every memory, vector and history entry from one store to another (resumable, verified)')
    .requiredOption('--from <store>', 'sqlite:<file>, json:<data dir> or postgres:<url>')
    .requiredOption('--to <store>', 'sqlite:<file>, json:<data dir> or postgres:<url>')
    .action(async (options: { from: string; to: string }, command: Command) => {
      const config = configFrom(command);
      const source = storeFromSpec(options.from, config);
      const target = storeFromSpec(options.to, config);
      await source.init();
      try {
        await target.init();
        const bar = progressBar('migrate-store', 'memories');
        bar.start(0, 0);
        const report = await copyStore(source, target, {
          onProgress: (done, total) => {
            bar.setTotal(total);
            bar.update(done);
          },
          onStep: (step) => {
            bar.stop();
            process.stderr.write(`${step} …\n`);
          },
        });
        bar.stop();
        print(
          `copied ${report.copied} of ${report.memories} memories (${report.memories - report.copied} were there already) ` +
            `with ${report.history} history entries, and the history of ${report.deleted} deleted memories ` +
            `(${report.deletedHistory} entries); verified`,
        );
      } finally {
        await target.close();
        await source.close();
      }
    });
}
