/**
 * Stores of several deployments (or test workers) sharing one PostgreSQL database, each in
 * its own schema: one's migration must not read, nor fail on, another's schema. Kysely's
 * stock introspection read every schema, and a schema dropped by someone else during that
 * read failed our migration (3F000, or 42703/42P01 from pg_get_serial_sequence): seen in CI
 * as "schema store_test_… does not exist" from `Migrator.#ensureMigrationLockTableExists`.
 */
import { sql, type Kysely } from 'kysely';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createPostgresStore } from '../../src/store/postgres.ts';
import { describePostgres, newSchemaName, pgAdmin } from '../helpers/postgres.ts';

describePostgres('PostgreSQL stores sharing a database', (url) => {
  const ours: string[] = [];
  let other: string;

  beforeAll(async () => {
    other = newSchemaName('shared_other');
    const admin = await pgAdmin(url);
    try {
      await admin.query(`create schema ${other}`);
      await admin.query(`create table ${other}.kysely_migration (name varchar(255) primary key, timestamp varchar(255))`);
      await admin.query(`create table ${other}.terminations (id serial primary key)`);
    } finally {
      await admin.end();
    }
  });

  afterAll(async () => {
    const admin = await pgAdmin(url);
    try {
      for (const schema of [other, ...ours]) await admin.query(`drop schema if exists ${schema} cascade`);
    } finally {
      await admin.end();
    }
  });

  it("introspects its own schema only, never another deployment's tables", async () => {
    const schema = newSchemaName('shared_own');
    ours.push(schema);
    const store = createPostgresStore({ url, schema, poolSize: 1 });
    try {
      await store.migrate();
      const db = (store as unknown as { db: Kysely<unknown> }).db;
      const tables = await db.introspection.getTables({ withInternalKyselyTables: true });
      expect(new Set(tables.map((t) => t.schema))).toEqual(new Set([schema]));
      expect(tables.map((t) => t.name)).toEqual(expect.arrayContaining(['kysely_migration', 'terminations']));
      // Kysely's own tables are left out unless asked for, as its stock introspector does.
      expect((await db.introspection.getTables()).map((t) => t.name)).not.toContain('kysely_migration');
      expect((await db.introspection.getSchemas()).map((s) => s.name)).toEqual([schema]);
      const seq = tables.find((t) => t.name === 'audit_log')?.columns.find((c) => c.name === 'seq');
      expect(seq).toMatchObject({ dataType: 'int4', isAutoIncrementing: true, isNullable: false });
    } finally {
      await store.close();
    }
  });

  it('migrates while other schemas are created and dropped around it', async () => {
    const churn = await pgAdmin(url);
    let stop = false;
    let dropped = 0;
    // Another deployment's lifecycle, as fast as the server allows: each drop may land in
    // the middle of our migration's catalog read.
    const churning = (async () => {
      while (!stop) {
        const name = newSchemaName('shared_churn');
        await churn.query(`create schema ${name}`);
        await churn.query(`create table ${name}.t (id serial primary key, a int, b text, c int, d text)`);
        await churn.query(`drop schema ${name} cascade`);
        dropped += 1;
      }
    })();
    try {
      for (let i = 0; i < 12; i += 1) {
        const schema = newSchemaName('shared_own');
        ours.push(schema);
        const store = createPostgresStore({ url, schema, poolSize: 1 });
        try {
          await store.migrate();
          const db = (store as unknown as { db: Kysely<unknown> }).db;
          const { rows } = await sql<{ n: number }>`select count(*)::int as n from kysely_migration`.execute(db);
          expect(rows[0]?.n).toBeGreaterThan(10);
        } finally {
          await store.close();
        }
      }
    } finally {
      stop = true;
      await churning;
      await churn.end();
    }
    expect(dropped).toBeGreaterThan(0);
  });
});
