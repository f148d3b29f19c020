/**
 * A migrated SQLite database without running the migrations: the bytes of one database
 * migrated once per test process, written out for each store. The migrations cost about
 * 70 ms (a dozen transactions, each synced), paid by every test that opened a fresh store;
 * the write costs a few. The bytes stay in memory, so nothing is left on disk to clean up
 * when vitest ends a worker without its exit handlers.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createSqliteStore } from '../../src/store/sqlite.ts';

let migrated: Promise<Buffer> | undefined;

function migratedBytes(): Promise<Buffer> {
  migrated ??= (async () => {
    const dir = mkdtempSync(join(tmpdir(), 'deprovisiond-store-template-'));
    try {
      const path = join(dir, 'store.db');
      const store = createSqliteStore(path, () => new Date());
      await store.migrate();
      // Closing checkpoints the WAL into the file and removes it: the file alone is the database.
      await store.close();
      return readFileSync(path);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  })();
  return migrated;
}

/** Writes a freshly migrated database to `path`, which must not exist yet. */
export async function copyMigratedSqlite(path: string): Promise<void> {
  writeFileSync(path, await migratedBytes(), { flag: 'wx' });
}
