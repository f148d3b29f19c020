/**
 * Reads sealed columns of a daemon's SQLite store from a test, as the daemon would: its data
 * keys from the keyring file beside the store, unwrapped with the master key the daemon uses
 * (its key file when the config names none). Read-only: the daemon keeps running.
 */
import BetterSqlite3 from 'better-sqlite3';
import { isSealed, open } from '../../src/privacy/crypto.ts';
import { LocalKeyWrapper } from '../../src/privacy/key-wrapper.ts';
import { masterKeyFile } from '../../src/privacy/master-key-file.ts';
import { defaultKeyringPath } from '../../src/store/sqlite.ts';

export async function sealedReader(storePath: string, masterKey = masterKeyFile(storePath).key) {
  const keyring = new BetterSqlite3(defaultKeyringPath(storePath), { readonly: true, fileMustExist: true });
  const wrapper = new LocalKeyWrapper(masterKey);
  const keys = new Map<string, Buffer>();
  try {
    for (const row of keyring.prepare('select owner_id, wrapped from data_keys').all() as Array<{ owner_id: string; wrapped: string }>) {
      keys.set(row.owner_id, await wrapper.unwrap(row.owner_id, row.wrapped));
    }
  } finally {
    keyring.close();
  }
  return {
    /** A column of record `owner` as written in clear; null when its key is gone. */
    open(owner: string, field: string, stored: string): string | null {
      if (!isSealed(stored)) return stored;
      const key = keys.get(owner);
      return key ? open(key, `${field}:${owner}`, stored) : null;
    },
  };
}
