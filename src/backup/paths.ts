import { join, resolve } from 'node:path';
import type { Config } from '../config.js';

/** The SQLite store's file for a configuration. */
export const sqliteFile = (config: Config): string => config.sqlite.path ?? join(config.dataDir, 'engram.db');

/** Where backups go: ENGRAM_BACKUP_DIR, or `<dataDir>/backups`. */
export const backupDir = (config: Config): string =>
  config.backup.dir ? resolve(config.backup.dir) : join(config.dataDir, 'backups');
