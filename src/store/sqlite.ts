/**
 * The embedded default: one process, one SQLite file in WAL mode with synchronous=FULL,
 * so a commit is on disk before intake answers 2xx.
 */
import BetterSqlite3 from 'better-sqlite3';
import { Kysely, SqliteDialect } from 'kysely';
import type { Database } from './schema.ts';
import { SqlStore } from './sql-store.ts';

export function openSqliteDatabase(path: string): BetterSqlite3.Database {
  const sqlite = new BetterSqlite3(path);
  sqlite.pragma('journal_mode = WAL');
  sqlite.pragma('synchronous = FULL');
  sqlite.pragma('foreign_keys = ON');
  // Another process holding the write lock (a CLI, a backup) gets a moment before SQLITE_BUSY.
  sqlite.pragma('busy_timeout = 5000');
  return sqlite;
}

export function createSqliteStore(path: string, clock?: () => Date): SqlStore {
  const db = new Kysely<Database>({ dialect: new SqliteDialect({ database: openSqliteDatabase(path) }) });
  return new SqlStore(
    db,
    {
      dialect: 'sqlite',
      skipLocked: false,
      // SQLite serialises every write transaction: the chain cannot fork.
      lockAuditChain: async () => undefined,
      // One process: the store's own wake event reaches every local scheduler.
      notifyOthers: async () => undefined,
      isUniqueViolation: (error) =>
        typeof error === 'object' && error !== null && String((error as { code?: unknown }).code).startsWith('SQLITE_CONSTRAINT'),
    },
    clock,
  );
}
