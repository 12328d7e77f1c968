/** `engram backup`, `engram restore-backup` and `engram check`: the SQLite store's backups (docs/operations.md#backups). */
import { existsSync, mkdirSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { type Command, InvalidArgumentError } from 'commander';
import {
  backupDir,
  backupFileName,
  checkSqliteFile,
  pruneBackups,
  restoreSqlite,
  snapshotSqlite,
  sqliteFile,
} from '../backup/index.js';
import type { Config } from '../config.js';
import { EngramError } from '../core/errors.js';
import { refuseWhileServing } from '../shared/serving.js';

const GUIDANCE: Record<string, string> = {
  postgres:
    'back up the postgres store with pg_dump: pg_dump --format=custom --schema=<ENGRAM_POSTGRES_SCHEMA> "$ENGRAM_POSTGRES_URL" ' +
    '> engram.dump (docs/operations.md#backups)',
  json: 'copy the json store into a SQLite snapshot with `engram migrate-store --from json:<data dir> --to sqlite:<file>`, or copy memory/ while no writer runs',
};

function requireSqlite(config: Config, what: string): string {
  if (config.store === 'sqlite') return sqliteFile(config);
  throw new EngramError(
    'invalid_request',
    `${what} works on the sqlite store; this one is ${config.store}: ${GUIDANCE[config.store]}`,
  );
}

const count = (value: string): number => {
  const parsed = Number(value);
  if (!Number.isInteger(parsed) || parsed < 1) throw new InvalidArgumentError('expected a positive whole number');
  return parsed;
};
const mb = (bytes: number) => `${(bytes / 1_048_576).toFixed(1)} MB`;

export function registerBackupCommands(
  program: Command,
  configOf: (command: Command) => Config,
  print: (line: string) => void,
): void {
  program
    .command('backup')
    .description('write a consistent snapshot of the SQLite store while the server runs, and check it')
    .option('-o, --out <path>', 'backup file, or a directory for engram-<time>.db (default: ENGRAM_BACKUP_DIR)')
    .option('--keep <n>', 'then delete all but the newest <n> engram-*.db backups in that directory', count)
    .action((options: { out?: string; keep?: number }, command: Command) => {
      const config = configOf(command);
      const source = requireSqlite(config, 'engram backup');
      if (!existsSync(source)) throw new EngramError('not_found', `no SQLite store at ${source}`);
      const out = resolve(options.out ?? backupDir(config));
      if (!options.out) mkdirSync(out, { recursive: true, mode: 0o700 });
      const target = existsSync(out) && statSync(out).isDirectory() ? join(out, backupFileName()) : out;
      if (target === source) throw new EngramError('invalid_request', 'the backup cannot replace the store itself');
      const report = snapshotSqlite(source, target);
      print(
        `backed up ${report.memories} memories of ${report.users} users to ${report.path} ` +
          `(${mb(report.bytes)}, ${Math.round(report.ms)} ms); integrity check passed`,
      );
      if (options.keep !== undefined) {
        const pruned = pruneBackups(dirname(target), options.keep);
        if (pruned.length > 0) print(`deleted ${pruned.length} older backups`);
      }
    });

  program
    .command('restore-backup')
    .description('replace the SQLite store with a backup (stop the server first); the current store is kept beside it')
    .argument('<backup>', 'a file written by `engram backup`')
    .option('--force', 'replace an existing store')
    .action(async (backup: string, options: { force?: boolean }, command: Command) => {
      const config = configOf(command);
      const target = requireSqlite(config, 'engram restore-backup');
      await refuseWhileServing(config.dataDir, 'restore-backup');
      const report = restoreSqlite(resolve(backup), target, { force: options.force === true });
      print(
        `restored ${report.memories} memories of ${report.users} users into ${report.path}; integrity check passed`,
      );
      if (report.previous) print(`the store it replaced is at ${report.previous}`);
    });

  program
    .command('check')
    .description(
      'check a SQLite store or backup: SQLite integrity, the full-text index, every memory with its vector and history',
    )
    .argument('[file]', 'the file to check (default: the configured store)')
    .action((file: string | undefined, _options: unknown, command: Command) => {
      const config = configOf(command);
      const path = file ? resolve(file) : requireSqlite(config, 'engram check');
      if (!existsSync(path)) throw new EngramError('not_found', `no file at ${path}`);
      const report = checkSqliteFile(path);
      if (!report.ok) throw new EngramError('invalid_request', `${path}: ${report.problems.join('; ')}`);
      print(`${path}: ok (schema ${report.schemaVersion}, ${report.memories} memories of ${report.users} users)`);
    });
}
