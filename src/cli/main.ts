/** The `engram` command: global options, then each group of commands from its own module. */
import { existsSync } from 'node:fs';
import { Command, Option } from 'commander';
import { unknownEnvWarnings } from '../config.js';
import { EngramError } from '../core/errors.js';
import { embedderNames } from '../embed/registry.js';
import { STORE_NAMES } from '../stores/registry.js';
import { packageVersion } from '../util/paths.js';
import { registerBackupCommands } from './backup-commands.js';
import { CLI_ACTOR, configFrom, print, userOption, withService } from './common.js';
import { registerEraseCommands } from './erase-commands.js';
import { registerKeyCommands } from './key-commands.js';
import { registerMcpConfigCommand } from './mcp-config.js';
import { registerMemoryCommands } from './memory-commands.js';
import { registerServeCommands } from './serve-commands.js';
import { registerStoreCommands } from './store-commands.js';

export function buildCli(): Command {
  const program = new Command('engram')
    .description('Engram: self-hosted long-term memory for AI assistants')
    .version(packageVersion())
    .option('-c, --config <file>', 'JSON config file (see docs/configuration.md)')
    .option(
      '-d, --data-dir <dir>',
      'data directory (ENGRAM_DATA_DIR; default ./data in a git checkout, else the per-user data directory)',
    )
    .addOption(new Option('--store <name>', 'storage backend (ENGRAM_STORE)').choices(STORE_NAMES))
    .addOption(new Option('--embedder <name>', 'embedder (ENGRAM_EMBEDDER)').choices(embedderNames))
    .showHelpAfterError();

  registerServeCommands(program);
  registerMemoryCommands(program);
  registerStoreCommands(program);
  registerMcpConfigCommand(program, (command) => configFrom(command), print);
  registerBackupCommands(program, (command) => configFrom(command), print);
  registerEraseCommands(program, {
    configOf: (command) => configFrom(command),
    withService: (command, work) => withService(command, (service) => work(service)),
    userOption,
    print,
    actor: CLI_ACTOR,
  });
  registerKeyCommands(program);

  return program;
}

export async function main(argv: string[]): Promise<void> {
  // Everything Engram writes holds users' data: files it (and SQLite, and git) creates are 0600,
  // directories 0700, whatever the shell's umask.
  process.umask(0o077);
  try {
    // Settings in ./.env, under the environment's (which wins).
    if (existsSync('.env')) process.loadEnvFile('.env');
    for (const warning of unknownEnvWarnings()) process.stderr.write(`engram: warning: ${warning}\n`);
    await buildCli().parseAsync(argv);
  } catch (error) {
    if (error instanceof EngramError) {
      process.stderr.write(`engram: ${error.message}\n`);
    } else {
      process.stderr.write(`engram: ${(error as Error).stack ?? String(error)}\n`);
    }
    process.exitCode = 1;
  }
}

await main(process.argv);
