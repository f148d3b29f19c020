/**
 * Group commit for the embedded SQLite store.
 *
 * better-sqlite3 is synchronous: with synchronous=FULL every COMMIT blocks the whole
 * process for one fsync, and committing each transaction on its own meant about ten such
 * stalls per accepted SCIM request once the engine's claims and results are counted. Here
 * every Kysely transaction runs inside a SAVEPOINT of one shared outer
 * transaction; the outer transaction commits once per event-loop turn (setImmediate), so
 * the transactions and writes that arrive in one turn share one fsync.
 *
 * The fsync itself runs off the main thread. With synchronous=FULL, SQLite fsyncs the WAL
 * inside COMMIT, and that blocked the whole process for about 4 ms per group under the
 * intake benchmark (a tenth of the main thread). In WAL mode the driver sets
 * synchronous=NORMAL, where COMMIT only writes the WAL, and then syncs the WAL file itself
 * with fdatasync on libuv's thread pool; groups committed while a sync runs share the next
 * one. SQLite still syncs the WAL before each checkpoint and the database after it, and a
 * reused WAL's header (what NORMAL keeps); what FULL adds, a sync of each commit's frames,
 * is this one.
 *
 * Durability is unchanged for callers: a transaction's `execute()`, and a write outside a
 * transaction, resolve only after the COMMIT that holds them returned and a WAL sync that
 * started after it finished, and reject if either failed. What changes: reads on this
 * connection see a group's writes before they are on disk. Nothing leaves the process on
 * such a read alone: every answer and every provider call follows a write the caller
 * awaited (the intake's commit, the engine's claim), and that write's sync covers
 * everything committed before it. An answer decided by a read alone (a webhook
 * redelivery, an admin or SCIM GET) first awaits `durable()`: the point where everything
 * committed or pending when it is called is on disk.
 */
import { open, type FileHandle } from 'node:fs/promises';
import type BetterSqlite3 from 'better-sqlite3';
import { Mutex } from 'async-mutex';
import { SqliteDialect, type CompiledQuery, type DatabaseConnection, type Driver, type QueryResult, type SqliteDatabase } from 'kysely';
import { StoreUnavailableError } from './outage.ts';

const GROUP_SAVEPOINT = 'group_commit_tx';

interface Group {
  readonly durable: Promise<void>;
  resolve(): void;
  reject(error: unknown): void;
}

function newGroup(): Group {
  let resolve!: () => void;
  let reject!: (error: unknown) => void;
  const durable = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  // A group nobody waits on (all its writers failed) must not raise an unhandled rejection.
  durable.catch(() => undefined);
  return { durable, resolve, reject };
}

function written<R>({ changes, lastInsertRowid }: BetterSqlite3.RunResult): QueryResult<R> {
  return { numAffectedRows: BigInt(changes), insertId: BigInt(lastInsertRowid), rows: [] };
}

/** One acquisition of the single connection; released early when its writes only wait for the group's commit. */
class GroupConnection implements DatabaseConnection {
  inTransaction = false;
  #release: (() => void) | undefined;

  constructor(
    private readonly driver: GroupCommitSqliteDriver,
    release: () => void,
  ) {
    this.#release = release;
  }

  release(): void {
    this.#release?.();
    this.#release = undefined;
  }

  async executeQuery<R>(compiled: CompiledQuery): Promise<QueryResult<R>> {
    const statement = this.driver.prepare(compiled.sql);
    const parameters = compiled.parameters as unknown[];
    // `readonly`, not `reader`: an UPDATE … RETURNING returns rows and still writes.
    if (statement.readonly) return { rows: statement.all(parameters) as R[] };
    // A write outside a transaction joins the open group like a one-statement transaction.
    if (!this.inTransaction) this.driver.openGroup();
    const result: QueryResult<R> = statement.reader ? { rows: statement.all(parameters) as R[] } : written(statement.run(parameters));
    if (!this.inTransaction) await this.driver.awaitGroup(this);
    return result;
  }

