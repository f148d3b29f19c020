import { sql, type Kysely, type Migration } from 'kysely';

/**
 * The SCIM directory's personal data sealed (issue 29, src/store/sql/directory-rows.ts).
 * Each directory user has a data key in the keyring (owner id: the user's id); from here on
 * `user_name`, `attributes`, `manager_id` and the new `external_id_sealed` hold values sealed
 * under it, and the two looked-up
 * columns hold blind indexes: `user_name_lower` the index of `user:<userName lower-cased>`
 * (its unique index keeps userName unique), `external_id` the index of `ext:<externalId>`.
 * A group member's `display` is sealed under its user's key.
 *
 * Rows written before this migration stay as they were, with `sealed` 0: the store's start
 * pass (src/store/sql/directory-legacy.ts), which has the keys a migration does not, seals
 * them and sets it to 1.
 */
export const directoryKeys: Migration = {
  async up(db: Kysely<any>) {
    await db.schema
      .alterTable('directory_users')
      .addColumn('sealed', 'integer', (c) => c.notNull().defaultTo(0))
      .execute();
    // The externalId itself, sealed: `external_id` holds its blind index from here on.
    await db.schema.alterTable('directory_users').addColumn('external_id_sealed', 'text').execute();
    // The rows the start pass has left to seal, in the order it takes them: without it each
    // batch would walk past every row sealed before it, and every start would scan the table.
    await db.schema.createIndex('directory_users_unsealed').on('directory_users').column('id').where(sql.ref('sealed'), '=', 0).execute();
    // Every subject key of each user (`ext:`, `user:`, one `email:` per address, as
    // src/domain/subject.ts keysOf forms them), blind-indexed: the erasure finds a person's
    // rows by whichever identifier it is given.
    await db.schema
      .createTable('directory_user_keys')
      .addColumn('user_id', 'text', (c) => c.notNull().references('directory_users.id').onDelete('cascade'))
      .addColumn('key_index', 'text', (c) => c.notNull())
      .addPrimaryKeyConstraint('directory_user_keys_pk', ['user_id', 'key_index'])
      .execute();
    await db.schema.createIndex('directory_user_keys_key').on('directory_user_keys').columns(['key_index', 'user_id']).execute();
  },
};
