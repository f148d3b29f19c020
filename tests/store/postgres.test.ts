/**
 * The store suite on PostgreSQL, plus what only PostgreSQL has: wake-ups between replicas
 * through LISTEN/NOTIFY.
 *
 * Run policy: with TEST_DATABASE_URL set, every test runs, and an unreachable database
 * fails them. Without it, a developer's run says so in one line and reports the suite as
 * skipped; under CI (CI set, and not "false" or "0") the run fails instead.
 */
import { sql, type Kysely } from 'kysely';
import pg from 'pg';
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createPostgresStore, WAKE_CHANNEL, type PostgresStore } from '../../src/store/postgres.ts';
import { describePostgres } from '../helpers/postgres.ts';
import { postgresBackend } from './backends.ts';
import { defineStoreSuite, newTask, newTermination, nextWake } from './suite.ts';

describePostgres('PostgreSQL store suite', (url) => {
  const backend = postgresBackend(url);

  describe('PostgreSQL reachability', () => {
    it('connects to TEST_DATABASE_URL', async () => {
      const client = await backend.admin();
      await client.end();
    });
  });

  defineStoreSuite(backend);

  describe('Store on postgres: wake-ups between replicas', () => {
    const clock = () => new Date();
    let db: Awaited<ReturnType<typeof backend.open>>;
    const extra: PostgresStore[] = [];

    beforeAll(async () => {
      // Fail every test here with one clear cause when the database is down.
      await (await backend.admin()).end();
    });
    beforeEach(async () => {
      db = await backend.open(clock);
    });
    afterEach(async () => {
      await Promise.all(extra.splice(0).map((s) => s.close()));
      await db?.dispose();
    });

    it("reads int8 as numbers on its own pool, leaving pg's global parsers alone", async () => {
      // The Kysely instance is internal to the store; reaching it here checks the pool's own parser.
      const kysely = (db.store as unknown as { db: Kysely<unknown> }).db;
      const { rows } = await sql<{ n: unknown }>`select 9007199254740991::int8 as n`.execute(kysely);
      expect(rows[0]!.n).toBe(Number.MAX_SAFE_INTEGER);
      expect(pg.types.getTypeParser(pg.types.builtins.INT8, 'text')('42')).toBe('42');
    });

    it('wakes another replica when a write makes work due', async () => {
      const [writer, reader] = await db.replicas(2);
      await reader!.whenListening();
      const created = nextWake(reader!);
      const t = newTermination(Date.now(), { state: 'held' });
      await writer!.createTermination(t, [newTask('disable')]);
      await created;
      const approved = nextWake(reader!);
      await writer!.approveTermination(t.id, 'admin:alice');
      await approved;
    });

    it('ignores notifications meant for a store in another schema', async () => {
      const [store] = await db.replicas(1);
      await store!.whenListening();
      let wakes = 0;
      store!.onWake(() => {
        wakes += 1;
      });
      const ours = nextWake(store!);
      const client = await backend.admin();
      try {
        await client.query('select pg_notify($1, $2)', [WAKE_CHANNEL, 'some_other_schema']);
        await client.query('select pg_notify($1, $2)', [WAKE_CHANNEL, db.schema]);
      } finally {
        await client.end();
      }
      // Notifications arrive in commit order: by the time ours is here, the other one was seen and dropped.
      await ours;
      expect(wakes).toBe(1);
    });

    it('reconnects the LISTEN connection after it is dropped', async () => {
      const [writer] = await db.replicas(1);
      const errors: string[] = [];
      const reader = createPostgresStore({ url, schema: db.schema, poolSize: 2, onError: (_e, context) => errors.push(context) });
      extra.push(reader);
      await reader.whenListening();

      const reconnected = nextWake(reader);
      const client = await backend.admin();
      try {
        const killed = await client.query(`select pg_terminate_backend(pid) from pg_stat_activity where application_name = $1`, [
          `deprovisiond-listener/${db.schema}`.slice(0, 63),
        ]);
        expect(killed.rowCount).toBe(1);
      } finally {
        await client.end();
      }
      await reconnected;
      expect(errors).toContain('listener');

      const woke = nextWake(reader);
      await writer!.createTermination(newTermination(Date.now()), [newTask('disable')]);
      await woke;
    });
  });
});
