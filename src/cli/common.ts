/** What the `engram` commands share: the global options, config loading, the data directory, a service for one command. */
import { accessSync, constants, mkdirSync } from 'node:fs';
import { type Command, InvalidArgumentError, Option } from 'commander';
import { type Config, ConfigError, loadConfig } from '../config.js';
import type { Actor, MemoryService } from '../core/memory-service.js';
import { openService } from '../runtime.js';

export const CLI_ACTOR: Actor = { name: 'cli', source: 'cli' };

interface GlobalOptions {
  config?: string;
  dataDir?: string;
  store?: string;
  embedder?: string;
}

export const positiveInt = (value: string): number => {
  const parsed = Number(value);
  if (!Number.isInteger(parsed) || parsed < 1) throw new InvalidArgumentError('expected a positive whole number');
  return parsed;
};
export const portNumber = (value: string): number => {
  const parsed = Number(value);
  if (!/^\d+$/.test(value.trim()) || parsed > 65_535) throw new InvalidArgumentError('expected a port number, 0–65535');
  return parsed;
};
export const parseJsonOption = (value: string): unknown => {
  try {
    return JSON.parse(value);
  } catch {
    throw new InvalidArgumentError('expected JSON, e.g. {"project":"alpha"}');
  }
};
export const csv = (value: string): string[] =>
  value
    .split(',')
    .map((item) => item.trim())
    .filter(Boolean);

export function configFrom(command: Command, extra: Record<string, unknown> = {}): Config {
  const global = command.optsWithGlobals<GlobalOptions>();
  const overrides: Record<string, unknown> = { ...extra };
  if (global.dataDir !== undefined) overrides.dataDir = global.dataDir;
  if (global.store !== undefined) overrides.store = global.store;
  if (global.embedder !== undefined) overrides.embedder = global.embedder;
  return loadConfig({ ...(global.config !== undefined && { file: global.config }), overrides });
}

/** Creates the data directory if needed; one line saying what to do when it cannot be written. */
export function prepareDataDir(config: Config): void {
  try {
    mkdirSync(config.dataDir, { recursive: true, mode: 0o700 });
    accessSync(config.dataDir, constants.W_OK);
  } catch (error) {
    throw new ConfigError(
      `cannot write the data directory ${config.dataDir} (${(error as NodeJS.ErrnoException).code ?? 'error'}); ` +
        'choose another with --data-dir or ENGRAM_DATA_DIR, or give this user write access to it',
    );
  }
}

/**
 * Runs a command against an opened service and always closes it. A one-shot command embeds with
 * one model worker: a second one for queries (the server's default) would only double its start.
 */
export async function withService<T>(
  command: Command,
  work: (service: MemoryService, config: Config) => Promise<T>,
): Promise<T> {
  const config = configFrom(command, { embed: { queryWorker: false } });
  prepareDataDir(config);
  const service = await openService(config);
  try {
    return await work(service, config);
  } finally {
    await service.close();
  }
}

export const userOption = () => new Option('-u, --user <id>', 'the user whose memories to use').default('default');

export function print(line: string): void {
  process.stdout.write(`${line}\n`);
}