  // Kysely's connection interface wants a generator here; nothing in the store streams.
  // eslint-disable-next-line require-yield
  async *streamQuery<R>(): AsyncIterableIterator<QueryResult<R>> {
    throw new Error('the SQLite store does not stream queries');
  }
}

export class GroupCommitSqliteDriver implements Driver {
  readonly #mutex = new Mutex();
  #group: Group | undefined;
  /**
   * The WAL files, synced after each COMMIT: the main database's and each attached one's
   * (the keyring) in WAL mode; empty when none is (SQLite's FULL syncs then).
   */
  readonly #walPaths: string[];
  readonly #wals = new Map<string, FileHandle>();
  /** Groups committed and waiting for a WAL sync that starts after their COMMIT. */
  #unsynced: Group[] = [];
  #syncing: Promise<void> | undefined;
  /** The group committed last, until it is synced or fails: what `durable()` waits for when no group is open. */
  #lastCommitted: Group | undefined;

  constructor(
    private readonly sqlite: BetterSqlite3.Database,
    private readonly statements: SqliteDatabase,
  ) {
    const attached = sqlite.pragma('database_list') as Array<{ name: string; file: string }>;
    this.#walPaths = [];
    for (const { name, file } of attached) {
      if (file === '' || String(sqlite.pragma(`${name}.journal_mode`, { simple: true })).toLowerCase() !== 'wal') continue;
      this.#walPaths.push(`${file}-wal`);
      sqlite.pragma(`${name}.synchronous = NORMAL`);
    }
  }

  async init(): Promise<void> {
    // Nothing to set up: the connection is opened before the driver is built.
  }

  prepare(text: string): BetterSqlite3.Statement {
    return this.statements.prepare(text) as unknown as BetterSqlite3.Statement;
  }

