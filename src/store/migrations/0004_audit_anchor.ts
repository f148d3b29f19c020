import type { Kysely, Migration } from 'kysely';

/**
 * Where the audit chain starts once old entries were pruned: the seq and hash of the last
 * pruned entry. The first remaining entry must link to it, and the chain itself records
 * every pruning (`audit.pruned`), so moving the anchor without a trace breaks verification.
 */
export const auditAnchor: Migration = {
  async up(db: Kysely<any>) {
    await db.schema
      .createTable('audit_anchor')
      .addColumn('id', 'integer', (c) => c.primaryKey())
      .addColumn('seq', 'bigint', (c) => c.notNull())
      .addColumn('hash', 'text', (c) => c.notNull())
      .addColumn('pruned_at', 'bigint', (c) => c.notNull())
      .execute();
  },
};
