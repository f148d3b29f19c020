/** Personal data at rest on PostgreSQL: every column of every table of the store's schema, read as text (what a dump holds). */
import { sql } from 'kysely';
import { describePostgres } from '../helpers/postgres.ts';
import { postgresBackend } from './backends.ts';
import { definePrivacySuite } from './privacy-suite.ts';

describePostgres('PostgreSQL privacy suite', (url) => {
  const backend = postgresBackend(url);
  definePrivacySuite({
    name: 'postgres',
    async open(clock) {
      const db = await backend.open(clock);
      const kysely = (db.store as unknown as { ctx: { db: import('kysely').Kysely<unknown> } }).ctx.db;
      return {
        store: db.store,
        raw: async () => {
          const { rows: tables } = await sql<{
            name: string;
          }>`select table_name as name from information_schema.tables where table_schema = current_schema()`.execute(kysely);
          const parts: string[] = [];
          for (const { name } of tables) {
            const { rows } = await sql<{ row: string }>`select t::text as row from ${sql.table(name)} t`.execute(kysely);
            parts.push(...rows.map((r) => r.row));
          }
          return parts.join('\n');
        },
        dispose: () => db.dispose(),
      };
    },
  });
});
