/**
 * PostgreSQL: several replicas share one database. Claims skip rows another replica has
 * locked, one linker at a time (an advisory lock it only tries) links the audit chain, and
 * NOTIFY wakes the schedulers of the other replicas when work may be due. Every wait is
 * bounded (lock, statement and idle-in-transaction timeouts on each connection), so a
 * replica frozen inside a transaction cannot hold the others up for long.
 */
import { Kysely, Migrator, sql } from 'kysely';
import pg from 'pg';
import { migrationProvider } from './migrations/index.ts';
import type { Database } from './schema.ts';
import { SqlStore, type DialectHooks, type SqlStoreOptions } from './sql-store.ts';
import { OwnSchemaPostgresDialect } from './own-schema-dialect.ts';

export interface PostgresStoreOptions {
  /** libpq-style connection URL. */
  url: string;
  /**
   * Schema holding the tables; created by `migrate()` when missing. Default: the
   * connection's own search_path (normally `public`). Lower-case letters, digits and `_`.
   */
  schema?: string;
  /** Connections in the pool, besides the one LISTEN connection. Default: 10. */
  poolSize?: number;
  /**
   * Errors the store recovers from on its own (a dropped idle connection, the LISTEN
   * connection reconnecting, a background audit-link run that failed and is tried again).
   * Default: ignored; pass the logger's error method to see them.
   */
  onError?: (error: Error, context: StoreErrorContext) => void;
  /** Bounds on the pool's sessions, in ms (0 turns one off); defaults in `DEFAULT_PG_TIMEOUTS`. */
  timeouts?: Partial<PostgresTimeouts>;
  /**
   * `application_name` of the pool's connections, so an operator (or a test) finds this
   * replica's sessions in pg_stat_activity. Default: `deprovisiond/<process id>`.
   */
  applicationName?: string;
  /** The audit linker's delays (tests shorten them). */
  linker?: SqlStoreOptions['linker'];
  /** The master key (config `privacy.masterKey`): src/store/open.ts refuses to start without one. */
  privacy?: SqlStoreOptions['privacy'];
}

export type StoreErrorContext = 'pool' | 'listener' | 'linker';

export interface PostgresTimeouts {
  /**
   * Longest wait for any lock (a row another replica holds, the termination lock). Keep it
   * above `idleInTransactionMs`: then a healthy replica waiting behind a frozen one outlasts
   * the frozen session (which PostgreSQL ends, releasing its locks) and keeps its result.
   */
  lockMs: number;
  /** Longest statement: every query of the store is short. */
  statementMs: number;
  /** A session idle inside a transaction this long (a frozen replica) is ended, its locks released. */
  idleInTransactionMs: number;
}

/**
 * Every transaction of the store is a few short statements, so a session idle inside one
 * for 5 s is a replica frozen or gone: PostgreSQL ends it and its locks go. A waiter gives
 * up at 6 s, after that, so waiting behind a frozen replica costs at most 5 s and no result;
 * a statement is cut at 10 s (lock waits included).
 */
export const DEFAULT_PG_TIMEOUTS: PostgresTimeouts = { lockMs: 6_000, statementMs: 10_000, idleInTransactionMs: 5_000 };

/** The NOTIFY channel; the payload is the schema, so stores in other schemas of the same database ignore it. */
export const WAKE_CHANNEL = 'deprovisiond_wake';

/**
 * First key of the two-key advisory lock the audit linker tries (an arbitrary constant,
 * not the one appends took before migration 0010: a replica of the previous version
 * during a rolling upgrade must not hold the linker off); the second key is the schema's
 * hash, so deployments sharing a database in different schemas do not exclude each other.
 */
const LINKER_LOCK_KEY = 0x64706c6b; // "dplk"

const UNIQUE_VIOLATION = '23505';
const INT8_OID = 20;
const SCHEMA_NAME = /^[a-z_][a-z0-9_]{0,62}$/;

