/**
 * src/store/outage.ts: which driver errors are an outage (503, retry later) and which
 * are bugs (500). Each case is an error as its driver builds it.
 */
import Database from 'better-sqlite3';
import { mkdtempSync, rmSync } from 'node:fs';
import { createConnection } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { StoreUnavailableError, isStoreOutage } from '../src/store/outage.ts';
import { connectionLost, connectionRefused, pgError, sqliteBusy, sqliteFull, sqliteIoError } from './helpers/store-faults.ts';
import { describePostgres } from './helpers/postgres.ts';
import { postgresBackend, sqliteBackend, type StoreBackend } from './store/backends.ts';

describe('store outages by driver code', () => {
  it.each([
    ['SQLITE_BUSY', sqliteBusy()],
    ['SQLITE_IOERR_WRITE', sqliteIoError()],
    ['SQLITE_FULL', sqliteFull()],
    ['SQLITE_LOCKED_SHAREDCACHE', new Database.SqliteError('locked', 'SQLITE_LOCKED_SHAREDCACHE')],
    ['SQLITE_READONLY_DBMOVED', new Database.SqliteError('moved', 'SQLITE_READONLY_DBMOVED')],
    ['SQLITE_CANTOPEN', new Database.SqliteError('cannot open', 'SQLITE_CANTOPEN')],
    ['pg 57P01 admin shutdown', pgError('57P01')],
    ['pg 57P03 cannot connect now', pgError('57P03', 'the database system is starting up')],
    ['pg 08006 connection failure', pgError('08006', 'connection failure')],
    ['pg 53300 too many connections', pgError('53300', 'sorry, too many clients already')],
    ['pg 40P01 deadlock', pgError('40P01', 'deadlock detected')],
    ['pg 57014 statement timeout', pgError('57014', 'canceling statement due to statement timeout')],
    ['pg 55P03 lock timeout', pgError('55P03', 'canceling statement due to lock timeout')],
    ['ECONNREFUSED', connectionRefused()],
    ['pg connection lost', connectionLost()],
    ['pg-pool timeout', new Error('timeout exceeded when trying to connect')],
    [
      'pg-pool connect timeout with its cause',
      new Error('Connection terminated due to connection timeout', { cause: new Error('Connection terminated unexpectedly') }),
    ],
    ['Kysely after close()', new Error('driver has already been destroyed')],
    ['the store closed', new StoreUnavailableError('the store is closed')],
    ['a dual-stack connect', new AggregateError([connectionRefused(), connectionRefused()], '')],
    ['an outage as the cause', new Error('store migration failed', { cause: sqliteBusy() })],
  ])('%s is an outage', (_name, error) => {
    expect(isStoreOutage(error)).toBe(true);
  });

  it.each([
    ['a TypeError', new TypeError("Cannot read properties of undefined (reading 'id')")],
    ['a plain Error', new Error('boom')],
    ['a message that only mentions a connection', new Error('connection refused')],
    ['a message that only names a code', new Error('SQLITE_BUSY: database is locked')],
    ['a code without a syscall', Object.assign(new Error('x'), { code: 'ECONNREFUSED' })],
    ['SQLITE_CONSTRAINT_UNIQUE', new Database.SqliteError('UNIQUE constraint failed', 'SQLITE_CONSTRAINT_UNIQUE')],
    ['SQLITE_ERROR (bad SQL)', new Database.SqliteError('no such column: x', 'SQLITE_ERROR')],
    ['SQLITE_CORRUPT (needs an operator, not a retry)', new Database.SqliteError('database disk image is malformed', 'SQLITE_CORRUPT')],
    ['pg 23505 unique violation', pgError('23505', 'duplicate key value violates unique constraint')],
    ['pg 42703 undefined column', pgError('42703', 'column "x" does not exist')],
    ['pg 22003 numeric out of range', pgError('22003', 'value out of range for type bigint')],
    ['a subclass of Error with a driver message', new RangeError('Connection terminated')],
    ['not an Error', 'SQLITE_BUSY'],
    ['nothing', undefined],
  ])('%s is not an outage', (_name, error) => {
    expect(isStoreOutage(error)).toBe(false);
  });

  it('recognises a real refused connection and a real locked database', async () => {
    const refused = await new Promise<Error>((resolve) => {
      // Port 1 on the loopback: nothing listens there.
      createConnection({ host: '127.0.0.1', port: 1 }).on('error', resolve);
    });
    expect(isStoreOutage(refused)).toBe(true);

    const dir = mkdtempSync(join(tmpdir(), 'deprovisiond-outage-codes-'));
    const holder = new Database(join(dir, 'x.db'));
    const other = new Database(join(dir, 'x.db'), { timeout: 0 });
    try {
      holder.exec('create table t (x); begin exclusive');
      const locked = (() => {
        try {
          other.exec('insert into t values (1)');
        } catch (error) {
          return error;
        }
        return null;
      })();
      expect(isStoreOutage(locked)).toBe(true);
    } finally {
      holder.close();
      other.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

/** A call on a store that was closed (a request still in flight while the daemon stops) is an outage, on each backend. */
function closedStoreContract(backend: Pick<StoreBackend, 'open'>) {
  it('answers a call after close() with an outage, not a bug', async () => {
    const { store, dispose } = await backend.open(() => new Date());
    // Served once, as a daemon's store has (Kysely's destroy() skips a driver never used:
    // on PostgreSQL, whose migrations run on a connection of their own, that store would go on serving).
    await store.listTerminations({ limit: 1 });
    await store.close();
    const failure = await store.getTermination('00000000-0000-7000-8000-000000000000').then(
      () => null,
      (error: unknown) => error,
    );
    expect(failure).toBeInstanceOf(Error);
    expect(isStoreOutage(failure)).toBe(true);
    // dispose() closes again: a second close of either dialect is harmless.
    await dispose().catch(() => undefined);
  });
}

describe('a closed store on SQLite', () => closedStoreContract(sqliteBackend));
describePostgres('a closed store on PostgreSQL', (url) => closedStoreContract(postgresBackend(url)));
