import { sql, type Kysely, type Migration } from 'kysely';

/**
 * SCIM Groups (Entra "Provision groups", Okta "Push Groups"): one row per group and one per
 * membership. Members are directory users only (neither IdP pushes nested groups), so a
 * membership row references its user, and deleting the user deletes its memberships in the
 * same statement on both dialects (SQLite runs with foreign_keys on).
 */
export const directoryGroups: Migration = {
  async up(db: Kysely<any>) {
    await db.schema
      .createTable('directory_groups')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('display_name', 'text', (c) => c.notNull())
      // displayName is caseExact false (RFC 7643 §4.2): `displayName eq` goes through this lower-cased copy.
      // Not unique: two Entra groups may share a name, and Entra matches by displayName only to find one.
      .addColumn('display_name_lower', 'text', (c) => c.notNull())
      .addColumn('external_id', 'text')
      // Bumped by every write, a membership change included: the group's ETag.
      .addColumn('version', 'integer', (c) => c.notNull())
      .addColumn('created_at', 'bigint', (c) => c.notNull())
      .addColumn('updated_at', 'bigint', (c) => c.notNull())
      .execute();
    await db.schema.createIndex('directory_groups_display_name').on('directory_groups').column('display_name_lower').execute();
    await db.schema
      .createIndex('directory_groups_external_id')
      .on('directory_groups')
      .column('external_id')
      .where(sql.ref('external_id'), 'is not', null)
      .execute();
    await db.schema.createIndex('directory_groups_created').on('directory_groups').columns(['created_at', 'id']).execute();

    await db.schema
      .createTable('directory_group_members')
      .addColumn('group_id', 'text', (c) => c.notNull().references('directory_groups.id').onDelete('cascade'))
      .addColumn('user_id', 'text', (c) => c.notNull().references('directory_users.id').onDelete('cascade'))
      // The member's `display` as the client sent it (Okta sends one, Entra none).
      .addColumn('display', 'text')
      .addPrimaryKeyConstraint('directory_group_members_pk', ['group_id', 'user_id'])
      .execute();
    // A user's groups (playbook rules, `members.value eq`), and the cascade from directory_users.
    await db.schema.createIndex('directory_group_members_user').on('directory_group_members').columns(['user_id', 'group_id']).execute();
  },
};
