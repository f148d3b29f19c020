/**
 * Store failures as the drivers raise them, for tests that inject an outage (or a bug)
 * into a store call: the classes and codes src/store/outage.ts decides by.
 */
import Database from 'better-sqlite3';
import pg from 'pg';

/** better-sqlite3's error while another connection holds the write lock. */
export function sqliteBusy(): Error {
  return new Database.SqliteError('database is locked', 'SQLITE_BUSY');
}

/** better-sqlite3's error of a failed write or sync (an extended code). */
export function sqliteIoError(): Error {
  return new Database.SqliteError('disk I/O error', 'SQLITE_IOERR_WRITE');
}

/** better-sqlite3's error on a full disk. */
export function sqliteFull(): Error {
  return new Database.SqliteError('database or disk is full', 'SQLITE_FULL');
}

/** node-postgres's error for a query the server answered with `sqlstate`. */
export function pgError(sqlstate: string, message = 'terminating connection due to administrator command'): Error {
  const error = new pg.DatabaseError(message, message.length, 'error');
  error.code = sqlstate;
  return error;
}

/** Node's error for a refused TCP connection (what pg raises when the server is down). */
export function connectionRefused(): Error {
  return Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), {
    code: 'ECONNREFUSED',
    errno: -111,
    syscall: 'connect',
    address: '127.0.0.1',
    port: 5432,
  });
}

/** pg's codeless error when the server drops the connection under a query. */
export function connectionLost(): Error {
  return new Error('Connection terminated unexpectedly');
}
