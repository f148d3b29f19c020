import type { Kysely, Migration } from 'kysely';

/**
 * Re-verifications due after a termination completes (src/domain/reverify.ts): written in
 * the transaction that completes it, claimed with a lease like tasks, so a crash neither
 * loses one nor runs one twice.
 */
export const reverifications: Migration = {
  async up(db: Kysely<any>) {
    await db.schema
      .createTable('reverifications')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('termination_id', 'text', (c) => c.notNull().references('terminations.id'))
      .addColumn('task_id', 'text', (c) => c.notNull().references('tasks.id'))
      .addColumn('provider', 'text', (c) => c.notNull())
      .addColumn('action', 'text', (c) => c.notNull())
      .addColumn('reason', 'text', (c) => c.notNull())
      .addColumn('round', 'integer')
      .addColumn('due_at', 'bigint', (c) => c.notNull())
      .addColumn('state', 'text', (c) => c.notNull())
      .addColumn('claims', 'integer', (c) => c.notNull())
      .addColumn('lease_owner', 'text')
      .addColumn('lease_token', 'text')
      .addColumn('lease_expires_at', 'bigint')
      .addColumn('outcome', 'text')
      .addColumn('evidence', 'text')
      .addColumn('finished_at', 'bigint')
      .addColumn('created_at', 'bigint', (c) => c.notNull())
      .execute();
    // The claim walks due rows of one provider; the evidence reads one termination's.
    await db.schema.createIndex('reverifications_due').on('reverifications').columns(['state', 'provider', 'due_at']).execute();
    await db.schema.createIndex('reverifications_termination').on('reverifications').columns(['termination_id', 'due_at']).execute();
  },
};
