import type { Kysely, Migration } from 'kysely';

/**
 * One row that the readiness probe rewrites (see commit-probe.ts): a write that must commit
 * for `/readyz` to answer ready, so a store that cannot commit (full disk, read-only
 * volume, lost primary) takes the replica out of rotation.
 */
export const commitProbe: Migration = {
  async up(db: Kysely<any>) {
    await db.schema
      .createTable('commit_probe')
      .addColumn('id', 'integer', (c) => c.primaryKey())
      .addColumn('probed_at', 'bigint', (c) => c.notNull())
      .execute();
  },
  async down(db: Kysely<any>) {
    await db.schema.dropTable('commit_probe').execute();
  },
};
