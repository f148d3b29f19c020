/**
 * Group commit: transactions of one event-loop turn share one COMMIT, and none of them
 * resolves before that COMMIT is done and the WAL synced after it; a failing transaction
 * takes only its own writes back; a COMMIT or a sync that fails rejects every transaction
 * of its group.
 */
import { mkdtempSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { Kysely, sql } from 'kysely';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { openSqliteDatabase, withStatementCache } from '../../src/store/sqlite.ts';
import { GroupCommitSqliteDialect } from '../../src/store/sqlite-group-commit.ts';

interface Db {
  parent: { id: number };
  item: { id: number; parent_id: number | null; name: string };
}

let dir: string;
let sqlite: BetterSqlite3.Database;
let db: Kysely<Db>;
let dialect: GroupCommitSqliteDialect;
let reader: BetterSqlite3.Database;
let commits: number;

beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), 'group-commit-'));
  const path = join(dir, 'db.sqlite');
  sqlite = openSqliteDatabase(path);
  commits = 0;
  const exec = sqlite.exec.bind(sqlite);
  sqlite.exec = (text: string) => {
    if (text === 'COMMIT') commits += 1;
    return exec(text);
  };
  dialect = new GroupCommitSqliteDialect(sqlite, withStatementCache(sqlite));
  db = new Kysely<Db>({ dialect });
  await sql`CREATE TABLE parent (id INTEGER PRIMARY KEY)`.execute(db);
  // Deferred: a dangling parent_id is only refused at COMMIT, which lets a test fail the group's commit.
  await sql`CREATE TABLE item (id INTEGER PRIMARY KEY, parent_id INTEGER REFERENCES parent(id) DEFERRABLE INITIALLY DEFERRED, name TEXT NOT NULL UNIQUE)`.execute(
    db,
  );
  // A second connection sees only what is committed.
  reader = new BetterSqlite3(path, { readonly: true });
  commits = 0;
});

afterEach(async () => {
  vi.restoreAllMocks();
  reader.close();
  await db.destroy();
  rmSync(dir, { recursive: true, force: true });
});

const committedNames = () => (reader.prepare('SELECT name FROM item ORDER BY name').all() as Array<{ name: string }>).map((r) => r.name);

