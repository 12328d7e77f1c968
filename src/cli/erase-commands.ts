/**
 * `engram delete`, `engram restore`, `engram forget` and `engram compact`: undoable deletion, its
 * undo, and erasure for good (docs/operations.md#erasing-data). The words mean the same on every
 * surface: *delete* can be undone, *restore* undoes it (a backup is `restore-backup`), *forget*
 * erases for good.
 */
import { existsSync } from 'node:fs';
import type { Command, Option } from 'commander';
import type { Config } from '../config.js';
import { EngramError } from '../core/errors.js';
import type { Actor, MemoryService } from '../core/memory-service.js';
import { buildParts } from '../runtime.js';
import { refuseWhileServing } from '../shared/serving.js';
import { formatMemory } from './format.js';

export interface EraseCommandParts {
  configOf(command: Command): Config;
  withService<T>(command: Command, work: (service: MemoryService) => Promise<T>): Promise<T>;
  userOption(): Option;
  print(line: string): void;
  actor: Actor;
}

const mb = (bytes: number | undefined) => (bytes === undefined ? '? MB' : `${(bytes / 1_048_576).toFixed(2)} MB`);

export function registerEraseCommands(program: Command, parts: EraseCommandParts): void {
  const { configOf, withService, userOption, print, actor } = parts;

  program
    .command('delete')
    .description('delete a memory; its history is kept, so `engram restore` can bring it back')
    .argument('<id>', 'the memory id')
    .addOption(userOption())
    .action(async (id: string, options: { user: string }, command: Command) => {
      await withService(command, async (service) => {
        const deleted = await service.delete(options.user, id, actor);
        print(`deleted ${deleted.id} (its history is kept; \`engram restore ${deleted.id}\` undoes this)`);
      });
    });

  program
    .command('restore')
    .alias('undelete')
    .description(
      'bring a deleted memory back as it was before its deletion (as POST /v1/memories/{id}/restore and MCP restore_memory); backups: `engram restore-backup`',
    )
    .argument('<id>', 'the memory id')
    .addOption(userOption())
    .action(async (id: string, options: { user: string }, command: Command) => {
      if (/[/\\]|\.db$/.test(id) && existsSync(id)) {
        throw new EngramError(
          'invalid_request',
          `\`engram restore\` brings back a deleted memory by its id; to restore the backup ${id}, run \`engram restore-backup ${id}\``,
        );
      }
      await withService(command, async (service) => {
        print(`restored ${formatMemory(await service.restore(options.user, id, actor))}`);
      });
    });

  program
    .command('forget')
    .description('erase a memory for good, current or deleted: it, its vector and its whole history')
    .argument('<id>', 'the memory id')
    .addOption(userOption())
    .action(async (id: string, options: { user: string }, command: Command) => {
      await withService(command, async (service) => {
        await service.forget(options.user, id);
        print(
          `forgot ${id}: it and its history are erased (run \`engram compact\` to clear it from the store's free space)`,
        );
      });
    });

  program
    .command('compact')
    .description('rewrite the store so that deleted rows leave no content in its free space (locks it while it runs)')
    .action(async (_options: unknown, command: Command) => {
      const config = configOf(command);
      await refuseWhileServing(config.dataDir, 'compact');
      const { store } = buildParts(config);
      await store.init();
      try {
        const before = (await store.stats()).bytes;
        const started = performance.now();
        await store.compact();
        const after = (await store.stats()).bytes;
        print(
          `compacted the ${store.name} store: ${mb(before)} → ${mb(after)} in ${Math.round(performance.now() - started)} ms`,
        );
      } finally {
        await store.close();
      }
    });
}