/**
 * Times are epoch milliseconds in bigint columns and counts come back as int8: both fit a
 * JS number, and the rest of the store expects numbers. Scoped to this pool, so another
 * pg user in the same process keeps the driver's default (strings).
 */
const storeTypes: pg.CustomTypesConfig = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
    oid === INT8_OID && format !== 'binary'
      ? (value: string) => Number(value)
      : // Any other type id goes to the driver's own parsers, which take every id the server sends.
        (pg.types.getTypeParser as (oid: number, format: 'text' | 'binary') => unknown)(
          oid,
          format ?? 'text',
        )) as pg.CustomTypesConfig['getTypeParser'],
};

export class PostgresStore extends SqlStore {
  private readonly listener: WakeListener;

  constructor(
    db: Kysely<Database>,
    hooks: DialectHooks,
    private readonly schema: string | undefined,
    listenerConfig: pg.ClientConfig,
    /** The pool's connection settings with no lock or statement timeout, for migrations. */
    private readonly migrationConfig: pg.ClientConfig,
    onError: (error: Error, context: StoreErrorContext) => void,
    clock?: () => Date,
    options?: SqlStoreOptions,
  ) {
    super(db, hooks, clock, options);
    this.listener = new WakeListener(
      listenerConfig,
      () => this.emitWake(),
      (error) => onError(error, 'listener'),
    );
  }

  /**
   * Runs pending migrations (see `migrateOn`) on a connection of its own, without the pool's
   * lock and statement timeouts: a replica waits for another's migration run (the
   * Migrator's lock, which it takes with its own one-hour lock_timeout), and a migration may
   * rewrite a large table. The idle-in-transaction bound stays: a frozen migrator's session
   * still ends, and its lock with it.
   */
  override async migrate(): Promise<void> {
    const db = new Kysely<Database>({ dialect: new OwnSchemaPostgresDialect({ pool: new pg.Pool({ ...this.migrationConfig, max: 1 }) }) });
    try {
      await migrateOn(db, this.schema);
    } finally {
      await db.destroy();
    }
    await this.sealLegacyRecords();
  }

  /** Starts listening with the first subscriber: a CLI that never subscribes holds no extra connection. */
  override onWake(listener: () => void): () => void {
    this.listener.start();
    return super.onWake(listener);
  }

  /**
   * Resolves once LISTEN is in place (after a reconnect: once it is again). A wake is
   * emitted at that moment too, covering anything notified while the store was not listening.
   */
  whenListening(): Promise<void> {
    this.listener.start();
    return this.listener.whenListening();
  }

  override async close(): Promise<void> {
    await this.listener.close();
    await super.close();
  }
}

/**
 * Creates the schema first (the connection's search_path already points at it), then runs
 * the migrations. Kysely's Migrator serialises concurrent runs on PostgreSQL itself: it
 * holds a session-level `pg_advisory_lock` (fixed id, kysely/dist/esm/dialect/postgres/
 * postgres-adapter.js) around one transaction that applies every pending migration, so
 * replicas starting together apply each migration once.
 */
async function migrateOn(db: Kysely<Database>, explicitSchema: string | undefined): Promise<void> {
  if (explicitSchema !== undefined) {
    try {
      await sql`create schema if not exists ${sql.id(explicitSchema)}`.execute(db);
    } catch (error) {
      // Two replicas creating the schema at once can both pass "if not exists"; the loser's error is harmless.
      if ((error as { code?: unknown }).code !== UNIQUE_VIOLATION) throw error;
    }
  }
  const current = await sql<{ schema: string | null }>`select current_schema() as schema`.execute(db);
  const schema = current.rows[0]?.schema;
  if (!schema) throw new Error('store migration failed: the search_path names no existing schema');
  // The bookkeeping table's schema is named too, so that the Migrator's own queries never
  // depend on the search_path; its introspection reads this schema only (own-schema-dialect.ts).
  const { error, results } = await new Migrator({ db, provider: migrationProvider, migrationTableSchema: schema }).migrateToLatest();
  if (!error && !results?.some((r) => r.status === 'Error')) return;
  const failed = results?.find((r) => r.status === 'Error');
  throw new Error(`store migration ${failed?.migrationName ?? ''} failed`, { cause: error });
}