describe('SQLite group commit', () => {
  it('commits the transactions of one turn together, and resolves each only once its rows are committed', async () => {
    const seenOnResolve: string[][] = [];
    await Promise.all(
      Array.from({ length: 20 }, (_, n) =>
        db
          .transaction()
          .execute(async (trx) => {
            await trx
              .insertInto('item')
              .values({ id: n, parent_id: null, name: `item-${String(n).padStart(2, '0')}` })
              .execute();
            await trx
              .updateTable('item')
              .set({ name: `tx-${String(n).padStart(2, '0')}` })
              .where('id', '=', n)
              .execute();
          })
          .then(() => seenOnResolve.push(committedNames())),
      ),
    );
    expect(commits).toBe(1);
    // Every transaction, when it resolved, could already see all 20 rows from another connection.
    for (const seen of seenOnResolve) expect(seen).toHaveLength(20);
    expect(committedNames()[0]).toBe('tx-00');
  });

  it('takes back only the failing transaction of a group', async () => {
    const results = await Promise.allSettled([
      db.transaction().execute((trx) => trx.insertInto('item').values({ id: 1, parent_id: null, name: 'a' }).execute()),
      db.transaction().execute(async (trx) => {
        await trx.insertInto('item').values({ id: 2, parent_id: null, name: 'b' }).execute();
        // Duplicate name: the whole transaction, including row 2, goes back.
        await trx.insertInto('item').values({ id: 3, parent_id: null, name: 'a' }).execute();
      }),
      db.transaction().execute((trx) => trx.insertInto('item').values({ id: 4, parent_id: null, name: 'c' }).execute()),
    ]);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    expect(committedNames()).toEqual(['a', 'c']);
    expect(commits).toBe(1);
  });

  it('makes a write outside a transaction durable before it resolves, RETURNING included', async () => {
    await db.insertInto('item').values({ id: 1, parent_id: null, name: 'plain' }).execute();
    expect(committedNames()).toEqual(['plain']);
    const returned = await db.updateTable('item').set({ name: 'returned' }).where('id', '=', 1).returning('name').execute();
    expect(returned).toEqual([{ name: 'returned' }]);
    expect(committedNames()).toEqual(['returned']);
  });

  it('rejects every transaction of a group whose COMMIT fails, and keeps working after it', async () => {
    const results = await Promise.allSettled([
      db.transaction().execute((trx) => trx.insertInto('item').values({ id: 1, parent_id: null, name: 'innocent' }).execute()),
      // The dangling reference passes its own statement and fails the group's COMMIT.
      db.transaction().execute((trx) => trx.insertInto('item').values({ id: 2, parent_id: 99, name: 'dangling' }).execute()),
    ]);
    expect(results.map((r) => r.status)).toEqual(['rejected', 'rejected']);
    expect(committedNames()).toEqual([]);
    await db.transaction().execute((trx) => trx.insertInto('item').values({ id: 3, parent_id: null, name: 'after' }).execute());
    expect(committedNames()).toEqual(['after']);
  });

  it('commits what is open when the database is closed', async () => {
    const pending = db.insertInto('item').values({ id: 1, parent_id: null, name: 'last' }).execute();
    await db.destroy();
    await pending;
    expect(committedNames()).toEqual(['last']);
    // Reopen so afterEach can destroy it again.
    sqlite = openSqliteDatabase(join(dir, 'db.sqlite'));
    db = new Kysely<Db>({ dialect: new GroupCommitSqliteDialect(sqlite, withStatementCache(sqlite)) });
  });

  describe('the WAL sync, off the main thread', () => {
    /** FileHandle's prototype, whose datasync the driver calls on the WAL. */
    async function fileHandlePrototype(): Promise<{ datasync(): Promise<void> }> {
      const file = join(dir, 'probe');
      writeFileSync(file, '');
      const handle = await open(file, 'r');
      await handle.close();
      return Object.getPrototypeOf(handle) as { datasync(): Promise<void> };
    }
    const turn = () => new Promise<void>((resolve) => setImmediate(resolve));

    it('runs in WAL mode with synchronous=NORMAL: the driver syncs the WAL itself', () => {
      expect(sqlite.pragma('journal_mode', { simple: true })).toBe('wal');
      expect(sqlite.pragma('synchronous', { simple: true })).toBe(1);
    });

    it('resolves no write before a WAL sync that started after its COMMIT has finished', async () => {
      const prototype = await fileHandlePrototype();
      const datasync = prototype.datasync;
      let release!: () => void;
      const gate = new Promise<void>((resolve) => (release = resolve));
      const files: string[] = [];
      const synced = vi.spyOn(prototype, 'datasync').mockImplementation(async function (this: { fd: number }) {
        files.push(readlinkSync(`/proc/self/fd/${this.fd}`));
        await gate;
        return datasync.call(this);
      });
      let resolved = false;
      const write = db
        .insertInto('item')
        .values({ id: 1, parent_id: null, name: 'waits' })
        .execute()
        .then(() => (resolved = true));
      for (let n = 0; n < 20 && synced.mock.calls.length === 0; n += 1) await turn();
      // Committed (another connection sees it) and being synced, but not yet answered.
      expect(commits).toBe(1);
      expect(committedNames()).toEqual(['waits']);
      expect(synced).toHaveBeenCalledTimes(1);
      await turn();
      expect(resolved).toBe(false);
      // A group committed while that sync runs waits for the next one.
      const next = db.insertInto('item').values({ id: 2, parent_id: null, name: 'next' }).execute();
      for (let n = 0; n < 20 && commits < 2; n += 1) await turn();
      expect(commits).toBe(2);
      release();
      await Promise.all([write, next]);
      expect(resolved).toBe(true);
      expect(synced).toHaveBeenCalledTimes(2);
      expect(files).toEqual([`${sqlite.name}-wal`, `${sqlite.name}-wal`]);
    });

    it('durable(): waits for what a read could see (the open group, the last group being synced), and no longer', async () => {
      await expect(dialect.durable()).resolves.toBeUndefined();
      const prototype = await fileHandlePrototype();
      const datasync = prototype.datasync;
      let release!: () => void;
      const gate = new Promise<void>((resolve) => (release = resolve));
      const synced = vi.spyOn(prototype, 'datasync').mockImplementation(async function (this: unknown) {
        await gate;
        return datasync.call(this);
      });
      const write = db.insertInto('item').values({ id: 1, parent_id: null, name: 'pending' }).execute();
      // Written to the open group: a read on this connection sees it before its COMMIT.
      expect((await db.selectFrom('item').select('name').execute()).map((r) => r.name)).toEqual(['pending']);
      let durable = false;
      const whileOpen = dialect.durable().then(() => (durable = true));
      for (let n = 0; n < 20 && synced.mock.calls.length === 0; n += 1) await turn();
      // Committed now, its sync held: still not durable, and a new call waits for the same sync.
      expect(commits).toBe(1);
      let later = false;
      const whileSyncing = dialect.durable().then(() => (later = true));
      await turn();
      expect([durable, later]).toEqual([false, false]);
      release();
      await Promise.all([write, whileOpen, whileSyncing]);
      // Nothing pending any more: resolves at once, whatever was synced before.
      await expect(dialect.durable()).resolves.toBeUndefined();
    });

    it('rejects the writes of a group whose WAL sync fails, and keeps working after it', async () => {
      const prototype = await fileHandlePrototype();
      vi.spyOn(prototype, 'datasync').mockRejectedValueOnce(Object.assign(new Error('EIO: i/o error, fdatasync'), { code: 'EIO' }));
      const results = await Promise.allSettled([
        db.insertInto('item').values({ id: 1, parent_id: null, name: 'a' }).execute(),
        db.transaction().execute((trx) => trx.insertInto('item').values({ id: 2, parent_id: null, name: 'b' }).execute()),
      ]);
      expect(results.map((r) => r.status)).toEqual(['rejected', 'rejected']);
      expect(String((results[0] as PromiseRejectedResult).reason)).toContain('EIO');
      await db.insertInto('item').values({ id: 3, parent_id: null, name: 'c' }).execute();
    });
  });
});
