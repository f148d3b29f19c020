/**
 * A migrated SQLite database without running the migrations: a copy of one file migrated
 * once per test process. The migrations cost about 70 ms (a dozen transactions, each
 * synced), paid by every test that opened a fresh store; the copy costs a few.
 */
import { copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createSqliteStore } from '../../src/store/sqlite.ts';

let template: Promise<string> | undefined;

function migratedFile(): Promise<string> {
  template ??= (async () => {
    const dir = mkdtempSync(join(tmpdir(), 'deprovisiond-store-template-'));
    process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
    const path = join(dir, 'store.db');
    const store = createSqliteStore(path, () => new Date());
    await store.migrate();
    // Closing checkpoints the WAL into the file and removes it: the file alone is the database.
    await store.close();
    return path;
  })();
  return template;
}

/** Writes a freshly migrated database to `path` (which must not exist yet). */
export async function copyMigratedSqlite(path: string): Promise<void> {
  copyFileSync(await migratedFile(), path);
}
