import type { Kysely, Migration } from 'kysely';

/**
 * Erasure (src/store/sql/erasure.ts): which terminations were erased and by which erasure,
 * the erasures with their signed receipts (kept so a receipt can be fetched again), the
 * erasure requests a privacy tool sends, and the holds the retention job found in its way
 * (each audited once). Webhook deliveries get an index on their termination: an erasure
 * deletes a termination's deliveries.
 */
export const erasure: Migration = {
  async up(db: Kysely<any>) {
    await db.schema.alterTable('terminations').addColumn('erased_at', 'bigint').execute();
    await db.schema.alterTable('terminations').addColumn('erasure_id', 'text').execute();
    // The retention job's question: finished terminations of a playbook, oldest first.
    await db.schema.createIndex('terminations_retention').on('terminations').columns(['playbook', 'finished_at']).execute();
    await db.schema.createIndex('webhook_deliveries_termination').on('webhook_deliveries').columns(['termination_id']).execute();
    await db.schema
      .createTable('erasures')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('erased_at', 'bigint', (c) => c.notNull())
      .addColumn('erased_by', 'text', (c) => c.notNull())
      .addColumn('reason', 'text', (c) => c.notNull())
      .addColumn('scope', 'text', (c) => c.notNull())
      .addColumn('receipt', 'text', (c) => c.notNull())
      .execute();
    await db.schema
      .createTable('erasure_requests')
      .addColumn('id', 'text', (c) => c.primaryKey())
      // The subject as the privacy tool named it, sealed under the request's own data key.
      .addColumn('subject', 'text', (c) => c.notNull())
      .addColumn('requested_by', 'text', (c) => c.notNull())
      .addColumn('reference', 'text', (c) => c.notNull())
      .addColumn('received_at', 'bigint', (c) => c.notNull())
      .addColumn('state', 'text', (c) => c.notNull())
      .addColumn('due_at', 'bigint')
      .addColumn('because', 'text')
      .addColumn('holds', 'text', (c) => c.notNull())
      .addColumn('terminations', 'text', (c) => c.notNull())
      .addColumn('erasure_id', 'text')
      .addColumn('updated_at', 'bigint', (c) => c.notNull())
      .execute();
    await db.schema.createIndex('erasure_requests_due').on('erasure_requests').columns(['state', 'due_at']).execute();
    await db.schema
      .createTable('retention_holds')
      .addColumn('termination_id', 'text', (c) => c.notNull())
      .addColumn('hold_id', 'text', (c) => c.notNull())
      .addColumn('noted_at', 'bigint', (c) => c.notNull())
      .addPrimaryKeyConstraint('retention_holds_pk', ['termination_id', 'hold_id'])
      .execute();
  },
};
