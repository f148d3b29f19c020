/**
 * Reads sealed columns of a daemon's store from a test, as the daemon would: its data keys
 * from the keyring (SQLite: the file beside the store; PostgreSQL: the schema
 * `<schema>_keyring`), unwrapped with the master key the daemon was given (or its key file).
 * Read-only: the daemons keep running.
 */
import BetterSqlite3 from 'better-sqlite3';
import type pg from 'pg';
import { isSealed, open } from '../../src/privacy/crypto.ts';
import { LocalKeyWrapper } from '../../src/privacy/key-wrapper.ts';
import { masterKeyFile } from '../../src/privacy/master-key-file.ts';
import { SEALED } from '../../src/store/rows.ts';
import { defaultKeyringPath } from '../../src/store/sqlite.ts';

interface KeyRow {
  owner_id: string;
  wrapped: string;
}

export interface SealedReader {
  /** A column of record `owner` as written in clear; null when its key is gone. */
  open(owner: string, field: string, stored: string): string | null;
  /** Tasks as stored, with `account` opened (their termination's key). */
  withAccounts<T extends { termination_id: string; account: string | null }>(tasks: T[]): T[];
}

async function reader(rows: KeyRow[], masterKey: Buffer): Promise<SealedReader> {
  const wrapper = new LocalKeyWrapper(masterKey);
  const keys = new Map<string, Buffer>();
  for (const row of rows) keys.set(row.owner_id, await wrapper.unwrap(row.owner_id, row.wrapped));
  const openColumn = (owner: string, field: string, stored: string) => {
    if (!isSealed(stored)) return stored;
    const key = keys.get(owner);
    return key ? open(key, `${field}:${owner}`, stored) : null;
  };
  return {
    open: openColumn,
    withAccounts: (tasks) =>
      tasks.map((t) => ({ ...t, account: t.account === null ? null : openColumn(t.termination_id, SEALED.account, t.account) })),
  };
}

/** The SQLite daemon at `storePath`: its keyring file, and its key file unless the master key is given. */
export function sealedReader(storePath: string, masterKey = masterKeyFile(storePath).key): Promise<SealedReader> {
  const keyring = new BetterSqlite3(defaultKeyringPath(storePath), { readonly: true, fileMustExist: true });
  try {
    return reader(keyring.prepare('select owner_id, wrapped from data_keys').all() as KeyRow[], masterKey);
  } finally {
    keyring.close();
  }
}

/** The PostgreSQL daemons on `schema`. */
export async function postgresSealedReader(pool: pg.Pool, schema: string, masterKey: Buffer): Promise<SealedReader> {
  const { rows } = await pool.query<KeyRow>(`select owner_id, wrapped from "${schema}_keyring".data_keys`);
  return reader(rows, masterKey);
}
