/** `engram add`, `search`, `list`, `export` and `import`: one user's memories from the shell. */
import { once } from 'node:events';
import { createReadStream, createWriteStream } from 'node:fs';
import { createInterface } from 'node:readline';
import { type Command, Option } from 'commander';
import { exportUser, importUser } from '../core/transfer.js';
import { CLI_ACTOR, csv, parseJsonOption, positiveInt, print, userOption, withService } from './common.js';
import { formatMemory, formatSearchResult, progressBar } from './format.js';

export function registerMemoryCommands(program: Command): void {
  program
    .command('add')
    .description('store a memory')
    .argument('<content...>', 'what to remember')
    .addOption(userOption())
    .option('--category <name>', 'category (default general)')
    .option('--tags <list>', 'comma-separated tags', csv)
    .option('--metadata <json>', 'metadata as a JSON object', parseJsonOption)
    .option('--session <id>', 'the conversation it comes from (search lends context along a session)')
    .option('--json', 'print JSON')
    .action(
      async (
        words: string[],
        options: {
          user: string;
          category?: string;
          tags?: string[];
          metadata?: unknown;
          session?: string;
          json?: boolean;
        },
        command: Command,
      ) => {
        await withService(command, async (service) => {
          const result = await service.add(
            options.user,
            {
              content: words.join(' '),
              category: options.category,
              tags: options.tags,
              metadata: options.metadata as Record<string, never>,
              sessionId: options.session,
            },
            CLI_ACTOR,
          );
          if (options.json) print(JSON.stringify(result, null, 2));
          else print(`${result.duplicate ? 'already stored' : 'stored'} ${result.memory.id}`);
        });
      },
    );

  program
    .command('search')
    .description('search memories; each result shows why it ranked')
    .argument('<query...>', 'what to look for')
    .addOption(userOption())
    .addOption(new Option('--mode <mode>', 'search mode').choices(['hybrid', 'vector', 'keyword']).default('hybrid'))
    .option('-n, --limit <n>', 'how many results', positiveInt, 10)
    .option('--category <name>', 'only this category')
    .option('--tags <list>', 'only memories with any of these tags', csv)
    .option('--json', 'print JSON')
    .action(
      async (
        words: string[],
        options: {
          user: string;
          mode: 'hybrid' | 'vector' | 'keyword';
          limit: number;
          category?: string;
          tags?: string[];
          json?: boolean;
        },
        command: Command,
      ) => {
        await withService(command, async (service) => {
          const response = await service.search(options.user, {
            query: words.join(' '),
            mode: options.mode,
            limit: options.limit,
            filter: { category: options.category, tagsAny: options.tags },
          });
          if (options.json) return print(JSON.stringify(response, null, 2));
          if (response.results.length === 0) return print('no matching memories');
          for (const [index, result] of response.results.entries()) print(formatSearchResult(result, index + 1));
        });
      },
    );

  program
    .command('list')
    .description('list memories, newest first')
    .addOption(userOption())
    .option('-n, --limit <n>', 'page size', positiveInt, 20)
    .option('--cursor <cursor>', 'continue after a previous page')
    .option('--category <name>', 'only this category')
    .option('--tags <list>', 'only memories with any of these tags', csv)
    .option('--json', 'print JSON')
    .action(
      async (
        options: { user: string; limit: number; cursor?: string; category?: string; tags?: string[]; json?: boolean },
        command: Command,
      ) => {
        await withService(command, async (service) => {
          const page = await service.list(options.user, {
            limit: options.limit,
            cursor: options.cursor,
            filter: { category: options.category, tagsAny: options.tags },
          });
          if (options.json) return print(JSON.stringify(page, null, 2));
          for (const memory of page.items) print(formatMemory(memory));
          if (page.nextCursor) print(`\nmore: engram list --cursor ${page.nextCursor}`);
        });
      },
    );

  program
    .command('export')
    .description("export a user's memories, vectors and history as JSONL")
    .addOption(userOption())
    .option('-o, --out <file>', 'write to a file instead of stdout')
    .action(async (options: { user: string; out?: string }, command: Command) => {
      await withService(command, async (service) => {
        const out = options.out ? createWriteStream(options.out) : process.stdout;
        for await (const line of exportUser(service, options.user)) {
          if (!out.write(line)) await once(out, 'drain');
        }
        if (options.out) await new Promise<void>((resolve) => out.end(() => resolve()));
      });
    });

  program
    .command('import')
    .description('import JSONL (from `engram export` or /v1/export); duplicates are skipped')
    .argument('<file>', 'JSONL file, or - for stdin')
    .addOption(userOption())
    .action(async (file: string, options: { user: string }, command: Command) => {
      await withService(command, async (service) => {
        const input = file === '-' ? process.stdin : createReadStream(file);
        const bar = progressBar('import', 'lines');
        bar.start(0, 0);
        const report = await importUser(
          service,
          options.user,
          createInterface({ input, crlfDelay: Infinity }),
          CLI_ACTOR,
          (r) => {
            const done = r.imported + r.duplicates;
            bar.setTotal(done);
            bar.update(done);
          },
        );
        bar.stop();
        print(
          `imported ${report.imported}, skipped ${report.duplicates} duplicates, ${report.history} history entries`,
        );
        for (const error of report.errors.slice(0, 20)) process.stderr.write(`line ${error.line}: ${error.message}\n`);
        if (report.errors.length > 0) {
          process.stderr.write(`${report.errors.length} lines could not be imported\n`);
          process.exitCode = 1;
        }
      });
    });
}
