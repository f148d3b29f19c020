/**
 * Which store failures mean "the store is unavailable, retry later" (answered 503 with
 * Retry-After) and which are bugs (answered 500, logged). Decided here alone, from the
 * drivers' error codes: a catch-all would answer 503 for a TypeError, and a client retries
 * a 503 for ever while nobody looks at the bug.
 *
 * The rule for each family: an outage is a state of the database, its host or the network
 * that goes away without a code change (locks, full or failing disks, lost connections,
 * shutdowns, timeouts, serialisation failures). Anything the same request would hit again
 * after a restart (bad SQL, a constraint, a corrupt file, a type error) is not.
 */
import Database from 'better-sqlite3';
import pg from 'pg';

/**
 * The store's own signal that it cannot serve now: a group commit SQLite rolled back
 * underneath its writers (disk full, I/O error), or a call after close() during shutdown.
 */
export class StoreUnavailableError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'StoreUnavailableError';
  }
}

/**
 * SQLite primary result codes (the extended ones start with them, e.g. SQLITE_IOERR_WRITE,
 * SQLITE_READONLY_DBMOVED). SQLITE_CORRUPT and SQLITE_NOTADB are left out on purpose: a
 * damaged file needs an operator and a backup, and a 503 would promise the client that
 * waiting fixes it. SQLITE_ERROR, SQLITE_CONSTRAINT, SQLITE_MISMATCH, SQLITE_RANGE are bugs.
 */
const SQLITE_OUTAGES = [
  'SQLITE_BUSY', // another connection holds the write lock (an operator's sqlite3 shell, a backup)
  'SQLITE_LOCKED', // a lock inside this connection's shared cache
  'SQLITE_IOERR', // the disk or filesystem failed a read, write or sync
  'SQLITE_FULL', // disk (or quota) full
  'SQLITE_CANTOPEN', // the file or its directory went away or lost permissions
  'SQLITE_READONLY', // the filesystem was remounted read-only, or the file was replaced
  'SQLITE_PROTOCOL', // a WAL lock race between processes
  'SQLITE_NOMEM', // the host ran out of memory
];

/**
 * PostgreSQL SQLSTATE classes and codes (appendix A of its manual). Whole classes: 08
 * connection exception, 53 insufficient resources (disk full, out of memory, too many
 * connections), 58 system error (I/O). Single codes below.
 */
const PG_OUTAGE_CLASSES = ['08', '53', '58'];
const PG_OUTAGE_CODES = new Set([
  '57P01', // admin_shutdown: the server is stopping (a restart, a failover)
  '57P02', // crash_shutdown: another backend crashed and the server restarts
  '57P03', // cannot_connect_now: the server is starting or in recovery
  '57P05', // idle_session_timeout: the server closed an idle pooled connection
  '57014', // query_canceled: statement_timeout (a lock held elsewhere, an overloaded server)
  '55P03', // lock_not_available: lock_timeout
  '40001', // serialization_failure
  '40P01', // deadlock_detected: PostgreSQL aborted one side; the retry succeeds
  '25006', // read_only_sql_transaction: connected to a standby after a failover
]);

/**
 * Node's system error codes of a lost or refused connection or a failing disk, on errors
 * that carry a `syscall` (what Node's own errors from net, dns and fs carry; an error
 * someone built with just a `code` is not trusted to be one).
 */
const SYSTEM_OUTAGES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'ETIMEDOUT',
  'EPIPE',
  'EHOSTUNREACH',
  'EHOSTDOWN',
  'ENETUNREACH',
  'ENETDOWN',
  'EADDRNOTAVAIL',
  'EAI_AGAIN', // DNS did not answer
  'ENOTFOUND', // the database's DNS name is not there (yet): a service starting in a cluster
  'ENOSPC', // the WAL sync (src/store/sqlite-group-commit.ts) on a full disk
  'EDQUOT',
  'EIO',
  'EROFS',
]);

/**
 * Failures pg, pg-pool and Kysely raise as a plain Error without any code: matched by the
 * exact message, the only property they have (node_modules/pg/lib/client.js,
 * pg-pool/index.js, kysely's runtime-driver.js). Whole strings, so no message that merely
 * mentions a connection matches.
 */
const CODELESS_OUTAGES = new Set([
  'Connection terminated', // pg: the connection closed while a query waited
  'Connection terminated unexpectedly', // pg: the server or network dropped it
  'Connection terminated due to connection timeout', // pg-pool: connectionTimeoutMillis
  'timeout exceeded when trying to connect', // pg-pool: no pooled connection in time
  'timeout expired', // pg: connect timeout of a client
  'Query read timeout', // pg: query_timeout
  'Client has encountered a connection error and is not queryable', // pg
  'Client was closed and is not queryable', // pg
  'Cannot use a pool after calling end on the pool', // pg-pool: the store is closing
  'driver has already been destroyed', // Kysely: the store was closed (daemon stopping)
]);

/** True when `error` (or what caused it) says the store cannot serve now and a retry later may succeed. */
export function isStoreOutage(error: unknown): boolean {
  return outageIn(error, 0);
}

function outageIn(error: unknown, depth: number): boolean {
  // A cause chain deeper than this is not something a driver builds.
  if (depth > 4 || !(error instanceof Error)) return false;
  if (error instanceof StoreUnavailableError) return true;
  const code = (error as { code?: unknown }).code;
  if (error instanceof Database.SqliteError)
    return SQLITE_OUTAGES.some((primary) => error.code === primary || error.code.startsWith(`${primary}_`));
  if (error instanceof pg.DatabaseError)
    return typeof code === 'string' && (PG_OUTAGE_CODES.has(code) || PG_OUTAGE_CLASSES.includes(code.slice(0, 2)));
  if (typeof code === 'string' && typeof (error as { syscall?: unknown }).syscall === 'string' && SYSTEM_OUTAGES.has(code)) return true;
  if (Object.getPrototypeOf(error) === Error.prototype && CODELESS_OUTAGES.has(error.message)) return true;
  // Node's dual-stack connect fails with an AggregateError of each address's error.
  if (error instanceof AggregateError && error.errors.some((inner) => outageIn(inner, depth + 1))) return true;
  return outageIn(error.cause, depth + 1);
}
