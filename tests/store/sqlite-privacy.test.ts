/** Personal data at rest on SQLite: the raw bytes of the store's file and WAL, and a backup copy taken before erasure. */
import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { PersonalData } from '../../src/store/sql/personal-data.ts';
import { createSqliteStore } from '../../src/store/sqlite.ts';
import type { Database } from '../../src/store/schema.ts';
import type { Kysely } from 'kysely';
import { copyMigratedSqlite } from '../helpers/migrated-sqlite.ts';
import { definePrivacySuite, PERSONAL } from './privacy-suite.ts';
import { newTask, newTermination } from './suite.ts';

function rawFiles(path: string): string {
  return [path, `${path}-wal`]
    .filter((p) => existsSync(p))
    .map((p) => readFileSync(p).toString('latin1'))
    .join('\n');
}

definePrivacySuite({
  name: 'sqlite',
  async open(clock) {
    const dir = mkdtempSync(join(tmpdir(), 'deprovisiond-privacy-'));
    const path = join(dir, 'store.db');
    await copyMigratedSqlite(path);
    const store = createSqliteStore(path, clock);
    await store.migrate();
    return {
      store,
      raw: async () => {
        await store.durable();
        return rawFiles(path);
      },
      rawKeyring: async () => {
        await store.durable();
        return rawFiles(join(dir, 'store-keyring.db'));
      },
      async dispose() {
        await store.close();
        rmSync(dir, { recursive: true, force: true });
      },
    };
  },
});

describe('a backup of the SQLite store', () => {
  it('yields no personal data once the keys are gone: the copy holds ciphertext, and the keyring is not in it', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'deprovisiond-backup-'));
    try {
      const path = join(dir, 'store.db');
      const masterKey = Buffer.alloc(32, 7);
      const store = createSqliteStore(path, undefined, { privacy: { masterKey } });
      await store.migrate();
      const t = newTermination(Date.now(), {
        subjectKey: 'ext:HR-7741',
        subject: { externalId: 'HR-7741', displayName: 'Marie Sklodowska', emails: ['marie.curie@lab.example'] },
      });
      await store.createTermination(t, [newTask('disable')]);
      await store.close();
      // The backup: the database file, as an operator copies `store.db*`.
      copyFileSync(path, join(dir, 'backup.db'));
      expect(existsSync(join(dir, 'store-keyring.db')), 'the keyring is a file of its own').toBe(true);

      const live = createSqliteStore(path, undefined, { privacy: { masterKey } });
      const { db, personal } = (live as unknown as { ctx: { db: Kysely<Database>; personal: PersonalData } }).ctx;
      await personal.destroy(db, [t.id]);
      await live.close();

      const backupText = readFileSync(join(dir, 'backup.db')).toString('latin1').toLowerCase();
      for (const value of PERSONAL) expect(backupText.includes(value), `"${value}" in the backup`).toBe(false);
      // Restored beside the live keyring, with the master key: the record's key is gone.
      const restored = createSqliteStore(join(dir, 'backup.db'), undefined, {
        privacy: { masterKey },
        keyringPath: join(dir, 'store-keyring.db'),
      });
      expect((await restored.getTermination(t.id))?.subject.displayName).toBeUndefined();
      await restored.close();
      const keyringText = readFileSync(join(dir, 'store-keyring.db')).toString('latin1');
      expect(keyringText.includes(t.id), 'the destroyed key is overwritten in the keyring file (secure_delete)').toBe(false);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('a store started with another master key', () => {
  it('refuses to read, naming the fix, instead of failing in the cipher', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'deprovisiond-wrongkey-'));
    try {
      const path = join(dir, 'store.db');
      const store = createSqliteStore(path, undefined, { privacy: { masterKey: Buffer.alloc(32, 1) } });
      await store.migrate();
      const t = newTermination(Date.now(), { subjectKey: 'ext:E1', subject: { externalId: 'E1', emails: [] } });
      await store.createTermination(t, [newTask('disable')]);
      await store.close();
      const other = createSqliteStore(path, undefined, { privacy: { masterKey: Buffer.alloc(32, 2) } });
      await expect(other.getTermination(t.id)).rejects.toThrow(
        /does not open with the configured master key: start the daemon with the privacy.masterKey/,
      );
      await other.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
