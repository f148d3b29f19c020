import { PostgresAdapter, sql, type Kysely, type Migration } from 'kysely';

/**
 * The keyring (src/store/sql/personal-data.ts): one data key per record that holds personal
 * data, wrapped by the master key. It lives apart from the store's tables so that a backup
 * of the store holds no key: on SQLite in the database attached as `keyring` (a file of its
 * own, whose table the store creates when it attaches the file: src/store/sqlite.ts), on
 * PostgreSQL in the schema `<store schema>_keyring`, created here.
 */
export const keyring: Migration = {
  async up(db: Kysely<any>) {
    if (!(db.getExecutor().adapter instanceof PostgresAdapter)) return;
    const { rows } = await sql<{ name: string }>`select current_schema() as name`.execute(db);
    const schema = `${rows[0]!.name}_keyring`;
    await sql`create schema if not exists ${sql.id(schema)}`.execute(db);
    await db.schema
      .withSchema(schema)
      .createTable('data_keys')
      .ifNotExists()
      .addColumn('owner_id', 'text', (c) => c.primaryKey())
      .addColumn('wrapped', 'text', (c) => c.notNull())
      .addColumn('created_at', 'bigint', (c) => c.notNull())
      .execute();
  },
};
