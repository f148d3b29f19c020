/**
 * The embedded default: one process, one SQLite file in WAL mode; a commit is on disk
 * before intake answers 2xx. Transactions share commits (one per event-loop turn), and the
 * group-commit driver syncs the WAL off the main thread (see sqlite-group-commit.ts): it
 * lowers the synchronous=FULL set here to NORMAL because it does FULL's sync itself.
 */
import BetterSqlite3 from 'better-sqlite3';
import { Kysely, type SqliteDatabase } from 'kysely';
import type { Database } from './schema.ts';
import { SqlStore, type SqlStoreOptions } from './sql-store.ts';
import { GroupCommitSqliteDialect } from './sqlite-group-commit.ts';

export function openSqliteDatabase(path: string): BetterSqlite3.Database {
  const sqlite = new BetterSqlite3(path);
  sqlite.pragma('journal_mode = WAL');
  sqlite.pragma('synchronous = FULL');
  sqlite.pragma('foreign_keys = ON');
  // Another process holding the write lock (a CLI, a backup) gets a moment before SQLITE_BUSY.
  sqlite.pragma('busy_timeout = 5000');
  return sqlite;
}

/**
 * Kysely prepares every statement again on each query; preparing is a good part of a
 * short query's cost. The store's statements are a small fixed set (plus IN lists of a few
 * sizes), so prepared statements are kept and reused, least recently used dropped past
 * `size`. Safe on one connection: Kysely runs one query at a time on it.
 */
export function withStatementCache(sqlite: BetterSqlite3.Database, size = 512): SqliteDatabase {
  const cache = new Map<string, BetterSqlite3.Statement>();
  return {
    close: () => {
      cache.clear();
      sqlite.close();
    },
    prepare(text: string) {
      let statement = cache.get(text);
      if (statement) {
        cache.delete(text);
      } else {
        statement = sqlite.prepare(text);
        if (cache.size >= size) cache.delete(cache.keys().next().value!);
      }
      cache.set(text, statement);
      return statement;
    },
  };
}

export function createSqliteStore(path: string, clock?: () => Date, options?: SqlStoreOptions): SqlStore {
  const sqlite = openSqliteDatabase(path);
  const dialect = new GroupCommitSqliteDialect(sqlite, withStatementCache(sqlite));
  const db = new Kysely<Database>({ dialect });
  return new SqlStore(
    db,
    {
      dialect: 'sqlite',
      skipLocked: false,
      // SQLite serialises every write transaction: two writers never decide one termination at once.
      lockTermination: async () => undefined,
      // One process, and its linker runs one pass at a time.
      tryLockAuditLinker: async () => true,
      // One process: the store's own wake event reaches every local scheduler.
      notifyOthers: async () => undefined,
      durable: () => dialect.durable(),
      isUniqueViolation: (error) =>
        typeof error === 'object' && error !== null && String((error as { code?: unknown }).code).startsWith('SQLITE_CONSTRAINT'),
    },
    clock,
    options,
  );
}
