import type { Kysely, Migration } from 'kysely';

/**
 * One rule for a second termination of a subject (issue 23): a request may join or bring
 * forward an open termination instead of creating one, so:
 *
 * - `termination_requests` remembers such requests by their source event id (webhook-id,
 *   Idempotency-Key, SCIM resource version), with what they did and, where the channel
 *   gives one, a hash of their canonical body: a true repeat gets the earlier answer, the
 *   same id with another body is refused. A request that created a termination is found
 *   by the termination's own (source, source_event_id), as before; only an admin creation
 *   (which carries a body hash) is recorded here as well.
 * - `terminations.requested_by` lists every channel that asked for the termination
 *   (comma-separated, sorted): a channel may cancel it only when it may cancel for each of
 *   them (invariant 11). Empty on older rows, read as the termination's source.
 * - `webhook_deliveries.outcome` keeps what a delivery did (created, joined, rescheduled,
 *   superseded, cancelled), so its redelivery gets the same answer; null on older rows.
 */
export const terminationRequests: Migration = {
  async up(db: Kysely<any>) {
    await db.schema
      .createTable('termination_requests')
      .addColumn('source', 'text', (c) => c.notNull())
      .addColumn('source_event_id', 'text', (c) => c.notNull())
      .addColumn('termination_id', 'text', (c) => c.notNull().references('terminations.id'))
      // created, superseded, rescheduled or joined: a repeat is answered with it.
      .addColumn('outcome', 'text', (c) => c.notNull())
      .addColumn('body_sha256', 'text')
      .addColumn('received_at', 'bigint', (c) => c.notNull())
      .addPrimaryKeyConstraint('termination_requests_pk', ['source', 'source_event_id'])
      .execute();
    await db.schema
      .alterTable('terminations')
      .addColumn('requested_by', 'text', (c) => c.notNull().defaultTo(''))
      .execute();
    await db.schema.alterTable('webhook_deliveries').addColumn('outcome', 'text').execute();
  },
};