export function createPostgresStore(options: PostgresStoreOptions, clock?: () => Date): PostgresStore {
  const { schema } = options;
  if (schema !== undefined && !SCHEMA_NAME.test(schema)) {
    throw new Error(`invalid store schema name ${JSON.stringify(schema)}: use lower-case letters, digits and _`);
  }
  const onError = options.onError ?? (() => undefined);
  const timeouts = { ...DEFAULT_PG_TIMEOUTS, ...options.timeouts };
  // Startup parameters apply to every connection before its first query, with no extra round trip.
  const startup = (t: PostgresTimeouts) =>
    [
      ...(schema !== undefined ? [`-c search_path=${schema}`] : []),
      `-c lock_timeout=${t.lockMs}`,
      `-c statement_timeout=${t.statementMs}`,
      `-c idle_in_transaction_session_timeout=${t.idleInTransactionMs}`,
    ].join(' ');
  const connection: pg.ClientConfig = {
    connectionString: options.url,
    types: storeTypes,
    application_name: (options.applicationName ?? `deprovisiond/${process.pid}`).slice(0, 63),
    options: startup(timeouts),
  };
  const pool = new pg.Pool({ ...connection, max: options.poolSize ?? 10 });
  // An idle pooled connection that dies (server restart, failover) is replaced on next use;
  // without a handler the pool's error event would crash the process.
  pool.on('error', (error) => onError(error, 'pool'));
  // The pool listens for errors on idle clients only: a checked-out client (a transaction
  // between two statements) whose connection drops would emit an unhandled error and kill
  // the process. With this listener its next query fails instead, and the client is discarded.
  pool.on('connect', (client) => client.on('error', (error) => onError(error, 'pool')));
  const db = new Kysely<Database>({ dialect: new OwnSchemaPostgresDialect({ pool }) });
  // Heartbeats on a connection of their own (SqlStoreOptions.leaseDb).
  const leasePool = new pg.Pool({ ...connection, max: 1 });
  leasePool.on('error', (error) => onError(error, 'pool'));
  leasePool.on('connect', (client) => client.on('error', (error) => onError(error, 'pool')));
  const leaseDb = new Kysely<Database>({ dialect: new OwnSchemaPostgresDialect({ pool: leasePool }) });
  const keyringSchema = `${schema ?? 'public'}_keyring`;
  const hooks: DialectHooks = {
    dialect: 'postgres',
    // Migration 0016 creates it beside the store's schema (`public` when none is named).
    keyringSchema,
    // A few hundred bytes per key: the rewrite is short, and until it runs a destroyed key is still in a dead row.
    purge: async () => {
      await sql`vacuum full ${sql.table(`${keyringSchema}.data_keys`)}`.execute(db);
    },
    skipLocked: true,
    // A transaction-level advisory lock keyed by the termination, not a row lock on it: a
    // claim updates the termination's row (scheduled -> running) after locking its tasks,
    // and a row lock taken before the tasks here would deadlock with that claim.
    lockTermination: async (trx, terminationId) => {
      await sql`select pg_advisory_xact_lock(hashtextextended(current_schema() || '/' || ${terminationId}, 0))`.execute(trx);
    },
    // Tried, never waited for: the holder links what there is; a frozen holder's session
    // ends at idle_in_transaction_session_timeout, and then anyone takes over.
    tryLockAuditLinker: async (trx) => {
      const { rows } = await sql<{
        locked: boolean;
      }>`select pg_try_advisory_xact_lock(${sql.lit(LINKER_LOCK_KEY)}, hashtext(current_schema())) as locked`.execute(trx);
      return rows[0]?.locked === true;
    },
    // pg_notify inside the transaction is delivered at commit, and not at all on rollback.
    notifyOthers: async (trx) => {
      await sql`select pg_notify(${WAKE_CHANNEL}, current_schema())`.execute(trx);
    },
    isUniqueViolation: (error) => typeof error === 'object' && error !== null && (error as { code?: unknown }).code === UNIQUE_VIOLATION,
    // clock_timestamp(), not now(): now() is the transaction's start, before any wait inside it.
    databaseClock: sql<number>`(extract(epoch from clock_timestamp()) * 1000)::bigint`,
  };
  return new PostgresStore(
    db,
    hooks,
    schema,
    // Names the schema so an operator can tell the listeners of several deployments apart.
    { ...connection, application_name: `deprovisiond-listener${schema !== undefined ? `/${schema}` : ''}`.slice(0, 63) },
    { ...connection, options: startup({ ...timeouts, lockMs: 0, statementMs: 0 }) },
    onError,
    clock,
    {
      linker: options.linker,
      ...(options.privacy ? { privacy: options.privacy } : {}),
      onLinkerError: (error) => onError(error instanceof Error ? error : new Error(String(error)), 'linker'),
      leaseDb,
    },
  );
}

