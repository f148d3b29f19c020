import { sql, type Kysely, type Migration } from 'kysely';

/**
 * The subject directory that SCIM clients (Okta, Entra) build: one row per SCIM User.
 * The columns SCIM looks users up by are real, indexed columns; the rest of the resource
 * is JSON text, as everywhere in this store.
 */
export const directory: Migration = {
  async up(db: Kysely<any>) {
    await db.schema
      .createTable('directory_users')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('user_name', 'text', (c) => c.notNull())
      // SCIM userName is case-insensitive (RFC 7643 §4.1.1, caseExact false): uniqueness and
      // `userName eq` both go through this lower-cased copy, the same way on both dialects.
      .addColumn('user_name_lower', 'text', (c) => c.notNull())
      .addColumn('external_id', 'text')
      // 1 or 0: the same integer column on SQLite and PostgreSQL (as tasks.critical).
      .addColumn('active', 'integer', (c) => c.notNull())
      // enterprise extension manager.value: the id of the manager's own directory row.
      .addColumn('manager_id', 'text')
      .addColumn('attributes', 'text', (c) => c.notNull())
      // Bumped by every write: the ETag, and the stable part of a SCIM delivery's source event id.
      .addColumn('version', 'integer', (c) => c.notNull())
      .addColumn('created_at', 'bigint', (c) => c.notNull())
      .addColumn('updated_at', 'bigint', (c) => c.notNull())
      .execute();
    await db.schema.createIndex('directory_users_user_name').on('directory_users').column('user_name_lower').unique().execute();
    await db.schema
      .createIndex('directory_users_external_id')
      .on('directory_users')
      .column('external_id')
      .where(sql.ref('external_id'), 'is not', null)
      .execute();
    // Listing pages in creation order.
    await db.schema.createIndex('directory_users_created').on('directory_users').columns(['created_at', 'id']).execute();
  },
};
