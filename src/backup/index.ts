export { checkSqliteFile, type StoreCheck } from './check.js';
export { backupDir, sqliteFile } from './paths.js';
export { type RestoreReport, restoreSqlite } from './restore.js';
export { type BackupObserver, type BackupSchedule, BackupScheduler, snapshotInWorker } from './scheduler.js';
export { type BackupReport, backupFileName, pruneBackups, snapshotSqlite } from './snapshot.js';
