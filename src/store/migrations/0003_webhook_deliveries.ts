import type { Kysely, Migration } from 'kysely';

/**
 * Webhook deliveries seen, by `webhook-id`, with a hash of the body they carried: a
 * redelivery of the same id and body is answered from the store, the same id with another
 * body is refused. The termination itself stays deduplicated by (source, source_event_id).
 */
export const webhookDeliveries: Migration = {
  async up(db: Kysely<any>) {
    await db.schema
      .createTable('webhook_deliveries')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('body_sha256', 'text', (c) => c.notNull())
      // Set once the delivery's termination (created, found or cancelled) is known.
      .addColumn('termination_id', 'text')
      .addColumn('received_at', 'bigint', (c) => c.notNull())
      .execute();
  },
  async down(db: Kysely<any>) {
    await db.schema.dropTable('webhook_deliveries').execute();
  },
};
