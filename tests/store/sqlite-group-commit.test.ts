/**
 * Group commit: transactions of one event-loop turn share one COMMIT, and none of them
 * resolves before that COMMIT is done; a failing transaction takes only its own writes
 * back; a COMMIT that fails rejects every transaction of its group.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { Kysely, sql } from 'kysely';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openSqliteDatabase, withStatementCache } from '../../src/store/sqlite.ts';
import { GroupCommitSqliteDialect } from '../../src/store/sqlite-group-commit.ts';

interface Db {
  parent: { id: number };
  item: { id: number; parent_id: number | null; name: string };
}

let dir: string;
let sqlite: BetterSqlite3.Database;
let db: Kysely<Db>;
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
  db = new Kysely<Db>({ dialect: new GroupCommitSqliteDialect(sqlite, withStatementCache(sqlite)) });
  await sql`CREATE TABLE parent (id INTEGER PRIMARY KEY)`.execute(db);
  // Deferred: a dangling parent_id is only refused at COMMIT, which lets a test fail the group's commit.
  await sql`CREATE TABLE item (id INTEGER PRIMARY KEY, parent_id INTEGER REFERENCES parent(id) DEFERRABLE INITIALLY DEFERRED, name TEXT NOT NULL UNIQUE)`.execute(db);
  // A second connection sees only what is committed.
  reader = new BetterSqlite3(path, { readonly: true });
  commits = 0;
});

afterEach(async () => {
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
            await trx.insertInto('item').values({ id: n, parent_id: null, name: `item-${String(n).padStart(2, '0')}` }).execute();
            await trx.updateTable('item').set({ name: `tx-${String(n).padStart(2, '0')}` }).where('id', '=', n).execute();
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
});
