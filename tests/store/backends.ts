/**
 * The databases the store suite runs against. Each test gets a fresh, migrated database:
 * a temp file for SQLite, a schema of its own for PostgreSQL.
 *
 * Running the migrations was most of a store test's time (about 70 ms on SQLite and
 * 300 ms with the schema's creation and drop on PostgreSQL, per test), so a fresh database
 * is made without them: on SQLite a copy of one migrated file (helpers/migrated-sqlite.ts),
 * on PostgreSQL a schema a finished test of this file used, emptied (rows deleted,
 * sequences restarted: the state the migrations leave). Each open still runs `migrate()`,
 * as a replica starting does; it finds nothing pending.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll } from 'vitest';
import { createPostgresStore, type PostgresStore } from '../../src/store/postgres.ts';
import type { SqlStore } from '../../src/store/sql-store.ts';
import { copyMigratedSqlite } from '../helpers/migrated-sqlite.ts';
import { pgAdmin } from '../helpers/postgres.ts';
import { createSqliteStore } from '../../src/store/sqlite.ts';

export interface TestDatabase<S extends SqlStore = SqlStore> {
  /** PostgreSQL only: the schema this test's tables live in. */
  schema?: string;
  /** The store the test works with. */
  store: S;
  /**
   * `n` stores on the same database, as `n` replicas would hold. SQLite serves one
   * process, so there it is the same store `n` times.
   */
  replicas(n: number): Promise<S[]>;
  dispose(): Promise<void>;
}

export interface StoreBackend {
  name: 'sqlite' | 'postgres';
  /** Separate replicas (own pools, own transactions) can race each other. */
  multiReplica: boolean;
  open(clock: () => Date): Promise<TestDatabase>;
}

export const sqliteBackend: StoreBackend = {
  name: 'sqlite',
  multiReplica: false,
  async open(clock) {
    const dir = mkdtempSync(join(tmpdir(), 'deprovisiond-store-'));
    await copyMigratedSqlite(join(dir, 'store.db'));
    const store = createSqliteStore(join(dir, 'store.db'), clock);
    await store.migrate();
    return {
      store,
      replicas: async (n) => Array.from({ length: n }, () => store),
      async dispose() {
        await store.close();
        rmSync(dir, { recursive: true, force: true });
      },
    };
  },
};

let schemaCounter = 0;

/**
 * Deletes every row of the schema and of its keyring and restarts its sequences, leaving
 * the migrations' bookkeeping: what a fresh migration leaves. One statement, so the foreign keys are
 * checked once at its end, when every row is gone. A session a test left open could hold
 * a lock: past lock_timeout this throws and the schema is dropped instead of reused.
 */
async function emptySchema(client: pg.Client, schema: string): Promise<void> {
  const tables = await client.query<{ name: string }>(
    `select tablename as name from pg_tables where schemaname = $1 and tablename not like 'kysely_migration%'`,
    [schema],
  );
  const sequences = await client.query<{ name: string }>(`select sequencename as name from pg_sequences where schemaname = $1`, [schema]);
  const id = (name: string) => `"${schema}"."${name}"`;
  const deletes = tables.rows.map((t, i) => `d${i} as (delete from ${id(t.name)})`);
  await client.query('set lock_timeout = 2000');
  if (deletes.length > 0) await client.query(`with ${deletes.join(', ')} select 1`);
  // The keyring (migration 0016) is a schema of its own: a key left there would refuse the next test's record of the same id.
  await client.query(`delete from "${schema}_keyring".data_keys`);
  for (const s of sequences.rows) await client.query(`alter sequence ${id(s.name)} restart`);
}

export function postgresBackend(url: string): Omit<StoreBackend, 'open'> & {
  admin(): Promise<pg.Client>;
  open(clock: () => Date): Promise<TestDatabase<PostgresStore> & { schema: string }>;
} {
  const admin = () => pgAdmin(url);
  /** Emptied schemas of finished tests, ready for the next; dropped once the file's tests are done. */
  const spare: string[] = [];
  afterAll(async () => {
    if (spare.length === 0) return;
    const client = await admin();
    try {
      for (const schema of spare.splice(0)) await client.query(`drop schema if exists "${schema}", "${schema}_keyring" cascade`);
    } finally {
      await client.end();
    }
  });
  return {
    name: 'postgres',
    multiReplica: true,
    admin,
    async open(clock) {
      let schema = spare.pop();
      if (schema === undefined) {
        schemaCounter += 1;
        schema = `store_test_${process.pid}_${schemaCounter}_${Math.random().toString(36).slice(2, 8)}`;
      }
      const opened: PostgresStore[] = [];
      const connect = async () => {
        const store = createPostgresStore({ url, schema, poolSize: 4 }, clock);
        opened.push(store);
        await store.migrate();
        return store;
      };
      const store = await connect();
      return {
        schema,
        store,
        replicas: async (n) => Promise.all(Array.from({ length: n }, connect)),
        async dispose() {
          await Promise.all(opened.map((s) => s.close()));
          const client = await admin();
          try {
            try {
              await emptySchema(client, schema);
              spare.push(schema);
            } catch {
              await client.query('set lock_timeout = 0');
              await client.query(`drop schema if exists "${schema}", "${schema}_keyring" cascade`);
            }
          } finally {
            await client.end();
          }
        },
      };
    },
  };
}
