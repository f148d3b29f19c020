/**
 * The master key of an SQLite deployment that configured none: a file beside the store
 * (`data/deprovisiond.db` → `data/deprovisiond-master.key`), created once with mode 0600 and
 * read on every start after, so sealed data and receipts survive a restart. Beside the store
 * is where a backup of the data directory takes it along: docs/privacy.md says to set
 * `privacy.masterKey` or keep the file out of backups.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join, parse } from 'node:path';
import { KEY_BYTES } from './crypto.ts';

export function masterKeyPath(storePath: string): string {
  const { dir, name } = parse(storePath);
  return join(dir, `${name}-master.key`);
}

export function masterKeyFile(storePath: string): { path: string; key: Buffer; created: boolean } {
  const path = masterKeyPath(storePath);
  try {
    const key = Buffer.from(readFileSync(path, 'utf8').trim(), 'base64');
    if (key.length !== KEY_BYTES) throw new Error(`${path} does not hold a 32-byte key in base64`);
    return { path, key, created: false };
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  const key = randomBytes(KEY_BYTES);
  // `wx`: two processes starting at once cannot both write one; the loser reads the winner's.
  try {
    writeFileSync(path, `${key.toString('base64')}\n`, { mode: 0o600, flag: 'wx' });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return masterKeyFile(storePath);
    throw error;
  }
  return { path, key, created: true };
}
