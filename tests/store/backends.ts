/**
 * The databases the store suite runs against. Each test gets a fresh, migrated database:
 * a temp file for SQLite, a schema of its own (dropped afterwards) for PostgreSQL.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { createPostgresStore, type PostgresStore } from '../../src/store/postgres.ts';
import type { SqlStore } from '../../src/store/sql-store.ts';
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

export function postgresBackend(
  url: string,
): Omit<StoreBackend, 'open'> & { admin(): Promise<pg.Client>; open(clock: () => Date): Promise<TestDatabase<PostgresStore> & { schema: string }> } {
  const admin = () => pgAdmin(url);
  return {
    name: 'postgres',
    multiReplica: true,
    admin,
    async open(clock) {
      schemaCounter += 1;
      const schema = `store_test_${process.pid}_${schemaCounter}_${Math.random().toString(36).slice(2, 8)}`;
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
            await client.query(`drop schema if exists ${schema} cascade`);
          } finally {
            await client.end();
          }
        },
      };
    },
  };
}

