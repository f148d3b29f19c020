/**
 * Personal data at rest on PostgreSQL: every column of every table of the store's schema,
 * read as text, and PostgreSQL's own pg_dump of it (what a backup holds); the keyring's
 * schema the same way.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { sql, type Kysely } from 'kysely';
import { describePostgres } from '../helpers/postgres.ts';
import { postgresBackend } from './backends.ts';
import { definePrivacySuite } from './privacy-suite.ts';

/** Every row of every table of `schema`, as text. */
async function columns(kysely: Kysely<unknown>, schema: string): Promise<string> {
  const { rows: tables } = await sql<{
    name: string;
  }>`select table_name as name from information_schema.tables where table_schema = ${schema}`.execute(kysely);
  const parts: string[] = [];
  for (const { name } of tables) {
    const { rows } = await sql<{ row: string }>`select t::text as row from ${sql.table(`${schema}.${name}`)} t`.execute(kysely);
    parts.push(...rows.map((r) => r.row));
  }
  return parts.join('\n');
}

/** The bytes of the keyring's table file on the server's disk (the test server is local), after a checkpoint wrote them out. */
async function heapFile(kysely: Kysely<unknown>, table: string): Promise<string> {
  await sql`checkpoint`.execute(kysely);
  const { rows } = await sql<{
    dir: string;
    file: string;
  }>`select current_setting('data_directory') as dir, pg_relation_filepath(${table}) as file`.execute(kysely);
  return readFileSync(join(rows[0]!.dir, rows[0]!.file)).toString('latin1');
}

function pgDump(url: string, schema: string): string {
  return execFileSync('pg_dump', ['--dbname', url, '--schema', schema, '--data-only'], { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
}

describePostgres('PostgreSQL privacy suite', (url) => {
  const backend = postgresBackend(url);
  definePrivacySuite({
    name: 'postgres',
    async open(clock) {
      const db = await backend.open(clock);
      const kysely = (db.store as unknown as { ctx: { db: Kysely<unknown> } }).ctx.db;
      const schema = db.schema;
      return {
        store: db.store,
        raw: async () => `${await columns(kysely, schema)}\n${pgDump(url, schema)}`,
        rawKeyring: async () =>
          [
            await columns(kysely, `${schema}_keyring`),
            pgDump(url, `${schema}_keyring`),
            await heapFile(kysely, `${schema}_keyring.data_keys`),
          ].join('\n'),
        dispose: () => db.dispose(),
      };
    },
  });
});