/**
 * One connection outside the pool, held open for LISTEN: a pooled connection would be
 * handed to queries and returned, and its LISTEN would go with it.
 */
class WakeListener {
  private client: pg.Client | null = null;
  private started = false;
  private closed = false;
  private retryMs = MIN_RETRY_MS;
  private retryTimer: NodeJS.Timeout | null = null;
  private readonly lost = new WeakSet<pg.Client>();
  private waiters: Array<() => void> = [];

  constructor(
    private readonly config: pg.ClientConfig,
    private readonly wake: () => void,
    private readonly onError: (error: Error) => void,
  ) {}

  start(): void {
    if (this.started || this.closed) return;
    this.started = true;
    void this.connect();
  }

  whenListening(): Promise<void> {
    if (this.closed) return Promise.reject(new Error('store is closed'));
    if (this.client) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = null;
    const client = this.client;
    this.client = null;
    if (client) {
      this.lost.add(client);
      await client.end().catch(() => undefined);
    }
  }

  private async connect(): Promise<void> {
    this.retryTimer = null;
    if (this.closed) return;
    const client = new pg.Client(this.config);
    client.on('error', (error) => this.drop(client, error));
    client.on('end', () => this.drop(client, new Error('LISTEN connection ended')));
    let schema: string | null = null;
    client.on('notification', (message) => {
      if (message.channel === WAKE_CHANNEL && message.payload === schema) this.wake();
    });
    try {
      await client.connect();
      const result = await client.query<{ schema: string | null }>('select current_schema() as schema');
      schema = result.rows[0]?.schema ?? null;
      await client.query(`listen ${WAKE_CHANNEL}`);
    } catch (error) {
      this.drop(client, error);
      return;
    }
    // close() may have run during the awaits above; TypeScript's narrowing cannot see that.
    // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition
    if (this.closed || this.lost.has(client)) {
      this.lost.add(client);
      await client.end().catch(() => undefined);
      return;
    }
    this.client = client;
    this.retryMs = MIN_RETRY_MS;
    const waiters = this.waiters;
    this.waiters = [];
    this.wake();
    for (const resolve of waiters) resolve();
  }

  private drop(client: pg.Client, error: unknown): void {
    if (this.lost.has(client)) return;
    this.lost.add(client);
    if (this.client === client) this.client = null;
    client.end().catch(() => undefined);
    if (this.closed) return;
    this.onError(error instanceof Error ? error : new Error(String(error)));
    this.retryTimer = setTimeout(() => void this.connect(), this.retryMs);
    // A pending reconnect must not keep a stopping process alive.
    this.retryTimer.unref();
    this.retryMs = Math.min(this.retryMs * 2, MAX_RETRY_MS);
  }
}

const MIN_RETRY_MS = 100;
const MAX_RETRY_MS = 5_000;
