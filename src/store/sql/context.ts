/**
 * What every SQL concern of the store shares: the Kysely handle, the dialect's hooks, the
 * clock and the store's events. Each concern (terminations, task queue, settlement, read
 * model, audit log) is a class of its own over this context.
 */
import type { EventEmitter } from 'node:events';
import { sql, type Kysely, type RawBuilder, type Transaction } from 'kysely';
import type { Database } from '../schema.ts';
import type { PersonalData } from './personal-data.ts';

export interface DialectHooks {
  readonly dialect: 'sqlite' | 'postgres';
  /** Where the keyring's table is (src/store/sql/personal-data.ts): an attached database (SQLite) or a schema (PostgreSQL). */
  readonly keyringSchema: string;
  /**
   * Serialises, inside a transaction, the writers that decide one termination's fate: a
   * worker settling one of its tasks, an operator cancelling it or completing a manual step.
   * Locks that one termination only (PostgreSQL), so a replica frozen while holding it holds
   * up that termination and nothing else; nothing on SQLite, which serialises writers.
   * Taken before any termination row or pending task row is written on those paths.
   */
  lockTermination(trx: Transaction<Database>, terminationId: string): Promise<void>;
  /**
   * Takes the audit linker's lock for this transaction without waiting: false when another
   * replica's linker holds it (PostgreSQL). Always true on SQLite (one process, one linker).
   */
  tryLockAuditLinker(trx: Transaction<Database>): Promise<boolean>;
  /** Locks claimed candidate rows so other replicas skip them (PostgreSQL), or nothing (SQLite). */
  readonly skipLocked: boolean;
  /** Tells other replicas that work may be due (PostgreSQL NOTIFY), inside the transaction. */
  notifyOthers(trx: Transaction<Database>): Promise<void>;
  isUniqueViolation(error: unknown): boolean;
  /**
   * Resolves once every write a read on this store could see is on disk (SQLite group
   * commit: see sqlite-group-commit.ts). Absent where a read sees only what is durable
   * (PostgreSQL: a read sees committed rows only, and COMMIT returns after the WAL flush).
   */
  durable?(): Promise<void>;
  /**
   * Removes from disk, as far as the database allows, bytes the store rewrote or deleted
   * (destroyed data keys, rows sealed at start): SQLite writes the WALs into their files and
   * truncates them (secure_delete already zeroes freed cells); PostgreSQL rewrites the
   * keyring's table (VACUUM FULL), whose dead rows would keep destroyed keys until vacuumed.
   */
  purge(): Promise<void>;
  /** The database's own clock in epoch milliseconds, as SQL (PostgreSQL); absent where the process is the only clock (SQLite). */
  readonly databaseClock?: RawBuilder<number>;
}

/** A moment leases are measured against: a number, or the database clock as SQL. */
export type LeaseTime = number | RawBuilder<number>;

/** `at` plus `ms`: in JS for a number, in SQL for the database clock (the lease length is a literal, so PostgreSQL knows its type). */
export function leaseEnd(at: LeaseTime, ms: number): LeaseTime {
  return typeof at === 'number' ? at + ms : sql<number>`${at} + ${sql.lit(Math.round(ms))}`;
}

export type Tx = Transaction<Database>;

/** A termination's last critical task finished: what the time-to-revoke metric needs. */
export interface RevokedEvent {
  terminationId: string;
  timeToRevokeMs: number;
}

export interface StoreContext {
  readonly db: Kysely<Database>;
  readonly hooks: DialectHooks;
  readonly clock: () => Date;
  /** `wake` after a commit that may make work due here; `revoked` once per revoked termination. */
  readonly events: EventEmitter;
  /**
   * The clock that times leases, at the moment the statement runs: the database's on
   * PostgreSQL (every replica judges expiry by one clock, and a wait for a pooled connection
   * is not taken out of a lease), this process's on SQLite. A store given a clock (tests)
   * uses `requested`, the time the caller claims at, or that clock.
   */
  leaseClock(requested?: number): LeaseTime;
  /** Where lease renewals run: a connection of their own on PostgreSQL, else `db`. */
  readonly leaseDb: Kysely<Database>;
  /** Data keys, sealing and blind indexes for personal data. */
  readonly personal: PersonalData;
}

/** Wakes local schedulers after a commit. */
export function emitWake(ctx: StoreContext): void {
  ctx.events.emit('wake');
}

export function emitRevoked(ctx: StoreContext, event: RevokedEvent | null): void {
  if (event) ctx.events.emit('revoked', event);
}
