/**
 * The embedded default: one process, one SQLite file in WAL mode; a commit is on disk
 * before intake answers 2xx. Transactions share commits (one per event-loop turn), and the
 * group-commit driver syncs the WAL off the main thread (see sqlite-group-commit.ts): it
 * lowers the synchronous=FULL set here to NORMAL because it does FULL's sync itself.
 */
import { join, parse } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { Kysely, type SqliteDatabase } from 'kysely';
import type { Database } from './schema.ts';
import { SqlStore, type SqlStoreOptions } from './sql-store.ts';
import { GroupCommitSqliteDialect } from './sqlite-group-commit.ts';

/** The name the keyring's file is attached under (migration 0016). */
const KEYRING_SCHEMA = 'keyring';

export function openSqliteDatabase(path: string): BetterSqlite3.Database {
  const sqlite = new BetterSqlite3(path);
  sqlite.pragma('journal_mode = WAL');
  sqlite.pragma('synchronous = FULL');
  sqlite.pragma('foreign_keys = ON');
  // A row rewritten (a record sealed at start) or deleted leaves no old bytes in the page where that costs no extra I/O.
  sqlite.pragma('secure_delete = FAST');
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

/**
 * The keyring's file beside the store's (src/store/sql/personal-data.ts): `data/deprovisiond.db`
 * keeps its keys in `data/deprovisiond-keyring.db`, a name that a copy of `deprovisiond.db*`
 * (the database, its WAL and shared memory) does not take along.
 */
export function defaultKeyringPath(path: string): string {
  if (path === ':memory:' || path === '') return ':memory:';
  const { dir, name, ext } = parse(path);
  return join(dir, `${name}-keyring${ext}`);
}

export function createSqliteStore(path: string, clock?: () => Date, options?: SqlStoreOptions & { keyringPath?: string }): SqlStore {
  const sqlite = openSqliteDatabase(path);
  sqlite.prepare(`attach database ? as ${KEYRING_SCHEMA}`).run(options?.keyringPath ?? defaultKeyringPath(path));
  // Deleted keys are overwritten on disk, not left in free pages: an erased record's key must not survive in the file.
  sqlite.pragma(`${KEYRING_SCHEMA}.secure_delete = ON`);
  if (!sqlite.memory) sqlite.pragma(`${KEYRING_SCHEMA}.journal_mode = WAL`);
  // The keyring is not one of the store's migrated tables: a copy of the store's file (a
  // backup, a test's migrated template) comes without it, and gets a new, empty one.
  sqlite.exec(
    `create table if not exists ${KEYRING_SCHEMA}.data_keys (owner_id text primary key, wrapped text not null, created_at integer not null)`,
  );
  const dialect = new GroupCommitSqliteDialect(sqlite, withStatementCache(sqlite));
  const db = new Kysely<Database>({ dialect });
  return new SqlStore(
    db,
    {
      dialect: 'sqlite',
      keyringSchema: KEYRING_SCHEMA,
      skipLocked: false,
      // SQLite serialises every write transaction: two writers never decide one termination at once.
      lockTermination: async () => undefined,
      // One process, and its linker runs one pass at a time.
      tryLockAuditLinker: async () => true,
      // One process: the store's own wake event reaches every local scheduler.
      notifyOthers: async () => undefined,
      durable: () => dialect.durable(),
      purge: async () => {
        // Between two group commits: a checkpoint cannot run inside the open outer transaction.
        for (let tries = 0; tries < 100; tries += 1) {
          await dialect.durable();
          if (!sqlite.inTransaction) {
            sqlite.pragma('wal_checkpoint(TRUNCATE)');
            return;
          }
          await new Promise((resolve) => setImmediate(resolve));
        }
      },
      isUniqueViolation: (error) =>
        typeof error === 'object' && error !== null && String((error as { code?: unknown }).code).startsWith('SQLITE_CONSTRAINT'),
    },
    clock,
    options,
  );
}
