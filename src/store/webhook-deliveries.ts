/**
 * The webhook deliveries table: which `webhook-id` carried which body (by SHA-256), and
 * which termination it led to. Kept beside the Store on the same Kysely instance; its
 * table type is added here so the shared schema stays untouched.
 */
import type { Kysely } from 'kysely';

export interface WebhookDelivery {
  id: string;
  bodySha256: string;
  terminationId: string | null;
  /** What the delivery did (created, joined, rescheduled, superseded, cancelled); null before it settled, and on rows older than migration 0011. */
  outcome: string | null;
  receivedAt: Date;
}

export interface WebhookDeliveryStore {
  get(id: string): Promise<WebhookDelivery | null>;
  /** Records the delivery unless its id is known; returns the row that holds the id either way. */
  claim(delivery: { id: string; bodySha256: string; receivedAt: Date }): Promise<WebhookDelivery>;
  /** Notes the termination the delivery led to and what it did, so a redelivery can be answered with it. */
  settle(id: string, terminationId: string, outcome?: string): Promise<void>;
}

interface WebhookDeliveriesTable {
  id: string;
  body_sha256: string;
  termination_id: string | null;
  outcome: string | null;
  received_at: number;
}

// A type, not an interface: withTables<T>() needs a Record, and an interface has no index signature.
type Tables = { webhook_deliveries: WebhookDeliveriesTable };

export class SqlWebhookDeliveryStore implements WebhookDeliveryStore {
  private readonly db: Kysely<Tables>;

  // Any store's Kysely: this class names its one table itself.
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  constructor(db: Kysely<any>) {
    // eslint-disable-next-line @typescript-eslint/no-unsafe-assignment
    this.db = db.withTables<Tables>();
  }

  async get(id: string): Promise<WebhookDelivery | null> {
    const row = await this.db.selectFrom('webhook_deliveries').selectAll().where('id', '=', id).executeTakeFirst();
    return row ? toDelivery(row) : null;
  }

  async claim(delivery: { id: string; bodySha256: string; receivedAt: Date }): Promise<WebhookDelivery> {
    // Insert-or-keep in one statement: of two concurrent first deliveries, one row wins and both read it.
    await this.db
      .insertInto('webhook_deliveries')
      .values({
        id: delivery.id,
        body_sha256: delivery.bodySha256,
        termination_id: null,
        outcome: null,
        received_at: delivery.receivedAt.getTime(),
      })
      .onConflict((oc) => oc.column('id').doNothing())
      .execute();
    const row = await this.db.selectFrom('webhook_deliveries').selectAll().where('id', '=', delivery.id).executeTakeFirstOrThrow();
    return toDelivery(row);
  }

  async settle(id: string, terminationId: string, outcome?: string): Promise<void> {
    await this.db
      .updateTable('webhook_deliveries')
      .set({ termination_id: terminationId, outcome: outcome ?? null })
      .where('id', '=', id)
      .execute();
  }
}

function toDelivery(row: WebhookDeliveriesTable): WebhookDelivery {
  return {
    id: row.id,
    bodySha256: row.body_sha256,
    terminationId: row.termination_id,
    outcome: row.outcome,
    receivedAt: new Date(Number(row.received_at)),
  };
}