  async acquireConnection(): Promise<DatabaseConnection> {
    return new GroupConnection(this, await this.#mutex.acquire());
  }

  async releaseConnection(connection: DatabaseConnection): Promise<void> {
    own(connection).release();
  }

  async beginTransaction(connection: DatabaseConnection): Promise<void> {
    this.openGroup();
    this.sqlite.exec(`SAVEPOINT ${GROUP_SAVEPOINT}`);
    own(connection).inTransaction = true;
  }

  async commitTransaction(connection: DatabaseConnection): Promise<void> {
    const groupConnection = own(connection);
    this.sqlite.exec(`RELEASE ${GROUP_SAVEPOINT}`);
    groupConnection.inTransaction = false;
    await this.awaitGroup(groupConnection);
  }

  async rollbackTransaction(connection: DatabaseConnection): Promise<void> {
    own(connection).inTransaction = false;
    // Some errors (disk full, I/O) make SQLite roll back the whole outer transaction itself;
    // the group's flush then fails its waiters.
    if (!this.sqlite.inTransaction) return;
    this.sqlite.exec(`ROLLBACK TO ${GROUP_SAVEPOINT}`);
    this.sqlite.exec(`RELEASE ${GROUP_SAVEPOINT}`);
  }

  /**
   * Begins the outer transaction if none is open, and schedules its commit for the end of
   * this event-loop turn. Called with the connection held.
   */
  openGroup(): void {
    if (this.sqlite.inTransaction) return;
    // A group whose transaction SQLite rolled back on its own never commits.
    this.#group?.reject(groupRolledBack());
    this.sqlite.exec('BEGIN IMMEDIATE');
    this.#group = newGroup();
    setImmediate(() => void this.#flush());
  }

  /**
   * Resolves once everything committed or pending now is on disk: the open group (its
   * COMMIT and the sync after it), else the group committed last, whose sync covers every
   * group before it. Rejects when that COMMIT or sync fails. Call it after the read whose
   * result you answer with, so what the read saw was committed or pending at the call.
   */
  durable(): Promise<void> {
    return (this.#group ?? this.#lastCommitted)?.durable ?? Promise.resolve();
  }

  /** Hands the connection on to the next writer and waits until the group holding this one's writes is on disk. */
  async awaitGroup(connection: GroupConnection): Promise<void> {
    const group = this.#group;
    if (!group) throw new Error('group commit: no open group');
    connection.release();
    await group.durable;
  }

  async #flush(): Promise<void> {
    const release = await this.#mutex.acquire();
    try {
      this.#commit();
    } finally {
      release();
    }
  }

  #commit(): void {
    const group = this.#group;
    this.#group = undefined;
    if (!group) return;
    if (!this.sqlite.inTransaction) {
      group.reject(groupRolledBack());
      return;
    }
    try {
      this.sqlite.exec('COMMIT');
    } catch (error) {
      // A failed COMMIT may or may not have ended the transaction; narrowing cannot know.
      // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition
      if (this.sqlite.inTransaction) this.sqlite.exec('ROLLBACK');
      group.reject(error);
      return;
    }
    if (this.#walPaths.length === 0) return group.resolve();
    this.#lastCommitted = group;
    this.#unsynced.push(group);
    this.#syncing ??= this.#syncWal();
  }

  /** Syncs the WAL until no committed group waits; each sync covers the groups committed before it started. */
  async #syncWal(): Promise<void> {
    try {
      do {
        const groups = this.#unsynced;
        this.#unsynced = [];
        try {
          await Promise.all(this.#walPaths.map(async (path) => (await this.#walFile(path))?.datasync()));
          for (const group of groups) group.resolve();
        } catch (error) {
          for (const group of groups) group.reject(error);
        }
        // Settled: a later durable() has nothing of these groups to wait for.
        if (this.#lastCommitted && groups.includes(this.#lastCommitted)) this.#lastCommitted = undefined;
      } while (this.#unsynced.length > 0);
    } finally {
      // In the same turn as the last check: a group committed after it starts a new sync.
      this.#syncing = undefined;
    }
  }

  /** A WAL file held open for syncing; undefined while it does not exist (nothing written to that database yet). */
  async #walFile(path: string): Promise<FileHandle | undefined> {
    let handle = this.#wals.get(path);
    if (handle) return handle;
    try {
      handle = await open(path, 'r');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw error;
    }
    this.#wals.set(path, handle);
    return handle;
  }

  async destroy(): Promise<void> {
    const release = await this.#mutex.acquire();
    try {
      this.#commit();
      await this.#syncing;
      for (const wal of this.#wals.values()) await wal.close();
      this.statements.close();
    } finally {
      release();
    }
  }
}

/** Kysely's SQLite dialect (adapter, compiler, introspector) with the group-commit driver. */
export class GroupCommitSqliteDialect extends SqliteDialect {
  constructor(
    private readonly sqlite: BetterSqlite3.Database,
    private readonly statements: SqliteDatabase,
  ) {
    super({ database: statements });
  }

  #driver: GroupCommitSqliteDriver | undefined;

  override createDriver(): Driver {
    this.#driver = new GroupCommitSqliteDriver(this.sqlite, this.statements);
    return this.#driver;
  }

  /** The driver's durable point (see GroupCommitSqliteDriver.durable); resolved before any driver exists. */
  durable(): Promise<void> {
    return this.#driver?.durable() ?? Promise.resolve();
  }
}

/**
 * SQLite rolls the outer transaction back itself on some errors (disk full, I/O): the
 * writer that met the error got it with its driver code; the others of the group get this,
 * an outage too (src/store/outage.ts), so they are answered 503 as well and not as a bug.
 */
function groupRolledBack(): StoreUnavailableError {
  return new StoreUnavailableError('SQLite rolled back the group commit before it was written (disk full or I/O error?); retry later');
}

/** Kysely hands the driver back only the connections it acquired from it. */
function own(connection: DatabaseConnection): GroupConnection {
  if (connection instanceof GroupConnection) return connection;
  throw new Error('the SQLite group-commit driver was handed a connection it did not open');
}
